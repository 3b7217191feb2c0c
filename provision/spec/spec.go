package spec

import (
	"os"
	"path/filepath"
	"strings"
)

// Spec is one master target, as the user writes it in mt.yaml. The YAML keys
// are a contract (issue 2): extend, never rename.
type Spec struct {
	Name         string       `yaml:"name" json:"name"`
	OS           string       `yaml:"os" json:"os"`
	VSphere      VSphere      `yaml:"vsphere" json:"vsphere"`
	ISO          ISO          `yaml:"iso" json:"iso"`
	VM           VM           `yaml:"vm" json:"vm"`
	Network      Network      `yaml:"network" json:"network"`
	Timezone     string       `yaml:"timezone" json:"timezone"`
	RootPassword Secret       `yaml:"rootPassword" json:"rootPassword"`
	SSH          SSH          `yaml:"ssh" json:"ssh"`
	Packages     Packages     `yaml:"packages" json:"packages"`
	Tools        Tools        `yaml:"tools" json:"tools"` // where VMware Tools come from (the tools phase)
	Agent        Agent        `yaml:"agent" json:"agent"`
	ConfigServer ConfigServer `yaml:"configServer" json:"configServer"`
	Retention    Retention    `yaml:"retention" json:"retention"`
	// Windows holds the keys of os: windows-2016 only.
	Windows Windows `yaml:"windows" json:"windows,omitzero"`
	// Audit holds facts only `mtprep audit` uses (issue 6); all optional.
	Audit AuditSpec `yaml:"audit" json:"audit,omitzero"`

	// File is the path the spec was loaded from; relative paths in the spec
	// are resolved against its directory, and errors name it.
	File string `yaml:"-" json:"-"`
	// lines maps a dotted key to the line it was written on, for errors
	// found after loading (a missing secret, say).
	lines map[string]int
}

// VSphere is where the MT VM lives. Unset fields fall back to the govc
// environment variables (see ApplyGovcEnv).
type VSphere struct {
	URL        string `yaml:"url" json:"url"`
	Username   string `yaml:"username" json:"username,omitempty"`
	Password   Secret `yaml:"password" json:"password,omitempty"`
	Insecure   bool   `yaml:"insecure" json:"insecure"`
	Thumbprint string `yaml:"thumbprint" json:"thumbprint,omitempty"`
	Datacenter string `yaml:"datacenter" json:"datacenter"`
	Host       string `yaml:"host" json:"host"`
	Cluster    string `yaml:"cluster" json:"cluster"`
	Datastore  string `yaml:"datastore" json:"datastore"`
	Network    string `yaml:"network" json:"network"`
	Folder     string `yaml:"folder" json:"folder"`
	// ISOFolder is the datastore folder the install media is uploaded to.
	ISOFolder string `yaml:"isoFolder" json:"isoFolder"`
}

// ISO names the user's CentOS 6.6 minimal ISO.
type ISO struct {
	Base string `yaml:"base" json:"base"`
}

// VM is the MT's virtual hardware.
type VM struct {
	// Firmware is bios or efi (default bios); Windows Setup partitions
	// the OS disk MBR or GPT to match.
	Firmware        string `yaml:"firmware" json:"firmware"`
	CPUs            int    `yaml:"cpus" json:"cpus"`
	MemoryMB        int    `yaml:"memoryMB" json:"memoryMB"`
	OSDiskGB        int    `yaml:"osDiskGB" json:"osDiskGB"`
	RetentionDiskGB int    `yaml:"retentionDiskGB" json:"retentionDiskGB"`
}

// Windows holds what only a Windows MT needs: which image of the media's
// install.wim to install, and a product key when the media need one.
type Windows struct {
	// Image is the image's name in install.wim ("Windows Server 2016
	// SERVERSTANDARD") or its 1-based index ("2").
	Image      string `yaml:"image" json:"image,omitempty"`
	ProductKey Secret `yaml:"productKey" json:"productKey"`
	// OpenSSH is the Win32-OpenSSH release zip (OpenSSH-Win64.zip): the
	// seed carries it, since Windows Server 2016 has no OpenSSH of its
	// own and mtprep's first connection is SSH.
	OpenSSH string `yaml:"openSSH" json:"openSSH,omitempty"`
}

// Network is the MT's static address; it goes into the kickstart.
type Network struct {
	Hostname string   `yaml:"hostname" json:"hostname"`
	IP       string   `yaml:"ip" json:"ip"` // address/prefix, e.g. 192.0.2.10/24
	Gateway  string   `yaml:"gateway" json:"gateway"`
	DNS      []string `yaml:"dns" json:"dns"`
	Device   string   `yaml:"device" json:"device"`
}

