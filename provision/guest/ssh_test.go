package guest_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/mtprep/mtprep/linux"
	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/guest/guesttest"
)

func config(d *guesttest.SSHD, knownHosts, policy string) guest.Config {
	return guest.Config{Shell: linux.Shell{}, Address: "127.0.0.1", Port: d.Port, User: "root", PrivateKey: d.UserKey, KnownHosts: knownHosts, HostKey: policy,
		Env: func(string) (string, bool) { return "", false }}
}

func pub(t *testing.T, d *guesttest.SSHD) ssh.PublicKey {
	b, err := os.ReadFile(d.HostPub)
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
	d := guesttest.StartSSHD(t)
	ctx := context.Background()
	other, _, _, _, _ := ssh.ParseAuthorizedKey(mustRead(t, "../../centos/testdata/user_key.pub"))
	cases := []struct {
		name    string
		policy  string
		known   ssh.PublicKey // in known_hosts before the connection
		wantErr string
	}{
		{"strict known", "strict", pub(t, d), ""},
		{"strict unknown", "strict", nil, "refused (strict)"},
		{"strict changed", "strict", other, "expected " + ssh.FingerprintSHA256(other)},
		{"accept-new unknown", "accept-new", nil, ""},
		{"accept-new changed", "accept-new", other, "expected " + ssh.FingerprintSHA256(other)},
		{"pinned right", ssh.FingerprintSHA256(pub(t, d)), nil, ""},
		{"pinned wrong", ssh.FingerprintSHA256(other), nil, "refused (pinned)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kh := filepath.Join(t.TempDir(), "known_hosts")
			if c.known != nil {
				if err := guest.RecordHostKey(kh, "127.0.0.1", d.Port, c.known); err != nil {
					t.Fatal(err)
				}
			}
			conn, err := guest.Dial(ctx, config(d, kh, c.policy))
			if c.wantErr != "" {
				var he *guest.HostKeyError
				if err == nil || !errors.As(err, &he) || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err %v, want guest.HostKeyError with %q", err, c.wantErr)
				}
				if !strings.Contains(err.Error(), ssh.FingerprintSHA256(pub(t, d))) {
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
				conn, err := guest.Dial(ctx, config(d, kh, c.policy))
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
	d := guesttest.StartSSHD(t)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if err := guest.RecordHostKey(kh, "127.0.0.1", d.Port, pub(t, d)); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	conn, err := guest.Dial(ctx, config(d, kh, "strict"))
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
	var ce *guest.CommandError
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

func TestSFTPUploadResume(t *testing.T) {
	d := guesttest.StartSSHD(t)
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if err := guest.RecordHostKey(kh, "127.0.0.1", d.Port, pub(t, d)); err != nil {
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
	conn, err := guest.Dial(ctx, config(d, kh, "strict"))
	if err != nil {
		t.Fatal(err)
	}
	killed := false
	_, err = conn.Upload(ctx, local, remote, func(_ string, done, total int64) {
		if !killed && done > total/3 {
			killed = true
			guest.DropConnection(conn)
		}
	})
	if err == nil {
		t.Fatal("upload survived a killed connection")
	}
	if _, err := os.Stat(remote); err == nil {
		t.Fatal("a partial upload is at the final name")
	}
	conn, err = guest.Dial(ctx, config(d, kh, "strict"))
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
