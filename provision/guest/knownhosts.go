package guest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/mtprep/mtprep/internal/files"
)

// RecordHostKey writes key as the only known host key of address:port in
// the known_hosts file at path, replacing older lines for that address:
// mtprep generated this key for an MT it is (re)building, so a previous
// key for the same address is stale by construction. Other hosts' lines
// are kept byte for byte. The file is replaced atomically.
func RecordHostKey(path, address string, port int, key ssh.PublicKey) error {
	host := address
	if port != 22 {
		host = net.JoinHostPort(address, strconv.Itoa(port))
	}
	norm := knownhosts.Normalize(host)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("known_hosts %s: %w", path, err)
	}
	// A fleet writes the seeds of several MTs at once, all recording into
	// one known_hosts: the read-modify-write below must not lose another
	// MT's line.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	unlock, err := files.Lock(ctx, path+".lock")
	if err != nil {
		return fmt.Errorf("known_hosts %s: %w", path, err)
	}
	defer unlock()
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("known_hosts %s: %w", path, err)
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(old))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if knownHostsLineFor(line, norm) {
			continue
		}
		out.WriteString(line)
		out.WriteByte('\n')
	}
	out.WriteString(knownhosts.Line([]string{norm}, key))
	out.WriteByte('\n')
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("known_hosts %s: %w", path, err)
	}
	return files.WriteAtomic(path, out.Bytes(), 0o600)
}

// knownHostsLineFor reports whether a plain (unhashed) known_hosts line
// lists host among its comma-separated names. Hashed lines are left alone:
// they cannot be matched without trying every salt, and a stale hashed line
// only makes strict checking fail loudly, never silently trust.
func knownHostsLineFor(line, host string) bool {
	f := strings.Fields(line)
	if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], "@") {
		return false
	}
	for _, h := range strings.Split(f[0], ",") {
		if h == host {
			return true
		}
	}
	return false
}
