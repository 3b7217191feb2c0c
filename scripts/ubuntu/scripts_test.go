package ubuntu

import (
	"testing"

	"github.com/mtprep/mtprep/internal/shcheck"
)

// TestSyntax parses every script with bash -n (the MT runs them under
// bash 4.3) and the late command, which in-target runs under sh (dash on
// Ubuntu 16.04), with dash -n too where the host has dash.
func TestSyntax(t *testing.T) {
	shells := func(name string) []string {
		if name == "late-command.sh" {
			return []string{"bash", "dash"}
		}
		return []string{"bash"}
	}
	shcheck.Check(t, shcheck.Scripts(t, ".", ".sh"), shells, shcheck.Xenial44Lacks())
}
