package centos

import (
	"testing"

	"github.com/mtprep/mtprep/internal/shcheck"
)

// TestSyntax parses every CentOS script with bash -n (bash 4.1 runs them,
// anaconda's %post included) and checks that none relies on what CentOS 6
// lacks.
func TestSyntax(t *testing.T) {
	shcheck.Check(t, shcheck.Scripts(t, ".", ".sh"), func(string) []string { return []string{"bash"} }, shcheck.CentOS6Lacks())
}
