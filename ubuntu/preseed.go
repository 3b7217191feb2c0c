// Package ubuntu is Ubuntu 16.04 (server amd64, 16.04.2 media) behind the
// OS interface (provision/guest): the master target of ASR's Linux MT
// procedure for Unified Agent 9.10 and later. The VM profile (guest ID
// ubuntu64Guest, LSI Logic, vmxnet3), the preseed that installs it
// unattended (guided partitioning of the OS disk only, no LVM, no
// automatic updates, kernel packages held) and its SSH host key, the shell
// (POSIX quoting, sudo -n, systemd), the release and kernel check, the
// .deb packages and multipathd, open-vm-tools, the agent tarball's
// unpacking and ApplyCustomChanges.sh, the retention disk by
// /dev/mapper/<wwid>, the MT role's install and registration, the guest
// lock and the audit probe. Every line of shell it runs is in
// scripts/ubuntu. It never imports provision, its vSphere driver or
// govmomi, nor its sibling OS package centos.
package ubuntu

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"github.com/mtprep/mtprep/linux"
	"regexp"
	"strings"

	"golang.org/x/crypto/ssh"

	scripts "github.com/mtprep/mtprep/scripts/ubuntu"
)

// Preseed is every value that goes into an Ubuntu 16.04 preseed, already
// typed. Render re-checks each value against a strict pattern, so a value
// that slipped past the spec loader still cannot add a line, a d-i key or
// a shell command.
type Preseed struct {
	Name     string // the MT's name, only in a comment
	Hostname string // fully qualified
	IP       string // dotted IPv4
	Netmask  string // dotted IPv4 mask
	Gateway  string
	DNS      []string
	// Interface is netcfg/choose_interface: "auto" (the one NIC) or a
	// name such as ens160 (16.04 names NICs by their PCI slot).
	Interface string
	Timezone  string
	// RootPasswordHash is a SHA-512 crypt hash ($6$…); see HashPassword.
	RootPasswordHash string
	// OSDisk is the only disk the installer may touch: sda, the OS disk at
	// SCSI 0:0 of the LSI Logic controller.
	OSDisk   string
	MemoryMB int
	OSDiskGB int
	// AuthorizedKeys go to root's authorized_keys.
	AuthorizedKeys []ssh.PublicKey
	// HostKey, when set, becomes the MT's RSA host key so mtprep can
	// trust it before the first connection.
	HostKey *rsa.PrivateKey
}

// RecipeMB is a size in MiB (Layout's unit, and anaconda's in the
// CentOS kickstart) as partman-auto's recipe takes it: in MB of 10^6
// bytes (partman-base's convert_to_megabytes drops six digits of a byte
// count), rounded up, so the partition gets at least the MiB Layout asks
// for. Written as MiB, 6144 of swap came out 5858 MiB, less than the
// memory it is sized for (ubuntu/di_qemu_test.go, with debian-installer).
func RecipeMB(mib int) int { return int((int64(mib)<<20 + 999999) / 1000000) }

var (
	ifaceRe = regexp.MustCompile(`^(auto|[a-z][a-z0-9]{0,14})$`)
)

// check validates every value that is written into the preseed.
func (p *Preseed) check() error {
	var errs []error
	bad := func(field, v, want string) {
		errs = append(errs, fmt.Errorf("preseed: %s %q: %s", field, v, want))
	}
	linux.AnswerValues{Name: p.Name, Hostname: p.Hostname, IP: p.IP, Netmask: p.Netmask, Gateway: p.Gateway, DNS: p.DNS,
		OSDisk: p.OSDisk, Timezone: p.Timezone, RootHash: p.RootPasswordHash}.Check(bad)
	if len(p.DNS) == 0 || len(p.DNS) > 3 {
		bad("dns", strings.Join(p.DNS, " "), "one to three name servers")
	}
	if !ifaceRe.MatchString(p.Interface) {
		bad("interface", p.Interface, "auto or a network device name such as ens160")
	}
	return errors.Join(errs...)
}

