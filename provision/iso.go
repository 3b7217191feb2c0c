package provision

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/mtprep/mtprep/images"
	"github.com/mtprep/mtprep/internal/progress"
	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/spec"
)

// ISOOptions are the choices of writing an MT's install ISO.
type ISOOptions struct {
	Base, Out        string
	AllowUnknownBase bool
	BootTimeout      time.Duration
	Env              spec.LookupEnv
	Progress         progress.Func
	// Media renders the kickstart (the OS's media part).
	Media guest.Media
}

// ISOResult describes a written ISO; it is also the sidecar file
// <out>.json that the iso phase's Check reads.
type ISOResult struct {
	// Kind is "iso" (mtprep iso: one ISO with the kickstart inside),
	// "media" (shared install media, no MT's data) or "seed" (one MT's
	// kickstart for the media).
	Kind               string `json:"kind,omitempty"`
	Name               string `json:"name"`
	Out                string `json:"out"`
	SHA256             string `json:"sha256"`
	Size               int64  `json:"size"`
	Base               string `json:"base"`
	BaseSHA256         string `json:"baseSHA256"`
	BaseVersion        string `json:"baseVersion"`
	HostKeyFingerprint string `json:"hostKeyFingerprint"`
	KnownHosts         string `json:"knownHosts"`
	// Inputs is a digest of every spec value that shapes the ISO, so a
	// later build knows whether the ISO on disk is still this spec's.
	Inputs string `json:"inputs"`
	// KickstartArg is the boot argument of media ("ks=hd:sr1:/ks.cfg").
	KickstartArg string `json:"kickstartArg,omitempty"`
}

// WriteISO renders the kickstart with a fresh MT host key, remasters the
// base ISO with it, records the host key in ssh.knownHosts and writes the
// sidecar. The host key's private half only ever exists in memory and in
// the ISO.
func WriteISO(ctx context.Context, s *spec.Spec, o ISOOptions) (*ISOResult, error) {
	if o.Base == "" {
		o.Base = s.ISO.Base
	}
	if o.Media != nil && o.Media.Base().Untouched {
		return nil, s.InputError("os", fmt.Sprintf("os %s installs from the base ISO as it is, with a seed ISO beside it: there is no single remastered ISO", s.OS), "use mtprep build, which attaches the base and the seed as two CD-ROMs")
	}
	res, pub, err := writeWithKickstart(o.Media, s, o.Env, "iso", func(files []guest.SeedFile) (*images.Result, error) {
		ro := images.RemasterOptions{Base: o.Base, Out: o.Out, Kickstart: files[0].Data,
			AllowUnknownBase: o.AllowUnknownBase, Timeout: o.BootTimeout, Progress: o.Progress}
		if fam := o.Media.Base().Family; fam == images.FamilyUbuntu {
			// d-i reads the preseed from the media (file=/cdrom/…).
			ro.Family, ro.Kickstart, ro.Preseed = fam, nil, files[0].Data
		}
		return images.Remaster(ctx, ro)
	})
	if err != nil {
		return nil, err
	}
	r := &ISOResult{
		Kind: "iso", Name: s.Name, Out: res.Out, SHA256: res.SHA256, Size: res.Size,
		Base: o.Base, BaseSHA256: res.Base.SHA256, BaseVersion: res.Base.Version,
		HostKeyFingerprint: ssh.FingerprintSHA256(pub), KnownHosts: s.SSH.KnownHosts,
		Inputs: isoInputs(s, o.Base),
	}
	if err := writeSidecar(r); err != nil {
		return nil, fmt.Errorf("iso: %w", err)
	}
	return r, nil
}

// writeWithKickstart renders the kickstart with a fresh MT host key, has
// write put it into an image (an ISO or a seed), and only then records the
// host key in ssh.knownHosts: a failed run must not replace the known key
// of a working MT. The private half only ever exists in memory and in the
// image.
func writeWithKickstart(m guest.Media, s *spec.Spec, env spec.LookupEnv, phase string, write func([]guest.SeedFile) (*images.Result, error)) (*images.Result, ssh.PublicKey, error) {
	if m == nil {
		return nil, nil, s.InputError("os", fmt.Sprintf("mtprep has no install media for os %q", s.OS), "use os: centos-6.6")
	}
	hostKey, err := m.NewHostKey()
	if err != nil {
		return nil, nil, err
	}
	files, err := RenderSeed(m, s, RenderOptions{Env: env, HostKey: hostKey})
	if err != nil {
		return nil, nil, err
	}
	res, err := write(files)
	if err != nil {
		return nil, nil, err
	}
	pub, err := ssh.NewPublicKey(&hostKey.PublicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: host key: %w", phase, err)
	}
	if err := guest.RecordHostKey(s.SSH.KnownHosts, s.SSH.Address, s.SSH.Port, pub); err != nil {
		return nil, nil, fmt.Errorf("%s: recording the MT host key: %w", phase, err)
	}
	return res, pub, nil
}

// isoInputs digests what shapes the ISO: the kickstart's spec values, the
// SSH key mtprep logs in with, and the base's identity (path, size, mtime:
// cheap, and a changed base changes one of them). The root password is in
// it only as the secret's reference, never its value.
func isoInputs(s *spec.Spec, base string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s|%s|%s|%s|%v|%s|%s|%s|%d|%d|%s|%s|%d|", s.Name, s.Network.Hostname, s.Network.IP, s.Network.Gateway, s.Network.DNS,
		s.Network.Device, s.Timezone, s.RootPassword, s.VM.MemoryMB, s.VM.OSDiskGB, s.SSH.PrivateKey, s.SSH.KnownHosts, s.SSH.Port)
	if pub, err := AuthorizedKey(s); err == nil {
		h.Write(pub.Marshal())
	}
	if fi, err := os.Stat(base); err == nil {
		fmt.Fprintf(h, "%s|%d|%d", base, fi.Size(), fi.ModTime().UnixNano())
	}
	return hex.EncodeToString(h.Sum(nil))
}

// ReadISOResult reads the sidecar of an ISO written by WriteISO.
func ReadISOResult(iso string) (*ISOResult, error) {
	b, err := os.ReadFile(iso + ".json")
	if err != nil {
		return nil, err
	}
	var r ISOResult
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s.json: %w", iso, err)
	}
	return &r, nil
}
