package centos

import (
	"strings"
	"testing"

	"github.com/mtprep/mtprep/provision/spec"
	"github.com/mtprep/mtprep/provision/spec/spectest"
)

// FuzzParse: the loader never panics, and any spec it accepts renders a
// kickstart with exactly the commands and sections of the example's: no
// input adds a command or section the spec did not ask for.
func FuzzParse(f *testing.F) {
	f.Add([]byte(spectest.Valid))
	f.Add([]byte(strings.Replace(spectest.Valid, "mt01.example.com", "\"mt01.example.com\\n%post\\nreboot\\n%end\"", 1)))
	f.Add([]byte(strings.Replace(spectest.Valid, "America/New_York", "'America/New_York --nontp'", 1)))
	f.Add([]byte(strings.Replace(spectest.Valid, "192.0.2.53", "192.0.2.53, 192.0.2.54", 1)))
	f.Add([]byte("name: x\nnetwork: {hostname: a.b, ip: 10.0.0.2/8, gateway: 10.0.0.1, dns: [1.1.1.1]}\nrootPassword: {env: X}\niso: {base: y}\npackages: {source: vault}\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Add([]byte("- 1\n- 2\n"))
	key := userKey(f)
	base, err := spec.Parse("mt01.yaml", []byte(spectest.Valid))
	if err != nil {
		f.Fatal(err)
	}
	ks, err := KickstartFor(base, fixedHash, key, nil).Render()
	if err != nil {
		f.Fatal(err)
	}
	want := strings.Join(Structure(ks), "\n")
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := spec.Parse("fuzz.yaml", data)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		out, err := KickstartFor(s, fixedHash, key, nil).Render()
		if err != nil {
			// The loader accepted what the renderer refuses: fine only for
			// sizes the layout cannot hold.
			if !strings.Contains(err.Error(), "OS disk") {
				t.Fatalf("spec accepted but kickstart refused: %v", err)
			}
			return
		}
		if got := strings.Join(Structure(out), "\n"); got != want {
			t.Fatalf("structure changed:\n%s", out)
		}
	})
}
