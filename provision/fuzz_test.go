package provision

import (
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/mtprep/mtprep/centos"
	"github.com/mtprep/mtprep/provision/spec"
)

const fuzzHash = "$6$saltsaltsaltsalt$qFmFH.bQmmtXzyBY0s9v7Oicd2z4XSIecDzlB5KiA2/jctKu9YterLp8wwnSq.qc.eoxqOmSuNp2xS0ktL3nh/"

func fuzzKey(t testing.TB) ssh.PublicKey {
	b, err := os.ReadFile("../centos/testdata/user_key.pub")
	if err != nil {
		t.Fatal(err)
	}
	pk, _, _, _, err := ssh.ParseAuthorizedKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return pk
}

// FuzzParse: the loader never panics, and any spec it accepts renders a
// kickstart with exactly the commands and sections of the example's: no
// input adds a command or section the spec did not ask for.
func FuzzParse(f *testing.F) {
	f.Add([]byte(validSpec))
	f.Add([]byte(strings.Replace(validSpec, "mt01.example.com", "\"mt01.example.com\\n%post\\nreboot\\n%end\"", 1)))
	f.Add([]byte(strings.Replace(validSpec, "America/New_York", "'America/New_York --nontp'", 1)))
	f.Add([]byte(strings.Replace(validSpec, "192.0.2.53", "192.0.2.53, 192.0.2.54", 1)))
	f.Add([]byte("name: x\nnetwork: {hostname: a.b, ip: 10.0.0.2/8, gateway: 10.0.0.1, dns: [1.1.1.1]}\nrootPassword: {env: X}\niso: {base: y}\npackages: {source: vault}\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Add([]byte("- 1\n- 2\n"))
	key := fuzzKey(f)
	base, err := spec.Parse("mt01.yaml", []byte(validSpec))
	if err != nil {
		f.Fatal(err)
	}
	ks, err := kickstartValues(base, fuzzHash, key, nil).Render()
	if err != nil {
		f.Fatal(err)
	}
	want := strings.Join(centos.Structure(ks), "\n")
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := spec.Parse("fuzz.yaml", data)
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		out, err := kickstartValues(s, fuzzHash, key, nil).Render()
		if err != nil {
			// The loader accepted what the renderer refuses: fine only for
			// sizes the layout cannot hold.
			if !strings.Contains(err.Error(), "OS disk") {
				t.Fatalf("spec accepted but kickstart refused: %v", err)
			}
			return
		}
		if got := strings.Join(centos.Structure(out), "\n"); got != want {
			t.Fatalf("structure changed:\n%s", out)
		}
	})
}
