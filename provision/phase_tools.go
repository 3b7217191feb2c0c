package provision

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/vsphere"
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
// Sources (tools.source): packages, the packages source (an open-vm-tools
// or vmware-tools-esx-nox RPM in the offline bundle, or open-vm-tools with
// yum from packages.repos, which for el6 means an EPEL 6 mirror); or host,
// the ESXi host's own installer (VirtualMachine.MountToolsInstaller, taken
// out again with UnmountToolsInstaller), used when the OS's Tools part
// says HostInstaller for the source: Windows always (setup64.exe), CentOS
// with tools.source: host (vmware-install.pl --default from the CD's
// tarball).
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

type toolsState struct {
	guest.ToolsState
	// vSphere's view.
	vsRunning, vsVersion, vsToolsVersion string
	power                                types.VirtualMachinePowerState
	// installerLeft: the host's Tools installer is still in the VM's
	// CD-ROM on a route that mounts it (an earlier run stopped before it
	// took it out).
	installerLeft bool
}

func (s toolsState) guestDone() bool { return s.Package != "" && s.Enabled && s.Running }

func (s toolsState) vsphereDone() bool {
	return s.vsRunning == string(types.VirtualMachineToolsRunningStatusGuestToolsRunning) &&
		s.vsVersion != "" && s.vsVersion != string(types.VirtualMachineToolsVersionStatusGuestToolsNotInstalled)
}

func (s toolsState) done() bool { return s.guestDone() && s.vsphereDone() && !s.installerLeft }

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
	if s.Package != "" {
		g = fmt.Sprintf("%s %s; %s %s at boot, %s", s.Package, s.Version, s.Service, onOff(s.Enabled, "on", "off"), onOff(s.Running, "running", "stopped"))
	}
	g += "; " + s.vsphereText()
	if s.installerLeft {
		g += "; the host's VMware Tools installer is still in the VM's CD-ROM"
	}
	return g
}

