package lab

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

// TestToolsStandin: the lab's VM reports VMware Tools not running (and
// not installed) until the guest runs the stand-in vmtoolsd from the
// open-vm-tools test RPM, running while it does, not running again when
// it stops, across reboots as chkconfig says, and while the VM is off.
func TestToolsStandin(t *testing.T) {
	l, g, ctx, vm := startWithVM(t)
	notInstalled := string(types.VirtualMachineToolsVersionStatusGuestToolsNotInstalled)
	unmanaged := string(types.VirtualMachineToolsVersionStatusGuestToolsUnmanaged)
	now := func(what string) ToolsStatus {
		t.Helper()
		l.syncToolsNow()
		st, err := l.VMTools(ctx, vm)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %+v", what, st)
		return st
	}
	wait := func(what string, running bool) ToolsStatus {
		t.Helper()
		st, err := l.WaitTools(ctx, vm, running)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		t.Logf("%s: %+v", what, st)
		return st
	}
	exec := func(args ...string) string {
		t.Helper()
		out, err := g.Exec(ctx, args...)
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return string(out)
	}

	if st := now("fresh guest"); st.Running() || st.VersionStatus2 != notInstalled || st.IPAddress != "" {
		t.Errorf("a guest without Tools: %+v, want not running, %s, no address", st, notInstalled)
	}

	// Installed from the lab's EPEL repository: registered, not enabled,
	// not started, as an EPEL package leaves its service.
	repo := fmt.Sprintf("[epel]\nname=EPEL 6 (lab)\nbaseurl=%s\ngpgcheck=0\nenabled=1\n", l.EPELURL)
	exec("bash", "-c", "cat > /etc/yum.repos.d/epel-lab.repo <<'EOF'\n"+repo+"EOF\nyum -q -y --disablerepo='*' --enablerepo=epel install open-vm-tools")
	if out := exec("rpm", "-q", "open-vm-tools"); out != "open-vm-tools-9.10.2-3.el6.x86_64\n" {
		t.Errorf("rpm -q open-vm-tools: %q", out)
	}
	if out := exec("chkconfig", "--list", "vmtoolsd"); strings.Contains(out, ":on") {
		t.Errorf("installing enabled vmtoolsd: %q", out)
	}
	if st := now("installed, not started"); st.Running() || st.VersionStatus2 != notInstalled {
		t.Errorf("installed but not started: %+v", st)
	}

	exec("service", "vmtoolsd", "start")
	if !g.ToolsRunning() {
		t.Fatal("service vmtoolsd start: the stand-in does not run")
	}
	if st := wait("started", true); st.VersionStatus2 != unmanaged || st.IPAddress != g.Address {
		t.Errorf("running: %+v, want %s and address %s", st, unmanaged, g.Address)
	}
	if out := exec("service", "vmtoolsd", "status"); !strings.Contains(out, "is running") {
		t.Errorf("status: %q", out)
	}

	exec("service", "vmtoolsd", "stop")
	if st := wait("stopped", false); st.VersionStatus2 != unmanaged || st.IPAddress != "" {
		t.Errorf("stopped: %+v, want %s (reported once) and no address", st, unmanaged)
	}

	// chkconfig off: a reboot leaves it stopped; on: init starts it.
	rep, err := g.Reboot(ctx)
	if err != nil || !rep.OK() || contains(rep.Services, "vmtoolsd") {
		t.Fatalf("reboot with vmtoolsd off: %+v %v", rep, err)
	}
	if st := now("rebooted, chkconfig off"); st.Running() {
		t.Errorf("after a reboot with vmtoolsd off: %+v", st)
	}
	exec("chkconfig", "vmtoolsd", "on")
	rep, err = g.Reboot(ctx)
	if err != nil || !rep.OK() || !contains(rep.Services, "vmtoolsd") {
		t.Fatalf("reboot with vmtoolsd on: %+v %v", rep, err)
	}
	wait("rebooted, chkconfig on", true)

	// The VM powered off in vSphere: no Tools, whatever the guest runs.
	task, err := vm.PowerOff(ctx)
	if err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	if st := now("VM powered off"); st.Running() {
		t.Errorf("powered-off VM: %+v", st)
	}
	if task, err = vm.PowerOn(ctx); err == nil {
		err = task.Wait(ctx)
	}
	if err != nil {
		t.Fatal(err)
	}
	wait("VM powered on", true)
}

// startWithVM starts a lab and returns its first guest and the VM coupled
// to it, with a context that ends with the test (3 minutes at most).
func startWithVM(t *testing.T) (*Lab, *Guest, context.Context, *object.VirtualMachine) {
	t.Helper()
	l := Start(t)
	g := l.Guests[0]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	vm, err := l.FindVM(ctx, g.VMName)
	if err != nil {
		t.Fatal(err)
	}
	return l, g, ctx, vm
}
