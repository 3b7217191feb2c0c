package provision

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// testSSHD is a real OpenSSH sshd on 127.0.0.1 restricted to what CentOS
// 6.6's OpenSSH 5.3p1 offers. It is the transport's peer in unit tests;
// the lab (internal/lab) puts one in a network namespace for end-to-end
// tests.
type testSSHD struct {
	port                  int
	dir, userKey, hostPub string
	cmd                   *exec.Cmd
}

func needRoot(t *testing.T, tools ...string) {
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

func startSSHD(t *testing.T) *testSSHD {
	needRoot(t, "/usr/sbin/sshd", "ssh-keygen")
	d := &testSSHD{dir: t.TempDir()}
	keygen := func(path string) {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", path).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v %s", err, out)
		}
	}
	hostKey := filepath.Join(d.dir, "host_rsa")
	keygen(hostKey)
	d.hostPub = hostKey + ".pub"
	d.userKey = filepath.Join(d.dir, "user_rsa")
	keygen(d.userKey)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d.port = l.Addr().(*net.TCPAddr).Port
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
`, d.port, hostKey, d.userKey, d.dir)
	cfgPath := filepath.Join(d.dir, "sshd_config")
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
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", d.port)); err == nil {
			c.Close()
			return d
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("sshd did not start: %s", log.String())
	return nil
}

func (d *testSSHD) config(knownHosts, policy string) SSHConfig {
	return SSHConfig{Address: "127.0.0.1", Port: d.port, User: "root", PrivateKey: d.userKey, KnownHosts: knownHosts, HostKey: policy,
		Env: func(string) (string, bool) { return "", false }}
}

func (d *testSSHD) pub(t *testing.T) ssh.PublicKey {
	b, err := os.ReadFile(d.hostPub)
	if err != nil {
		t.Fatal(err)
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSSHHostKeyPolicies(t *testing.T) {
	d := startSSHD(t)
	ctx := context.Background()
	other, _, _, _, _ := ssh.ParseAuthorizedKey(mustRead(t, "../centos/testdata/user_key.pub"))
	cases := []struct {
		name    string
		policy  string
		known   ssh.PublicKey // in known_hosts before the connection
		wantErr string
	}{
		{"strict known", "strict", d.pub(t), ""},
		{"strict unknown", "strict", nil, "refused (strict)"},
		{"strict changed", "strict", other, "expected " + ssh.FingerprintSHA256(other)},
		{"accept-new unknown", "accept-new", nil, ""},
		{"accept-new changed", "accept-new", other, "expected " + ssh.FingerprintSHA256(other)},
		{"pinned right", ssh.FingerprintSHA256(d.pub(t)), nil, ""},
		{"pinned wrong", ssh.FingerprintSHA256(other), nil, "refused (pinned)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kh := filepath.Join(t.TempDir(), "known_hosts")
			if c.known != nil {
				if err := RecordHostKey(kh, "127.0.0.1", d.port, c.known); err != nil {
					t.Fatal(err)
				}
			}
			conn, err := DialSSH(ctx, d.config(kh, c.policy))
			if c.wantErr != "" {
				var he *HostKeyError
				if err == nil || !errors.As(err, &he) || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want HostKeyError with %q", err, c.wantErr)
				}
				if !strings.Contains(err.Error(), ssh.FingerprintSHA256(d.pub(t))) {
					t.Errorf("error does not show the presented fingerprint: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			conn.Close()
			if c.policy == "accept-new" {
				// A second connection must not append a duplicate.
				conn, err := DialSSH(ctx, d.config(kh, c.policy))
				if err != nil {
					t.Fatal(err)
				}
				conn.Close()
				if n := strings.Count(string(mustRead(t, kh)), "ssh-rsa"); n != 1 {
					t.Errorf("known_hosts has %d lines for the host, want 1", n)
				}
			}
		})
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSSHRun(t *testing.T) {
	d := startSSHD(t)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if err := RecordHostKey(kh, "127.0.0.1", d.port, d.pub(t)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := DialSSH(ctx, d.config(kh, "strict"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Hostile arguments arrive as single arguments, byte for byte.
	args := []string{"plain", "two words", "it's", `"double"`, "$(touch /tmp/pwned)", "`id`", "a;b|c&d", "*", "~root", "new\nline", "", "-n", "back\\slash", "ünïcode"}
	out, err := conn.Run(ctx, append([]string{"printf", "%s\\0"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if strings.Join(got, "|") != strings.Join(args, "|") {
		t.Errorf("arguments changed on the way:\n got %q\nwant %q", got, args)
	}
	if _, err := os.Stat("/tmp/pwned"); err == nil {
		t.Error("command substitution ran")
	}
	// Exit status and stderr come back in the error.
	_, err = conn.Run(ctx, "sh", "-c", "echo boom >&2; exit 3")
	var ce *CommandError
	if !errors.As(err, &ce) || ce.Status != 3 || !strings.Contains(ce.Stderr, "boom") {
		t.Fatalf("got %v", err)
	}
	// A timeout ends a hung command.
	tctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if _, err := conn.Run(tctx, "sleep", "30"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want deadline exceeded", err)
	}
	// Scripts go over stdin with quoted arguments; stdin carries secrets.
	out, err = conn.Script(ctx, "read -r secret; echo \"$1:${#secret}\"\n", strings.NewReader("s3cret\n"), "arg one")
	if err != nil || strings.TrimSpace(string(out)) != "arg one:6" {
		t.Errorf("script: %q %v", out, err)
	}
}

// FuzzQuote: whatever the string, bash reads back exactly that string as
// one word.
func FuzzQuote(f *testing.F) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		f.Skip("no bash")
	}
	for _, s := range []string{"", "a", "it's", "'", "''", "a b", "$x", "`id`", "\\", "\n", "-e", "a=b", "~", "*?[", "!"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.ContainsRune(s, 0) {
			return // no argv can carry NUL
		}
		out, err := exec.Command(bash, "-c", "printf %s "+Quote(s)).Output()
		if err != nil {
			t.Fatalf("bash failed on %q (quoted %s): %v", s, Quote(s), err)
		}
		if string(out) != s {
			t.Fatalf("quoted %q came back as %q", s, out)
		}
	})
}

func TestSFTPUploadResume(t *testing.T) {
	d := startSSHD(t)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if err := RecordHostKey(kh, "127.0.0.1", d.port, d.pub(t)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	local := filepath.Join(t.TempDir(), "bundle.tar")
	data := bytes.Repeat([]byte("0123456789abcdef"), 3<<20) // 48 MiB
	for i := range data {
		data[i] ^= byte(i * 7)
	}
	if err := os.WriteFile(local, data, 0o644); err != nil {
		t.Fatal(err)
	}
	remote := filepath.Join(t.TempDir(), "up", "bundle.tar")

	// Kill the connection a third of the way in.
	conn, err := DialSSH(ctx, d.config(kh, "strict"))
	if err != nil {
		t.Fatal(err)
	}
	killed := false
	_, err = conn.Upload(ctx, local, remote, func(_ string, done, total int64) {
		if !killed && done > total/3 {
			killed = true
			conn.client.Close()
		}
	})
	if err == nil {
		t.Fatal("upload survived a killed connection")
	}
	if _, err := os.Stat(remote); err == nil {
		t.Fatal("a partial upload is at the final name")
	}
	conn, err = DialSSH(ctx, d.config(kh, "strict"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	res, err := conn.Upload(ctx, local, remote, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Resumed == 0 || res.Resumed+res.Sent != int64(len(data)) {
		t.Errorf("did not resume: %+v", res)
	}
	if got, _ := os.ReadFile(remote); !bytes.Equal(got, data) {
		t.Fatal("uploaded file differs")
	}
	// Same content again: nothing is sent.
	res, err = conn.Upload(ctx, local, remote, nil)
	if err != nil || !res.Skipped || res.Sent != 0 {
		t.Errorf("second upload: %+v %v", res, err)
	}
}
