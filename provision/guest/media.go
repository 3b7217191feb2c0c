package guest

import (
	"crypto/rsa"

	"golang.org/x/crypto/ssh"

	"github.com/mtprep/mtprep/provision/spec"
)

// SeedInput is what the seed carries besides the spec: the secrets and
// keys read for it, each used once and not kept.
type SeedInput struct {
	RootPassword  string
	AuthorizedKey ssh.PublicKey   // the key mtprep logs in with
	HostKey       *rsa.PrivateKey // the MT's SSH host key (nil: the installer's own)
	// LicenseKey is the OS's product key when the spec gives one
	// (windows.productKey); "" otherwise.
	LicenseKey string
}

// SeedFile is one file at the root of the MT's seed ISO.
type SeedFile struct {
	Name string // a plain name ("ks.cfg", "autounattend.xml")
	Data []byte
}

// BaseMedia is how an OS's install media are made from the user's base
// ISO.
type BaseMedia struct {
	// Family is the kind of base the OS installs from, as package images
	// identifies it ("centos", "ubuntu", "windows"): any other base is
	// refused.
	Family string
	// Untouched: the base is attached as it is, never remastered (Windows
	// Setup reads autounattend.xml from any removable drive, the seed).
	Untouched bool
	// BootArg is what remastered shared media boot with, for plans
	// ("ks=hd:sr1:/ks.cfg"); "" when Untouched.
	BootArg string
	// Joliet: the seed needs Joliet names (Windows reads no Rock Ridge).
	Joliet bool
	// AnswerFile names the seed's answer file for plans ("kickstart").
	AnswerFile string
}

// BaseChecker is a Media part that identifies an untouched base itself
// (it is never remastered, so nothing else reads it before the upload).
type BaseChecker interface {
	// CheckBase says what the base is, or refuses it; allowUnknown turns
	// a refusal of an unknown base into a warning.
	CheckBase(path string, allowUnknown bool) (what string, warnings []string, err error)
}

// Media is the install media part: what the per-MT seed carries (the
// CentOS kickstart; an autounattend.xml or a preseed on other OSes) and
// how the base becomes bootable media.
type Media interface {
	// Seed renders the files of the MT's seed; the first is its answer
	// file (the kickstart, autounattend.xml, the preseed).
	Seed(s *spec.Spec, in SeedInput) ([]SeedFile, error)
	// NewHostKey generates an SSH host key the MT's sshd accepts.
	NewHostKey() (*rsa.PrivateKey, error)
	// Base says how the base ISO is used.
	Base() BaseMedia
}

// VMProfile is what the MT's VM must be for this OS.
type VMProfile struct {
	GuestID   string // vSphere's guest OS identifier ("centos64Guest")
	GuestName string // for messages ("CentOS 6 64-bit")
	// Controller is the SCSI controller type (govmomi's name, "lsilogic";
	// never "pvscsi": ASR's reprotect fails with Paravirtual) and
	// ControllerName its name in the vSphere Client ("LSI Logic").
	Controller, ControllerName string
	// ControllerHint is how to change a wrong controller by hand.
	ControllerHint string
	// NIC is a network card type the OS has a driver for at install time.
	NIC string
	// EFIKeyPrompt: booted with EFI firmware, the install media wait for
	// a key press ("Press any key to boot from CD or DVD" on Windows
	// media), so the install phase presses one on the console.
	EFIKeyPrompt bool
}
