package spec

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"
	_ "time/tzdata" // validate time zones the same way on every machine

	version "github.com/hashicorp/go-version"
)

var (
	// nameRe is a VM name that is also safe as a file name and in a
	// kickstart comment: letters, digits, dot, dash, underscore.
	nameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$`)
	// labelRe is one DNS label (RFC 1123).
	labelRe  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	deviceRe = regexp.MustCompile(`^[a-z][a-z0-9]{0,14}$`)
	tzRe     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$`)
	userRe   = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	sha256Re = regexp.MustCompile(`^[0-9a-f]{64}$`)
	fpRe     = regexp.MustCompile(`^SHA256:[A-Za-z0-9+/]{43}$`)
	// mountRe is an absolute path with no spaces or shell/fstab
	// metacharacters: it lands in /etc/fstab and in shell.
	mountRe = regexp.MustCompile(`^(/[A-Za-z0-9._-]+)+$`)
	// invNameRe is a vSphere inventory name: anything printable but the
	// path separator.
	invNameRe   = regexp.MustCompile(`^[^/\\]{1,80}$`)
	thumbRe     = regexp.MustCompile(`^([0-9A-Fa-f]{2}:){19,31}[0-9A-Fa-f]{2}$`)
	isoFolderRe = regexp.MustCompile(`^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$`)
	envNameRe   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	numericRe   = regexp.MustCompile(`^[0-9]+$`)
	// winUserRe is a local Windows account name (at most 20 characters).
	winUserRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,19}$`)
	// winIfaceRe is a Windows interface alias ("Ethernet0").
	winIfaceRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9 ._-]{0,63}$`)
	// winDriveRe is a drive letter.
	winDriveRe = regexp.MustCompile(`^[D-Zd-z]:$`)
	// winImageRe is an image name or index in install.wim: printable,
	// nothing XML or a command line reads specially.
	winImageRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 ._()-]{0,99}$`)
	// accountRe is a vCenter principal: user@domain or DOMAIN\user.
	accountRe = regexp.MustCompile(`^[A-Za-z0-9._-]+([@\\][A-Za-z0-9._-]+)?$`)
	// repoURLRe is an http(s) URL with nothing a yum .repo file or a shell
	// would read specially.
	repoURLRe = regexp.MustCompile(`^https?://[A-Za-z0-9.-]+(:[0-9]+)?(/[A-Za-z0-9._~%/+-]*)?$`)
)