func onOff(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

func (s toolsState) changes(t *Target) []string {
	var out []string
	switch {
	case s.Package == "":
		out = append(out, t.OS.Tools.InstallText(packageSource(t.Spec)), t.OS.Tools.StartText())
	default:
		if !s.Enabled {
			out = append(out, "start "+s.Service+" at boot")
		}
		if !s.Running {
			out = append(out, "start "+s.Service+" now")
		}
	}
	if !s.vsphereDone() {
		out = append(out, fmt.Sprintf("wait up to %s for vSphere to report Tools running (now %s)", toolsWait, s.vsphereText()))
	}
	if s.installerLeft && s.Package != "" {
		out = append(out, "take the VMware Tools installer out of the VM's CD-ROM (UnmountToolsInstaller): it is still mounted")
	}
	return out
}

func (toolsPhase) OnFreshMT(t *Target) []string {
	return []string{t.OS.Tools.InstallText(packageSource(t.Spec)), t.OS.Tools.StartText(), "wait for vSphere to report Tools running (guest.toolsRunningStatus=guestToolsRunning)"}
}

// readToolsGuest reads the guest's half of the state.
func readToolsGuest(ctx context.Context, t *Target) (toolsState, error) {
	if t.OS == nil || t.OS.Tools == nil {
		return toolsState{}, fmt.Errorf("no VMware Tools part for os %q", t.Spec.OS)
	}
	c, err := t.SSH(ctx)
	if err != nil {
		return toolsState{}, err
	}
	g, err := t.OS.Tools.Read(ctx, c)
	return toolsState{ToolsState: g}, err
}

// readToolsVSphere adds vSphere's half.
func readToolsVSphere(ctx context.Context, t *Target, st *toolsState) error {
	s, ref, err := toolsVM(ctx, t)
	if err != nil {
		return err
	}
	vt, err := s.ReadTools(ctx, "VM "+t.Spec.Name, ref)
	if err != nil {
		return err
	}
	st.power, st.vsRunning, st.vsVersion, st.vsToolsVersion = vt.Power, vt.RunningStatus, vt.VersionStatus, vt.ToolsVersion
	st.installerLeft = vt.InstallerMounted && t.OS.Tools.HostInstaller(packageSource(t.Spec))
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
	st, err := readTools(ctx, t)
	if err != nil {
		return err
	}
	c, err := t.SSH(ctx)
	if err != nil {
		return err
	}
	var did []string
	switch {
	case st.Package == "":
		if t.OS.Tools.HostInstaller(packageSource(t.Spec)) {
			unmount, err := mountToolsInstaller(ctx, t, st.installerLeft)
			if err != nil {
				return err
			}
			defer unmount()
		}
		name, err := t.OS.Tools.Install(ctx, c, packageSource(t.Spec), guest.Env{Log: t.Log, Progress: t.Progress})
		if err != nil {
			return err
		}
		did = append(did, "installed "+name)
		g, err := readToolsGuest(ctx, t)
		if err != nil {
			return err
		}
		if st.ToolsState = g.ToolsState; st.Package == "" {
			return fmt.Errorf("installed %s, yet the guest lists none of %s", name, strings.Join(t.OS.Tools.Known(), " "))
		}
	case st.installerLeft:
		// Tools are in; an earlier run stopped before it took the
		// installer out.
		if err := unmountToolsInstaller(ctx, t); err != nil {
			return err
		}
		did = append(did, "took out the VMware Tools installer an earlier run left in the VM's CD-ROM")
	}
	if !st.Enabled || !st.Running {
		if err := t.OS.Tools.Start(ctx, c, st.Service); err != nil {
			return err
		}
		did = append(did, st.Service+" on at boot and started")
	}
	vs, err := waitToolsRunning(ctx, t)
	if err != nil {
		return err
	}
	did = append(did, "vSphere reports Tools running ("+vs.vsVersion+")")
	t.Note(p.Name(), strings.Join(did, "; "))
	return nil
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

// NotOn: an OS without a Tools part.
func (toolsPhase) NotOn(t *Target) string {
	if t.OS.Tools == nil {
		return fmt.Sprintf("os %s has no VMware Tools part", t.Spec.OS)
	}
	return ""
}

// toolsVM finds the MT's VM and the vSphere session.
func toolsVM(ctx context.Context, t *Target) (*vsphere.Session, types.ManagedObjectReference, error) {
	vm, err := t.vmFor(ctx)
	if err != nil {
		return nil, types.ManagedObjectReference{}, err
	}
	if vm == nil {
		return nil, types.ManagedObjectReference{}, fmt.Errorf("VM %s not found in vSphere: run the vm and install phases first", t.Spec.Name)
	}
	s, err := t.vsphere(ctx)
	if err != nil {
		return nil, types.ManagedObjectReference{}, err
	}
	return s, vm.Ref, nil
}

// mountToolsInstaller mounts the host's Tools installer on the MT's VM
// (unless mounted says an earlier run left it there) and returns what
// takes it out again (logged, not fatal: a CD-ROM left with the installer
// holds no data, and the next run's check sees it and takes it out).
func mountToolsInstaller(ctx context.Context, t *Target, mounted bool) (func(), error) {
	s, ref, err := toolsVM(ctx, t)
	if err != nil {
		return nil, err
	}
	name := "VM " + t.Spec.Name
	if mounted {
		t.Log.Info("tools: the VMware Tools installer is mounted already (an earlier run left it)", "vm", t.Spec.Name)
	} else if err := s.MountToolsInstaller(ctx, ref, name); err != nil {
		return nil, toolsMountFix(t, err)
	}
	return func() {
		if err := s.UnmountToolsInstaller(context.WithoutCancel(ctx), ref, name); err != nil {
			t.Log.Warn("tools: the installer stays mounted", "vm", t.Spec.Name, "err", err)
		}
	}, nil
}

// toolsMountFix adds the way out to a refused mount whose cause the
// operator can act on.
func toolsMountFix(t *Target, err error) error {
	var ve *vsphere.Error
	if !errors.As(err, &ve) {
		return err
	}
	switch ve.MethodFault().(type) {
	case *types.ToolsImageNotAvailable:
		fix := "add the VMware Tools VIB (tools-light) to the host, or place the MT on a host that has it"
		// An OS that takes Tools from the host even when the spec does
		// not ask has no other source.
		if !t.OS.Tools.HostInstaller(guest.PackageSource{}) {
			fix = "put open-vm-tools or VMware's vmware-tools-esx-nox RPMs in the offline bundle and set tools.source: packages, or " + fix
		}
		return fmt.Errorf("%w (the ESXi host has no VMware Tools image for this guest, as on a host installed from a \"-no-tools\" image profile: %s)", err, fix)
	case *types.InvalidPowerState:
		return fmt.Errorf("%w (the VM must be powered on: run the install phase first)", err)
	case *types.VmConfigFault:
		return fmt.Errorf("%w (the VM needs a CD-ROM for the installer: run the vm phase with --fix)", err)
	}
	return err
}

// unmountToolsInstaller takes the host's Tools installer out of the MT's
// VM.
func unmountToolsInstaller(ctx context.Context, t *Target) error {
	s, ref, err := toolsVM(ctx, t)
	if err != nil {
		return err
	}
	return s.UnmountToolsInstaller(ctx, ref, "VM "+t.Spec.Name)
}
