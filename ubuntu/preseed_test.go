package ubuntu

import (
	"bytes"
	"encoding/base64"
	"flag"
	"github.com/mtprep/mtprep/linux"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fixedHash has the shape of a SHA-512 crypt hash with a fixed salt, so
// golden files are stable.
const fixedHash = "$6$saltsaltsaltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/"

func userKey(t testing.TB) ssh.PublicKey {
	t.Helper()
	b, err := os.ReadFile("testdata/user_key.pub")
	if err != nil {
		t.Fatal(err)
	}
	pk, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return pk
}

func basePreseed(t testing.TB) Preseed {
	return Preseed{
		Name: "mt01", Hostname: "mt01.example.com", IP: "192.0.2.10", Netmask: "255.255.255.0", Gateway: "192.0.2.1",
		DNS: []string{"192.0.2.53"}, Interface: "auto", Timezone: "America/New_York", RootPasswordHash: fixedHash,
		OSDisk: "sda", MemoryMB: 6144, OSDiskGB: 100, AuthorizedKeys: []ssh.PublicKey{userKey(t)},
	}
}

func TestPreseedGolden(t *testing.T) {
	second := basePreseed(t)
	second.Name, second.Hostname, second.IP, second.Netmask, second.Gateway = "mt-02", "mt02.dr.example.org", "10.20.30.40", "255.255.0.0", "10.20.0.1"
	second.DNS = []string{"10.20.0.53", "10.20.0.54"}
	second.Timezone, second.MemoryMB, second.OSDiskGB, second.Interface = "UTC", 16384, 250, "ens160"
	for _, c := range []struct {
		golden string
		p      Preseed
	}{{"mt01.preseed", basePreseed(t)}, {"mt02.preseed", second}} {
		t.Run(c.golden, func(t *testing.T) {
			got, err := c.p.Render()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", c.golden)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("preseed differs from %s (go test -update to accept):\n%s", path, got)
			}
		})
	}
}

// lateScript decodes the late command's script.
func lateScript(t testing.TB, ps []byte) string {
	t.Helper()
	for _, l := range Lines(ps) {
		if rest, ok := strings.CutPrefix(l, LateCommandPrefix); ok {
			word, ok := strings.CutSuffix(rest, LateCommandSuffix)
			if !ok || !b64Re.MatchString(word) {
				t.Fatalf("late command is not prefix + base64 + suffix: %q", l)
			}
			b, err := base64.StdEncoding.DecodeString(word)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
	t.Fatal("no late command")
	return ""
}

var b64Re = regexp.MustCompile(`^[A-Za-z0-9+/]+=*$`)

// TestPreseedStructure: one partman-auto/disk, the OS disk; regular
// partitions; no LVM anywhere; the keys and holds are in the late script.
func TestPreseedStructure(t *testing.T) {
	p := basePreseed(t)
	k, err := linux.NewHostKey()
	if err != nil {
		t.Fatal(err)
	}
	p.HostKey = k
	ps, err := p.Render()
	if err != nil {
		t.Fatal(err)
	}
	lines := Lines(ps)
	count := func(prefix string) int {
		n := 0
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) {
				n++
			}
		}
		return n
	}
	for prefix, want := range map[string]int{
		"d-i partman-auto/disk string /dev/sda":      1,
		"d-i partman-auto/disk ":                     1,
		"d-i partman-auto/method string regular":     1,
		"d-i partman-auto/method ":                   1,
		"d-i pkgsel/update-policy select none":       1,
		"d-i pkgsel/upgrade select none":             1,
		"d-i pkgsel/include string openssh-server":   1,
		"d-i passwd/root-login boolean true":         1,
		"d-i passwd/make-user boolean false":         1,
		"d-i passwd/root-password-crypted password":  1,
		"d-i grub-installer/bootdev string /dev/sda": 1,
		"d-i preseed/late_command string in-target ": 1,
		"d-i netcfg/disable_autoconfig boolean true": 1,
		"d-i hw-detect/load_firmware boolean false":  1,
		"d-i time/zone string America/New_York":      1,
	} {
		if got := count(prefix); got != want {
			t.Errorf("%d lines start with %q, want %d", got, prefix, want)
		}
	}
	for _, l := range strings.Split(string(ps), "\n") {
		if !strings.HasPrefix(l, LateCommandPrefix) && strings.Contains(strings.ToLower(l), "lvm") {
			t.Errorf("the preseed mentions LVM: %q", l)
		}
	}
	if strings.Contains(string(ps), "sdb") {
		t.Error("the preseed names a second disk")
	}
	for _, mp := range []string{"mountpoint{ / }", "mountpoint{ /var/crash }", "mountpoint{ /home }", "method{ swap }"} {
		if !strings.Contains(string(ps), mp) {
			t.Errorf("recipe lacks %s", mp)
		}
	}
	late := lateScript(t, ps)
	for _, l := range strings.Split(late, "\n") {
		if !strings.HasPrefix(l, "MTPREP_") && strings.Contains(strings.ToLower(l), "lvm") {
			t.Errorf("the late script mentions LVM: %q", l)
		}
	}
	for _, want := range []string{"apt-mark hold", `APT::Periodic::Unattended-Upgrade "0"`, "/etc/ssh/ssh_host_rsa_key", "/root/.ssh/authorized_keys"} {
		if !strings.Contains(late, want) {
			t.Errorf("late script lacks %q", want)
		}
	}
	if strings.Contains(string(ps), "PRIVATE KEY") {
		t.Error("the host key is in the preseed in clear text, not base64")
	}
}

func TestPreseedRefuses(t *testing.T) {
	for name, mod := range map[string]func(*Preseed){
		"newline host":  func(p *Preseed) { p.Hostname = "mt01.example.com\nd-i preseed/late_command string reboot" },
		"space tz":      func(p *Preseed) { p.Timezone = "UTC d-i" },
		"ipv6":          func(p *Preseed) { p.IP = "2001:db8::1" },
		"quote in name": func(p *Preseed) { p.Name = "mt'01" },
		"bad hash":      func(p *Preseed) { p.RootPasswordHash = "x" },
		"no dns":        func(p *Preseed) { p.DNS = nil },
		"iface":         func(p *Preseed) { p.Interface = "eth0;reboot" },
		"disk":          func(p *Preseed) { p.OSDisk = "sda sdb" },
		"small disk":    func(p *Preseed) { p.OSDiskGB = 20 },
	} {
		p := basePreseed(t)
		mod(&p)
		if _, err := p.Render(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestRecipeMB(t *testing.T) {
	for mib, want := range map[int]int{1024: 1074, 6144: 6443, 7168: 7517, 40960: 42950} {
		if got := RecipeMB(mib); got != want {
			t.Errorf("RecipeMB(%d) = %d, want %d", mib, got, want)
		}
	}
	for mib := 1; mib < 1<<20; mib = mib*3 + 1 {
		if mb := int64(RecipeMB(mib)); mb*1000000 < int64(mib)<<20 || (mb-1)*1000000 >= int64(mib)<<20 {
			t.Errorf("RecipeMB(%d) = %d: not the smallest MB count holding %d MiB", mib, mb, mib)
		}
	}
}
