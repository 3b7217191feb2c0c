package guest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/mtprep/mtprep/provision/spec"
)

// Algorithms CentOS 6.6's OpenSSH 5.3p1 speaks are listed after the modern
// ones: the client prefers the best both sides have, and still reaches an
// old MT (group14-sha1 key exchange, ssh-rsa host keys, hmac-sha1).
func clientAlgorithms(c *ssh.ClientConfig) {
	c.KeyExchanges = []string{
		"curve25519-sha256", "curve25519-sha256@libssh.org", "ecdh-sha2-nistp256",
		"diffie-hellman-group14-sha256", "diffie-hellman-group14-sha1", "diffie-hellman-group-exchange-sha1",
	}
	c.Ciphers = []string{"aes128-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr"}
	c.MACs = []string{"hmac-sha2-256-etm@openssh.com", "hmac-sha2-256", "hmac-sha1"}
}

// Conn is one connection to one MT, reused by every phase.
type Conn struct {
	cfg    Config
	client *ssh.Client
	key    ssh.PublicKey // the host key seen on connect; a reboot must show it again
	mu     sync.Mutex
	stats  sshCounters
}

// Stats counts an MT connection's round trips: each SSH session is at
// least one round trip to the MT (channel open, exec, exit status), so
// Sessions is what a build's guest phases cost in latency.
type Stats struct {
	Dials    int64 `json:"dials"`    // TCP connections and handshakes, reconnects after reboots included
	Sessions int64 `json:"sessions"` // SSH sessions: Commands + SFTP
	Commands int64 `json:"commands"` // remote commands and scripts
	SFTP     int64 `json:"sftp"`     // SFTP sessions (one per upload)
}

type sshCounters struct{ dials, commands, sftp atomic.Int64 }

// Stats returns what the connection did so far.
func (s *Conn) Stats() Stats {
	c, f := s.stats.commands.Load(), s.stats.sftp.Load()
	return Stats{Dials: s.stats.dials.Load(), Sessions: c + f, Commands: c, SFTP: f}
}

// Dial connects with host-key checking per cfg.HostKey.
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	s := &Conn{cfg: cfg}
	if err := s.dial(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Conn) addr() string { return net.JoinHostPort(s.cfg.Address, strconv.Itoa(s.cfg.Port)) }

func (s *Conn) dial(ctx context.Context) error {
	auth, err := s.auth()
	if err != nil {
		return err
	}
	hk, err := s.hostKeyCallback()
	if err != nil {
		return err
	}
	to := s.cfg.DialTimeout
	if to == 0 {
		to = 20 * time.Second
	}
	cc := &ssh.ClientConfig{User: s.cfg.User, Auth: auth, HostKeyCallback: hk, Timeout: to,
		// ssh-rsa last: OpenSSH 5.3 signs with SHA-1 only.
		HostKeyAlgorithms: []string{ssh.KeyAlgoED25519, ssh.KeyAlgoECDSA256, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA},
	}
	clientAlgorithms(cc)
	d := net.Dialer{Timeout: to}
	s.stats.dials.Add(1)
	conn, err := d.DialContext(ctx, "tcp", s.addr())
	if err != nil {
		return fmt.Errorf("ssh %s: %w", s.addr(), err)
	}
	// The handshake has no context; bound it with a deadline.
	_ = conn.SetDeadline(time.Now().Add(to))
	c, chans, reqs, err := ssh.NewClientConn(conn, s.addr(), cc)
	if err != nil {
		conn.Close()
		return fmt.Errorf("ssh %s@%s: %w", s.cfg.User, s.addr(), err)
	}
	_ = conn.SetDeadline(time.Time{})
	s.mu.Lock()
	s.client = ssh.NewClient(c, chans, reqs)
	s.mu.Unlock()
	return nil
}

