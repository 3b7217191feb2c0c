package guest_test

import (
	"context"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/guest/guesttest"
	"github.com/mtprep/mtprep/provision/spec"
)

// TestSSHKeySources logs in to a real sshd with a passphrase-protected
// key: its passphrase from ssh.keyPassphrase, or the key from ssh-agent;
// without either the error says what to do.
func TestSSHKeySources(t *testing.T) {
	d := guesttest.StartSSHD(t)
	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	if err := guest.RecordHostKey(kh, "127.0.0.1", d.Port, pub(t, d)); err != nil {
		t.Fatal(err)
	}
	raw, err := ssh.ParseRawPrivateKey(mustRead(t, d.UserKey))
	if err != nil {
		t.Fatal(err)
	}
	const pass = "correct horse"
	blk, err := ssh.MarshalPrivateKeyWithPassphrase(raw, "", []byte(pass))
	if err != nil {
		t.Fatal(err)
	}
	locked := filepath.Join(dir, "id_locked")
	if err := os.WriteFile(locked, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	passFile := filepath.Join(dir, "pass")
	if err := os.WriteFile(passFile, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// An ssh-agent holding the key, served on a unix socket.
	sock := filepath.Join(dir, "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ring := agent.NewKeyring()
	if err := ring.Add(agent.AddedKey{PrivateKey: raw}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _ = agent.ServeAgent(ring, c) }()
		}
	}()

	env := func(vars map[string]string) spec.LookupEnv {
		return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	}
	cases := []struct {
		name    string
		pass    spec.Secret
		env     map[string]string
		wantErr string
	}{
		{"passphrase from env", spec.Secret{Env: "KEY_PASS"}, map[string]string{"KEY_PASS": pass}, ""},
		{"passphrase from file", spec.Secret{File: passFile}, nil, ""},
		{"key from ssh-agent", spec.Secret{}, map[string]string{"SSH_AUTH_SOCK": sock}, ""},
		{"no passphrase, no agent", spec.Secret{}, nil, "ssh.keyPassphrase"},
		{"wrong passphrase", spec.Secret{Env: "KEY_PASS"}, map[string]string{"KEY_PASS": "wrong"}, "id_locked"},
		{"passphrase variable unset", spec.Secret{Env: "KEY_PASS"}, nil, "KEY_PASS"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := config(d, kh, "strict")
			cfg.PrivateKey, cfg.KeyPassphrase, cfg.Env = locked, c.pass, env(c.env)
			conn, err := guest.Dial(context.Background(), cfg)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("got %v, want an error naming %q", err, c.wantErr)
				}
				if strings.Contains(err.Error(), pass) || (c.env["KEY_PASS"] != "" && strings.Contains(err.Error(), c.env["KEY_PASS"])) {
					t.Fatalf("the error shows the passphrase: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if out, err := conn.Run(context.Background(), "echo", "in"); err != nil || strings.TrimSpace(string(out)) != "in" {
				t.Fatalf("run: %q %v", out, err)
			}
		})
	}
}
