package images

import (
	"strings"
	"testing"
)

// FuzzParseDiscinfo: any bytes parse without a panic; the version found is
// a version token of the release line, or nothing.
func FuzzParseDiscinfo(f *testing.F) {
	for _, s := range []string{
		"1414159991.958686\nCentOS 6.6\nx86_64\n1\n",
		"1414159991.958686\r\n6.6\r\nx86_64\r\n1,2\r\n",
		"\uFEFF1385726732.061157\nCentOS Linux 6.5\ni386\n",
		"", "\n", "x\n..\n", "1\n6..6 .6 6.\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := parseDiscinfo(b)
		for _, v := range []string{d.MediaID, d.Release, d.Arch, d.Discs} {
			if strings.ContainsAny(v, "\n") || v != strings.TrimSpace(v) {
				t.Fatalf("field %q is not one trimmed line", v)
			}
		}
		if d.Version != "" && (!isVersion(d.Version) || !strings.Contains(d.Release, d.Version)) {
			t.Fatalf("version %q is not a version token of release %q", d.Version, d.Release)
		}
		if d.Version == "" && releaseVersion(d.Release) != "" {
			t.Fatalf("release %q has a version the parser missed", d.Release)
		}
	})
}
