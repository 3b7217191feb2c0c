package centos

import (
	"testing"

	"github.com/mtprep/mtprep/provision/guest"
)

func TestParseToolsState(t *testing.T) {
	cases := []struct {
		name, out string
		want      guest.ToolsState
	}{
		{"none", "", guest.ToolsState{}},
		{"open-vm-tools off", "pkg open-vm-tools 9.10.2-3.el6\nsvc vmtoolsd enabled no\nsvc vmtoolsd running no\n",
			guest.ToolsState{Package: "open-vm-tools", Version: "9.10.2-3.el6", Service: "vmtoolsd"}},
		{"open-vm-tools on", "pkg open-vm-tools 9.10.2-3.el6\nsvc vmtoolsd enabled yes\nsvc vmtoolsd running yes\n",
			guest.ToolsState{Package: "open-vm-tools", Version: "9.10.2-3.el6", Service: "vmtoolsd", Enabled: true, Running: true}},
		{"OSP", "pkg vmware-tools-esx-nox 10.1.0-1.el6\nsvc vmware-tools-services enabled yes\nsvc vmware-tools-services running no\n",
			guest.ToolsState{Package: "vmware-tools-esx-nox", Version: "10.1.0-1.el6", Service: "vmware-tools-services", Enabled: true}},
		// Both installed: open-vm-tools comes first in packages.Tools; the
		// other package's service lines do not count for it.
		{"both", "pkg open-vm-tools 9.10.2-3.el6\nsvc vmtoolsd enabled no\nsvc vmtoolsd running yes\npkg vmware-tools-esx-nox 10.1.0-1.el6\nsvc vmware-tools-services enabled yes\nsvc vmware-tools-services running yes\n",
			guest.ToolsState{Package: "open-vm-tools", Version: "9.10.2-3.el6", Service: "vmtoolsd", Running: true}},
		{"unknown package ignored", "pkg vmware-tools-core 8.6\nsvc vmware-tools enabled yes\n", guest.ToolsState{}},
		// The host installer's tar install (tools-state.sh reports it only
		// when no Tools RPM is installed).
		{"tar install on", "pkg vmware-tools 10.3.26.22085142\nsvc vmware-tools enabled yes\nsvc vmware-tools running yes\n",
			guest.ToolsState{Package: "vmware-tools", Version: "10.3.26.22085142", Service: "vmware-tools", Enabled: true, Running: true}},
		{"tar install stopped", "pkg vmware-tools 10.3.26.22085142\nsvc vmware-tools enabled yes\nsvc vmware-tools running no\n",
			guest.ToolsState{Package: "vmware-tools", Version: "10.3.26.22085142", Service: "vmware-tools", Enabled: true}},
		{"tar install, other service lines ignored", "pkg vmware-tools 10.3.26.22085142\nsvc vmtoolsd enabled yes\nsvc vmtoolsd running yes\n",
			guest.ToolsState{Package: "vmware-tools", Version: "10.3.26.22085142", Service: "vmware-tools"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ParseToolsState(c.out); got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}