// validate checks every field and returns all problems at once.
func (s *Spec) validate() InputErrors {
	var errs InputErrors
	bad := func(key, problem, fix string) { errs = append(errs, s.InputError(key, problem, fix)) }

	if s.Name == "" {
		bad("name", "missing", "add `name: mt01` (the VM name)")
	} else if !nameRe.MatchString(s.Name) {
		bad("name", fmt.Sprintf("%q is not a valid MT name", s.Name), "use letters, digits, '.', '-' or '_', starting with a letter or digit, at most 80 characters")
	}
	switch s.OS {
	case OSCentOS66, OSUbuntu1604, OSWindows2016:
	default:
		bad("os", fmt.Sprintf("%q is not supported", s.OS), "use os: centos-6.6 (Linux, agents before 9.10), ubuntu-16.04 (Linux, agents 9.10 and later) or windows-2016 (for Windows VMs)")
	}
	if f := s.VM.Firmware; f != "bios" && f != "efi" {
		bad("vm.firmware", fmt.Sprintf("%q is not a VM firmware", f), "use bios or efi")
	}
	s.validateWindows(bad)

	// vSphere names may be unset here (the govc variables fill them).
	for _, f := range []struct{ key, v string }{
		{"vsphere.datacenter", s.VSphere.Datacenter}, {"vsphere.host", s.VSphere.Host}, {"vsphere.cluster", s.VSphere.Cluster},
		{"vsphere.datastore", s.VSphere.Datastore}, {"vsphere.network", s.VSphere.Network},
	} {
		if f.v != "" && !invNameRe.MatchString(f.v) {
			bad(f.key, fmt.Sprintf("%q is not a vSphere object name", f.v), "give the name only, without '/' (use vsphere.folder for paths)")
		}
	}
	if f := s.VSphere.Folder; f != "" && strings.Contains(f, "..") {
		bad("vsphere.folder", fmt.Sprintf("%q contains '..'", f), "give an inventory path such as /DC0/vm/mt")
	}
	if u := s.VSphere.URL; u != "" && strings.ContainsAny(u, " \t") {
		bad("vsphere.url", fmt.Sprintf("%q contains spaces", u), "write it as https://vcenter.example.com/sdk")
	}
	if tp := s.VSphere.Thumbprint; tp != "" && !thumbRe.MatchString(tp) {
		bad("vsphere.thumbprint", fmt.Sprintf("%q is not a certificate thumbprint", tp), "use the colon-separated SHA-1 or SHA-256 form govc shows (govc about.cert -thumbprint)")
	}
	if f := s.VSphere.ISOFolder; !isoFolderRe.MatchString(f) || strings.Contains(f, "..") {
		bad("vsphere.isoFolder", fmt.Sprintf("%q is not a datastore folder", f), "use a relative folder such as mtprep-iso")
	}

	if s.ISO.Base == "" {
		bad("iso.base", "missing", "set `iso: {base: ./CentOS-6.6-x86_64-minimal.iso}` (or pass --base to mtprep iso)")
	}

	vmMin := []struct {
		key      string
		v, min   int
		why, max string
	}{
		{"vm.cpus", s.VM.CPUs, 4, "ASR requires at least 4 vCPUs for a master target", ""},
		{"vm.memoryMB", s.VM.MemoryMB, 6144, "ASR requires at least 6 GB of memory for a master target", ""},
		{"vm.osDiskGB", s.VM.OSDiskGB, 100, "the OS disk holds /, swap, /var/crash and /home; ASR guidance is at least 100 GB", ""},
		{"vm.retentionDiskGB", s.VM.RetentionDiskGB, 1, "the retention disk must have a size (ASR guidance: 1 TB)", ""},
	}
	for _, m := range vmMin {
		if m.v < m.min {
			bad(m.key, fmt.Sprintf("%d is below the minimum %d", m.v, m.min), m.why)
		}
	}
	if s.VM.CPUs > 128 || s.VM.MemoryMB > 6*1024*1024 || s.VM.OSDiskGB > 62*1024 || s.VM.RetentionDiskGB > 62*1024 {
		bad("vm", "a size is beyond what vSphere supports (128 vCPU, 6 TB memory, 62 TB disk)", "check the units: memoryMB is in MB, disks in GB")
	}

	s.validateNetwork(bad)

	if !tzRe.MatchString(s.Timezone) {
		bad("timezone", fmt.Sprintf("%q is not a time zone name", s.Timezone), "use an IANA name such as America/New_York or UTC")
	} else if _, err := time.LoadLocation(s.Timezone); err != nil {
		bad("timezone", fmt.Sprintf("unknown time zone %q", s.Timezone), "use an IANA name such as America/New_York or UTC")
	}

	if !s.RootPassword.IsSet() {
		bad("rootPassword", "missing", "add `rootPassword: {env: MT_ROOT_PASSWORD}` or `{file: path}`")
	}
	for _, sec := range []struct {
		key string
		v   Secret
	}{{"rootPassword", s.RootPassword}, {"configServer.passphrase", s.ConfigServer.Passphrase}, {"vsphere.password", s.VSphere.Password}, {"ssh.keyPassphrase", s.SSH.KeyPassphrase}, {"windows.productKey", s.Windows.ProductKey}} {
		if sec.v.Env != "" && sec.v.File != "" {
			bad(sec.key, "both env and file are given", "keep one of them")
		}
		if sec.v.Env != "" && !envNameRe.MatchString(sec.v.Env) {
			bad(sec.key+".env", fmt.Sprintf("%q is not an environment variable name", sec.v.Env), "use letters, digits and '_'")
		}
	}

	if s.IsWindows() {
		if !winUserRe.MatchString(s.SSH.User) {
			bad("ssh.user", fmt.Sprintf("%q is not a Windows user name", s.SSH.User), "use Administrator (rootPassword is its password)")
		}
	} else if !userRe.MatchString(s.SSH.User) {
		bad("ssh.user", fmt.Sprintf("%q is not a Linux user name", s.SSH.User), "use root, or a user with sudo rights")
	}
	if a := s.SSH.Address; a == "" {
		bad("ssh.address", "missing and network.ip is not set", "set network.ip or ssh.address")
	} else if _, err := netip.ParseAddr(a); err != nil && !isFQDN(a) {
		bad("ssh.address", fmt.Sprintf("%q is neither an IP address nor a host name", a), "give an IPv4 address or a DNS name")
	}
	if s.SSH.Port < 1 || s.SSH.Port > 65535 {
		bad("ssh.port", fmt.Sprintf("%d is not a TCP port", s.SSH.Port), "use 22 unless sshd listens elsewhere")
	}
	switch hk := s.SSH.HostKey; {
	case hk == "strict" || hk == "accept-new":
	case strings.HasPrefix(hk, "SHA256:"):
		if !fpRe.MatchString(hk) {
			bad("ssh.hostKey", fmt.Sprintf("%q is not a SHA256 fingerprint", hk), "copy it from `ssh-keygen -lf /etc/ssh/ssh_host_rsa_key.pub` on the MT")
		}
	default:
		bad("ssh.hostKey", fmt.Sprintf("%q is not a host key policy", hk), "use strict, accept-new or a SHA256:… fingerprint")
	}

	switch s.Packages.Source {
	case "bundle":
		if s.Packages.Bundle == "" && !s.IsWindows() {
			bad("packages.bundle", "missing for source: bundle", "add `bundle: ./mt-bundle.tar` (build one with mtprep bundle)")
		}
	case "apt":
		if s.OS != OSUbuntu1604 {
			bad("packages.source", "apt is for os: ubuntu-16.04", "use bundle or vault on CentOS")
		}
		if len(s.Packages.Repos) == 0 {
			bad("packages.repos", "missing for source: apt", "name the archive, e.g. `repos: [http://old-releases.ubuntu.com/ubuntu/]` or your mirror of xenial")
		}
		for _, u := range s.Packages.Repos {
			if !repoURLRe.MatchString(u) {
				bad("packages.repos", fmt.Sprintf("%q is not an http(s) URL", u), "use the archive's base URL, e.g. http://archive.ubuntu.com/ubuntu/")
			}
		}
	case "vault":
		if s.OS != OSCentOS66 {
			bad("packages.source", "vault is CentOS 6.6's archive", "use bundle, or apt on Ubuntu 16.04")
		}
		for _, u := range s.Packages.Repos {
			if !repoURLRe.MatchString(u) {
				bad("packages.repos", fmt.Sprintf("%q is not an http(s) URL", u), "use http://vault.centos.org/6.6/os/x86_64/ or your mirror of it")
			}
		}
	default:
		bad("packages.source", fmt.Sprintf("%q is not a package source", s.Packages.Source), "use bundle (offline tarball) or vault (CentOS 6.6 archive); mirror.centos.org no longer serves CentOS 6")
	}

	switch src := s.Tools.Source; {
	case src == ToolsFromHost && s.OS == OSUbuntu1604:
		bad("tools.source", "host is not offered on ubuntu-16.04: VMware recommends open-vm-tools there (xenial main has it), and mtprep installs it from packages.source", "use tools.source: packages (open-vm-tools from packages.source)")
	case src == ToolsFromPackages && s.IsWindows():
		bad("tools.source", "packages is not offered on windows-2016: there is no package source for Windows", "use tools.source: host (the ESXi host's VMware Tools installer), or leave it out")
	case src != ToolsFromPackages && src != ToolsFromHost:
		bad("tools.source", fmt.Sprintf("%q is not a VMware Tools source", src), "use packages (a Tools package from packages.source, the default) or host (the ESXi host's own VMware Tools installer)")
	}

	if h := s.Agent.SHA256; h != "" && !sha256Re.MatchString(h) {
		bad("agent.sha256", fmt.Sprintf("%q is not a sha256 in hex", h), "use the 64 lower-case hex digits of `sha256sum` on the tarball")
	}

	if ip := s.ConfigServer.IP; ip != "" {
		if a, err := netip.ParseAddr(ip); err != nil || !a.Is4() {
			bad("configServer.ip", fmt.Sprintf("%q is not an IPv4 address", ip), "give the configuration server's IP address")
		}
	}
	if s.ConfigServer.Port < 1 || s.ConfigServer.Port > 65535 {
		bad("configServer.port", fmt.Sprintf("%d is not a TCP port", s.ConfigServer.Port), "use 443")
	}

	if v := s.ConfigServer.Version; v != "" {
		if _, err := version.NewVersion(v); err != nil {
			bad("configServer.version", fmt.Sprintf("%q is not a version number", v), "give the configuration server's version as ASR shows it, e.g. 9.3.0.0, or leave it out")
		}
	}
	s.validateAudit(bad)

	if s.IsWindows() {
		if !winDriveRe.MatchString(s.Retention.Mountpoint) || strings.EqualFold(s.Retention.Mountpoint, "C:") {
			bad("retention.mountpoint", fmt.Sprintf("%q is not a drive letter for the retention volume", s.Retention.Mountpoint), "use R: (a drive letter D: to Z:, never the system drive)")
		}
		if s.Retention.Filesystem != "ntfs" {
			bad("retention.filesystem", fmt.Sprintf("%q is not supported on Windows", s.Retention.Filesystem), "use ntfs")
		}
		return errs
	}
	if !mountRe.MatchString(s.Retention.Mountpoint) || strings.Contains(s.Retention.Mountpoint, "/..") || s.Retention.Mountpoint == "/" {
		bad("retention.mountpoint", fmt.Sprintf("%q is not a safe absolute path", s.Retention.Mountpoint), "use /mnt/retention (ASR's default)")
	}
	for _, sys := range []string{"/", "/boot", "/home", "/var", "/var/crash", "/usr", "/usr/local", "/etc", "/tmp"} {
		if s.Retention.Mountpoint == sys {
			bad("retention.mountpoint", fmt.Sprintf("%s is a system directory", sys), "use /mnt/retention (ASR's default)")
		}
	}
	if s.Retention.Filesystem != "ext4" {
		bad("retention.filesystem", fmt.Sprintf("%q is not supported", s.Retention.Filesystem), "use ext4")
	}
	return errs
}

