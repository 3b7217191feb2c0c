package provision

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/packages"
	"github.com/mtprep/mtprep/scripts"
)

// toolsPhase installs VMware Tools on the MT and starts them. ASR's
// failback preparation: "Install VMware tools or open-vm-tools on the
// master target server. Without the tools, the datastores on the master
// target's ESXi host can't be detected" (reprotect then lists none).
//
// It runs after packages (the offline bundle is on the MT by then, and
// its RPMs are installed the same way) and before agent, whose reboot
// then shows that the service comes back at boot (chkconfig), and before
// handoff, which registers the MT with the configuration server: from
// then on ASR expects to discover the host's datastores.
//
// Sources: the packages source (an open-vm-tools or vmware-tools-esx-nox
// RPM in the offline bundle, or open-vm-tools with yum from
// packages.repos, which for el6 means an EPEL 6 mirror). The ESXi host's
// own installer (VirtualMachine.MountToolsInstaller, vmware-install.pl)
// is not supported yet.
//
// Done means: a Tools package installed, its service on at boot and
// running in the guest, and vSphere reporting guest.toolsRunningStatus
// guestToolsRunning with guest.toolsVersionStatus2 not
// guestToolsNotInstalled: vSphere's word is what ASR relies on.
type toolsPhase struct{}

func (toolsPhase) Name() string { return "tools" }

// toolsWait bounds the wait for vSphere to report Tools running after the
// service started (VMware Tools report to the host within seconds).
const toolsWait = 5 * time.Minute

// toolsInstallerNote is what plan and errors say about the route not
// taken.
const toolsInstallerNote = "installing from the ESXi host's VMware Tools installer (MountToolsInstaller) is not supported yet"

type toolsState struct {
	pkg, version     string // the installed Tools package, "" for none
	service          string
	enabled, running bool
	// vSphere's view.
	vsRunning, vsVersion, vsToolsVersion string
	power                                types.VirtualMachinePowerState
}

func (s toolsState) guestDone() bool { return s.pkg != "" && s.enabled && s.running }

func (s toolsState) vsphereDone() bool {
	return s.vsRunning == string(types.VirtualMachineToolsRunningStatusGuestToolsRunning) &&
		s.vsVersion != "" && s.vsVersion != string(types.VirtualMachineToolsVersionStatusGuestToolsNotInstalled)
}

func (s toolsState) done() bool { return s.guestDone() && s.vsphereDone() }

func orUnset(v string) string {
	if v == "" {
		return "(unset)"
	}
	return v
}

func (s toolsState) vsphereText() string {
	return fmt.Sprintf("vSphere: toolsRunningStatus=%s, toolsVersionStatus2=%s", orUnset(s.vsRunning), orUnset(s.vsVersion))
}

func (s toolsState) observed() string {
	g := "no VMware Tools package installed"
	if s.pkg != "" {
		g = fmt.Sprintf("%s %s; %s %s at boot, %s", s.pkg, s.version, s.service, onOff(s.enabled, "on", "off"), onOff(s.running, "running", "stopped"))
	}
	return g + "; " + s.vsphereText()
}

