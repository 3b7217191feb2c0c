package provision

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"

	"github.com/mtprep/mtprep/images"
	"github.com/mtprep/mtprep/internal/files"
	"github.com/mtprep/mtprep/internal/progress"
	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/spec"
)

// How `mtprep build` and `mtprep fleet` boot an MT's installer (issue 7):
// the large install media are the same for every MT of a base, and each
// MT's kickstart travels on its own small seed ISO.
//
//   - Shared media: the base remastered once, with no kickstart inside
//     and a boot entry with images.SharedKickstartArg (ks=hd:sr1:/ks.cfg),
//     written reproducibly, so every MT and every run get the same bytes
//     and the same sha256: uploaded once per datastore as
//     <isoFolder>/<sha256>.iso and attached to every MT's first CD-ROM.
//   - A seed per MT: an ISO of a few hundred KiB holding /ks.cfg (the
//     kickstart with a fresh SSH host key, as `mtprep iso` renders it),
//     uploaded as <isoFolder>/seeds/<name>-<sha256>.iso and attached to
//     the MT's second CD-ROM, which the installer's kernel names sr1.
//
// `mtprep iso` keeps writing one ISO with the kickstart inside
// (ks=cdrom:/ks.cfg), the contract of issue 2.

// mediaLayout names how mtprep lays out shared media; it changes when the
// media's bytes would (another boot entry, another layout), so media
// written by an older mtprep are not taken for current ones.
const mediaLayout = "shared-media-1"

// MediaOptions are the choices of writing shared install media.
type MediaOptions struct {
	Base             string // the CentOS 6.6 minimal ISO, or another family's base
	Family           string // the OS's base family (images.FamilyCentOS when "")
	Dir              string // where media are kept, one file per base
	AllowUnknownBase bool
	Progress         progress.Func
	Log              *slog.Logger
}

// SharedMediaPath is where WriteSharedMedia keeps the media of base in
// dir: named by a digest of the base's identity and the layout, so
// several bases (or a replaced base) never share a file.
func SharedMediaPath(dir, base string) string {
	return filepath.Join(dir, "media-"+sharedMediaInputs(base)[:16]+".iso")
}

// sharedMediaInputs digests what shapes shared media: the base's identity
// (absolute path, size, modification time: cheap, and a changed base
// changes one of them), the boot argument and the layout.
func sharedMediaInputs(base string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s|%s|%s|", mediaLayout, images.SharedKickstartArg, images.DefaultTimeout)
	if abs, err := filepath.Abs(base); err == nil {
		base = abs
	}
	if fi, err := os.Stat(base); err == nil {
		fmt.Fprintf(h, "%s|%d|%d", base, fi.Size(), fi.ModTime().UnixNano())
	}
	return hex.EncodeToString(h.Sum(nil))
}

// currentMedia returns the sidecar of the media at path when they are
// complete and still made from base; nil otherwise.
func currentMedia(path, base string) *ISOResult {
	r, err := ReadISOResult(path)
	if err != nil || r.Kind != "media" || r.Inputs != sharedMediaInputs(base) {
		return nil
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != r.Size {
		return nil
	}
	return r
}

// WriteSharedMedia makes sure the shared media of o.Base exist in o.Dir
// and returns their sidecar. Media already written (by this run's other
// MTs, or an earlier run) are kept; a file lock makes concurrent writers,
// in this process or another, wait for the first one instead of each
// remastering the base.
func WriteSharedMedia(ctx context.Context, o MediaOptions) (*ISOResult, error) {
	out := SharedMediaPath(o.Dir, o.Base)
	if r := currentMedia(out, o.Base); r != nil {
		return r, nil
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	unlock, err := files.Lock(ctx, out+".lock")
	if err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	defer unlock()
	if r := currentMedia(out, o.Base); r != nil {
		return r, nil // written while this one waited
	}
	ro := images.RemasterOptions{
		Base: o.Base, Out: out, KickstartArg: images.SharedKickstartArg, Reproducible: true,
		AllowUnknownBase: o.AllowUnknownBase, Progress: o.Progress, Logger: o.Log, Family: o.Family,
	}
	if o.Family == images.FamilyUbuntu {
		ro.KickstartArg = "" // the generic preseed, booted with images.UbuntuSharedBootArgs
	}
	res, err := images.Remaster(ctx, ro)
	if err != nil {
		return nil, err
	}
	// Media hold no secret (no kickstart): readable by the other
	// operators of a shared work directory.
	if err := os.Chmod(out, 0o644); err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	r := &ISOResult{
		Kind: "media", Out: res.Out, SHA256: res.SHA256, Size: res.Size,
		Base: o.Base, BaseSHA256: res.Base.SHA256, BaseVersion: res.Base.Version,
		Inputs: sharedMediaInputs(o.Base), KickstartArg: ro.KickstartArg,
	}
	if err := writeSidecar(r); err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	return r, nil
}

// SeedOptions are the choices of writing an MT's seed ISO.
type SeedOptions struct {
	Out string
	Env spec.LookupEnv
	Log *slog.Logger
	// Media renders the kickstart (the OS's media part).
	Media guest.Media
}

// WriteSeed renders the MT's kickstart with a fresh SSH host key, writes
// it as a seed ISO (/ks.cfg), records the host key in ssh.knownHosts and
// writes the sidecar <out>.json. As with WriteISO, the private host key
// only ever exists in memory and in the seed.
func WriteSeed(ctx context.Context, s *spec.Spec, o SeedOptions) (*ISOResult, error) {
	if err := os.MkdirAll(filepath.Dir(o.Out), 0o755); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	res, pub, err := writeWithKickstart(o.Media, s, o.Env, "seed", func(files []guest.SeedFile) (*images.Result, error) {
		so := images.SeedOptions{Out: o.Out, Logger: o.Log, Joliet: o.Media.Base().Joliet}
		for _, f := range files {
			so.Files = append(so.Files, images.SeedFile{Name: f.Name, Data: f.Data})
		}
		return images.WriteSeed(ctx, so)
	})
	if err != nil {
		return nil, err
	}
	r := &ISOResult{
		Kind: "seed", Name: s.Name, Out: res.Out, SHA256: res.SHA256, Size: res.Size,
		HostKeyFingerprint: ssh.FingerprintSHA256(pub), KnownHosts: s.SSH.KnownHosts,
		Inputs: seedInputs(s),
	}
	if err := writeSidecar(r); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	return r, nil
}

// seedInputs digests the spec values that shape the seed: those of the
// kickstart (isoInputs without a base: the seed does not depend on it).
func seedInputs(s *spec.Spec) string {
	return "seed-" + isoInputs(s, "")
}

func writeSidecar(r *ISOResult) error {
	b, _ := json.MarshalIndent(r, "", "  ")
	return files.WriteAtomic(r.Out+".json", append(b, '\n'), 0o644)
}
