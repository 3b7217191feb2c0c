package centos

import (
	"crypto/rsa"

	"golang.org/x/crypto/ssh"

	"github.com/mtprep/mtprep/images"
	"github.com/mtprep/mtprep/linux"
	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/spec"
)

// Media renders the kickstart the seed ISO carries.
type Media struct{}

// failbackPort is opened besides ssh: the process server sends failback
// data to the master target over HTTPS on 9443.
const failbackPort = "9443:tcp"

// Seed hashes the root password with a fresh salt and renders the
// kickstart.
func (Media) Seed(s *spec.Spec, in guest.SeedInput) ([]guest.SeedFile, error) {
	hash, err := linux.HashPassword(in.RootPassword)
	if err != nil {
		return nil, err
	}
	ks, err := KickstartFor(s, hash, in.AuthorizedKey, in.HostKey).Render()
	if err != nil {
		return nil, err
	}
	return []guest.SeedFile{{Name: "ks.cfg", Data: ks}}, nil
}

// Base: CentOS media are remastered to boot unattended and read the
// kickstart from the seed on the second CD-ROM.
func (Media) Base() guest.BaseMedia {
	return guest.BaseMedia{Family: "centos", BootArg: images.SharedKickstartArg, AnswerFile: "kickstart"}
}

// NewHostKey is an RSA host key (OpenSSH 5.3 has no ed25519).
func (Media) NewHostKey() (*rsa.PrivateKey, error) { return linux.NewHostKey() }

// KickstartFor maps the spec onto the kickstart; pure, so the fuzz test
// can drive it with any spec the loader accepts.
func KickstartFor(s *spec.Spec, hash string, pub ssh.PublicKey, hostKey *rsa.PrivateKey) *Kickstart {
	ks := &Kickstart{
		Name:             s.Name,
		Hostname:         s.Network.Hostname,
		IP:               s.Network.Address(),
		Netmask:          s.Network.Netmask(),
		Gateway:          s.Network.Gateway,
		DNS:              s.Network.DNS,
		Device:           s.Network.Device,
		Timezone:         s.Timezone,
		RootPasswordHash: hash,
		OSDisk:           "sda",
		MemoryMB:         s.VM.MemoryMB,
		OSDiskGB:         s.VM.OSDiskGB,
		HostKey:          hostKey,
		FirewallPorts:    []string{failbackPort},
	}
	if pub != nil {
		ks.AuthorizedKeys = []ssh.PublicKey{pub}
	}
	return ks
}
