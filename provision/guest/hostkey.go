package guest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyError is a host key mtprep refuses: unknown under strict, changed,
// or not the pinned one. It shows both fingerprints so the user can tell a
// rebuilt MT from a man in the middle.
type HostKeyError struct {
	Host, Policy, Got, Want, Fix string
}

func (e *HostKeyError) Error() string {
	msg := fmt.Sprintf("host key of %s refused (%s): presented %s", e.Host, e.Policy, e.Got)
	if e.Want != "" {
		msg += ", expected " + e.Want
	}
	return msg + " (fix: " + e.Fix + ")"
}

// hostKeyCallback checks the MT's host key per the policy, and records the
// key it saw for Reboot's same-key check.
func (s *Conn) hostKeyCallback() (ssh.HostKeyCallback, error) {
	policy := s.cfg.HostKey
	record := func(k ssh.PublicKey) { s.key = k }
	if strings.HasPrefix(policy, "SHA256:") {
		return func(host string, _ net.Addr, key ssh.PublicKey) error {
			if got := ssh.FingerprintSHA256(key); got != policy {
				return &HostKeyError{Host: host, Policy: "pinned", Got: got, Want: policy, Fix: "if the MT was rebuilt, pin its new fingerprint in ssh.hostKey"}
			}
			record(key)
			return nil
		}, nil
	}
	if policy != "strict" && policy != "accept-new" {
		return nil, fmt.Errorf("ssh: host key policy %q: use strict, accept-new or SHA256:…", policy)
	}
	path := s.cfg.KnownHosts
	if policy == "accept-new" {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("ssh: known_hosts %s: %w", path, err)
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o600)
		if err != nil {
			return nil, fmt.Errorf("ssh: known_hosts %s: %w", path, err)
		}
		f.Close()
	}
	return func(host string, remote net.Addr, key ssh.PublicKey) error {
		// Re-read each time: another MT's run may have added a line.
		cb, err := knownhosts.New(path)
		if err != nil {
			if errors.Is(err, syscall.ENOENT) {
				return &HostKeyError{Host: host, Policy: policy, Got: ssh.FingerprintSHA256(key), Fix: fmt.Sprintf("%s does not exist: build the MT with mtprep iso (it records the key), or use ssh.hostKey: accept-new", path)}
			}
			return fmt.Errorf("known_hosts %s: %w", path, err)
		}
		err = cb(host, remote, key)
		var ke *knownhosts.KeyError
		switch {
		case err == nil:
			record(key)
			return nil
		case errors.As(err, &ke) && len(ke.Want) > 0:
			want := make([]string, len(ke.Want))
			for i, w := range ke.Want {
				want[i] = fmt.Sprintf("%s (%s:%d)", ssh.FingerprintSHA256(w.Key), w.Filename, w.Line)
			}
			return &HostKeyError{Host: host, Policy: policy, Got: ssh.FingerprintSHA256(key), Want: strings.Join(want, ", "),
				Fix: "if the MT was reinstalled, remove the old line with ssh-keygen -R " + knownhosts.Normalize(host) + " -f " + path + " after checking the new fingerprint on its console"}
		case errors.As(err, &ke) && policy == "accept-new":
			if err := appendKnownHost(path, host, key); err != nil {
				return err
			}
			s.logger().Info("recorded new host key", "host", host, "fingerprint", ssh.FingerprintSHA256(key), "known_hosts", path)
			record(key)
			return nil
		case errors.As(err, &ke):
			return &HostKeyError{Host: host, Policy: policy, Got: ssh.FingerprintSHA256(key),
				Fix: fmt.Sprintf("the key is not in %s: build the MT with mtprep iso (it records the key), or check the fingerprint on the MT's console and use ssh.hostKey: accept-new or the SHA256 pin", path)}
		}
		return err
	}, nil
}

// appendKnownHost adds one line, under an exclusive lock so concurrent
// fleet workers never write the same host twice or interleave lines.
func appendKnownHost(path, host string, key ssh.PublicKey) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("known_hosts %s: %w", path, err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("known_hosts %s: lock: %w", path, err)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	// Another worker may have added it while we waited for the lock.
	if cb, err := knownhosts.New(path); err == nil {
		if cb(host, &net.TCPAddr{}, key) == nil {
			return nil
		}
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(host)}, key) + "\n"
	if _, err := f.WriteString(line); err != nil {
		return fmt.Errorf("known_hosts %s: %w", path, err)
	}
	return nil
}

// Fingerprint is the SHA256 fingerprint of a host key, as ssh-keygen -l shows it.
func Fingerprint(k ssh.PublicKey) string { return ssh.FingerprintSHA256(k) }