// LateCommandPrefix and LateCommandSuffix surround the one variable word
// of the late command: the base64 of the script that runs in-target.
const (
	LateCommandPrefix = "d-i preseed/late_command string in-target sh -c 'echo "
	LateCommandSuffix = " | base64 -d > /root/mtprep-late.sh && sh /root/mtprep-late.sh && rm -f /root/mtprep-late.sh'"
)

// Render writes the preseed for Ubuntu 16.04's debian-installer. Every
// value is a checked word (names, addresses, numbers, a crypt hash), and
// the late command's data is base64, so no value can start a line, a key
// or a shell command.
func (p *Preseed) Render() ([]byte, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	parts, err := linux.Layout(p.MemoryMB, p.OSDiskGB)
	if err != nil {
		return nil, err
	}
	late, err := p.lateScript()
	if err != nil {
		return nil, err
	}
	short, domain, _ := strings.Cut(p.Hostname, ".")
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }

	w("# Preseed for master target %s (Ubuntu 16.04 server amd64), written by mtprep.", p.Name)
	w("# It touches only /dev/%s: the retention disk must survive.", p.OSDisk)
	w("")
	w("# Locale and keyboard.")
	w("d-i debian-installer/locale string en_US.UTF-8")
	w("d-i localechooser/supported-locales multiselect en_US.UTF-8")
	w("d-i console-setup/ask_detect boolean false")
	w("d-i keyboard-configuration/xkb-keymap select us")
	w("d-i keyboard-configuration/layoutcode string us")
	w("")
	w("# Network: static, from the spec.")
	w("d-i netcfg/enable boolean true")
	w("d-i netcfg/choose_interface select %s", p.Interface)
	w("d-i netcfg/disable_autoconfig boolean true")
	w("d-i netcfg/get_ipaddress string %s", p.IP)
	w("d-i netcfg/get_netmask string %s", p.Netmask)
	w("d-i netcfg/get_gateway string %s", p.Gateway)
	w("d-i netcfg/get_nameservers string %s", strings.Join(p.DNS, " "))
	w("d-i netcfg/confirm_static boolean true")
	w("d-i netcfg/get_hostname string %s", short)
	w("d-i netcfg/get_domain string %s", domain)
	w("d-i netcfg/hostname string %s", short)
	w("d-i hw-detect/load_firmware boolean false")
	w("")
	w("# No network mirror: everything comes from the install media.")
	w("d-i mirror/country string manual")
	w("d-i mirror/http/hostname string archive.ubuntu.com")
	w("d-i mirror/http/directory string /ubuntu")
	w("d-i mirror/http/proxy string")
	w("d-i apt-setup/use_mirror boolean false")
	w("d-i apt-setup/restricted boolean false")
	w("d-i apt-setup/universe boolean false")
	w("d-i apt-setup/backports boolean false")
	w("d-i apt-setup/services-select multiselect")
	w("")
	w("# Clock.")
	w("d-i clock-setup/utc boolean true")
	w("d-i time/zone string %s", p.Timezone)
	w("d-i clock-setup/ntp boolean false")
	w("")
	w("# Partitioning: the OS disk only, plain partitions (ASR does not support")
	w("# a master target on logical volumes), the MT layout.")
	w("d-i partman-auto/disk string /dev/%s", p.OSDisk)
	w("d-i partman-auto/method string regular")
	recipe := "d-i partman-auto/expert_recipe string mtprep ::"
	for i, pt := range parts {
		size := RecipeMB(pt.SizeMB)
		lo, prio, hi := size, size, fmt.Sprint(size)
		if pt.Grow {
			prio, hi = 1000000, "-1"
		}
		fs := pt.FSType
		if fs == "swap" {
			fs = "linux-swap" // partman's name
		}
		recipe += fmt.Sprintf(" \\\n    %d %d %s %s", lo, prio, hi, fs)
		if i == 0 {
			recipe += " $primary{ } $bootable{ }"
		}
		if pt.FSType == "swap" {
			recipe += " method{ swap } format{ } ."
			continue
		}
		recipe += fmt.Sprintf(" method{ format } format{ } use_filesystem{ } filesystem{ %s } mountpoint{ %s } .", pt.FSType, pt.Mount)
	}
	// partman-auto uses a preseeded expert_recipe as it is, with no
	// choose_recipe question (partman-auto's lib/recipes.sh).
	w("%s", recipe)
	w("d-i partman-basicfilesystems/no_swap boolean false")
	w("d-i partman-partitioning/confirm_write_new_label boolean true")
	w("d-i partman/choose_partition select finish")
	w("d-i partman/confirm boolean true")
	w("d-i partman/confirm_nooverwrite boolean true")
	w("d-i partman/mount_style select uuid")
	w("")
	w("# The GA kernel (4.4): ASR supports 4.4 up to 4.4.0-81-generic.")
	w("d-i base-installer/kernel/image string linux-generic")
	w("")
	w("# Root logs in (with mtprep's key); no other user.")
	w("d-i passwd/root-login boolean true")
	w("d-i passwd/make-user boolean false")
	w("d-i passwd/root-password-crypted password %s", p.RootPasswordHash)
	w("d-i user-setup/encrypt-home boolean false")
	w("")
	w("# Packages: OpenSSH server; no updates, no automatic updates.")
	w("tasksel tasksel/first multiselect openssh-server")
	w("d-i pkgsel/include string openssh-server")
	w("d-i pkgsel/update-policy select none")
	w("d-i pkgsel/upgrade select none")
	w("d-i pkgsel/language-packs multiselect")
	w("d-i pkgsel/install-language-support boolean false")
	w("popularity-contest popularity-contest/participate boolean false")
	w("")
	w("# Boot loader on the OS disk.")
	w("d-i grub-installer/only_debian boolean true")
	w("d-i grub-installer/with_other_os boolean false")
	w("d-i grub-installer/bootdev string /dev/%s", p.OSDisk)
	w("")
	w("# Keys, no automatic updates, kernel packages held (scripts/ubuntu/late-command.sh).")
	w("%s%s%s", LateCommandPrefix, base64.StdEncoding.EncodeToString([]byte(late)), LateCommandSuffix)
	w("d-i finish-install/reboot_in_progress note")
	return []byte(b.String()), nil
}

