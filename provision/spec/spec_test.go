package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mtprep/mtprep/provision/spec/spectest"
)

// validSpec is examples/mt01.yaml's shape (spectest.Valid).
const validSpec = spectest.Valid

func TestParseValid(t *testing.T) {
	s, err := Parse("/specs/mt01.yaml", []byte(validSpec))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct{ name, got, want string }{
		{"ssh.address defaults to network.ip", s.SSH.Address, "192.0.2.10"},
		{"netmask", s.Network.Netmask(), "255.255.255.0"},
		{"address", s.Network.Address(), "192.0.2.10"},
		{"relative path resolved against the spec", s.ISO.Base, "/specs/CentOS-6.6-x86_64-minimal.iso"},
		{"secret file resolved", s.ConfigServer.Passphrase.File, "/specs/passphrase.txt"},
		{"iso folder default", s.VSphere.ISOFolder, DefaultISOFolder},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.name, c.got, c.want)
		}
	}
	if s.ConfigServer.Port != 443 || s.SSH.Port != 22 {
		t.Errorf("port defaults: cs %d ssh %d", s.ConfigServer.Port, s.SSH.Port)
	}
}

func TestParseMinimalDefaults(t *testing.T) {
	s, err := Parse("m.yaml", []byte("name: mt02\niso: {base: b.iso}\nnetwork: {hostname: mt02.example.com, ip: 10.0.0.5/16, gateway: 10.0.0.1, dns: [10.0.0.2]}\nrootPassword: {file: pw}\npackages: {source: vault}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.VM.CPUs != 4 || s.VM.MemoryMB != 6144 || s.VM.OSDiskGB != 100 || s.VM.RetentionDiskGB != 1024 {
		t.Errorf("vm defaults: %+v", s.VM)
	}
	if len(s.Packages.Repos) != len(DefaultVaultRepos()) || !*s.Packages.GPGCheck || s.Timezone != "UTC" || s.Network.Device != "eth0" || s.SSH.HostKey != "strict" {
		t.Errorf("defaults: %+v %q", s.Packages, s.Timezone)
	}
	if s.Network.Netmask() != "255.255.0.0" {
		t.Errorf("netmask %s", s.Network.Netmask())
	}
}

// TestParseInvalid: every bad input names the file, the line, the key and
// a fix.
func TestParseInvalid(t *testing.T) {
	cases := []struct {
		name    string
		from    string // replaced in validSpec
		to      string
		line    int
		key     string
		problem string
	}{
		{"unknown key", "timezone: America/New_York", "timezone: America/New_York\ntimezon: UTC", 8, "timezon", "unknown key"},
		{"unknown nested key", "cpus: 4", "cpu: 4", 5, "vm.cpu", "unknown key"},
		{"case typo", "memoryMB: 6144", "memoryMb: 6144", 5, "vm.memoryMb", "unknown key"},
		{"bad CIDR", "192.0.2.10/24", "192.0.2.10/33", 6, "network.ip", "not an IPv4 address with a prefix"},
		{"no prefix", "192.0.2.10/24", "192.0.2.10", 6, "network.ip", "not an IPv4 address with a prefix"},
		{"ipv6", "192.0.2.10/24", "2001:db8::10/64", 6, "network.ip", "not an IPv4"},
		{"network address", "192.0.2.10/24", "192.0.2.0/24", 6, "network.ip", "network or broadcast"},
		{"gateway outside", "gateway: 192.0.2.1", "gateway: 198.51.100.1", 6, "network.gateway", "outside the subnet 192.0.2.0/24"},
		{"gateway is self", "gateway: 192.0.2.1", "gateway: 192.0.2.10", 6, "network.gateway", "own address"},
		{"hostname not fqdn", "hostname: mt01.example.com", "hostname: mt01", 6, "network.hostname", "not a fully qualified"},
		{"hostname upper", "hostname: mt01.example.com", "hostname: MT01.example.com", 6, "network.hostname", "not a fully qualified"},
		{"hostname injection", "hostname: mt01.example.com", `hostname: "mt01.example.com --bootproto=dhcp"`, 6, "network.hostname", "not a fully qualified"},
		{"newline in value", "hostname: mt01.example.com", `hostname: "mt01.example.com\n%post\nrm -rf /\n%end"`, 6, "", "control character"},
		{"newline in path", "base: ./CentOS-6.6-x86_64-minimal.iso", `base: "a\nb.iso"`, 4, "", "control character"},
		{"dns not ip", "dns: [192.0.2.53]", "dns: [ns1.example.com]", 6, "network.dns", "not an IPv4"},
		{"literal password", "rootPassword: {env: MT_ROOT_PASSWORD}", "rootPassword: hunter2", 8, "rootPassword", "cannot be written in the spec"},
		{"both env and file", "rootPassword: {env: MT_ROOT_PASSWORD}", "rootPassword: {env: A, file: b}", 8, "rootPassword", "both env and file"},
		{"secret unknown key", "rootPassword: {env: MT_ROOT_PASSWORD}", "rootPassword: {value: x}", 8, "rootPassword.value", "unknown key"},
		{"missing password", "rootPassword: {env: MT_ROOT_PASSWORD}\n", "", 0, "rootPassword", "missing"},
		{"bad env name", "{env: MT_ROOT_PASSWORD}", "{env: 'MT ROOT'}", 8, "rootPassword.env", "not an environment variable name"},
		{"too few cpus", "cpus: 4", "cpus: 2", 5, "vm.cpus", "below the minimum 4"},
		{"cpus text", "cpus: 4", "cpus: four", 5, "", "where another type is expected"},
		{"bad timezone", "timezone: America/New_York", "timezone: Mars/Olympus", 7, "timezone", "unknown time zone"},
		{"timezone injection", "timezone: America/New_York", "timezone: 'UTC --isUtc; reboot'", 7, "timezone", "not a time zone name"},
		{"bad os", "os: centos-6.6", "os: centos-7", 2, "os", "not supported"},
		{"bad name", "name: mt01", "name: 'mt 01'", 1, "name", "not a valid MT name"},
		{"bad hostKey", "hostKey: strict", "hostKey: yolo", 9, "ssh.hostKey", "not a host key policy"},
		{"bad fingerprint", "hostKey: strict", "hostKey: SHA256:abc", 9, "ssh.hostKey", "not a SHA256 fingerprint"},
		{"bad source", "source: bundle", "source: mirror", 10, "packages.source", "not a package source"},
		{"bad tools source", "packages: {source: bundle, bundle: ./mt-bundle.tar}", "packages: {source: bundle, bundle: ./mt-bundle.tar}\ntools: {source: rpm}", 11, "tools.source", "not a VMware Tools source"},
		{"bad sha", `sha256: ""`, "sha256: xyz", 11, "agent.sha256", "not a sha256"},
		{"bad cs ip", "ip: 192.0.2.5", "ip: cs.example.com", 12, "configServer.ip", "not an IPv4"},
		{"bad mountpoint", "mountpoint: /mnt/retention", "mountpoint: '/mnt/ret; rm -rf /'", 13, "retention.mountpoint", "not a safe absolute path"},
		{"system mountpoint", "mountpoint: /mnt/retention", "mountpoint: /var/crash", 13, "retention.mountpoint", "system directory"},
		{"bad fs", "filesystem: ext4", "filesystem: vfat", 13, "retention.filesystem", "not supported"},
		{"bad yaml", "vm: {cpus: 4", "vm: {cpus: 4,,", 5, "", "not valid YAML"},
		{"anchor", "dns: [192.0.2.53]", "dns: &d [192.0.2.53]", 6, "", "anchors"},
		{"duplicate key", "timezone: America/New_York", "timezone: America/New_York\ntimezone: UTC", 8, "timezone", "key given twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(validSpec, c.from) {
				t.Fatalf("test bug: %q not in validSpec", c.from)
			}
			src := strings.Replace(validSpec, c.from, c.to, 1)
			_, err := Parse("mt01.yaml", []byte(src))
			if err == nil {
				t.Fatal("no error")
			}
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("not an InputError: %T %v", err, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, c.problem) {
				t.Errorf("message %q lacks %q", msg, c.problem)
			}
			if ie.File != "mt01.yaml" {
				t.Errorf("file %q", ie.File)
			}
			found := findErr(err, c.problem)
			if found == nil {
				t.Fatalf("no single error with %q in %q", c.problem, msg)
			}
			if c.line != 0 && found.Line != c.line {
				t.Errorf("line %d, want %d (%s)", found.Line, c.line, msg)
			}
			if c.key != "" && found.Key != c.key {
				t.Errorf("key %q, want %q", found.Key, c.key)
			}
			if found.Fix == "" {
				t.Errorf("no fix in %q", msg)
			}
		})
	}
}