func onOff(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

// installText says where the Tools package will come from.
func installText(t *Target) string {
	names := make([]string, 0, len(packages.Tools()))
	for _, tp := range packages.Tools() {
		names = append(names, tp.Name)
	}
	if t.Spec.Packages.Source == "vault" {
		return "install open-vm-tools with yum from packages.repos (EPEL 6 has it; " + toolsInstallerNote + ")"
	}
	return fmt.Sprintf("install VMware Tools (%s) from the offline bundle %s (%s)", strings.Join(names, " or "), filepath.Base(t.Spec.Packages.Bundle), toolsInstallerNote)
}

func (s toolsState) changes(t *Target) []string {
	var out []string
	switch {
	case s.pkg == "":
		out = append(out, installText(t), "start its service at boot (chkconfig vmtoolsd on; the OSP's vmware-tools-services starts by upstart) and now")
	default:
		if !s.enabled {
			out = append(out, "start "+s.service+" at boot (chkconfig "+s.service+" on)")
		}
		if !s.running {
			out = append(out, "start "+s.service+" now")
		}
	}
	if !s.vsphereDone() {
		out = append(out, fmt.Sprintf("wait up to %s for vSphere to report Tools running (now %s)", toolsWait, s.vsphereText()))
	}
	return out
}

func (toolsPhase) OnFreshMT(t *Target) []string {
	return []string{installText(t), "start the Tools service at boot (chkconfig) and now", "wait for vSphere to report Tools running (guest.toolsRunningStatus=guestToolsRunning)"}
}

// toolsArgs are tools-state.sh's arguments: each known package and its
// service.
func toolsArgs() []string {
	var args []string
	for _, tp := range packages.Tools() {
		args = append(args, tp.Name, tp.Service)
	}
	return args
}

// readToolsGuest reads the guest's half of the state.
func readToolsGuest(ctx context.Context, t *Target) (toolsState, error) {
	c, err := t.SSH(ctx)
	if err != nil {
		return toolsState{}, err
	}
	out, err := c.Script(ctx, scripts.ToolsState, nil, toolsArgs()...)
	if err != nil {
		return toolsState{}, fmt.Errorf("reading VMware Tools in the guest: %w", err)
	}
	return parseToolsState(string(out)), nil
}

// parseToolsState reads tools-state.sh's output: the first installed
// package in packages.Tools order, and its service.
func parseToolsState(out string) toolsState {
	var st toolsState
	svcOf := map[string]string{}
	for _, tp := range packages.Tools() {
		svcOf[tp.Name] = tp.Service
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "pkg" && st.pkg == "" && svcOf[f[1]] != "":
			st.pkg, st.version, st.service = f[1], f[2], svcOf[f[1]]
		case len(f) == 4 && f[0] == "svc" && f[1] == st.service && st.service != "":
			switch f[2] {
			case "enabled":
				st.enabled = f[3] == "yes"
			case "running":
				st.running = f[3] == "yes"
			}
		}
	}
	return st
}

// readToolsVSphere adds vSphere's half.
func readToolsVSphere(ctx context.Context, t *Target, st *toolsState) error {
	vm, err := t.vmFor(ctx)
	if err != nil {
		return err
	}
	if vm == nil {
		return fmt.Errorf("VM %s not found in vSphere: run the vm and install phases first", t.Spec.Name)
	}
	s, err := t.vsphere(ctx)
	if err != nil {
		return err
	}
	vt, err := s.ReadTools(ctx, "VM "+t.Spec.Name, vm.Ref)
	if err != nil {
		return err
	}
	st.power, st.vsRunning, st.vsVersion, st.vsToolsVersion = vt.Power, vt.RunningStatus, vt.VersionStatus, vt.ToolsVersion
	return nil
}

func readTools(ctx context.Context, t *Target) (toolsState, error) {
	st, err := readToolsGuest(ctx, t)
	if err != nil {
		return st, err
	}
	if err := readToolsVSphere(ctx, t, &st); err != nil {
		return st, err
	}
	return st, nil
}

func (toolsPhase) Check(ctx context.Context, t *Target) (Check, error) {
	st, err := readTools(ctx, t)
	if err != nil {
		return Check{}, err
	}
	if st.done() {
		return Check{Done: true, Observed: st.observed()}, nil
	}
	return Check{Changes: st.changes(t), Observed: st.observed()}, nil
}

func (p toolsPhase) Apply(ctx context.Context, t *Target) error {
	st, err := readToolsGuest(ctx, t)
	if err != nil {
		return err
	}
	c, err := t.SSH(ctx)
	if err != nil {
		return err
	}
	var did []string
	if st.pkg == "" {
		name, err := installTools(ctx, t, c)
		if err != nil {
			return err
		}
		did = append(did, "installed "+name)
		if st, err = readToolsGuest(ctx, t); err != nil {
			return err
		}
		if st.pkg == "" {
			return fmt.Errorf("installed %s, yet rpm does not list any of %s", name, strings.Join(toolsArgs(), " "))
		}
	}
	if !st.enabled || !st.running {
		if _, err := c.Script(ctx, scripts.ToolsEnable, nil, st.service); err != nil {
			return fmt.Errorf("enabling and starting %s: %w", st.service, err)
		}
		did = append(did, st.service+" on at boot and started")
	}
	vs, err := waitToolsRunning(ctx, t)
	if err != nil {
		return err
	}
	did = append(did, "vSphere reports Tools running ("+vs.vsVersion+")")
	t.Note(p.Name(), strings.Join(did, "; "))
	return nil
}

