// Package centos is CentOS 6.6 behind the OS interface (provision/guest):
// everything specific to a CentOS master target. The VM profile (guest ID
// centos64Guest, LSI Logic, vmxnet3), the kickstart that installs it
// unattended and its SSH host key, the shell (POSIX quoting, bash 4.1,
// sudo -n: package linux's, shared with Ubuntu), the release check, the
// RPM packages and multipathd, VMware Tools and the audit probe; the
// agent's preparation, the retention disk by /dev/mapper/<wwid>, the
// registration and the guest lock are package linux's. The shell it runs
// is in scripts/centos and scripts/linux. It never imports provision, its vSphere
// driver or govmomi (internal/layers checks it).
package centos

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/mtprep/mtprep/linux"
	scripts "github.com/mtprep/mtprep/scripts/centos"
)

// Kickstart is every value that goes into a CentOS 6.6 kickstart, already
// typed. Render re-checks each value against a strict pattern, so a value
// that slipped past the spec loader still cannot add a command or section.
type Kickstart struct {
	Name     string // the MT's name, only in a comment
	Hostname string
	IP       string // dotted IPv4
	Netmask  string // dotted IPv4 mask
	Gateway  string
	DNS      []string
	Device   string // eth0
	Timezone string
	// RootPasswordHash is a SHA-512 crypt hash ($6$…); see HashPassword.
	RootPasswordHash string
	// OSDisk is the only disk the installer may touch. On a VMware VM with
	// an LSI Logic controller the OS disk at SCSI 0:0 is sda.
	OSDisk   string
	MemoryMB int
	OSDiskGB int
	// AuthorizedKeys go to root's authorized_keys.
	AuthorizedKeys []ssh.PublicKey
	// HostKey, when set, becomes the MT's RSA host key (OpenSSH 5.3 takes
	// RSA) so mtprep can trust it before the first connection.
	HostKey *rsa.PrivateKey
	// FirewallPorts are opened besides ssh, as "port:proto".
	FirewallPorts []string
}

var (
	deviceRe = regexp.MustCompile(`^[a-z][a-z0-9]{0,14}$`)
	portRe   = regexp.MustCompile(`^[0-9]{1,5}:(tcp|udp)$`)
)

// check validates every value that is written into the kickstart.
func (k *Kickstart) check() error {
	var errs []error
	bad := func(field, v, want string) {
		errs = append(errs, fmt.Errorf("kickstart: %s %q: %s", field, v, want))
	}
	linux.AnswerValues{Name: k.Name, Hostname: k.Hostname, IP: k.IP, Netmask: k.Netmask, Gateway: k.Gateway, DNS: k.DNS,
		OSDisk: k.OSDisk, Timezone: k.Timezone, RootHash: k.RootPasswordHash}.Check(bad)
	if len(k.DNS) == 0 {
		bad("dns", "", "at least one name server")
	}
	if !deviceRe.MatchString(k.Device) {
		bad("device", k.Device, "a network device name such as eth0")
	}
	for _, p := range k.FirewallPorts {
		if !portRe.MatchString(p) {
			bad("firewall port", p, "port:tcp or port:udp")
		}
	}
	return errors.Join(errs...)
}

