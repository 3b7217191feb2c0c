package packages

import (
	"archive/tar"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompare(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"3.1.1-16.el6", "3.1.1-16.el6", 0},
		{"3.1.1-17.el6", "3.1.1-16.el6", 1},
		{"3.1.1-9.el6", "3.1.1-16.el6", -1},
		{"3.1.2-1.el6", "3.1.1-16.el6", 1},
		{"3.1.1-16.el6_6.1", "3.1.1-16.el6", 1},
		{"0.0-1.el6.elrepo", "0.0-1.el6.elrepo", 0},
		{"5.10.1-141.el6_7.1", "5.10.1-136.el6", 1},
		{"0.4.9-80.el6", "0.4.9-100.el6", -1},
		{"2.0.0-280.el6", "2.0.0-280.el6", 0},
	}
	for _, c := range cases {
		got, err := Compare(c.a, c.b)
		if err != nil || got != c.want {
			t.Errorf("Compare(%s, %s) = %d %v, want %d", c.a, c.b, got, err, c.want)
		}
	}
	if _, err := Compare("x.y", "1"); err == nil {
		t.Error("bad version accepted")
	}
}

func TestMissing(t *testing.T) {
	have := ParseRPMQuery("xfsprogs 3.1.1-16.el6\nperl 5.10.1-136.el6\npackage wget is not installed\nlsscsi 0.22-1.el6\n")
	miss := Missing(Required(), have)
	if miss["wget"] != "not installed" || !strings.Contains(miss["lsscsi"], "older") || miss["xfsprogs"] != "" || miss["perl"] != "" {
		t.Errorf("%v", miss)
	}
}

func TestParseRPMFileName(t *testing.T) {
	r, err := ParseRPMFileName("kmod-reiserfs-0.0-1.el6.elrepo.x86_64.rpm")
	if err != nil || r.Name != "kmod-reiserfs" || r.Version != "0.0" || r.Release != "1.el6.elrepo" || r.Arch != "x86_64" {
		t.Errorf("%+v %v", r, err)
	}
	// The seed's typo must not be accepted as an RPM for this MT.
	if _, err := ParseRPMFileName("xfsprogs-3.1.1-16.el6.x86_65.rpm"); err == nil {
		t.Error("x86_65 accepted")
	}
	for _, bad := range []string{"../etc/passwd.x86_64.rpm", "a b-1-1.x86_64.rpm", "x.rpm"} {
		if _, err := ParseRPMFileName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func writeRPMs(t *testing.T, skip string) string {
	dir := t.TempDir()
	for _, p := range Required() {
		if p.Name == skip {
			continue
		}
		name := p.Name + "-" + p.Min + ".x86_64.rpm"
		if err := os.WriteFile(filepath.Join(dir, name), []byte("rpm "+name), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestBundleRoundTrip(t *testing.T) {
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "mt-bundle.tar")
	wrote, err := WriteBundle(ctx, writeRPMs(t, ""), out)
	if err != nil {
		t.Fatal(err)
	}
	read, err := ReadBundle(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(read) != len(wrote) || len(read) != len(Required()) {
		t.Errorf("wrote %d, read %d", len(wrote), len(read))
	}
}

func TestBundleRefuses(t *testing.T) {
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "b.tar")
	if _, err := WriteBundle(ctx, writeRPMs(t, "device-mapper-multipath"), out); err == nil || !strings.Contains(err.Error(), "device-mapper-multipath (not installed)") {
		t.Errorf("incomplete bundle: %v", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a refused bundle was written")
	}
	// A tampered RPM is caught by its hash.
	if _, err := WriteBundle(ctx, writeRPMs(t, ""), out); err != nil {
		t.Fatal(err)
	}
	tampered := filepath.Join(t.TempDir(), "t.tar")
	src, _ := os.Open(out)
	defer src.Close()
	dst, _ := os.Create(tampered)
	tr, tw := tar.NewReader(src), tar.NewWriter(dst)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		b := make([]byte, h.Size)
		if _, err := tr.Read(b); err != nil && h.Size > 0 && len(b) == 0 {
			t.Fatal(err)
		}
		if strings.HasPrefix(h.Name, "perl-") {
			b[0] ^= 1
		}
		tw.WriteHeader(h)
		tw.Write(b)
	}
	tw.Close()
	dst.Close()
	if _, err := ReadBundle(ctx, tampered); err == nil || !strings.Contains(err.Error(), "perl-") {
		t.Errorf("tampered bundle: %v", err)
	}
}