// SSH is how mtprep reaches the MT after the install.
type SSH struct {
	User       string `yaml:"user" json:"user"`
	Address    string `yaml:"address" json:"address"`
	Port       int    `yaml:"port" json:"port"`
	PrivateKey string `yaml:"privateKey" json:"privateKey"`
	// KeyPassphrase unlocks a passphrase-protected privateKey ({env} or
	// {file}); without it such a key must be loaded into ssh-agent.
	KeyPassphrase Secret `yaml:"keyPassphrase" json:"keyPassphrase,omitzero"`
	KnownHosts    string `yaml:"knownHosts" json:"knownHosts"`
	// HostKey is strict, accept-new, or a pinned SHA256:… fingerprint.
	HostKey string `yaml:"hostKey" json:"hostKey"`
}

// Packages says where the MT's extra RPMs come from: an offline bundle
// uploaded over SFTP, or CentOS 6.6's archived (vault) repositories.
type Packages struct {
	Source string `yaml:"source" json:"source"`
	Bundle string `yaml:"bundle" json:"bundle,omitempty"`
	// Repos are the yum baseurls of source: vault (default: CentOS 6.6's
	// os and updates on vault.centos.org, and ELRepo's el6 tree for the
	// ReiserFS packages).
	Repos []string `yaml:"repos" json:"repos,omitempty"`
	// GPGCheck verifies package signatures (default true); false only for
	// an unsigned local mirror such as the lab's.
	GPGCheck *bool `yaml:"gpgCheck" json:"gpgCheck,omitempty"`
}

// Tools says where the tools phase takes VMware Tools from.
type Tools struct {
	// Source is packages (a Tools package from packages.source: the
	// offline bundle or the repositories) or host (the ESXi host's own
	// VMware Tools installer, mounted in the VM's CD-ROM). Default:
	// packages on Linux; Windows always uses host.
	Source string `yaml:"source" json:"source"`
}

// The tools.source values.
const (
	ToolsFromPackages = "packages"
	ToolsFromHost     = "host"
)

// Agent is the Unified Agent tarball for RHEL6-64.
type Agent struct {
	Tarball string `yaml:"tarball" json:"tarball"`
	SHA256  string `yaml:"sha256" json:"sha256,omitempty"`
}

// ConfigServer is the ASR configuration server the MT registers with.
type ConfigServer struct {
	IP         string `yaml:"ip" json:"ip"`
	Port       int    `yaml:"port" json:"port"`
	Passphrase Secret `yaml:"passphrase" json:"passphrase"`
	// Version is the configuration server's version (e.g. 9.3.0.0), when
	// known: the audit fails an MT whose agent is newer, which ASR does
	// not support.
	Version string `yaml:"version" json:"version,omitempty"`
}

// Retention is the retention volume on the MT.
type Retention struct {
	Mountpoint string `yaml:"mountpoint" json:"mountpoint"`
	Filesystem string `yaml:"filesystem" json:"filesystem"`
}

// AuditSpec is what the audit cannot learn from the MT itself: the ASR
// deployment around it. Every key is optional; a check whose input is
// missing reports UNKNOWN rather than guessing.
type AuditSpec struct {
	// ProtectedDatastores are the datastores of the VMs this MT fails
	// back; its ESXi host must see each of them.
	ProtectedDatastores []string `yaml:"protectedDatastores" json:"protectedDatastores,omitempty"`
	// ProtectedVMs are the vCenter names of the VMs this MT fails back;
	// their datastores are checked as if listed in ProtectedDatastores.
	ProtectedVMs []string `yaml:"protectedVMs" json:"protectedVMs,omitempty"`
	// VCenterAccount is the vCenter user ASR's configuration server uses
	// (DOMAIN\user or user@domain). The privilege check asks about this
	// user; without it, about the account the audit logs in with.
	VCenterAccount string `yaml:"vcenterAccount" json:"vcenterAccount,omitempty"`
}

// Defaults written into a spec for keys the user left out. They follow the
// ASR guidance for a Linux MT (4 vCPU, 6 GB, 1 TB retention).
const (
	DefaultOS              = OSCentOS66
	DefaultCPUs            = 4
	DefaultMemoryMB        = 6144
	DefaultOSDiskGB        = 100
	DefaultRetentionDiskGB = 1024
	DefaultDevice          = "eth0"
	DefaultTimezone        = "UTC"
	DefaultISOFolder       = "mtprep-iso"
	DefaultRetentionMount  = "/mnt/retention"
	DefaultRetentionFS     = "ext4"
)

