package linux

import (
	"testing"

	"github.com/mtprep/mtprep/internal/shcheck"
)

// TestSyntax parses every shared script with bash -n, and checks that none
// relies on what CentOS 6 lacks (it is the older of the two MTs).
func TestSyntax(t *testing.T) {
	shcheck.Check(t, shcheck.Scripts(t, ".", ".sh"), func(string) []string { return []string{"bash"} }, shcheck.CentOS6Lacks())
}
