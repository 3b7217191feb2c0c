package ubuntu

import (
	"crypto/rsa"
	"github.com/mtprep/mtprep/linux"

	"golang.org/x/crypto/ssh"

	"github.com/mtprep/mtprep/images"
	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/spec"
)

// Media renders the preseed the seed ISO carries.
type Media struct{}

// SeedName is the preseed's name at the seed's root: the shared media's
// generic preseed (BootArg's file) loads it from there.
const SeedName = "preseed.cfg"

// BootArg is what remastered shared media boot with: debian-installer
// reads the generic preseed from the media, which loads the seed's.
const BootArg = images.UbuntuSharedBootArgs

// Seed hashes the root password with a fresh salt and renders the
// preseed.
func (Media) Seed(s *spec.Spec, in guest.SeedInput) ([]guest.SeedFile, error) {
	hash, err := linux.HashPassword(in.RootPassword)
	if err != nil {
		return nil, err
	}
	ps, err := PreseedFor(s, hash, in.AuthorizedKey, in.HostKey).Render()
	if err != nil {
		return nil, err
	}
	return []guest.SeedFile{{Name: SeedName, Data: ps}}, nil
}

// Base: Ubuntu media are remastered to boot unattended with the generic
// preseed, which reads the MT's from the seed.
func (Media) Base() guest.BaseMedia {
	return guest.BaseMedia{Family: images.FamilyUbuntu, BootArg: images.UbuntuSharedBootArgs, AnswerFile: "preseed"}
}

// NewHostKey is an RSA host key (what guest.Media and known_hosts carry).
func (Media) NewHostKey() (*rsa.PrivateKey, error) { return linux.NewHostKey() }

// PreseedFor maps the spec onto the preseed; pure, so the fuzz test can
// drive it with any spec the loader accepts. The spec's network.device
// defaults to CentOS's eth0, which 16.04 (predictable names: ens160 for
// the first vmxnet3) does not have: eth0 or empty means the one NIC
// (choose_interface auto); another name is used as it is.
func PreseedFor(s *spec.Spec, hash string, pub ssh.PublicKey, hostKey *rsa.PrivateKey) *Preseed {
	iface := s.Network.Device
	if iface == "" || iface == "eth0" {
		iface = "auto"
	}
	p := &Preseed{
		Name:             s.Name,
		Hostname:         s.Network.Hostname,
		IP:               s.Network.Address(),
		Netmask:          s.Network.Netmask(),
		Gateway:          s.Network.Gateway,
		DNS:              s.Network.DNS,
		Interface:        iface,
		Timezone:         s.Timezone,
		RootPasswordHash: hash,
		OSDisk:           "sda",
		MemoryMB:         s.VM.MemoryMB,
		OSDiskGB:         s.VM.OSDiskGB,
		HostKey:          hostKey,
	}
	if pub != nil {
		p.AuthorizedKeys = []ssh.PublicKey{pub}
	}
	return p
}