// The os: values mtprep knows (cmd/mtprep maps each to its OS).
const (
	OSCentOS66    = "centos-6.6"
	OSUbuntu1604  = "ubuntu-16.04"
	OSWindows2016 = "windows-2016"
)

// KnownOS lists the os: values, for messages.
func KnownOS() []string { return []string{OSCentOS66, OSUbuntu1604, OSWindows2016} }

// IsWindows is true for a Windows MT.
func (s *Spec) IsWindows() bool { return s.OS == OSWindows2016 }

// DefaultWindowsImage is Windows Server 2016 Standard with the desktop
// experience, as install.wim names it on Microsoft's media.
const DefaultWindowsImage = "Windows Server 2016 SERVERSTANDARD"

// DefaultVaultRepos are CentOS 6.6's archived repositories (mirror.centos.org
// no longer serves CentOS 6), ELRepo's el6 tree, where the seed's ReiserFS
// RPMs come from, and EPEL 6's archive, where el6's open-vm-tools comes
// from (the tools phase).
func DefaultVaultRepos() []string {
	return []string{
		"http://vault.centos.org/6.6/os/x86_64/",
		"http://vault.centos.org/6.6/updates/x86_64/",
		"http://elrepo.org/linux/elrepo/el6/x86_64/",
		"https://archives.fedoraproject.org/pub/archive/epel/6/x86_64/",
	}
}

func (s *Spec) applyDefaults() {
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	defInt := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	def(&s.OS, DefaultOS)
	def(&s.VSphere.ISOFolder, DefaultISOFolder)
	defInt(&s.VM.CPUs, DefaultCPUs)
	defInt(&s.VM.MemoryMB, DefaultMemoryMB)
	defInt(&s.VM.OSDiskGB, DefaultOSDiskGB)
	defInt(&s.VM.RetentionDiskGB, DefaultRetentionDiskGB)
	def(&s.VM.Firmware, "bios")
	switch s.OS {
	case OSWindows2016:
		// Windows names the first NIC itself; the built-in
		// Administrator is the one account Setup makes.
		def(&s.Network.Device, "Ethernet0")
		def(&s.SSH.User, "Administrator")
		def(&s.Retention.Mountpoint, "R:")
		def(&s.Retention.Filesystem, "ntfs")
		def(&s.Windows.Image, DefaultWindowsImage)
	case OSUbuntu1604:
		// 16.04 names a vmxnet3 NIC in the first PCIe slot ens160.
		def(&s.Network.Device, "ens160")
	}
	def(&s.Network.Device, DefaultDevice)
	def(&s.Timezone, DefaultTimezone)
	def(&s.SSH.User, "root")
	defInt(&s.SSH.Port, 22)
	def(&s.SSH.PrivateKey, "~/.ssh/id_rsa")
	def(&s.SSH.KnownHosts, "~/.ssh/known_hosts")
	def(&s.SSH.HostKey, "strict")
	def(&s.Packages.Source, "bundle")
	if s.IsWindows() {
		def(&s.Tools.Source, ToolsFromHost)
	}
	def(&s.Tools.Source, ToolsFromPackages)
	if s.Packages.Source == "vault" && len(s.Packages.Repos) == 0 {
		s.Packages.Repos = DefaultVaultRepos()
	}
	if s.Packages.GPGCheck == nil {
		t := true
		s.Packages.GPGCheck = &t
	}
	defInt(&s.ConfigServer.Port, 443)
	def(&s.Retention.Mountpoint, DefaultRetentionMount)
	def(&s.Retention.Filesystem, DefaultRetentionFS)
	if s.SSH.Address == "" {
		if ip, _, ok := strings.Cut(s.Network.IP, "/"); ok {
			s.SSH.Address = ip
		}
	}
}

// resolvePaths makes file paths absolute: relative to the spec's directory,
// and ~ to the user's home, so later phases do not depend on the cwd.
func (s *Spec) resolvePaths() {
	dir := filepath.Dir(s.File)
	for _, p := range []*string{&s.ISO.Base, &s.SSH.PrivateKey, &s.SSH.KnownHosts, &s.Packages.Bundle, &s.Agent.Tarball, &s.RootPassword.File, &s.ConfigServer.Passphrase.File, &s.VSphere.Password.File, &s.SSH.KeyPassphrase.File, &s.Windows.OpenSSH, &s.Windows.ProductKey.File} {
		*p = ResolvePath(dir, *p)
	}
}

// ResolvePath expands ~ and makes p absolute relative to dir. Empty stays
// empty.
func ResolvePath(dir, p string) string {
	if p == "" {
		return ""
	}
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, strings.TrimPrefix(p[1:], "/"))
		}
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}
