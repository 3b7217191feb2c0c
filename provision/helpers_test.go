package provision

import (
	"os"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/mtprep/mtprep/centos"
	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/guest/guesttest"
	"github.com/mtprep/mtprep/provision/spec/spectest"
)

const validSpec = spectest.Valid

// testOS is what cmd/mtprep maps os: centos-6.6 to. Tests may use an OS
// package; provision itself never imports one (internal/layers).
func testOS(name string) (*guest.OS, bool) {
	if name == centos.Name {
		return centos.OS(), true
	}
	return nil, false
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pub is the test sshd's host key.
func pub(t *testing.T, d *guesttest.SSHD) ssh.PublicKey {
	t.Helper()
	k, _, _, _, err := ssh.ParseAuthorizedKey(mustRead(t, d.HostPub))
	if err != nil {
		t.Fatal(err)
	}
	return k
}
