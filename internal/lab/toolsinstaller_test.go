package lab

import (
	"fmt"
	"strings"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	scripts "github.com/mtprep/mtprep/scripts/centos"
)

// TestToolsInstallerStandin: MountToolsInstaller fails as ESXi's does on a
// powered-off VM, twice, and on a VM without a CD-ROM; mounted, the guest
// sees a CD labelled "VMware Tools" with the tarball, and CentOS's
// tools-host-install.sh installs from it: refused while open-vm-tools is
// installed, then the tar install, its service on at boot and running, and
// vSphere reporting Tools running. Unmount takes the CD out of the guest
// and vSphere's CD-ROM back to what it held.
func TestToolsInstallerStandin(t *testing.T) {
	l, g, ctx, vm := startWithVM(t)
	exec := func(args ...string) (string, error) {
		t.Helper()
		out, err := g.Exec(ctx, args...)
		return string(out), err
	}
	mustExec := func(args ...string) string {
		t.Helper()
		out, err := exec(args...)
		if err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
		return out
	}
	power := func(on bool) {
		t.Helper()
		var task *object.Task
		var err error
		if on {
			task, err = vm.PowerOn(ctx)
		} else {
			task, err = vm.PowerOff(ctx)
		}
		if err == nil {
			err = task.Wait(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	vsphere := func() (bool, string) {
		t.Helper()
		var m mo.VirtualMachine
		if err := vm.Properties(ctx, vm.Reference(), []string{"runtime.toolsInstallerMounted", "config.hardware.device"}, &m); err != nil {
			t.Fatal(err)
		}
		cds := object.VirtualDeviceList(m.Config.Hardware.Device).SelectByType((*types.VirtualCdrom)(nil))
		backing := "(no CD-ROM)"
		if len(cds) > 0 {
			backing = fmt.Sprintf("%T", cds[0].GetVirtualDevice().Backing)
			if iso, ok := cds[0].GetVirtualDevice().Backing.(*types.VirtualCdromIsoBackingInfo); ok {
				backing = iso.FileName
			}
		}
		return m.Runtime.ToolsInstallerMounted, backing
	}
	_, before := vsphere()
	faults := []struct {
		name  string
		setup func()
		fault string
	}{
		{"powered off", func() { power(false) }, "InvalidPowerState"},
		{"already mounted", func() {
			power(true)
			if err := vm.MountToolsInstaller(ctx); err != nil {
				t.Fatal(err)
			}
		}, "InvalidState"},
	}
	for _, c := range faults {
		c.setup()
		if err := vm.MountToolsInstaller(ctx); !strings.Contains(faultOf(err), c.fault) {
			t.Errorf("%s: mount: %v, want %s", c.name, err, c.fault)
		}
	}

	// Mounted: vSphere and the guest.
	if mounted, backing := vsphere(); !mounted || backing != ToolsInstallerImage {
		t.Errorf("mounted: vSphere says toolsInstallerMounted=%v, CD-ROM %s", mounted, backing)
	}
	if out := mustExec("bash", "-c", "ls -l /dev/sr0 /dev/cdrom && blkid -o value -s LABEL /dev/sr0"); !strings.Contains(out, ToolsInstallerLabel) {
		t.Errorf("the guest's CD: %s", out)
	}

	// open-vm-tools installed: the installer refuses, and the script
	// leaves nothing mounted or unpacked.
	repo := fmt.Sprintf("[epel]\nname=EPEL 6 (lab)\nbaseurl=%s\ngpgcheck=0\nenabled=1\n", l.EPELURL)
	mustExec("bash", "-c", "cat > /etc/yum.repos.d/epel-lab.repo <<'EOF'\n"+repo+"EOF\nyum -q -y --disablerepo='*' --enablerepo=epel install open-vm-tools")
	if out, err := exec("bash", "-c", scripts.ToolsHostInstall); err == nil || !strings.Contains(out, "open-vm-tools") {
		t.Errorf("install with open-vm-tools installed: %v: %s", err, out)
	}
	if out := mustExec("bash", "-c", "{ grep ' /tmp/mtprep-vmtools' /proc/mounts; ls -d /tmp/mtprep-vmtools* /etc/vmware-tools; } 2>/dev/null | wc -l"); strings.TrimSpace(out) != "0" {
		t.Errorf("after a refused install: %s", out)
	}
	mustExec("rpm", "-e", "open-vm-tools")

	out := mustExec("bash", "-c", scripts.ToolsHostInstall)
	if last := strings.TrimSpace(out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:]); last != ToolsInstallerTarball() {
		t.Errorf("install printed %q last, want the tarball %s:\n%s", last, ToolsInstallerTarball(), out)
	}
	checks := []struct{ cmd, want string }{
		{"vmware-toolbox-cmd -v", ToolsInstallerVersion + "." + ToolsInstallerBuild + " (build-" + ToolsInstallerBuild + ")"},
		{"chkconfig --list vmware-tools", "3:on"},
		{"service vmware-tools status", "is running"},
		{"cat /etc/vmware-tools/locations", "file /usr/bin/vmtoolsd"},
		{"grep -c ' /tmp/mtprep-vmtools' /proc/mounts; true", "0"},
		{"bash -s open-vm-tools vmtoolsd --tar vmware-tools vmware-tools <<'EOF'\n" + scripts.ToolsState + "\nEOF", "pkg vmware-tools " + ToolsInstallerVersion + "." + ToolsInstallerBuild + "\nsvc vmware-tools enabled yes\nsvc vmware-tools running yes"},
	}
	for _, c := range checks {
		if out := mustExec("bash", "-c", c.cmd); !strings.Contains(out, c.want) {
			t.Errorf("%s: %q, want %q", c.cmd, out, c.want)
		}
	}
	if st, err := l.WaitTools(ctx, vm, true); err != nil || st.VersionStatus2 != string(types.VirtualMachineToolsVersionStatusGuestToolsCurrent) {
		t.Errorf("vSphere after the tar install: %+v %v, want running and current", st, err)
	}

	// Unmounted: out of the guest, vSphere's CD-ROM as before; again is a
	// fault.
	if err := vm.UnmountToolsInstaller(ctx); err != nil {
		t.Fatal(err)
	}
	if mounted, backing := vsphere(); mounted || backing != before {
		t.Errorf("unmounted: vSphere says toolsInstallerMounted=%v, CD-ROM %s, want %s", mounted, backing, before)
	}
	if out, err := exec("bash", "-c", "ls /dev/sr0 /dev/cdrom; blkid -t LABEL='VMware Tools' -o device"); err == nil {
		t.Errorf("the CD is still in the guest: %s", out)
	}
	if err := vm.UnmountToolsInstaller(ctx); !strings.Contains(faultOf(err), "InvalidState") {
		t.Errorf("a second unmount: %v, want InvalidState", err)
	}

	// No CD-ROM: a fault, nothing in the guest.
	devs, err := vm.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := vm.RemoveDevice(ctx, false, devs.SelectByType((*types.VirtualCdrom)(nil))...); err != nil {
		t.Fatal(err)
	}
	if err := vm.MountToolsInstaller(ctx); !strings.Contains(faultOf(err), "VmConfigFault") {
		t.Errorf("no CD-ROM: mount: %v, want VmConfigFault", err)
	}
	if out, err := exec("ls", "/dev/sr0"); err == nil {
		t.Errorf("a VM without a CD-ROM presents one: %s", out)
	}
}

// faultOf names the vSphere fault err carries ("types.InvalidState"), or
// says what err is.
func faultOf(err error) string {
	if soap.IsSoapFault(err) {
		return fmt.Sprintf("%T", soap.ToSoapFault(err).VimFault())
	}
	return fmt.Sprintf("not a fault: %v", err)
}
