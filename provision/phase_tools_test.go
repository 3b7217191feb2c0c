package provision

import (
	"strings"
	"testing"

	"github.com/mtprep/mtprep/provision/spec"
)

func TestParseToolsState(t *testing.T) {
	cases := []struct {
		name, out string
		want      toolsState
	}{
		{"none", "", toolsState{}},
		{"open-vm-tools off", "pkg open-vm-tools 9.10.2-3.el6\nsvc vmtoolsd enabled no\nsvc vmtoolsd running no\n",
			toolsState{pkg: "open-vm-tools", version: "9.10.2-3.el6", service: "vmtoolsd"}},
		{"open-vm-tools on", "pkg open-vm-tools 9.10.2-3.el6\nsvc vmtoolsd enabled yes\nsvc vmtoolsd running yes\n",
			toolsState{pkg: "open-vm-tools", version: "9.10.2-3.el6", service: "vmtoolsd", enabled: true, running: true}},
		{"OSP", "pkg vmware-tools-esx-nox 10.1.0-1.el6\nsvc vmware-tools-services enabled yes\nsvc vmware-tools-services running no\n",
			toolsState{pkg: "vmware-tools-esx-nox", version: "10.1.0-1.el6", service: "vmware-tools-services", enabled: true}},
		// Both installed: open-vm-tools comes first in packages.Tools; the
		// other package's service lines do not count for it.
		{"both", "pkg open-vm-tools 9.10.2-3.el6\nsvc vmtoolsd enabled no\nsvc vmtoolsd running yes\npkg vmware-tools-esx-nox 10.1.0-1.el6\nsvc vmware-tools-services enabled yes\nsvc vmware-tools-services running yes\n",
			toolsState{pkg: "open-vm-tools", version: "9.10.2-3.el6", service: "vmtoolsd", running: true}},
		{"unknown package ignored", "pkg vmware-tools 8.6\nsvc vmware-tools enabled yes\n", toolsState{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := parseToolsState(c.out); got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

// TestToolsDone: done needs the guest side (package, on at boot,
// running) and vSphere's word (running, a version status other than not
// installed); the changes name what is missing, and the installer route
// is said to be unsupported.
func TestToolsDone(t *testing.T) {
	tg := &Target{Spec: &spec.Spec{Name: "mt01", Packages: spec.Packages{Source: "bundle", Bundle: "/b/mt-bundle.tar"}}}
	guestOK := toolsState{pkg: "open-vm-tools", version: "9.10.2-3.el6", service: "vmtoolsd", enabled: true, running: true}
	running := guestOK
	running.vsRunning, running.vsVersion = "guestToolsRunning", "guestToolsUnmanaged"
	if !running.done() {
		t.Errorf("%+v: not done", running)
	}
	for name, st := range map[string]toolsState{
		"vSphere not running":   func() toolsState { s := running; s.vsRunning = "guestToolsNotRunning"; return s }(),
		"vSphere not installed": func() toolsState { s := running; s.vsVersion = "guestToolsNotInstalled"; return s }(),
		"vSphere unset":         guestOK,
		"off at boot":           func() toolsState { s := running; s.enabled = false; return s }(),
		"stopped":               func() toolsState { s := running; s.running = false; return s }(),
		"no package":            {vsRunning: "guestToolsNotRunning", vsVersion: "guestToolsNotInstalled"},
	} {
		if st.done() {
			t.Errorf("%s: done", name)
		}
		if len(st.changes(tg)) == 0 {
			t.Errorf("%s: no changes", name)
		}
	}
	ch := strings.Join(toolsState{}.changes(tg), "; ")
	for _, w := range []string{"open-vm-tools or vmware-tools-esx-nox", "mt-bundle.tar", "MountToolsInstaller) is not supported yet", "chkconfig", "wait up to"} {
		if !strings.Contains(ch, w) {
			t.Errorf("changes %q do not say %q", ch, w)
		}
	}
	off := running
	off.enabled = false
	if ch := strings.Join(off.changes(tg), "; "); ch != "start vmtoolsd at boot (chkconfig vmtoolsd on)" {
		t.Errorf("only off at boot: %q", ch)
	}
}
