package linux

import (
	"os/exec"
	"strings"
	"testing"
)

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