// auth offers ssh-agent keys (SSH_AUTH_SOCK) and the spec's key file.
func (s *Conn) auth() ([]ssh.AuthMethod, error) {
	var methods []ssh.AuthMethod
	var signers []ssh.Signer
	env := s.cfg.Env
	if env == nil {
		env = os.LookupEnv
	}
	sock, _ := env("SSH_AUTH_SOCK")
	if s.cfg.PrivateKey != "" {
		b, err := os.ReadFile(s.cfg.PrivateKey)
		switch {
		case err == nil:
			signer, err := ssh.ParsePrivateKey(b)
			var pme *ssh.PassphraseMissingError
			if errors.As(err, &pme) {
				if !s.cfg.KeyPassphrase.IsSet() {
					if sock != "" {
						break // ssh-agent, below, may hold the key
					}
					return nil, fmt.Errorf("ssh: %s has a passphrase: load it into ssh-agent, or give ssh.keyPassphrase {env: NAME} or {file: path}", s.cfg.PrivateKey)
				}
				pass, perr := revealPlain(s.cfg.KeyPassphrase, s.cfg.Env)
				if perr != nil {
					return nil, fmt.Errorf("ssh: key passphrase: %w", perr)
				}
				signer, err = ssh.ParsePrivateKeyWithPassphrase(b, []byte(pass))
			}
			if err != nil {
				return nil, fmt.Errorf("ssh: key %s: %w", s.cfg.PrivateKey, err)
			}
			signers = append(signers, signer)
		case !os.IsNotExist(err):
			return nil, fmt.Errorf("ssh: key %s: %w", s.cfg.PrivateKey, err)
		}
	}
	if sock != "" {
		if conn, err := net.Dial("unix", sock); err == nil {
			ag := agent.NewClient(conn)
			methods = append(methods, ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
				as, err := ag.Signers()
				return withLegacyRSA(append(signers, as...)), err
			}))
			return methods, nil
		}
	}
	if len(signers) == 0 {
		return nil, fmt.Errorf("ssh: no key: %s does not exist and no ssh-agent is running", s.cfg.PrivateKey)
	}
	return []ssh.AuthMethod{ssh.PublicKeys(withLegacyRSA(signers)...)}, nil
}

// withLegacyRSA adds, after each RSA signer, the same key limited to the
// SHA-1 "ssh-rsa" signature. OpenSSH 5.3 sends no server-sig-algs, and
// x/crypto then signs with ssh-rsa anyway; but a newer sshd restricted to
// ssh-rsa still advertises rsa-sha2-*, the first attempt fails, and this
// second signer is what gets in.
func withLegacyRSA(signers []ssh.Signer) []ssh.Signer {
	var out []ssh.Signer
	for _, s := range signers {
		out = append(out, s)
		if as, ok := s.(ssh.AlgorithmSigner); ok && s.PublicKey().Type() == ssh.KeyAlgoRSA {
			if legacy, err := ssh.NewSignerWithAlgorithms(as, []string{ssh.KeyAlgoRSA}); err == nil {
				out = append(out, legacy)
			}
		}
	}
	return out
}

// revealPlain reads a secret reference outside a spec (no line to name).
func revealPlain(sec spec.Secret, env spec.LookupEnv) (string, error) {
	s := &spec.Spec{File: "(ssh settings)"}
	return s.RevealSecret("ssh.keyPassphrase", sec, env)
}

// Close closes the connection.
func (s *Conn) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.client == nil {
		return nil
	}
	err := s.client.Close()
	s.client = nil
	return err
}

// HostKey is the key the MT presented.
func (s *Conn) HostKey() ssh.PublicKey { return s.key }

// CommandError is a remote command that failed: its exit status and the
// end of its stderr, so the user sees why without digging in logs.
type CommandError struct {
	Cmd    string
	Status int
	Stderr string
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("remote command %q exited %d: %s", e.Cmd, e.Status, strings.TrimSpace(e.Stderr))
}

// Run runs args as one command on the MT, quoted and elevated the way its
// Shell says (for a non-root user: through sudo -n on Linux). Output lines
// go to the debug log as they come; stdout is returned. The context's
// deadline bounds it.
func (s *Conn) Run(ctx context.Context, args ...string) ([]byte, error) {
	return s.RunInput(ctx, nil, args...)
}

// RunInput is Run with stdin; secrets travel this way, never in args.
func (s *Conn) RunInput(ctx context.Context, stdin io.Reader, args ...string) ([]byte, error) {
	return s.runLine(ctx, stdin, s.cfg.Shell.Command(args, s.elevate()), strings.Join(args, " "))
}

// Script runs a script (from scripts/<os>/) with its arguments quoted; the
// script's text goes over stdin, so nothing of it is ever in a process
// argument list.
func (s *Conn) Script(ctx context.Context, script string, stdin io.Reader, args ...string) ([]byte, error) {
	line, prefix := s.cfg.Shell.Script(script, args, s.elevate())
	in := io.Reader(strings.NewReader(prefix))
	if stdin != nil {
		in = io.MultiReader(in, stdin)
	}
	return s.runLine(ctx, in, line, "script "+strings.Join(args, " "))
}

// elevate reports whether commands need elevation: the user is not the
// OS's administrator.
func (s *Conn) elevate() bool { return s.cfg.User != "" && s.cfg.User != s.cfg.Shell.Admin() }

// User is the SSH user.
func (s *Conn) User() string { return s.cfg.User }

