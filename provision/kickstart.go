package provision

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/spec"
)

// RenderOptions are the choices of rendering an MT's answer file.
type RenderOptions struct {
	Env spec.LookupEnv
	// HostKey is installed as the MT's SSH host key (see DESIGN.md, "Trusting
	// the MT's SSH host key"); nil leaves the installer's own.
	HostKey *rsa.PrivateKey
}

// RenderSeed renders the files of the MT's seed with m (the kickstart on
// CentOS; the answer file first): it reads the root password and the
// public half of ssh.privateKey, which becomes root's authorized key.
func RenderSeed(m guest.Media, s *spec.Spec, o RenderOptions) ([]guest.SeedFile, error) {
	if m == nil {
		return nil, s.InputError("os", fmt.Sprintf("mtprep has no install media for os %q", s.OS), "use os: centos-6.6")
	}
	pw, err := s.RevealSecret("rootPassword", s.RootPassword, o.Env)
	if err != nil {
		return nil, err
	}
	pub, err := AuthorizedKey(s)
	if err != nil {
		return nil, err
	}
	var key string
	if s.Windows.ProductKey.IsSet() {
		if key, err = s.RevealSecret("windows.productKey", s.Windows.ProductKey, o.Env); err != nil {
			return nil, err
		}
	}
	return m.Seed(s, guest.SeedInput{RootPassword: pw, AuthorizedKey: pub, HostKey: o.HostKey, LicenseKey: key})
}

// AuthorizedKey is the public key mtprep logs in to the MT with: the .pub
// beside ssh.privateKey, or derived from the private key when it has no
// passphrase.
func AuthorizedKey(s *spec.Spec) (ssh.PublicKey, error) {
	path := s.SSH.PrivateKey
	if b, err := os.ReadFile(path + ".pub"); err == nil {
		pk, _, _, _, err := ssh.ParseAuthorizedKey(b)
		if err != nil {
			return nil, s.InputError("ssh.privateKey", fmt.Sprintf("%s.pub is not an SSH public key: %v", path, err), "regenerate it with ssh-keygen -y -f "+path)
		}
		return pk, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, s.InputError("ssh.privateKey", fmt.Sprintf("cannot read %s or %s.pub: %v", path, path, spec.PathProblem(err)), "create a key with ssh-keygen -t rsa -b 3072 -f "+path+", or point ssh.privateKey at yours")
	}
	signer, err := ssh.ParsePrivateKey(b)
	if err != nil {
		var pme *ssh.PassphraseMissingError
		if errors.As(err, &pme) {
			return nil, s.InputError("ssh.privateKey", path+" has a passphrase and no .pub beside it", "write the public key with ssh-keygen -y -f "+path+" > "+path+".pub")
		}
		return nil, s.InputError("ssh.privateKey", fmt.Sprintf("%s is not an SSH private key: %v", path, err), "point ssh.privateKey at an OpenSSH or PEM private key")
	}
	if t := signer.PublicKey().Type(); !strings.HasPrefix(t, "ssh-rsa") {
		// OpenSSH 5.3 on CentOS 6.6 knows RSA and DSA user keys only.
		return nil, s.InputError("ssh.privateKey", fmt.Sprintf("%s is a %s key; CentOS 6.6's OpenSSH 5.3 accepts RSA keys", path, t), "use an RSA key: ssh-keygen -t rsa -b 3072")
	}
	return signer.PublicKey(), nil
}
