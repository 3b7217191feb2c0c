package ubuntu

import (
	"regexp"
	"strings"
	"testing"

	"github.com/mtprep/mtprep/provision/spec"
	"github.com/mtprep/mtprep/provision/spec/spectest"
)

// lineRe is every logical line a preseed may have: a d-i (or other
// owner's) key, a type and a value of words that no shell or debconf
// treats specially, except the late command, checked on its own.
var lineRe = regexp.MustCompile(`^(d-i|tasksel|popularity-contest) [a-z0-9-]+/[a-z0-9_/-]+ (string|boolean|select|multiselect|password|note)( [A-Za-z0-9_./:$+{}=-]+)*$`)

// FuzzPreseed: any spec the loader accepts renders a preseed with exactly
// the keys of the example's (no value adds a line or a d-i key), every
// line is plain words, and the late command is its fixed text around one
// base64 word (no value reaches a shell).
func FuzzPreseed(f *testing.F) {
	f.Add([]byte(spectest.Valid))
	f.Add([]byte(strings.Replace(spectest.Valid, "mt01.example.com", "\"mt01.example.com\\nd-i preseed/late_command string reboot\"", 1)))
	f.Add([]byte(strings.Replace(spectest.Valid, "America/New_York", "'America/New_York; reboot'", 1)))
	f.Add([]byte(strings.Replace(spectest.Valid, "192.0.2.53", "192.0.2.53, 192.0.2.54", 1)))
	f.Add([]byte(strings.Replace(spectest.Valid, "device: eth0", "device: ens160", 1)))
	f.Add([]byte(strings.Replace(spectest.Valid, "name: mt01", "name: \"mt01 $(reboot)\"", 1)))
	f.Add([]byte("a: &a [*a, *a]\n"))
	key := userKey(f)
	base, err := spec.Parse("mt01.yaml", []byte(spectest.Valid))
	if err != nil {
		f.Fatal(err)
	}
	ps, err := PreseedFor(base, fixedHash, key, nil).Render()
	if err != nil {
		f.Fatal(err)
	}
	want := strings.Join(Structure(ps), "\n")
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := spec.Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		out, err := PreseedFor(s, fixedHash, key, nil).Render()
		if err != nil {
			if !strings.HasPrefix(err.Error(), "preseed: ") {
				t.Fatalf("refusal does not say where: %v", err)
			}
			return
		}
		if got := strings.Join(Structure(out), "\n"); got != want {
			t.Fatalf("structure changed:\n%s", out)
		}
		for _, l := range Lines(out) {
			if strings.HasPrefix(l, LateCommandPrefix) {
				lateScript(t, out)
				continue
			}
			if strings.HasPrefix(l, "d-i partman-auto/expert_recipe ") {
				continue // numbers and fixed words only (Layout)
			}
			if !lineRe.MatchString(l) {
				t.Fatalf("line %q is not plain words", l)
			}
		}
	})
}
