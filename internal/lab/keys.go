package lab

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"

	"golang.org/x/crypto/ssh"
)

// rsaKeyBits is what CentOS 6's ssh-keygen made by default, and what
// OpenSSH 5.3p1 accepts for both host and user keys.
const rsaKeyBits = 2048

// rsaKey is an RSA key in the forms the lab writes out.
type rsaKey struct {
	PEM    []byte // PKCS#1 "RSA PRIVATE KEY", the format OpenSSH 5.3 writes
	Public ssh.PublicKey
	Signer ssh.Signer
}

func newRSAKey() (*rsaKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, rsaKeyBits)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.NewSignerFromKey(k)
	if err != nil {
		return nil, err
	}
	return &rsaKey{
		PEM:    pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}),
		Public: signer.PublicKey(),
		Signer: signer,
	}, nil
}

// authorizedLine is the key as one line of authorized_keys or a .pub file.
func (k *rsaKey) authorizedLine(comment string) []byte {
	return []byte(fmt.Sprintf("%s %s %s\n", k.Public.Type(), base64.StdEncoding.EncodeToString(k.Public.Marshal()), comment))
}

// randomToken returns n random bytes as URL-safe text without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// newUUID4 returns a random RFC 4122 version 4 UUID (a file system UUID).
func newUUID4() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
