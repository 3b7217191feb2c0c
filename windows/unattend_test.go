package windows

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/spec"
	"github.com/mtprep/mtprep/provision/spec/spectest"
)

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

func baseSpec(t testing.TB) *spec.Spec {
	t.Helper()
	s, err := spec.Parse("mt01.yaml", []byte(spectest.Valid))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPasswordEncoding: Microsoft's own example (unattend reference,
// UserAccounts | AdministratorPassword | Value) hides "pw".
func TestPasswordEncoding(t *testing.T) {
	const ms = "cAB3AEEAZABtAGkAbgBpAHMAdAByAGEAdABvAHIAUABhAHMAcwB3AG8AcgBkAA=="
	if got := Password("pw", "AdministratorPassword"); got != ms {
		t.Fatalf("Password = %s, want %s", got, ms)
	}
	b, _ := base64.StdEncoding.DecodeString(Password("Pässwörd€", "Password"))
	if len(b) != 2*len([]rune("Pässwörd€Password")) {
		t.Fatalf("not UTF-16LE: %d bytes", len(b))
	}
}

func TestAutounattendGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		edit func(*spec.Spec)
	}{
		{"bios.autounattend.xml", Options{}, nil},
		{"efi.autounattend.xml", Options{Firmware: EFI, ImageIndex: 2, ProductKey: "WC2BQ-8NRM3-FDDYY-2BFGV-KHKQY"}, func(s *spec.Spec) {
			s.Network.Hostname = "mt02"
			s.Timezone = "Europe/Berlin"
			s.Network.DNS = []string{"192.0.2.53", "192.0.2.54"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := baseSpec(t)
			if tc.edit != nil {
				tc.edit(s)
			}
			u, err := UnattendFor(s, "Sécret'<&>\"pw", tc.o)
			if err != nil {
				t.Fatal(err)
			}
			out, err := u.Render()
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name, out)
			checkStructure(t, out, tc.o.withDefaults().Firmware)
		})
	}
}

// xnode is a parsed element, for the structural checks.
type xnode struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Kids    []xnode    `xml:",any"`
}

func (n *xnode) walk(path string, f func(path string, n *xnode)) {
	p := path + "/" + n.XMLName.Local
	f(p, n)
	for i := range n.Kids {
		n.Kids[i].walk(p, f)
	}
}

func parseXML(t testing.TB, out []byte) *xnode {
	t.Helper()
	var root xnode
	d := xml.NewDecoder(bytes.NewReader(out))
	if err := d.Decode(&root); err != nil {
		t.Fatalf("autounattend.xml does not parse: %v\n%s", err, out)
	}
	// Nothing after the root element but white space.
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after the root: %v", err)
		}
		if cd, ok := tok.(xml.CharData); !ok || len(bytes.TrimSpace(cd)) != 0 {
			t.Fatalf("content after the root element: %#v", tok)
		}
	}
	return &root
}

