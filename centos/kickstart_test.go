package centos

import (
	"bytes"
	"flag"
	"github.com/mtprep/mtprep/linux"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fixedHash has the shape of a SHA-512 crypt hash with a fixed salt, so
// golden files are stable; Render never sees the password itself.
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

func baseKickstart(t testing.TB) Kickstart {
	return Kickstart{
		Name: "mt01", Hostname: "mt01.example.com", IP: "192.0.2.10", Netmask: "255.255.255.0", Gateway: "192.0.2.1",
		DNS: []string{"192.0.2.53"}, Device: "eth0", Timezone: "America/New_York", RootPasswordHash: fixedHash,
		OSDisk: "sda", MemoryMB: 6144, OSDiskGB: 100, AuthorizedKeys: []ssh.PublicKey{userKey(t)}, FirewallPorts: []string{"9443:tcp"},
	}
}

func TestRenderGolden(t *testing.T) {
	second := baseKickstart(t)
	second.Name, second.Hostname, second.IP, second.Netmask, second.Gateway = "mt-02", "mt02.dr.example.org", "10.20.30.40", "255.255.0.0", "10.20.0.1"
	second.DNS = []string{"10.20.0.53", "10.20.0.54"}
	second.Timezone, second.MemoryMB, second.OSDiskGB, second.Device = "UTC", 16384, 250, "eth1"
	cases := []struct {
		golden string
		ks     Kickstart
	}{
		{"mt01.ks", baseKickstart(t)},
		{"mt02.ks", second},
	}
	for _, c := range cases {
		t.Run(c.golden, func(t *testing.T) {
			got, err := c.ks.Render()
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
				t.Errorf("kickstart differs from %s (run go test ./centos -update and review the diff):\n%s", path, got)
			}
			checkRHEL6(t, got)
		})
	}
}

// checkRHEL6 checks the kickstart against the rules of RHEL6's anaconda
// that matter here: every section ends with %end, no RHEL7-only syntax,
// the install touches only the OS disk.
func checkRHEL6(t *testing.T, ks []byte) {
	t.Helper()
	s := string(ks)
	if strings.Count(s, "\n%end\n") != strings.Count(s, "\n%packages")+strings.Count(s, "\n%post") {
		t.Errorf("a section has no %s", "%end")
	}
	for _, bad := range []string{"inst.ks", "--activate", "autopart", "logvol", "volgroup", "reqpart", "%addon"} {
		if strings.Contains(s, bad) {
			t.Errorf("kickstart contains %q (not for this RHEL6 layout)", bad)
		}
	}
	for _, want := range []string{"\nzerombr\n", "\nignoredisk --only-use=sda\n", "\nclearpart --all --initlabel --drives=sda\n", "\nbootloader --location=mbr", "\nrootpw --iscrypted $6$", "\nlang en_US.UTF-8\n", "\nkeyboard us\n", "\nreboot\n", "\n%packages --nobase\n", "--onboot=yes", "\ncdrom\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("kickstart lacks %q", want)
		}
	}
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "part ") && !strings.Contains(line, "--ondisk=sda") {
			t.Errorf("partition not pinned to the OS disk: %q", line)
		}
	}
}

func TestRenderHostKey(t *testing.T) {
	k := baseKickstart(t)
	key, err := linux.NewHostKey()
	if err != nil {
		t.Fatal(err)
	}
	k.HostKey = key
	out, err := k.Render()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := ssh.NewPublicKey(&key.PublicKey)
	if !bytes.Contains(out, bytes.TrimSpace(ssh.MarshalAuthorizedKey(pub))) {
		t.Error("host public key missing")
	}
	if !bytes.Contains(out, []byte("-----BEGIN RSA PRIVATE KEY-----")) {
		t.Error("host private key missing")
	}
	if got, want := Structure(out), Structure(mustRender(t, baseKickstart(t))); strings.Join(got, "\n") == strings.Join(want, "\n") {
		t.Error("host key changed nothing in the structure")
	}
}

func TestRenderRejects(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Kickstart)
	}{
		{"hostname with space", func(k *Kickstart) { k.Hostname = "mt01.example.com --bootproto=dhcp" }},
		{"hostname newline", func(k *Kickstart) { k.Hostname = "mt01.example.com\n%post" }},
		{"ip not canonical", func(k *Kickstart) { k.IP = "192.0.2.010" }},
		{"dns injection", func(k *Kickstart) { k.DNS = []string{"192.0.2.53,1.1.1.1 --noipv4"} }},
		{"device", func(k *Kickstart) { k.Device = "eth0 --nodns" }},
		{"disk", func(k *Kickstart) { k.OSDisk = "sda,sdb" }},
		{"timezone", func(k *Kickstart) { k.Timezone = "UTC\nreboot" }},
		{"plain password", func(k *Kickstart) { k.RootPasswordHash = "hunter2" }},
		{"md5 hash", func(k *Kickstart) { k.RootPasswordHash = "$1$salt$qJH7.N4xYta3aEG/dfqo/0" }},
		{"small disk", func(k *Kickstart) { k.OSDiskGB = 20 }},
		{"firewall", func(k *Kickstart) { k.FirewallPorts = []string{"22:tcp --disabled"} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k := baseKickstart(t)
			c.mod(&k)
			if out, err := k.Render(); err == nil {
				t.Fatalf("accepted:\n%s", out)
			}
		})
	}
}

func TestLayout(t *testing.T) {
	p, err := linux.Layout(6144, 100)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, x := range p {
		total += x.SizeMB
	}
	if total > 100*1024 {
		t.Errorf("layout %d MB exceeds the disk", total)
	}
	if p[2].Mount != "/var/crash" || p[2].SizeMB < 6144 {
		t.Errorf("/var/crash cannot hold a vmcore: %+v", p[2])
	}
}

func mustRender(t testing.TB, k Kickstart) []byte {
	t.Helper()
	out, err := k.Render()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// FuzzKickstart: no value, however hostile, adds a command or a section.
// Either Render refuses it or the result has exactly the structure of a
// kickstart rendered from plain values.
func FuzzKickstart(f *testing.F) {
	f.Add("mt01", "mt01.example.com", "192.0.2.10", "255.255.255.0", "192.0.2.1", "192.0.2.53", "eth0", "America/New_York", "sda", "9443:tcp")
	f.Add("mt01", "mt01.example.com\n%post\nrm -rf /\n%end", "192.0.2.10", "255.255.255.0", "192.0.2.1", "192.0.2.53", "eth0", "UTC", "sda", "9443:tcp")
	f.Add("a", "x.y --bootproto=dhcp", "1.2.3.4", "255.0.0.0", "1.0.0.1", "8.8.8.8,1.1.1.1", "eth0 --x", "UTC\nreboot", "sdb", "1:tcp")
	want := strings.Join(Structure(mustRender(f, baseKickstart(f))), "\n")
	f.Fuzz(func(t *testing.T, name, host, ip, mask, gw, dns, dev, tz, disk, port string) {
		k := baseKickstart(t)
		k.Name, k.Hostname, k.IP, k.Netmask, k.Gateway, k.DNS, k.Device, k.Timezone, k.OSDisk, k.FirewallPorts = name, host, ip, mask, gw, strings.Split(dns, ","), dev, tz, disk, []string{port}
		out, err := k.Render()
		if err != nil {
			return
		}
		got := Structure(out)
		// Several DNS servers are one comma-joined argument; same lines.
		if strings.Join(got, "\n") != want {
			t.Fatalf("structure changed:\n%s", out)
		}
	})
}
