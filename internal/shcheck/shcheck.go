// Package shcheck holds the checks the scripts/<os> tests run on every
// shell script an MT runs: that it parses with the shell that runs it, and
// that it uses nothing the MT's OS lacks. The scripts are read from the
// package directory, so a new script is checked without being listed.
package shcheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// CentOS6Lacks is what a script for CentOS 6.6 must not use: bash 4.1
// (no namerefs, [[ -v ]], ${x@Q}, mapfile -d, wait -n, negative
// subscripts, EPOCHSECONDS), coreutils 8.4 (no realpath, numfmt),
// util-linux-ng 2.17 (no lsblk --json, findmnt -J), upstart and SysV
// (no systemctl, journalctl, hostnamectl), no /etc/os-release.
func CentOS6Lacks() []string {
	return []string{
		"/etc/os-release", "systemctl", "journalctl", "hostnamectl", "timedatectl",
		"lsblk --json", "lsblk -J", "findmnt -J", "findmnt --json", "ip -j", "ip --json",
		"declare -n", "local -n", "[[ -v ", "@Q}", "mapfile -d", "readarray -d", "wait -n",
		"EPOCHSECONDS", "EPOCHREALTIME", "[-1]}", "realpath", "numfmt",
	}
}

// Xenial44Lacks is what a script for Ubuntu 16.04 (bash 4.3, coreutils
// 8.25) must not use: what came with bash 4.4 and later.
func Xenial44Lacks() []string {
	return []string{"@Q}", "mapfile -d", "readarray -d", "EPOCHSECONDS", "EPOCHREALTIME"}
}

// Scripts reads every file of dir whose name ends in ext.
func Scripts(t *testing.T, dir, ext string) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*"+ext))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no %s scripts in %s", ext, dir)
	}
	out := make(map[string]string, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = string(b)
	}
	return out
}

// Check parses each script with every shell of shells (those the host
// has; bash is always asked for) and fails on a use of anything in
// lacks outside comments. A line that ends in "# not CentOS: …" is a
// fallback that runs only where the OS is not the one the script is for
// (to name the system a wrong spec points at), and is not checked.
func Check(t *testing.T, scripts map[string]string, shells func(name string) []string, lacks []string) {
	t.Helper()
	names := make([]string, 0, len(scripts))
	for n := range scripts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		body := scripts[name]
		if strings.TrimSpace(body) == "" {
			t.Errorf("%s is empty", name)
			continue
		}
		var code strings.Builder // comments may name what is not used
		for _, l := range strings.Split(body, "\n") {
			if !strings.HasPrefix(strings.TrimSpace(l), "#") && !strings.Contains(l, "# not CentOS: ") {
				code.WriteString(l + "\n")
			}
		}
		for _, banned := range lacks {
			if strings.Contains(code.String(), banned) {
				t.Errorf("%s uses %q, which the MT's OS does not have", name, banned)
			}
		}
		for _, sh := range shells(name) {
			if _, err := exec.LookPath(sh); err != nil {
				if sh == "bash" {
					t.Errorf("bash is not on this host: %s is not parsed", name)
				}
				continue
			}
			cmd := exec.Command(sh, "-n")
			cmd.Stdin = strings.NewReader(body)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("%s -n %s: %v\n%s", sh, name, err, out)
			}
		}
	}
}
