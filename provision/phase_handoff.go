package provision

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	version "github.com/hashicorp/go-version"

	"github.com/mtprep/mtprep/internal/files"
	"github.com/mtprep/mtprep/provision/guest"
)

// handoffPhase maps the hostname in /etc/hosts, installs the master target
// role and registers it with the configuration server, and writes the
// handoff manifest that describes the finished MT.
type handoffPhase struct{}

func (handoffPhase) Name() string { return "handoff" }

type handoffState struct{ guest.RegistrationState }

func readHandoff(ctx context.Context, t *Target) (handoffState, error) {
	if t.OS == nil || t.OS.Registration == nil {
		return handoffState{}, fmt.Errorf("no registration part for os %q", t.Spec.OS)
	}
	c, err := t.SSH(ctx)
	if err != nil {
		return handoffState{}, err
	}
	s := t.Spec
	st, err := t.OS.Registration.Read(ctx, c, s.Network.Hostname, s.ConfigServer.IP, s.ConfigServer.Port)
	return handoffState{st}, err
}

func (st handoffState) hostsOK() bool { return len(st.NICs) > 0 && slices.Equal(st.NICs, st.Hosts) }

func (st handoffState) agentOK(t *Target) bool {
	return st.AgentVersion != "" && st.RegisteredCS == t.Spec.ConfigServer.IP
}

// upgradeTo reports the tarball's version when it is newer than the agent
// on the MT: the spec asks for an upgrade (ASR allows CentOS 6.6 MTs one
// to 9.10.x), which mtprep does not automate.
func (st handoffState) upgradeTo(t *Target) (string, bool) {
	want, err := version.NewVersion(AgentVersion(t.Spec.Agent.Tarball))
	have, err2 := version.NewVersion(st.AgentVersion)
	if err != nil || err2 != nil || !have.LessThan(want) {
		return "", false
	}
	return want.Original(), true
}

func (handoffPhase) OnFreshMT(t *Target) []string {
	return []string{
		fmt.Sprintf("%s: map %s to the MT's NIC addresses", t.OS.Registration.HostsFile(), t.Spec.Network.Hostname),
		fmt.Sprintf("install the master target role and register it with %s:%d", t.Spec.ConfigServer.IP, t.Spec.ConfigServer.Port),
		"write " + handoffPath(t),
	}
}

func (handoffPhase) Check(ctx context.Context, t *Target) (Check, error) {
	if t.Spec.ConfigServer.IP == "" {
		return Check{}, t.Spec.InputError("configServer.ip", "missing", "add the configuration server's IP address")
	}
	st, err := readHandoff(ctx, t)
	if err != nil {
		return Check{}, err
	}
	var ch []string
	if !st.hostsOK() {
		ch = append(ch, fmt.Sprintf("%s: map %s to %s (now: %v)", t.OS.Registration.HostsFile(), t.Spec.Network.Hostname, strings.Join(st.NICs, ", "), st.Hosts))
	}
	if !st.agentOK(t) {
		ch = append(ch, fmt.Sprintf("install the master target role and register it with %s:%d", t.Spec.ConfigServer.IP, t.Spec.ConfigServer.Port))
	} else if want, ok := st.upgradeTo(t); ok {
		ch = append(ch, fmt.Sprintf("upgrade the master target role from %s to %s (not automated: build refuses it, see the error)", st.AgentVersion, want))
	}
	manifest := handoffPath(t)
	if _, err := os.Stat(manifest); err != nil {
		ch = append(ch, "write "+manifest)
	}
	if len(ch) == 0 {
		return Check{Done: true, Observed: fmt.Sprintf("agent %s registered with %s; %s", st.AgentVersion, st.RegisteredCS, manifest)}, nil
	}
	return Check{Changes: ch}, nil
}

func handoffPath(t *Target) string {
	return filepath.Join(t.Options.WorkDir, t.Spec.Name+".handoff.json")
}

