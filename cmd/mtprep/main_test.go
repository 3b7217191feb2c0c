package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// writeSpec writes examples/mt01.yaml's shape into a temp dir with an SSH
// key beside it, and returns the spec path.
func writeSpec(t *testing.T, edit func(string) string) string {
	t.Helper()
	return writeSpecFrom(t, "../../examples/mt01.yaml", edit)
}

// writeSpecFrom is writeSpec for another example.
func writeSpecFrom(t *testing.T, example string, edit func(string) string) string {
	t.Helper()
	dir := t.TempDir()
	key := filepath.Join(dir, "id_rsa")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Skipf("ssh-keygen: %v %s", err, out)
	}
	src, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(src), "~/.ssh/id_rsa", key)
	s = strings.ReplaceAll(s, "~/.ssh/known_hosts", filepath.Join(dir, "known_hosts"))
	if edit != nil {
		s = edit(s)
	}
	p := filepath.Join(dir, "mt01.yaml")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExitCodes(t *testing.T) {
	good := writeSpec(t, nil)
	bad := writeSpec(t, func(s string) string { return strings.Replace(s, "192.0.2.10/24", "192.0.2.10/40", 1) })
	ubuntuHost := writeSpec(t, func(s string) string {
		return strings.Replace(strings.Replace(s, "os: centos-6.6", "os: ubuntu-16.04", 1), "tools: {source: packages}", "tools: {source: host}", 1)
	})
	cases := []struct {
		name   string
		args   []string
		env    string
		code   int
		stdout string
		stderr string
	}{
		{"version", []string{"version"}, "", 0, "mtprep ", ""},
		{"unknown command", []string{"frobnicate"}, "", 2, "", "unknown command"},
		{"unknown flag", []string{"kickstart", "--nope"}, "", 2, "", "unknown flag"},
		{"missing spec flag", []string{"kickstart"}, "", 2, "", "--spec is required"},
		{"missing spec file", []string{"kickstart", "--spec", "/nonexistent.yaml"}, "", 2, "", "/nonexistent.yaml"},
		{"bad spec", []string{"kickstart", "--spec", bad}, "pw", 2, "", "mt01.yaml:18: network.ip"},
		{"missing secret", []string{"kickstart", "--spec", good}, "", 2, "", "MT_ROOT_PASSWORD is not set"},
		{"tools from the host on ubuntu", []string{"kickstart", "--spec", ubuntuHost}, "pw", 2, "", "mt01.yaml:31: tools.source: host is not offered on ubuntu-16.04"},
		{"kickstart", []string{"kickstart", "--spec", good}, "Secret-Pw-1", 0, "rootpw --iscrypted $6$", ""},
		{"positional arg", []string{"kickstart", "extra", "--spec", good}, "pw", 2, "", "takes no arguments"},
		{"iso without out", []string{"iso", "--spec", good}, "pw", 2, "", "--out is required"},
		{"iso bad base", []string{"iso", "--spec", good, "--base", good, "--out", filepath.Join(t.TempDir(), "o.iso")}, "pw", 2, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.env != "" {
				t.Setenv("MT_ROOT_PASSWORD", c.env)
			} else {
				os.Unsetenv("MT_ROOT_PASSWORD")
			}
			var out, errb bytes.Buffer
			code := run(c.args, &out, &errb)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, out.String(), errb.String())
			}
			if !strings.Contains(out.String(), c.stdout) || !strings.Contains(errb.String(), c.stderr) {
				t.Errorf("stdout %q / stderr %q, want %q / %q", out.String(), errb.String(), c.stdout, c.stderr)
			}
			if c.env != "" && (strings.Contains(out.String(), c.env) || strings.Contains(errb.String(), c.env)) {
				t.Error("the root password appears in the output")
			}
		})
	}
}