func findErr(err error, problem string) *InputError {
	var all []*InputError
	var es InputErrors
	if errors.As(err, &es) {
		all = es
	} else {
		var ie *InputError
		if errors.As(err, &ie) {
			all = []*InputError{ie}
		}
	}
	for _, e := range all {
		if strings.Contains(e.Error(), problem) {
			return e
		}
	}
	return nil
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	var ie *InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("got %v", err)
	}
}

func TestRevealSecret(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	two := filepath.Join(dir, "two")
	if err := os.WriteFile(two, []byte("a\nb\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Parse(filepath.Join(dir, "mt01.yaml"), []byte(validSpec))
	if err != nil {
		t.Fatal(err)
	}
	env := func(m map[string]string) LookupEnv {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	cases := []struct {
		name    string
		sec     Secret
		env     map[string]string
		want    string
		problem string
	}{
		{"env", Secret{Env: "MT_ROOT_PASSWORD"}, map[string]string{"MT_ROOT_PASSWORD": "pw1"}, "pw1", ""},
		{"env missing", Secret{Env: "MT_ROOT_PASSWORD"}, nil, "", "MT_ROOT_PASSWORD is not set"},
		{"env newline", Secret{Env: "X"}, map[string]string{"X": "a\nb"}, "", "newline"},
		{"file", Secret{File: pw}, nil, "s3cret", ""},
		{"file missing", Secret{File: filepath.Join(dir, "none")}, nil, "", "cannot read secret file"},
		{"file two lines", Secret{File: two}, nil, "", "more than one line"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := s.RevealSecret("rootPassword", c.sec, env(c.env))
			if c.problem != "" {
				if err == nil || !strings.Contains(err.Error(), c.problem) {
					t.Fatalf("err %v, want %q", err, c.problem)
				}
				if !strings.Contains(err.Error(), "mt01.yaml:8") {
					t.Errorf("error does not name the spec line: %v", err)
				}
				for _, v := range c.env {
					if strings.Contains(err.Error(), v) {
						t.Errorf("error shows the secret: %v", err)
					}
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %q %v", got, err)
			}
		})
	}
}

func TestApplyGovcEnv(t *testing.T) {
	v := VSphere{Datacenter: "DC1"}
	env := map[string]string{"GOVC_URL": "https://vc/sdk", "GOVC_USERNAME": "u", "GOVC_PASSWORD": "p", "GOVC_INSECURE": "1", "GOVC_DATACENTER": "DC0", "GOVC_DATASTORE": "ds", "GOVC_NETWORK": "net", "GOVC_HOST": "h"}
	v.ApplyGovcEnv(func(k string) (string, bool) { s, ok := env[k]; return s, ok })
	if v.URL != "https://vc/sdk" || v.Username != "u" || !v.Insecure || v.Datacenter != "DC1" || v.Datastore != "ds" || v.Network != "net" || v.Host != "h" {
		t.Errorf("%+v", v)
	}
	if v.Password.Env != "GOVC_PASSWORD" {
		t.Errorf("password should reference GOVC_PASSWORD, got %v", v.Password)
	}
}

// TestToolsSource: tools.source defaults to packages on Linux and host on
// Windows; host is refused on Ubuntu and packages on Windows, with the
// line and a fix.
func TestToolsSource(t *testing.T) {
	cases := []struct {
		name, os, tools string
		want            string // the source read, "" when refused
		problem         string
	}{
		{"centos default", "centos-6.6", "", ToolsFromPackages, ""},
		{"centos packages", "centos-6.6", "packages", ToolsFromPackages, ""},
		{"centos host", "centos-6.6", "host", ToolsFromHost, ""},
		{"ubuntu default", "ubuntu-16.04", "", ToolsFromPackages, ""},
		{"ubuntu host", "ubuntu-16.04", "host", "", "host is not offered on ubuntu-16.04"},
		{"windows default", "windows-2016", "", ToolsFromHost, ""},
		{"windows packages", "windows-2016", "packages", "", "packages is not offered on windows-2016"},
		{"unknown", "centos-6.6", "iso", "", "not a VMware Tools source"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := strings.Replace(validSpec, "os: centos-6.6", "os: "+c.os, 1)
			if c.tools != "" {
				src += "tools: {source: " + c.tools + "}\n"
			}
			if c.os == "windows-2016" {
				src += "windows: {openSSH: ./OpenSSH-Win64.zip}\n"
				src = strings.Replace(src, "retention: {mountpoint: /mnt/retention, filesystem: ext4}", "retention: {mountpoint: \"R:\", filesystem: ntfs}", 1)
				src = strings.Replace(src, "device: eth0", "device: Ethernet0", 1)
				src = strings.Replace(src, "user: root", "user: Administrator", 1)
			}
			s, err := Parse("mt01.yaml", []byte(src))
			if c.want != "" {
				if err != nil {
					t.Fatal(err)
				}
				if s.Tools.Source != c.want {
					t.Errorf("tools.source %q, want %q", s.Tools.Source, c.want)
				}
				return
			}
			found := findErr(err, c.problem)
			if found == nil {
				t.Fatalf("no error with %q in %v", c.problem, err)
			}
			if found.Key != "tools.source" || found.Line != 14 || found.Fix == "" {
				t.Errorf("error %+v: want key tools.source on line 14 with a fix", found)
			}
		})
	}
}
