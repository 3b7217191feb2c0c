package windows

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/crypto/ssh"

	"github.com/mtprep/mtprep/images"
	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/spec"
	scripts "github.com/mtprep/mtprep/scripts/windows"
)

// Names of the seed's data files, read by firstboot.ps1 from its own
// directory. Values reach the script only as data (JSON and key files),
// never as script text.
const (
	SeedValues         = "mtprep-seed.json"
	SeedHostKey        = "mtprep-hostkey"
	SeedHostKeyPub     = "mtprep-hostkey.pub"
	SeedAuthorizedKeys = "mtprep-authorized_keys"
	// OpenSSHZip is the Win32-OpenSSH release firstboot.ps1 installs on
	// Windows Server 2016 (which has no OpenSSH capability): the seed
	// carries the one windows.openSSH names; firstboot.ps1 looks for it
	// at the root of every CD-ROM and removable drive.
	OpenSSHZip = "OpenSSH-Win64.zip"
)

// FirewallPorts are opened by firstboot.ps1: SSH, and 9443, where the
// process server sends failback data to the master target.
func FirewallPorts() []int { return []int{22, 9443} }

// Media renders autounattend.xml and the first-logon script's files. The
// base ISO is attached untouched; Windows Setup reads autounattend.xml
// from the root of any removable drive, the seed CD.
type Media struct {
	// Options are the install choices the spec has no keys for yet.
	Options Options
}

// SeedData is what firstboot.ps1 reads from SeedValues.
type SeedData struct {
	ComputerName   string `json:"computerName"`
	HostKey        string `json:"hostKey,omitempty"` // file name on the seed
	AuthorizedKeys string `json:"authorizedKeys,omitempty"`
	FirewallPorts  []int  `json:"firewallPorts"`
	OpenSSHZip     string `json:"openSSHZip"`
	StateDir       string `json:"stateDir"`
}

// Seed renders autounattend.xml (first), mtprep-firstboot.ps1 and its data.
func (m Media) Seed(s *spec.Spec, in guest.SeedInput) ([]guest.SeedFile, error) {
	if in.RootPassword == "" {
		return nil, inputErr(s, "rootPassword", "the Administrator password is empty", "set rootPassword to a password Windows' complexity rules accept")
	}
	u, err := UnattendFor(s, in.RootPassword, m.optionsFor(s, in))
	if err != nil {
		return nil, err
	}
	xmlData, err := u.Render()
	if err != nil {
		return nil, err
	}
	data := SeedData{ComputerName: u.ComputerName, FirewallPorts: FirewallPorts(), OpenSSHZip: OpenSSHZip, StateDir: StateDir}
	files := []guest.SeedFile{{Name: "autounattend.xml", Data: xmlData}, {Name: SeedScript, Data: []byte(scripts.Firstboot)}}
	if in.HostKey != nil {
		priv := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(in.HostKey)})
		pub, err := ssh.NewPublicKey(&in.HostKey.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("host key: %w", err)
		}
		files = append(files, guest.SeedFile{Name: SeedHostKey, Data: priv}, guest.SeedFile{Name: SeedHostKeyPub, Data: ssh.MarshalAuthorizedKey(pub)})
		data.HostKey = SeedHostKey
	}
	if in.AuthorizedKey != nil {
		files = append(files, guest.SeedFile{Name: SeedAuthorizedKeys, Data: ssh.MarshalAuthorizedKey(in.AuthorizedKey)})
		data.AuthorizedKeys = SeedAuthorizedKeys
	}
	j, err := json.MarshalIndent(data, "", "  ")
	if err != nil {
		return nil, err
	}
	files = append(files, guest.SeedFile{Name: SeedValues, Data: append(j, '\n')})
	if p := s.Windows.OpenSSH; p != "" {
		// Windows Server 2016 has no OpenSSH capability: the release zip
		// travels on the seed, where firstboot.ps1 looks for it.
		zip, err := os.ReadFile(p)
		if err != nil {
			return nil, inputErr(s, "windows.openSSH", fmt.Sprintf("cannot read %s: %v", p, spec.PathProblem(err)), "download OpenSSH-Win64.zip from github.com/PowerShell/Win32-OpenSSH/releases and point windows.openSSH at it")
		}
		files = append(files, guest.SeedFile{Name: OpenSSHZip, Data: zip})
	}
	return files, nil
}

// optionsFor fills the install choices from the spec (vm.firmware,
// windows.image, windows.productKey, network.device) where m.Options
// leaves them empty.
func (m Media) optionsFor(s *spec.Spec, in guest.SeedInput) Options {
	o := m.Options
	if o.Firmware == "" {
		o.Firmware = s.VM.Firmware
	}
	if o.ImageName == "" && o.ImageIndex <= 0 && s.Windows.Image != "" {
		if n, err := strconv.Atoi(s.Windows.Image); err == nil && n > 0 {
			o.ImageIndex = n
		} else {
			o.ImageName = s.Windows.Image
		}
	}
	if o.ProductKey == "" {
		o.ProductKey = in.LicenseKey
	}
	if o.Interface == "" && s.Network.Device != "" && s.Network.Device != "eth0" {
		o.Interface = s.Network.Device
	}
	return o
}

// Base: the user's ISO untouched (UDF), a Joliet seed beside it.
func (Media) Base() guest.BaseMedia {
	return guest.BaseMedia{Family: "windows", Untouched: true, Joliet: true, AnswerFile: "autounattend.xml"}
}

// NewHostKey is an RSA 3072 host key; Win32-OpenSSH takes RSA keys.
func (Media) NewHostKey() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 3072) }

// CheckBase identifies the user's Windows Server ISO by what can be read
// of it without UDF (images.IdentifyWindows); it is attached untouched.
func (Media) CheckBase(path string, allowUnknown bool) (string, []string, error) {
	m, err := images.IdentifyWindows(path)
	if err != nil {
		if m != nil && allowUnknown {
			return "unknown media, allowed by --allow-unknown-base", []string{err.Error()}, nil
		}
		return "", nil, err
	}
	return fmt.Sprintf("%s, volume id %s", m.Product, m.ISOVolumeID), m.Warnings, nil
}