// validateWindows checks the windows: keys, which only a Windows MT has.
func (s *Spec) validateWindows(bad func(key, problem, fix string)) {
	w := s.Windows
	if !s.IsWindows() {
		if w.Image != "" || w.ProductKey.IsSet() || w.OpenSSH != "" {
			bad("windows", fmt.Sprintf("windows: keys are for os: windows-2016, not %s", s.OS), "remove the windows: block")
		}
		return
	}
	if !winImageRe.MatchString(w.Image) {
		bad("windows.image", fmt.Sprintf("%q is not an install.wim image name or index", w.Image), "use the name dism /Get-WimInfo shows, e.g. \"Windows Server 2016 SERVERSTANDARD\", or its index, e.g. 2")
	}
	if w.OpenSSH == "" {
		bad("windows.openSSH", "missing: Windows Server 2016 has no OpenSSH of its own, and mtprep reaches the MT over SSH", "download OpenSSH-Win64.zip from github.com/PowerShell/Win32-OpenSSH/releases and add `windows: {openSSH: ./OpenSSH-Win64.zip}`")
	}
	if w.ProductKey.Env != "" && !envNameRe.MatchString(w.ProductKey.Env) {
		bad("windows.productKey.env", fmt.Sprintf("%q is not an environment variable name", w.ProductKey.Env), "use letters, digits and '_'")
	}
}

