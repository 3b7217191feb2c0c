package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/internal/lab"
	"github.com/mtprep/mtprep/packages"
	"github.com/mtprep/mtprep/provision"
)

// TestBuildToolsHost: tools.source: host on CentOS with an offline bundle
// that holds no VMware Tools RPM. On a host without a Tools image the
// phase fails, naming the fault and the fix, and changes nothing. Before the tools phase vSphere reports
// Tools not running and not installed, and the plan names the host's
// installer; the tools phase mounts it (MountToolsInstaller, the lab's
// stand-in of ESXi), runs vmware-install.pl --default from the CD's
// tarball, and takes the CD out of the guest and the VM again; only then
// does vSphere report Tools running. A second build changes nothing and
// mounts nothing.
func TestBuildToolsHost(t *testing.T) {
	l, g, ctx, m, vm, tools := toolsMT(t, func(l *lab.Lab) mtOptions {
		return mtOptions{packages: "bundle", agent: l.AgentTarball, tools: "host", bundle: bundleWithout(t, l, "open-vm-tools")}
	})

	// A host without a Tools image (installed from a "-no-tools" image
	// profile): the mount is refused, the phase fails naming the fault
	// and the way out, and nothing in the guest or the VM changed.
	l.SetToolsImage(false)
	before := guestState(t, ctx, g)
	r := m.mtprep(t, ctx, m.buildArgs("--phases", "tools")...)
	out := r.stdout + r.stderr
	if r.code != 1 || !strings.Contains(out, "ToolsImageNotAvailable") || !strings.Contains(out, "tools.source: packages") {
		t.Errorf("tools phase on a host without a Tools image: want exit 1 naming ToolsImageNotAvailable and tools.source: packages\n%s", r)
	}
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "ToolsImageNotAvailable") {
			t.Logf("refused: %s", line)
		}
	}
	if after := guestState(t, ctx, g); after != before {
		t.Errorf("the refused mount changed the guest:\n%s", diff(before, after))
	}
	if st := tools("after the refused mount"); st.Running() {
		t.Errorf("vSphere reports Tools running after a refused mount: %+v", st)
	}
	installerOut(t, ctx, g, vm)
	l.SetToolsImage(true)

	p := m.mtprep(t, ctx, "plan", "--spec", m.spec, "--work-dir", m.work, "--phases", "tools")
	for _, want := range []string{"MountToolsInstaller", "vmware-install.pl --default", "UnmountToolsInstaller"} {
		if p.code != 0 || !strings.Contains(p.stdout, want) {
			t.Errorf("plan of the tools phase does not say %q:\n%s", want, p)
		}
	}
	if strings.Contains(p.stdout, "not supported") {
		t.Errorf("plan still calls a route unsupported:\n%s", p)
	}

	r = toolsPhaseChanged(t, ctx, m, g, tools)
	if st := tools("tar install"); st.VersionStatus2 != string(types.VirtualMachineToolsVersionStatusGuestToolsCurrent) {
		t.Errorf("vSphere reports %s for the host's own Tools, want guestToolsCurrent", st.VersionStatus2)
	}
	version := lab.ToolsInstallerVersion + "." + lab.ToolsInstallerBuild
	for _, c := range []struct{ cmd, want string }{
		{"vmware-toolbox-cmd -v", version},
		{"chkconfig --list vmware-tools", "3:on"},
		{"service vmware-tools status", "is running"},
		{"rpm -q open-vm-tools; true", "not installed"},
	} {
		if out, err := g.Exec(ctx, "bash", "-c", c.cmd); err != nil || !strings.Contains(string(out), c.want) {
			t.Errorf("in the guest, %s: %v %q, want %q", c.cmd, err, out, c.want)
		}
	}
	if n := r.report.Facts; n == nil || !strings.Contains(n.PhaseNotes["tools"], "installed "+lab.ToolsInstallerTarball()) {
		t.Errorf("tools note: %+v", n)
	}
	if n := calls(r, "MountToolsInstaller"); n != 1 {
		t.Errorf("the tools phase mounted the installer %d times, want 1", n)
	}
	installerOut(t, ctx, g, vm)

	// Again: done, nothing changed, nothing mounted.
	r = toolsPhaseDone(t, ctx, m, g)
	if n := calls(r, "MountToolsInstaller") + calls(r, "UnmountToolsInstaller"); n != 0 {
		t.Errorf("the second run made %d installer calls", n)
	}
	installerOut(t, ctx, g, vm)

	// The installer left in the VM (a run stopped between mount and
	// unmount): the check sees it, the phase takes it out and changes
	// nothing in the guest.
	if err := vm.MountToolsInstaller(ctx); err != nil {
		t.Fatal(err)
	}
	before = guestState(t, ctx, g)
	r = m.mtprep(t, ctx, m.buildArgs("--phases", "tools")...)
	if r.code != 0 || r.status("tools") != provision.StatusChanged || calls(r, "UnmountToolsInstaller") != 1 || calls(r, "MountToolsInstaller") != 0 {
		t.Fatalf("tools phase with the installer left mounted:\n%s", r)
	}
	if n := r.report.Facts; n == nil || !strings.Contains(n.PhaseNotes["tools"], "took out the VMware Tools installer") {
		t.Errorf("tools note: %+v", n)
	}
	if after := guestState(t, ctx, g); after != before {
		t.Errorf("taking the installer out changed the guest:\n%s", diff(before, after))
	}
	installerOut(t, ctx, g, vm)
}

