package provision

import (
	"errors"
	"strings"
	"testing"

	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/centos"
	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/spec"
	"github.com/mtprep/mtprep/provision/vsphere"
	"github.com/mtprep/mtprep/windows"
)

// TestToolsDone: done needs the guest side (package, on at boot,
// running) and vSphere's word (running, a version status other than not
// installed); the changes name what is missing, and the packages route
// names the host installer's route as the other way.
func TestToolsDone(t *testing.T) {
	tg := &Target{OS: centos.OS(), Spec: &spec.Spec{Name: "mt01", Packages: spec.Packages{Source: "bundle", Bundle: "/b/mt-bundle.tar"}}}
	guestOK := toolsState{ToolsState: guest.ToolsState{Package: "open-vm-tools", Version: "9.10.2-3.el6", Service: "vmtoolsd", Enabled: true, Running: true}}
	running := guestOK
	running.vsRunning, running.vsVersion = "guestToolsRunning", "guestToolsUnmanaged"
	if !running.done() {
		t.Errorf("%+v: not done", running)
	}
	for name, st := range map[string]toolsState{
		"vSphere not running":   func() toolsState { s := running; s.vsRunning = "guestToolsNotRunning"; return s }(),
		"vSphere not installed": func() toolsState { s := running; s.vsVersion = "guestToolsNotInstalled"; return s }(),
		"vSphere unset":         guestOK,
		"off at boot":           func() toolsState { s := running; s.Enabled = false; return s }(),
		"stopped":               func() toolsState { s := running; s.Running = false; return s }(),
		"no package":            {vsRunning: "guestToolsNotRunning", vsVersion: "guestToolsNotInstalled"},
		"installer left":        func() toolsState { s := running; s.installerLeft = true; return s }(),
	} {
		if st.done() {
			t.Errorf("%s: done", name)
		}
		if len(st.changes(tg)) == 0 {
			t.Errorf("%s: no changes", name)
		}
	}
	ch := strings.Join(toolsState{}.changes(tg), "; ")
	for _, w := range []string{"open-vm-tools or vmware-tools-esx-nox", "mt-bundle.tar", "tools.source: host", "chkconfig", "wait up to"} {
		if !strings.Contains(ch, w) {
			t.Errorf("changes %q do not say %q", ch, w)
		}
	}
	// tools.source: host: the plan says the host's installer, mounted and
	// taken out again, and no bundle.
	host := &Target{OS: centos.OS(), Spec: &spec.Spec{Name: "mt01", Packages: spec.Packages{Source: "bundle", Bundle: "/b/mt-bundle.tar"}, Tools: spec.Tools{Source: spec.ToolsFromHost}}}
	ch = strings.Join(toolsState{}.changes(host), "; ")
	for _, w := range []string{"MountToolsInstaller", "vmware-install.pl --default", "UnmountToolsInstaller", "chkconfig", "wait up to"} {
		if !strings.Contains(ch, w) {
			t.Errorf("host route: changes %q do not say %q", ch, w)
		}
	}
	if strings.Contains(ch, "mt-bundle.tar") {
		t.Errorf("host route: changes %q name the bundle", ch)
	}
	if !host.OS.Tools.HostInstaller(packageSource(host.Spec)) || tg.OS.Tools.HostInstaller(packageSource(tg.Spec)) {
		t.Error("HostInstaller does not follow tools.source")
	}
	left := running
	left.installerLeft = true
	if ch := strings.Join(left.changes(host), "; "); ch != "take the VMware Tools installer out of the VM's CD-ROM (UnmountToolsInstaller): it is still mounted" {
		t.Errorf("installer left mounted: %q", ch)
	}
	off := running
	off.Enabled = false
	if ch := strings.Join(off.changes(tg), "; "); ch != "start vmtoolsd at boot" {
		t.Errorf("only off at boot: %q", ch)
	}
}

// TestToolsMountFix: a refused MountToolsInstaller gets the way out that
// fits the fault and the OS: a host without a Tools image sends a CentOS
// MT to the packages route, a Windows MT (host route only) to the host.
func TestToolsMountFix(t *testing.T) {
	fault := func(f types.AnyType) error {
		return &vsphere.Error{Op: "mount the host's VMware Tools installer in", Object: "VM mt01", Err: soap.WrapSoapFault(&soap.Fault{Detail: struct {
			Fault types.AnyType `xml:",any,typeattr"`
		}{Fault: f}})}
	}
	for _, tt := range []struct {
		name      string
		os        *guest.OS
		err       error
		want, not string
	}{
		{"no image, CentOS", centos.OS(), fault(types.ToolsImageNotAvailable{}), "tools.source: packages", ""},
		{"no image, Windows", windows.OS(), fault(types.ToolsImageNotAvailable{}), "tools-light", "tools.source"},
		{"powered off", centos.OS(), fault(types.InvalidPowerState{}), "run the install phase first", ""},
		{"no CD-ROM", centos.OS(), fault(types.VmConfigFault{}), "vm phase with --fix", ""},
		{"another fault as it is", centos.OS(), fault(types.InvalidState{}), "InvalidState", "fix"},
		{"not a vSphere error", centos.OS(), errors.New("boom"), "boom", "("},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := toolsMountFix(&Target{OS: tt.os}, tt.err).Error()
			if !strings.Contains(got, tt.want) || (tt.not != "" && strings.Contains(got, tt.not)) {
				t.Errorf("got %q, want %q and not %q", got, tt.want, tt.not)
			}
		})
	}
}