// validateAudit checks the audit-only keys: vSphere names and an account
// name, nothing that could be mistaken for a path or a list.
func (s *Spec) validateAudit(bad func(key, problem, fix string)) {
	for _, l := range []struct {
		key   string
		names []string
	}{{"audit.protectedDatastores", s.Audit.ProtectedDatastores}, {"audit.protectedVMs", s.Audit.ProtectedVMs}} {
		seen := map[string]bool{}
		for _, n := range l.names {
			switch {
			case !invNameRe.MatchString(n):
				bad(l.key, fmt.Sprintf("%q is not a vSphere object name", n), "give the name only, without '/'")
			case seen[n]:
				bad(l.key, fmt.Sprintf("%q is listed twice", n), "list each name once")
			}
			seen[n] = true
		}
	}
	if a := s.Audit.VCenterAccount; a != "" && !accountRe.MatchString(a) {
		bad("audit.vcenterAccount", fmt.Sprintf("%q is not a vCenter user name", a), `write it as vCenter shows it: user@vsphere.local or DOMAIN\user`)
	}
}

func (s *Spec) validateNetwork(bad func(key, problem, fix string)) {
	n := s.Network
	if n.Hostname == "" {
		bad("network.hostname", "missing", "add the MT's fully qualified name, e.g. mt01.example.com")
	} else if !isFQDN(n.Hostname) {
		bad("network.hostname", fmt.Sprintf("%q is not a fully qualified domain name", n.Hostname), "use lower-case labels of letters, digits and '-', with at least one dot, e.g. mt01.example.com")
	}
	switch {
	case s.IsWindows():
		if !winIfaceRe.MatchString(n.Device) {
			bad("network.device", fmt.Sprintf("%q is not a Windows interface alias", n.Device), "Windows Server 2016 names the first VMware NIC Ethernet0")
		}
	case !deviceRe.MatchString(n.Device):
		bad("network.device", fmt.Sprintf("%q is not a network device name", n.Device), "CentOS 6 names the first VMware NIC eth0; Ubuntu 16.04 ens160 (vmxnet3)")
	}
	if n.IP == "" {
		bad("network.ip", "missing", "add the static address with its prefix, e.g. 192.0.2.10/24")
		return
	}
	pfx, err := netip.ParsePrefix(n.IP)
	if err != nil || !pfx.Addr().Is4() {
		bad("network.ip", fmt.Sprintf("%q is not an IPv4 address with a prefix length", n.IP), "write it as address/prefix, e.g. 192.0.2.10/24")
		return
	}
	if pfx.Bits() < 8 || pfx.Bits() > 30 {
		bad("network.ip", fmt.Sprintf("prefix /%d leaves no room for a host and a gateway", pfx.Bits()), "use a prefix between /8 and /30")
		return
	}
	if pfx.Addr() == pfx.Masked().Addr() || pfx.Addr() == broadcast(pfx) {
		bad("network.ip", fmt.Sprintf("%s is the network or broadcast address of %s", pfx.Addr(), pfx.Masked()), "pick a host address inside the subnet")
	}
	if n.Gateway == "" {
		bad("network.gateway", "missing", fmt.Sprintf("add the default gateway inside %s", pfx.Masked()))
	} else if gw, err := netip.ParseAddr(n.Gateway); err != nil || !gw.Is4() {
		bad("network.gateway", fmt.Sprintf("%q is not an IPv4 address", n.Gateway), fmt.Sprintf("give the gateway's address inside %s", pfx.Masked()))
	} else if !pfx.Masked().Contains(gw) {
		bad("network.gateway", fmt.Sprintf("%s is outside the subnet %s", gw, pfx.Masked()), fmt.Sprintf("use a gateway inside %s, or fix the prefix length of network.ip", pfx.Masked()))
	} else if gw == pfx.Addr() {
		bad("network.gateway", fmt.Sprintf("%s is the MT's own address", gw), "give the router's address")
	}
	if len(n.DNS) == 0 {
		bad("network.dns", "missing", "add at least one name server, e.g. dns: [192.0.2.53]")
	}
	if len(n.DNS) > 3 {
		bad("network.dns", fmt.Sprintf("%d name servers given", len(n.DNS)), "CentOS 6 uses at most 3")
	}
	for _, d := range n.DNS {
		if a, err := netip.ParseAddr(d); err != nil || !a.Is4() {
			bad("network.dns", fmt.Sprintf("%q is not an IPv4 address", d), "list name servers by address")
		}
	}
}

// isFQDN is RFC 1123, lower case, at least two labels, at most 253 bytes.
// Lower case only: CentOS 6's anaconda and /etc/hosts lookups are
// case-sensitive in places, and one spelling avoids two entries.
func isFQDN(h string) bool {
	if len(h) > 253 || !strings.Contains(h, ".") {
		return false
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if !labelRe.MatchString(l) {
			return false
		}
	}
	// A numeric top-level label would make it look like an IP address.
	return !numericRe.MatchString(labels[len(labels)-1])
}

func broadcast(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As4()
	host := 32 - p.Bits()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	v |= (1 << host) - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Netmask returns network.ip's prefix as a dotted netmask (kickstart wants
// that form on RHEL6).
func (n Network) Netmask() string {
	p, err := netip.ParsePrefix(n.IP)
	if err != nil {
		return ""
	}
	m := ^uint32(0) << (32 - p.Bits())
	return netip.AddrFrom4([4]byte{byte(m >> 24), byte(m >> 16), byte(m >> 8), byte(m)}).String()
}

// Address returns network.ip without its prefix.
func (n Network) Address() string {
	p, err := netip.ParsePrefix(n.IP)
	if err != nil {
		return ""
	}
	return p.Addr().String()
}