// installTools installs the Tools package from the packages source and
// returns its name.
func installTools(ctx context.Context, t *Target, c *SSHConn) (string, error) {
	switch t.Spec.Packages.Source {
	case "vault":
		gpg := "1"
		if t.Spec.Packages.GPGCheck != nil && !*t.Spec.Packages.GPGCheck {
			gpg = "0"
		}
		args := append(append([]string{gpg}, t.Spec.Packages.Repos...), "--", "open-vm-tools")
		if _, err := c.Script(ctx, scripts.PackagesVault, nil, args...); err != nil {
			return "", fmt.Errorf("installing open-vm-tools with yum (for el6 it is in EPEL: add an EPEL 6 mirror, e.g. https://archives.fedoraproject.org/pub/archive/epel/6/x86_64/, to packages.repos; %s): %w", toolsInstallerNote, err)
		}
		return "open-vm-tools", nil
	default:
		rpms, err := packages.ReadBundle(ctx, t.Spec.Packages.Bundle)
		if err != nil {
			return "", err
		}
		tp, rpm, ok := packages.ToolsIn(rpms)
		if !ok {
			var from []string
			for _, tp := range packages.Tools() {
				from = append(from, tp.Name+" from "+tp.From)
			}
			return "", fmt.Errorf("the offline bundle %s has no VMware Tools RPM: add %s (with what it needs) and rebuild it with mtprep bundle; %s", t.Spec.Packages.Bundle, strings.Join(from, ", or "), toolsInstallerNote)
		}
		dir, err := c.UploadDir()
		if err != nil {
			return "", err
		}
		// The packages phase uploaded the same bundle: Upload skips a
		// file whose size and sha256 match.
		remote := path.Join(dir, filepath.Base(t.Spec.Packages.Bundle))
		up, err := c.Upload(ctx, t.Spec.Packages.Bundle, remote, t.Progress)
		if err != nil {
			return "", err
		}
		t.Log.Info("bundle on the MT", "path", remote, "sha256", up.SHA256, "sent", up.Sent, "skipped", up.Skipped)
		if _, err := c.Script(ctx, scripts.PackagesBundle, nil, remote, rootWorkDir+"/bundle", tp.Name); err != nil {
			return "", fmt.Errorf("installing %s from the bundle: %w", rpm.File, err)
		}
		return rpm.File, nil
	}
}

// waitToolsRunning polls vSphere until it reports Tools running, or
// toolsWait passes; it logs progress every 15 s.
func waitToolsRunning(ctx context.Context, t *Target) (toolsState, error) {
	start := time.Now()
	deadline, lastLog := start.Add(toolsWait), start
	for {
		var st toolsState
		if err := readToolsVSphere(ctx, t, &st); err != nil {
			return st, err
		}
		if st.vsphereDone() {
			t.Log.Info("vSphere reports VMware Tools running", "vm", t.Spec.Name, "versionStatus", st.vsVersion, "version", st.vsToolsVersion, "after", time.Since(start).Round(time.Millisecond))
			return st, nil
		}
		now := time.Now()
		if st.power != types.VirtualMachinePowerStatePoweredOn {
			return st, fmt.Errorf("VM %s is %s: VMware Tools cannot report", t.Spec.Name, st.power)
		}
		if now.After(deadline) {
			return st, fmt.Errorf("the Tools service runs in the guest, but %s after %s: check that the VM's Tools are not disabled (tools.* in its configuration) and the service's log (/var/log/vmware-vmsvc.log)", st.vsphereText(), toolsWait)
		}
		if now.Sub(lastLog) >= 15*time.Second {
			lastLog = now
			t.Log.Info("waiting for vSphere to report VMware Tools running", "vm", t.Spec.Name, "now", st.vsRunning,
				"elapsed", now.Sub(start).Round(time.Second), "remaining", deadline.Sub(now).Round(time.Second))
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func (toolsPhase) Verify(ctx context.Context, t *Target) error {
	st, err := readTools(ctx, t)
	if err != nil {
		return err
	}
	if !st.done() {
		return fmt.Errorf("VMware Tools not in place after install: %s", st.observed())
	}
	return nil
}
