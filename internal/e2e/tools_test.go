package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/internal/lab"
	"github.com/mtprep/mtprep/provision"
)

// TestBuildTools: on a freshly installed MT vSphere reports VMware Tools
// not running and not installed (a CentOS 6.6 minimal install has none);
// the tools phase installs open-vm-tools from the offline bundle, turns
// vmtoolsd on at boot and starts it, and only then does vSphere report
// Tools running. A second run changes nothing; a stopped vmtoolsd is
// started again (nothing reinstalled); a reboot brings it back by itself.
func TestBuildTools(t *testing.T) {
	l, g, ctx, m, vm, tools := toolsMT(t, func(l *lab.Lab) mtOptions { return mtOptions{packages: "bundle", agent: l.AgentTarball} })

	// plan says what the phase will do, and names the host installer's
	// route as the other way (TestBuildToolsHost).
	p := m.mtprep(t, ctx, "plan", "--spec", m.spec, "--work-dir", m.work, "--phases", "tools")
	if p.code != 0 || !strings.Contains(p.stdout, "open-vm-tools or vmware-tools-esx-nox") || !strings.Contains(p.stdout, "tools.source: host") {
		t.Errorf("plan of the tools phase:\n%s", p)
	}

	r := toolsPhaseChanged(t, ctx, m, g, tools)
	if out, err := g.Exec(ctx, "bash", "-c", "rpm -q open-vm-tools && chkconfig --list vmtoolsd && service vmtoolsd status"); err != nil ||
		!strings.Contains(string(out), "open-vm-tools-9.10.2-3.el6") || !strings.Contains(string(out), "3:on") || !strings.Contains(string(out), "is running") {
		t.Errorf("in the guest: %v\n%s", err, out)
	}
	if n := r.report.Facts; n == nil || !strings.Contains(n.PhaseNotes["tools"], "installed open-vm-tools-9.10.2-3.el6.x86_64.rpm") {
		t.Errorf("tools note: %+v", n)
	}

	// Again: done, nothing changed.
	toolsPhaseDone(t, ctx, m, g)

	// vmtoolsd stopped: vSphere sees it, the phase starts it again and
	// installs nothing.
	if out, err := g.Exec(ctx, "service", "vmtoolsd", "stop"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if _, err := l.WaitTools(ctx, vm, false); err != nil {
		t.Fatal(err)
	}
	r = m.mtprep(t, ctx, m.buildArgs("--phases", "tools")...)
	if r.code != 0 || r.status("tools") != provision.StatusChanged {
		t.Fatalf("tools phase with vmtoolsd stopped:\n%s", r)
	}
	for _, ph := range r.report.Phases {
		if ph.Phase == "tools" && (strings.Contains(strings.Join(ph.Changes, "; "), "install") || !strings.Contains(strings.Join(ph.Changes, "; "), "start vmtoolsd now")) {
			t.Errorf("with vmtoolsd stopped the phase planned %q", ph.Changes)
		}
	}
	if st := tools("started again"); !st.Running() {
		t.Errorf("after starting vmtoolsd again: %+v", st)
	}

	// A reboot: not running while the guest is down, running after init
	// started vmtoolsd (chkconfig on).
	rep, err := g.Reboot(ctx)
	if err != nil || !rep.OK() {
		t.Fatalf("reboot: %+v %v", rep, err)
	}
	if !strings.Contains(strings.Join(rep.Services, " "), "vmtoolsd") {
		t.Errorf("init did not start vmtoolsd at boot: %v", rep.Services)
	}
	if _, err := l.WaitTools(ctx, vm, true); err != nil {
		t.Fatal(err)
	}
}

// toolsMT starts a lab and builds an MT on its first guest up to the
// packages phase, with the options opts gives for the lab, for the tools
// phase's tests. It checks that vSphere then reports Tools not running
// and not installed, and that the guest has none, and returns the lab,
// the guest, a context that ends with the test (8 minutes at most), the
// MT, its VM and a reader of what vSphere reports about the VM's Tools
// (logged with what).
func toolsMT(t *testing.T, opts func(*lab.Lab) mtOptions) (*lab.Lab, *lab.Guest, context.Context, *mt, *object.VirtualMachine, func(what string) lab.ToolsStatus) {
	t.Helper()
	l := lab.Start(t)
	g := l.Guests[0]
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	t.Cleanup(cancel)
	w := watch(t, l, g)
	m := newMT(t, l, g, opts(l))
	r := m.mtprep(t, ctx, m.buildArgs("--phases", "iso,upload,vm,enable-uuid,install,packages")...)
	if r.code != 0 {
		t.Fatalf("build up to packages:\n%s\nwatcher: %v", r, w.Err())
	}
	vm, err := l.FindVM(ctx, "mt01")
	if err != nil {
		t.Fatal(err)
	}
	tools := func(what string) lab.ToolsStatus {
		t.Helper()
		st, err := l.VMTools(ctx, vm)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: vSphere %+v", what, st)
		return st
	}
	if st := tools("installed MT, before the tools phase"); st.Running() || st.VersionStatus2 != string(types.VirtualMachineToolsVersionStatusGuestToolsNotInstalled) {
		t.Errorf("before the tools phase vSphere reports %+v, want not running and not installed", st)
	}
	if out, err := g.Exec(ctx, "bash", "-c", "rpm -q open-vm-tools || ls /etc/vmware-tools"); err == nil {
		t.Errorf("Tools in the guest before the tools phase: %s", out)
	}
	return l, g, ctx, m, vm, tools
}

// toolsPhaseChanged runs the tools phase, which must change the MT, and
// checks that vSphere then reports Tools running at the guest's address.
func toolsPhaseChanged(t *testing.T, ctx context.Context, m *mt, g *lab.Guest, tools func(string) lab.ToolsStatus) *run {
	t.Helper()
	r := m.mtprep(t, ctx, m.buildArgs("--phases", "tools")...)
	if r.code != 0 || r.status("tools") != provision.StatusChanged {
		t.Fatalf("tools phase:\n%s", r)
	}
	if st := tools("after the tools phase"); !st.Running() || st.VersionStatus2 == string(types.VirtualMachineToolsVersionStatusGuestToolsNotInstalled) || st.IPAddress != g.Address {
		t.Errorf("after the tools phase vSphere reports %+v, want running at %s", st, g.Address)
	}
	return r
}

// toolsPhaseDone runs the tools phase again: done, and the guest as it
// was.
func toolsPhaseDone(t *testing.T, ctx context.Context, m *mt, g *lab.Guest) *run {
	t.Helper()
	before := guestState(t, ctx, g)
	r := m.mtprep(t, ctx, m.buildArgs("--phases", "tools")...)
	if r.code != 0 || r.status("tools") != provision.StatusDone {
		t.Fatalf("second run of the tools phase:\n%s", r)
	}
	if after := guestState(t, ctx, g); after != before {
		t.Errorf("the second run changed the guest:\n%s", diff(before, after))
	}
	return r
}