func attr(n *xnode, local string) (string, bool) {
	for _, a := range n.Attrs {
		if a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// checkStructure: the three passes, every component's attributes, exactly
// one Disk (DiskID 0, wiped), the install target, one first-logon command
// (the constant one).
func checkStructure(t testing.TB, out []byte, firmware string) {
	t.Helper()
	root := parseXML(t, out)
	if root.XMLName.Local != "unattend" || root.XMLName.Space != unattendNS {
		t.Fatalf("root %v", root.XMLName)
	}
	var passes []string
	var disks, commands []*xnode
	installTo := ""
	root.walk("", func(p string, n *xnode) {
		switch n.XMLName.Local {
		case "settings":
			v, _ := attr(n, "pass")
			passes = append(passes, v)
		case "component":
			for k, want := range map[string]string{"processorArchitecture": "amd64", "publicKeyToken": "31bf3856ad364e35", "language": "neutral", "versionScope": "nonSxS"} {
				if v, _ := attr(n, k); v != want {
					t.Errorf("%s: %s=%q", p, k, v)
				}
			}
			hasWcm := false
			for _, a := range n.Attrs {
				if a.Name.Space == "xmlns" && a.Name.Local == "wcm" && a.Value == wcmNS {
					hasWcm = true
				}
			}
			if !hasWcm {
				t.Errorf("%s: no xmlns:wcm", p)
			}
		case "Disk":
			disks = append(disks, n)
		case "SynchronousCommand":
			commands = append(commands, n)
		case "InstallTo":
			for _, k := range n.Kids {
				installTo += k.XMLName.Local + "=" + k.Text + " "
			}
		}
	})
	if strings.Join(passes, ",") != "windowsPE,specialize,oobeSystem" {
		t.Errorf("passes %v", passes)
	}
	if len(disks) != 1 {
		t.Fatalf("%d Disk elements, want 1", len(disks))
	}
	wipe, id := 0, ""
	disks[0].walk("", func(p string, n *xnode) {
		switch p {
		case "/Disk/WillWipeDisk":
			if n.Text == "true" {
				wipe++
			}
		case "/Disk/DiskID":
			id = n.Text
		}
	})
	if wipe != 1 || id != "0" {
		t.Errorf("Disk: WillWipeDisk %d, DiskID %q", wipe, id)
	}
	wantTo := "DiskID=0 PartitionID=2 "
	if firmware == EFI {
		wantTo = "DiskID=0 PartitionID=3 "
	}
	if installTo != wantTo {
		t.Errorf("InstallTo %q, want %q", installTo, wantTo)
	}
	if len(commands) != 1 {
		t.Fatalf("%d first-logon commands, want 1", len(commands))
	}
	for _, k := range commands[0].Kids {
		if k.XMLName.Local == "CommandLine" && k.Text != FirstLogonCommand {
			t.Errorf("CommandLine %q", k.Text)
		}
	}
}

// shape is the element paths and attribute names, without values: what
// no spec value may change.
func shape(t testing.TB, out []byte) string {
	var b strings.Builder
	parseXML(t, out).walk("", func(p string, n *xnode) {
		b.WriteString(p)
		for _, a := range n.Attrs {
			b.WriteString(" @" + a.Name.Space + ":" + a.Name.Local)
		}
		b.WriteString("\n")
	})
	return b.String()
}

func TestUnattendInputErrors(t *testing.T) {
	for _, tc := range []struct {
		key  string
		edit func(*spec.Spec)
	}{
		{"timezone", func(s *spec.Spec) { s.Timezone = "Mars/Olympus_Mons" }},
		{"network.hostname", func(s *spec.Spec) { s.Network.Hostname = "averyveryverylongname.example.com" }},
		{"network.hostname", func(s *spec.Spec) { s.Network.Hostname = "1234.example.com" }},
		{"network.hostname", func(s *spec.Spec) { s.Network.Hostname = "mt_01" }},
		{"network.dns", func(s *spec.Spec) { s.Network.DNS = []string{"dns.example.com"} }},
		{"network.ip", func(s *spec.Spec) { s.Network.IP = "2001:db8::1/64" }},
		{"network.gateway", func(s *spec.Spec) { s.Network.Gateway = "gw" }},
	} {
		s := baseSpec(t)
		tc.edit(s)
		_, err := UnattendFor(s, "pw", Options{})
		var ie *spec.InputError
		if !errors.As(err, &ie) || ie.Key != tc.key || ie.File != "mt01.yaml" {
			t.Errorf("%s: %v", tc.key, err)
		}
	}
	s := baseSpec(t)
	if _, err := UnattendFor(s, "pw", Options{Firmware: "uefi-ish"}); err == nil {
		t.Error("firmware accepted")
	}
	if _, err := UnattendFor(s, "pw", Options{ProductKey: "<Key/>"}); err == nil {
		t.Error("product key accepted")
	}
	if _, err := (Media{}).Seed(s, guest.SeedInput{}); err == nil {
		t.Error("empty password accepted")
	}
}

var (
	hostKeyOnce sync.Once
	hostKey     *rsa.PrivateKey
)

// testHostKey is a fixed key from testdata (generating 3072 bits per test
// is slow, and golden files need a stable one).
func testHostKey(t testing.TB) *rsa.PrivateKey {
	hostKeyOnce.Do(func() {
		b, err := os.ReadFile("testdata/host_key.pem")
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		hostKey, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
	})
	return hostKey
}

func TestSeed(t *testing.T) {
	s := baseSpec(t)
	files, err := (Media{}).Seed(s, guest.SeedInput{RootPassword: "pw", AuthorizedKey: userKey(t), HostKey: testHostKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	byName := map[string][]byte{}
	for _, f := range files {
		names = append(names, f.Name)
		byName[f.Name] = f.Data
		if len(f.Data) == 0 {
			t.Errorf("%s is empty", f.Name)
		}
	}
	want := "autounattend.xml mtprep-firstboot.ps1 mtprep-hostkey mtprep-hostkey.pub mtprep-authorized_keys mtprep-seed.json"
	if strings.Join(names, " ") != want {
		t.Fatalf("seed files %v, want %s", names, want)
	}
	var d SeedData
	if err := json.Unmarshal(byName[SeedValues], &d); err != nil {
		t.Fatal(err)
	}
	if d.ComputerName != "mt01" || d.HostKey != SeedHostKey || d.AuthorizedKeys != SeedAuthorizedKeys || d.StateDir != StateDir || len(d.FirewallPorts) != 2 {
		t.Errorf("seed data %+v", d)
	}
	golden(t, "mt01.seed.json", byName[SeedValues])
	if !bytes.HasPrefix(byName[SeedHostKey], []byte("-----BEGIN RSA PRIVATE KEY-----")) {
		t.Error("host key is not PEM")
	}
	if !bytes.Contains(byName[SeedScript], []byte("mtprep-seed.json")) {
		t.Error("firstboot does not read its data")
	}
	// No seed value is in the script: it is the embedded file as it is.
	if bytes.Contains(byName[SeedScript], []byte("mt01")) {
		t.Error("the spec's values reached the script text")
	}
	if b := (Media{}).Base(); b.Family != "windows" || !b.Untouched || !b.Joliet || b.BootArg != "" {
		t.Errorf("Base %+v", b)
	}
}