func (s *Conn) runLine(ctx context.Context, stdin io.Reader, line, display string) ([]byte, error) {
	s.mu.Lock()
	c := s.client
	s.mu.Unlock()
	if c == nil {
		return nil, fmt.Errorf("ssh %s: not connected", s.addr())
	}
	s.stats.commands.Add(1)
	sess, err := c.NewSession()
	if err != nil {
		return nil, fmt.Errorf("ssh %s: session: %w: %s", s.addr(), err, s.droppedAdvice())
	}
	defer sess.Close()
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: 4096}
	log := s.logger()
	sess.Stdout = io.MultiWriter(&stdout, &lineLogger{log: log, stream: "stdout"})
	sess.Stderr = io.MultiWriter(stderr, &lineLogger{log: log, stream: "stderr"})
	if stdin != nil {
		sess.Stdin = stdin
	}
	log.Debug("run", "cmd", display)
	done := make(chan error, 1)
	go func() { done <- sess.Run(line) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = sess.Signal(ssh.SIGKILL)
		sess.Close()
		return stdout.Bytes(), fmt.Errorf("remote command %q: %w", display, ctx.Err())
	}
	if err != nil {
		var ee *ssh.ExitError
		if errors.As(err, &ee) {
			return stdout.Bytes(), &CommandError{Cmd: display, Status: ee.ExitStatus(), Stderr: stderr.String()}
		}
		return stdout.Bytes(), fmt.Errorf("remote command %q: %w: %s", display, err, s.droppedAdvice())
	}
	return stdout.Bytes(), nil
}

// droppedAdvice is what to do about a command whose connection ended
// without its exit status: the MT went away under it (a reboot, which a
// run that was killed may have started, or the network).
func (s *Conn) droppedAdvice() string {
	return fmt.Sprintf("the SSH connection to %s ended during the command (the MT may be rebooting, or the network failed); when the MT answers again, run again", s.addr())
}

func (s *Conn) logger() *slog.Logger {
	if s.cfg.Log != nil {
		return s.cfg.Log.With("host", s.cfg.Address)
	}
	return slog.New(slog.DiscardHandler)
}

// Reboot reboots the MT: it issues the reboot, waits for the connection
// to drop, then for SSH to answer again with the same host key, from the
// new boot. A dropped connection alone proves nothing: under load the old
// system's sshd can still accept a login while it shuts down (seen in the
// lab), and the phases after the reboot would then run on a system about
// to go away. So the Shell leaves a marker that every boot removes first,
// and the wait ends only when it is gone.
func (s *Conn) Reboot(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	marker := strconv.FormatInt(time.Now().UnixNano(), 36)
	mark, reboot, newBoot := s.cfg.Shell.Reboot(marker, s.elevate())
	if _, err := s.runLine(ctx, nil, mark, "mark the boot"); err != nil {
		return fmt.Errorf("reboot %s: marking the boot: %w", s.cfg.Address, err)
	}
	s.mu.Lock()
	c := s.client
	s.mu.Unlock()
	before := s.key
	// The command may never return: the connection drops under it.
	go func() { _, _ = s.runLine(ctx, nil, reboot, "reboot") }()
	dropped := make(chan struct{})
	go func() { _ = c.Wait(); close(dropped) }()
	select {
	case <-dropped:
	case <-ctx.Done():
		return fmt.Errorf("reboot %s: the connection did not drop within %s", s.cfg.Address, timeout)
	}
	s.Close()
	for {
		err := s.dial(ctx)
		if err == nil {
			_, err = s.runLine(ctx, nil, newBoot, "is this a new boot")
			if err == nil {
				break // a new boot
			}
			s.logger().Debug("SSH answered, but from the system that is shutting down; waiting for the new boot", "err", err)
			s.Close()
			err = fmt.Errorf("the old boot still answers (its marker %s is still there)", marker)
		}
		var ke *HostKeyError
		if errors.As(err, &ke) {
			return fmt.Errorf("reboot %s: %w", s.cfg.Address, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("reboot %s: SSH did not answer again within %s: %v", s.cfg.Address, timeout, err)
		case <-time.After(time.Second):
		}
	}
	if before != nil && !bytes.Equal(before.Marshal(), s.key.Marshal()) {
		return fmt.Errorf("reboot %s: host key changed from %s to %s", s.cfg.Address, ssh.FingerprintSHA256(before), ssh.FingerprintSHA256(s.key))
	}
	return nil
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// lineLogger logs remote output line by line at debug level.
type lineLogger struct {
	log    *slog.Logger
	stream string
	part   []byte
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.part = append(l.part, p...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			break
		}
		l.log.Debug("remote", "stream", l.stream, "line", string(l.part[:i]))
		l.part = l.part[i+1:]
	}
	return len(p), nil
}
