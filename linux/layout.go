package linux

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"

	"github.com/GehirnInc/crypt"
	_ "github.com/GehirnInc/crypt/sha512_crypt" // registers crypt.SHA512
)

// Partition is one partition of the Linux MT's OS disk.
type Partition struct {
	Mount  string // "/", "swap", "/var/crash", "/home"
	FSType string // ext4 or swap
	SizeMB int    // MiB; the minimum when Grow
	Grow   bool
}

// Layout is the seed's custom layout of a Linux MT (the kickstart's on
// CentOS, the preseed's recipe on Ubuntu), /, /var/crash, /home as ext4
// plus swap, plain partitions with no LVM (ASR: "Master target server on
// LVM is not supported"), sized for the disk and memory: swap as large as
// memory (capped at 8 GiB), /var/crash large enough for a kdump vmcore of
// all memory, / at 40% of the disk (at least 20 GiB), /home the rest (at
// least 1 GiB).
func Layout(memoryMB, osDiskGB int) ([]Partition, error) {
	swap := min(memoryMB, 8192)
	crash := memoryMB + 1024
	root := max(osDiskGB*1024*40/100, 20480)
	// Keep 1 GiB for /home, 1 MiB alignment and the MBR.
	if need := swap + crash + root + 1024 + 2; need > osDiskGB*1024 {
		return nil, fmt.Errorf("an OS disk of %d GB cannot hold / (%d MB), swap (%d MB), /var/crash (%d MB) and /home: give at least %d GB", osDiskGB, root, swap, crash, (need+1023)/1024)
	}
	return []Partition{
		{Mount: "/", FSType: "ext4", SizeMB: root},
		{Mount: "swap", FSType: "swap", SizeMB: swap},
		{Mount: "/var/crash", FSType: "ext4", SizeMB: crash},
		{Mount: "/home", FSType: "ext4", SizeMB: 1024, Grow: true},
	}, nil
}

// HashPassword returns a SHA-512 crypt hash with a fresh random salt, the
// form RHEL6's `rootpw --iscrypted` and d-i's
// passwd/root-password-crypted take. GehirnInc/crypt is a maintained
// implementation of the glibc algorithm; crypto is not written by hand.
func HashPassword(password string) (string, error) {
	if password == "" {
		return "", errors.New("empty root password")
	}
	h, err := crypt.SHA512.New().Generate([]byte(password), nil)
	if err != nil {
		return "", fmt.Errorf("hashing the root password: %w", err)
	}
	return h, nil
}

// NewHostKey generates the MT's RSA host key. 3072 bits: OpenSSH 5.3
// (CentOS 6) and 7.2 (Ubuntu 16.04) take it, and it is what ssh-keygen
// defaults to today.
func NewHostKey() (*rsa.PrivateKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		return nil, fmt.Errorf("generating the MT host key: %w", err)
	}
	return k, nil
}