// Render writes the kickstart. It is valid for RHEL6's anaconda (pykickstart
// RHEL6 command set, %end after every section) and is read from the install
// CD with ks=cdrom:/ks.cfg.
func (k *Kickstart) Render() ([]byte, error) {
	if err := k.check(); err != nil {
		return nil, err
	}
	parts, err := linux.Layout(k.MemoryMB, k.OSDiskGB)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }

	w("# Kickstart for master target %s (CentOS 6.6 x86_64), written by mtprep.", k.Name)
	w("# Boot with ks=cdrom:/ks.cfg. It touches only %s: the retention disk must survive.", k.OSDisk)
	w("install")
	w("cdrom")
	w("text")
	w("skipx")
	w("lang en_US.UTF-8")
	w("keyboard us")
	w("network --device=%s --bootproto=static --ip=%s --netmask=%s --gateway=%s --nameserver=%s --hostname=%s --onboot=yes --noipv6",
		k.Device, k.IP, k.Netmask, k.Gateway, strings.Join(k.DNS, ","), k.Hostname)
	w("rootpw --iscrypted %s", k.RootPasswordHash)
	w("authconfig --enableshadow --passalgo=sha512")
	fw := "firewall --enabled --ssh"
	for _, p := range k.FirewallPorts {
		fw += " --port=" + p
	}
	w("%s", fw)
	w("selinux --permissive")
	w("timezone --utc %s", k.Timezone)
	w("firstboot --disabled")
	// crashkernel=auto reserves memory for kdump (kexec-tools, /var/crash).
	w("bootloader --location=mbr --driveorder=%s --append=\"crashkernel=auto\"", k.OSDisk)
	w("zerombr")
	w("ignoredisk --only-use=%s", k.OSDisk)
	w("clearpart --all --initlabel --drives=%s", k.OSDisk)
	for _, p := range parts {
		line := fmt.Sprintf("part %s", p.Mount)
		if p.FSType != "swap" {
			line += " --fstype=" + p.FSType
		}
		size := p.SizeMB
		if p.Grow {
			size = 1 // anaconda grows it from 1 MB; Layout kept 1 GiB for it
		}
		line += fmt.Sprintf(" --ondisk=%s --size=%d", k.OSDisk, size)
		if p.Mount == "/" {
			line += " --asprimary"
		}
		if p.Grow {
			line += " --grow"
		}
		w("%s", line)
	}
	w("reboot")
	w("")
	w("%%packages --nobase")
	w("@core")
	w("%%end")
	w("")
	w("%%post --log=/root/mtprep-ks-post.log")
	if err := k.writePostData(&b); err != nil {
		return nil, err
	}
	b.WriteString(scripts.KickstartPost)
	if !strings.HasSuffix(scripts.KickstartPost, "\n") {
		b.WriteString("\n")
	}
	w("%%end")
	return []byte(b.String()), nil
}

// heredocEnd ends every data block. The data is PEM or authorized_keys text
// re-marshalled from parsed keys, which cannot contain this line.
const heredocEnd = "MTPREP_EOF"

func (k *Kickstart) writePostData(b *strings.Builder) error {
	file := func(name, content string) {
		fmt.Fprintf(b, "cat > /tmp/mtprep/%s <<'%s'\n%s%s\n", name, heredocEnd, content, heredocEnd)
	}
	b.WriteString("mkdir -p -m 0700 /tmp/mtprep\n")
	if len(k.AuthorizedKeys) > 0 {
		var keys strings.Builder
		for _, pk := range k.AuthorizedKeys {
			keys.Write(ssh.MarshalAuthorizedKey(pk))
		}
		file("authorized_keys", keys.String())
	}
	if k.HostKey != nil {
		priv := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k.HostKey)})
		pub, err := ssh.NewPublicKey(&k.HostKey.PublicKey)
		if err != nil {
			return fmt.Errorf("kickstart: host key: %w", err)
		}
		file("ssh_host_rsa_key", string(priv))
		file("ssh_host_rsa_key.pub", string(ssh.MarshalAuthorizedKey(pub)))
	}
	return nil
}

// Structure is a kickstart's shape: the first word of every line outside
// the heredoc data of %post. Two kickstarts with the same structure have the
// same commands and sections, whatever their values; the fuzz tests compare
// it to prove that no input adds either.
func Structure(ks []byte) []string {
	var out []string
	inData := false
	for _, line := range strings.Split(string(ks), "\n") {
		if inData {
			if line == heredocEnd {
				inData = false
			}
			continue
		}
		if strings.HasSuffix(line, "<<'"+heredocEnd+"'") {
			inData = true
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			out = append(out, "")
			continue
		}
		out = append(out, f[0])
	}
	return out
}