// lateScript is late-command.sh with its data variables first, each a
// base64 word in single quotes.
func (p *Preseed) lateScript() (string, error) {
	var keys strings.Builder
	for _, pk := range p.AuthorizedKeys {
		keys.Write(ssh.MarshalAuthorizedKey(pk))
	}
	var priv, pub []byte
	if p.HostKey != nil {
		priv = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(p.HostKey)})
		pk, err := ssh.NewPublicKey(&p.HostKey.PublicKey)
		if err != nil {
			return "", fmt.Errorf("preseed: host key: %w", err)
		}
		pub = ssh.MarshalAuthorizedKey(pk)
	}
	enc := func(b []byte) string {
		if len(b) == 0 {
			return ""
		}
		return base64.StdEncoding.EncodeToString(b)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "MTPREP_AUTHORIZED_KEYS='%s'\n", enc([]byte(keys.String())))
	fmt.Fprintf(&b, "MTPREP_HOST_KEY='%s'\n", enc(priv))
	fmt.Fprintf(&b, "MTPREP_HOST_KEY_PUB='%s'\n", enc(pub))
	b.WriteString(scripts.LateCommand)
	return b.String(), nil
}

// Lines is a preseed's logical lines: continuation lines (ending in a
// backslash) joined, comments and blank lines dropped.
func Lines(preseed []byte) []string {
	var out []string
	cur := ""
	for _, line := range strings.Split(string(preseed), "\n") {
		if s, ok := strings.CutSuffix(line, "\\"); ok {
			cur += s
			continue
		}
		line = cur + line
		cur = ""
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		out = append(out, line)
	}
	return out
}

// Structure is a preseed's shape: the owner and key of every logical line
// ("d-i partman-auto/disk"). Two preseeds with the same structure set the
// same keys, whatever their values; the fuzz test compares it.
func Structure(preseed []byte) []string {
	var out []string
	for _, line := range Lines(preseed) {
		f := strings.Fields(line)
		if len(f) < 2 {
			out = append(out, line)
			continue
		}
		out = append(out, f[0]+" "+f[1])
	}
	return out
}