func (handoffPhase) Apply(ctx context.Context, t *Target) error {
	st, err := readHandoff(ctx, t)
	if err != nil {
		return err
	}
	c, err := t.SSH(ctx)
	if err != nil {
		return err
	}
	s := t.Spec
	if !st.hostsOK() {
		if len(st.NICs) == 0 {
			return fmt.Errorf("the MT reports no IPv4 address on any NIC")
		}
		if err := t.OS.Registration.MapHostname(ctx, c, s.Network.Hostname, st.NICs); err != nil {
			return err
		}
	}
	if want, ok := st.upgradeTo(t); ok && st.agentOK(t) {
		return fmt.Errorf("the MT runs agent %s and the spec names %s: mtprep does not upgrade an installed agent; upgrade it on the MT with the new tarball's installer (ASR: run ./install from the unpacked %s), then re-run build", st.AgentVersion, want, filepath.Base(t.Spec.Agent.Tarball))
	}
	if !st.agentOK(t) {
		// Check first: an install that cannot reach the CS fails late and
		// leaves a half-registered agent.
		if !st.CSReachable {
			return fmt.Errorf("the configuration server %s:%d does not answer from the MT: check the route and firewall (ASR: telnet %s 443)", s.ConfigServer.IP, s.ConfigServer.Port, s.ConfigServer.IP)
		}
		info, err := InspectAgent(ctx, s)
		if err != nil {
			return err
		}
		pass, err := s.RevealSecret("configServer.passphrase", s.ConfigServer.Passphrase, t.Env)
		if err != nil {
			return err
		}
		form := "old"
		if NewInstallForm(info.Version) {
			form = "new"
		}
		t.Log.Info("installing the master target role", "agent_version", info.Version, "form", form, "cs", s.ConfigServer.IP)
		if err := t.OS.Registration.Install(ctx, c, t.OS.Agent.UnpackDir(), form == "new", s.ConfigServer.IP, s.ConfigServer.Port, pass); err != nil {
			return err
		}
		t.Note("handoff", fmt.Sprintf("installed agent %s (%s form), registered with %s", info.Version, form, s.ConfigServer.IP))
	}
	st, err = readHandoff(ctx, t)
	if err != nil {
		return err
	}
	return writeHandoff(ctx, t, st)
}

// Handoff is the manifest describing a finished MT, <name>.handoff.json.
type Handoff struct {
	Name          string            `json:"name"`
	Hostname      string            `json:"hostname"`
	Address       string            `json:"address"`
	ESXiHost      string            `json:"esxiHost,omitempty"`
	Datastore     string            `json:"datastore"`
	VM            string            `json:"vmMoRef,omitempty"`
	Retention     HandoffRetention  `json:"retention"`
	DiskUUIDs     map[string]string `json:"diskUUIDs,omitempty"`
	AgentVersion  string            `json:"agentVersion"`
	ConfigServer  string            `json:"configServer"`
	Phases        map[string]string `json:"phases,omitempty"`
	WrittenAt     time.Time         `json:"writtenAt"`
	HostKeySHA256 string            `json:"hostKeySHA256,omitempty"`
}

// HandoffRetention is the retention volume in the manifest.
type HandoffRetention struct {
	Path string `json:"path"`
	WWID string `json:"wwid,omitempty"`
	// Scan is the full read done before formatting, in the run that
	// formatted the disk.
	Scan *RetentionScanRecord `json:"scan,omitempty"`
}

func writeHandoff(ctx context.Context, t *Target, st handoffState) error {
	s := t.Spec
	wwid, err := t.retentionWWID(ctx)
	if err != nil {
		return fmt.Errorf("handoff manifest: %w", err)
	}
	h := Handoff{
		Name: s.Name, Hostname: s.Network.Hostname, Address: s.SSH.Address, ESXiHost: t.Facts.ESXiHost,
		Datastore: s.VSphere.Datastore, VM: t.Facts.VMMoRef, Retention: HandoffRetention{Path: s.Retention.Mountpoint, WWID: wwid, Scan: t.Facts.RetentionScan},
		DiskUUIDs: t.Facts.DiskUUIDs, AgentVersion: st.AgentVersion, ConfigServer: fmt.Sprintf("%s:%d", s.ConfigServer.IP, s.ConfigServer.Port),
		Phases: t.Facts.PhaseNotes, WrittenAt: time.Now().UTC(),
	}
	if t.clients.ssh != nil && t.clients.ssh.HostKey() != nil {
		h.HostKeySHA256 = guest.Fingerprint(t.clients.ssh.HostKey())
	}
	b, err := json.MarshalIndent(h, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(t.Options.WorkDir, 0o755); err != nil {
		return err
	}
	return files.WriteAtomic(handoffPath(t), append(b, '\n'), 0o644)
}

func (handoffPhase) Verify(ctx context.Context, t *Target) error {
	c, err := handoffPhase{}.Check(ctx, t)
	if err != nil {
		return err
	}
	if !c.Done {
		return fmt.Errorf("still to do: %s", strings.Join(c.Changes, "; "))
	}
	return nil
}
