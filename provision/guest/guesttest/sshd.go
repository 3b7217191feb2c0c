// Package guesttest is test support for the packages that talk to an MT:
// a real OpenSSH sshd on 127.0.0.1 restricted to what CentOS 6.6's OpenSSH
// 5.3p1 offers, for unit tests of the transport and of the phases that use
// it (the lab, internal/lab, puts one in a network namespace for
// end-to-end tests).
package guesttest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// SSHD is a real OpenSSH sshd on 127.0.0.1 restricted to what CentOS
// 6.6's OpenSSH 5.3p1 offers. It is the transport's peer in unit tests;
// the lab (internal/lab) puts one in a network namespace for end-to-end
// tests.
type SSHD struct {
	Port                  int
	Dir, UserKey, HostPub string
	cmd                   *exec.Cmd
}

func NeedRoot(t testing.TB, tools ...string) {
	t.Helper()
	skip := func(msg string) {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI=true: this test must run)", msg)
		}
		t.Skip(msg)
	}
	if os.Geteuid() != 0 {
		skip("needs root")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if _, err := os.Stat(tool); err != nil {
				skip(tool + " not installed (apt-get install openssh-server openssh-client)")
			}
		}
	}
}

func StartSSHD(t testing.TB) *SSHD {
	NeedRoot(t, "/usr/sbin/sshd", "ssh-keygen")
	d := &SSHD{Dir: t.TempDir()}
	keygen := func(path string) {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", path).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v %s", err, out)
		}
	}
	hostKey := filepath.Join(d.Dir, "host_rsa")
	keygen(hostKey)
	d.HostPub = hostKey + ".pub"
	d.UserKey = filepath.Join(d.Dir, "user_rsa")
	keygen(d.UserKey)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d.Port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	_ = os.MkdirAll("/run/sshd", 0o755)
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
HostKeyAlgorithms ssh-rsa
PubkeyAcceptedAlgorithms ssh-rsa
KexAlgorithms diffie-hellman-group14-sha1,diffie-hellman-group-exchange-sha1
Ciphers aes128-ctr,aes192-ctr,aes256-ctr
MACs hmac-sha1
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AuthorizedKeysFile %s.pub
PidFile %s/sshd.pid
Subsystem sftp internal-sftp
`, d.Port, hostKey, d.UserKey, d.Dir)
	cfgPath := filepath.Join(d.Dir, "sshd_config")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", cfgPath)
	var log bytes.Buffer
	d.cmd.Stderr = &log
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.cmd.Process.Kill(); d.cmd.Wait() })
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", d.Port)); err == nil {
			c.Close()
			return d
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("sshd did not start: %s", log.String())
	return nil
}