// calls is how many times r called a vSphere method.
func calls(r *run, method string) int64 {
	if r.report.VSphere == nil {
		return 0
	}
	return r.report.VSphere.Calls[method]
}

// installerOut checks that the host's Tools installer is mounted neither
// in the guest nor in the VM's CD-ROM.
func installerOut(t *testing.T, ctx context.Context, g *lab.Guest, vm *object.VirtualMachine) {
	t.Helper()
	if out, err := g.Exec(ctx, "bash", "-c", "blkid -t LABEL='VMware Tools' -o device; ls /dev/sr0 /dev/cdrom 2>/dev/null; grep -c /tmp/mtprep-vmtools /proc/mounts"); strings.TrimSpace(string(out)) != "0" {
		t.Errorf("the Tools CD is still in the guest: %v\n%s", err, out)
	}
	var v mo.VirtualMachine
	if err := vm.Properties(ctx, vm.Reference(), []string{"runtime.toolsInstallerMounted", "config.hardware.device"}, &v); err != nil {
		t.Fatal(err)
	}
	if v.Runtime.ToolsInstallerMounted {
		t.Error("vSphere: runtime.toolsInstallerMounted is still true")
	}
	for _, d := range object.VirtualDeviceList(v.Config.Hardware.Device).SelectByType((*types.VirtualCdrom)(nil)) {
		if iso, ok := d.GetVirtualDevice().Backing.(*types.VirtualCdromIsoBackingInfo); ok && iso.FileName == lab.ToolsInstallerImage {
			t.Errorf("vSphere: CD-ROM %d still holds %s", d.GetVirtualDevice().Key, iso.FileName)
		}
	}
}

// bundleWithout writes an offline bundle of the lab's RPMs less the
// packages named.
func bundleWithout(t *testing.T, l *lab.Lab, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for name, file := range l.RPMs {
		if contains(names, name) {
			continue
		}
		if err := os.Link(file, filepath.Join(dir, filepath.Base(file))); err != nil {
			b, rerr := os.ReadFile(file)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(file)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	out := filepath.Join(t.TempDir(), "mt-bundle-no-tools.tar")
	rpms, err := packages.WriteBundle(context.Background(), dir, out)
	if err != nil {
		t.Fatal(err)
	}
	if tp, _, ok := packages.ToolsIn(rpms); ok {
		t.Fatalf("the bundle still holds %s", tp.Name)
	}
	return out
}
