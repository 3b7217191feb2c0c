package ubuntu

import (
	"github.com/mtprep/mtprep/linux"
	"strings"
	"testing"

	"github.com/mtprep/mtprep/provision/guest"
)

var _ guest.Shell = linux.Shell{RunDir: "/run"}

func TestOS(t *testing.T) {
	o := OS()
	if o.Name != "ubuntu-16.04" || o.VM.GuestID != "ubuntu64Guest" || o.VM.Controller != "lsilogic" || o.VM.NIC != "vmxnet3" {
		t.Errorf("profile %+v", o.VM)
	}
	if b := o.Media.Base(); b.Family != "ubuntu" || b.BootArg != "auto=true priority=critical file=/cdrom/preseed/mtprep.seed" || b.Untouched {
		t.Errorf("base %+v", b)
	}
}

func TestReleaseParse(t *testing.T) {
	for _, c := range []struct {
		line string
		ok   bool
		has  string
	}{
		{"ubuntu 16.04|Ubuntu 16.04.2 LTS|4.4.0-62-generic", true, "Ubuntu 16.04.2 LTS, kernel 4.4.0-62-generic"},
		{"ubuntu 16.04|Ubuntu 16.04.2 LTS|4.4.0-81-generic", true, ""},
		{"ubuntu 16.04|Ubuntu 16.04.3 LTS|4.4.0-87-generic", false, "newer than 4.4.0-81-generic"},
		{"ubuntu 16.04|Ubuntu 16.04.2 LTS|4.8.0-56-generic", true, ""},
		{"ubuntu 16.04|Ubuntu 16.04.2 LTS|4.8.0-58-generic", false, "4.10 up to 4.10.0-24-generic"},
		{"ubuntu 16.04|Ubuntu 16.04.2 LTS|4.10.0-24-generic", true, ""},
		{"ubuntu 16.04|Ubuntu 16.04.4 LTS|4.13.0-36-generic", false, "not of a series"},
		{"ubuntu 16.04|Ubuntu 16.04.2 LTS|4.4.0-62-lowlatency", false, "not a -generic"},
		{"ubuntu 18.04|Ubuntu 18.04.1 LTS|4.15.0-29-generic", false, ""},
		{"debian 12|Debian GNU/Linux 12 (bookworm)|6.1.0-18-amd64", false, ""},
		{"Ubuntu 16.04.2 LTS", true, ""},
		{"Ubuntu 14.04.5 LTS", false, ""},
		{"CentOS release 6.6 (Final)", false, ""},
		{"", false, ""},
	} {
		info := Release{}.Parse(c.line)
		if info.Supported != c.ok || !strings.Contains(info.Line, c.has) {
			t.Errorf("Parse(%q) = %+v; want supported %v, line with %q", c.line, info, c.ok, c.has)
		}
	}
	if info := (Release{}).Parse("ubuntu 16.04|Ubuntu 16.04.2 LTS|4.4.0-62-generic"); info.ID != "ubuntu" || info.Version != "16.04" {
		t.Errorf("id/version %+v", info)
	}
}

func TestParsePackageState(t *testing.T) {
	out := `release ubuntu 16.04|Ubuntu 16.04.2 LTS|4.4.0-62-generic
deb multipath-tools 0.5.0+git1.656f8865-5ubuntu2.5
deb lsscsi 0.27-3
deb lvm2 2.02.98-6ubuntu2
deb kpartx 0.5.0+git1.656f8865-5ubuntu2
hold linux-generic
hold linux-image-4.4.0-62-generic
multipath conf yes
multipath enabled yes
multipath running no
`
	st := ParsePackageState(out)
	if st.Release != "Ubuntu 16.04.2 LTS, kernel 4.4.0-62-generic" || st.Wanted != 5 {
		t.Errorf("release %q wanted %d", st.Release, st.Wanted)
	}
	if len(st.Missing) != 2 || st.Missing["python-pyasn1"] != "not installed" || !strings.Contains(st.Missing["lvm2"], "older") {
		t.Errorf("missing %v", st.Missing)
	}
	if len(st.Held) != 2 || st.Services[0].OK() || !st.Services[0].Enabled {
		t.Errorf("held %v services %+v", st.Held, st.Services)
	}
}

func TestParseToolsState(t *testing.T) {
	st := ParseToolsState("pkg open-vm-tools 2:10.0.7-3227872-1\nsvc open-vm-tools enabled yes\nsvc open-vm-tools running no\n")
	if st.Package != "open-vm-tools" || st.Version != "2:10.0.7-3227872-1" || st.Service != "open-vm-tools" || !st.Enabled || st.Running {
		t.Errorf("%+v", st)
	}
	if st := ParseToolsState(""); st.Package != "" {
		t.Errorf("%+v", st)
	}
}

func TestAgentTarballNames(t *testing.T) {
	for name, ok := range map[string]bool{
		"latestlinuxmobsvc.tar.gz": true,
		"Microsoft-ASR_UA_9.10.0.0_UBUNTU-16.04-64_GA_07Jun2017_release.tar.gz": true,
		"Microsoft-ASR_UA_9.10.0.0_RHEL6-64_GA_07Jun2017_release.tar.gz":        false,
	} {
		if AgentTarballRe.MatchString(name) != ok {
			t.Errorf("AgentTarballRe(%q) != %v", name, ok)
		}
	}
}

func TestShell(t *testing.T) {
	mark, reboot, boot := linux.Shell{RunDir: "/run"}.Reboot("abc", false)
	if mark != "touch /run/mtprep-reboot-abc" || !strings.Contains(reboot, "reboot") || boot != "test '!' -e /run/mtprep-reboot-abc" {
		t.Errorf("%q %q %q", mark, reboot, boot)
	}
	if got := (linux.Shell{RunDir: "/run"}).Command([]string{"echo", "a b", "it's"}, true); got != `sudo -n -- echo 'a b' 'it'\''s'` {
		t.Errorf("%s", got)
	}
}
