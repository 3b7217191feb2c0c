package packages

import (
	"archive/tar"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var debCases = []struct {
	a, b string
	want int
}{
	{"0.5.0-7ubuntu9", "0.5.0-7ubuntu9", 0},
	{"0.5.0-7ubuntu9.1", "0.5.0-7ubuntu9", 1},
	{"0.5.0-7ubuntu10", "0.5.0-7ubuntu9", 1},
	{"0.5.0-7ubuntu8", "0.5.0-7ubuntu9", -1},
	{"2.02.133-1ubuntu10", "2.02.133-1ubuntu10", 0},
	{"2.02.98-6ubuntu2", "2.02.133-1ubuntu10", -1},
	{"1:2.0-1", "2.1-1", 1},
	{"1.0~rc1-1", "1.0-1", -1},
	{"1.0-1", "1.0", 1},
	{"1.0", "1.0-0", 0},
	{"1.0a", "1.0", 1},
	{"1.0+b1", "1.0", 1},
	{"1.0.1", "1.0a", 1}, // letters sort before other characters
	{"0.27-3", "0.27-3", 0},
	{"0.1.9-1", "0.1.10-1", -1},
	{"4.4.0-81.104", "4.4.0-62.83", 1},
	{"10.2.0-3ubuntu3", "10.2.0-3~ubuntu0.16.04.1", 1},
}

func TestCompareDeb(t *testing.T) {
	for _, c := range debCases {
		got, err := CompareDeb(c.a, c.b)
		if err != nil || got != c.want {
			t.Errorf("CompareDeb(%q, %q) = %d, %v; want %d", c.a, c.b, got, err, c.want)
		}
		if back, _ := CompareDeb(c.b, c.a); back != -c.want {
			t.Errorf("CompareDeb(%q, %q) = %d; want %d", c.b, c.a, back, -c.want)
		}
	}
	for _, bad := range []string{"", "abc", "1.0 2", "x:1.0", "1:"} {
		if _, err := CompareDeb(bad, "1.0"); err == nil {
			t.Errorf("CompareDeb(%q) accepted", bad)
		}
	}
}

// TestCompareDebDpkg checks CompareDeb against the host's dpkg, the
// reference implementation, where there is one.
func TestCompareDebDpkg(t *testing.T) {
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Skip("no dpkg on this host")
	}
	vs := []string{"1.0", "1.0-1", "1.0~rc1", "1.0a", "1.0+b1", "1:0.9", "0.5.0-7ubuntu9", "0.5.0-7ubuntu9.1", "0.5.0-7ubuntu10", "1.0.0", "1.00", "1~~", "1~", "1~~a", "1", "1.a", "1-a~b", "1-a"}
	for _, a := range vs {
		for _, b := range vs {
			got, err := CompareDeb(a, b)
			if err != nil {
				t.Fatal(err)
			}
			for op, want := range map[string]bool{"lt": got < 0, "eq": got == 0, "gt": got > 0} {
				err := exec.Command("dpkg", "--compare-versions", a, op, b).Run()
				if (err == nil) != want {
					t.Errorf("CompareDeb(%q, %q) = %d, dpkg says %s is %v", a, b, got, op, err == nil)
				}
			}
		}
	}
}

func TestParseDpkgQuery(t *testing.T) {
	out := "lsscsi 0.27-3 install ok installed\nkpartx 0.5.0-7ubuntu9 deinstall ok config-files\nlvm2 2.02.133-1ubuntu10\n\ngarbage\n"
	m := ParseDpkgQuery(out)
	if m["lsscsi"] != "0.27-3" || m["lvm2"] != "2.02.133-1ubuntu10" {
		t.Errorf("got %v", m)
	}
	if _, ok := m["kpartx"]; ok {
		t.Errorf("a removed package counts as installed: %v", m)
	}
	miss := MissingDeb([]Package{{Name: "lsscsi", Min: "0.27-3"}, {Name: "lvm2", Min: "2.02.133-1ubuntu11"}, {Name: "kpartx", Min: "0.5.0-7ubuntu9"}}, m)
	if len(miss) != 2 || miss["kpartx"] != "not installed" || !strings.Contains(miss["lvm2"], "older") {
		t.Errorf("missing %v", miss)
	}
}

// buildDeb makes a real .deb with the host's dpkg-deb.
func buildDeb(t *testing.T, dir, name, version, compress string) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), name)
	if err := os.MkdirAll(filepath.Join(root, "DEBIAN"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "usr/share/doc", name), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "usr/share/doc", name, "README"), []byte("test\n"), 0o644)
	control := "Package: " + name + "\nVersion: " + version + "\nArchitecture: amd64\nMaintainer: mtprep <mtprep@example.invalid>\nDescription: test\n multi-line\n"
	if err := os.WriteFile(filepath.Join(root, "DEBIAN/control"), []byte(control), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name+"_"+version+"_amd64.deb")
	if b, err := exec.Command("dpkg-deb", "--root-owner-group", "-Z"+compress, "--build", root, out).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb: %v: %s", err, b)
	}
	return out
}

func TestDebBundle(t *testing.T) {
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("no dpkg-deb on this host")
	}
	dir := t.TempDir()
	want := []Package{{Name: "lsscsi", Min: "0.27-3"}, {Name: "kpartx", Min: "0.5.0-7ubuntu9"}, {Name: "lvm2", Min: "2.02.133-1ubuntu10"}}
	for _, c := range []struct{ name, version, z string }{
		{"lsscsi", "0.27-3", "gzip"}, {"kpartx", "0.5.0-7ubuntu9", "xz"}, {"lvm2", "2.02.133-1ubuntu10", "zstd"},
	} {
		p := buildDeb(t, dir, c.name, c.version, c.z)
		d, err := ReadDeb(p)
		if err != nil {
			t.Fatalf("%s (%s): %v", c.name, c.z, err)
		}
		if d.Package != c.name || d.Version != c.version || d.Arch != "amd64" {
			t.Errorf("ReadDeb = %+v", d)
		}
	}
	out := filepath.Join(t.TempDir(), "bundle.tar")
	debs, err := WriteDebBundle(context.Background(), dir, out, want)
	if err != nil || len(debs) != 3 {
		t.Fatalf("WriteDebBundle: %v %v", debs, err)
	}
	got, err := ReadDebBundle(context.Background(), out, want)
	if err != nil || len(got) != 3 {
		t.Fatalf("ReadDebBundle: %v %v", got, err)
	}
	// Not covered: a newer minimum.
	if _, err := ReadDebBundle(context.Background(), out, append(want, Package{Name: "lsscsi", Min: "0.28-1"})); err == nil || !strings.Contains(err.Error(), "lsscsi") {
		t.Errorf("uncovered bundle accepted: %v", err)
	}
	if _, err := WriteDebBundle(context.Background(), dir, out, append(want, Package{Name: "multipath-tools", Min: "0.5.0-7ubuntu9"})); err == nil {
		t.Error("bundle without multipath-tools accepted")
	}
	// A file whose bytes are not what SHA256SUMS says is refused.
	bad := filepath.Join(t.TempDir(), "bad.tar")
	f, _ := os.Create(bad)
	tw := tar.NewWriter(f)
	sums := strings.Repeat("0", 64) + "  x_1_amd64.deb\n"
	tw.WriteHeader(&tar.Header{Name: SumsFile, Mode: 0o644, Size: int64(len(sums))})
	tw.Write([]byte(sums))
	deb, _ := os.ReadFile(filepath.Join(dir, "lsscsi_0.27-3_amd64.deb"))
	tw.WriteHeader(&tar.Header{Name: "x_1_amd64.deb", Mode: 0o644, Size: int64(len(deb))})
	tw.Write(deb)
	tw.Close()
	f.Close()
	if _, err := ReadDebBundle(context.Background(), bad, nil); err == nil || !strings.Contains(err.Error(), "sha256") {
		t.Errorf("bad sum accepted: %v", err)
	}
	// Not a .deb at all.
	junk := filepath.Join(t.TempDir(), "junk.deb")
	os.WriteFile(junk, []byte("!<arch>\nnope"), 0o644)
	if _, err := ReadDeb(junk); err == nil {
		t.Error("junk accepted as a .deb")
	}
}

// FuzzCompareDeb: CompareDeb never panics, is antisymmetric, and a
// version equals itself.
func FuzzCompareDeb(f *testing.F) {
	for _, c := range debCases {
		f.Add(c.a, c.b)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ab, errA := CompareDeb(a, b)
		ba, errB := CompareDeb(b, a)
		if (errA == nil) != (errB == nil) {
			t.Fatalf("errors differ: %v / %v", errA, errB)
		}
		if errA == nil && ab != -ba {
			t.Fatalf("CompareDeb(%q, %q) = %d but reversed %d", a, b, ab, ba)
		}
		if c, err := CompareDeb(a, a); err == nil && c != 0 {
			t.Fatalf("CompareDeb(%q, itself) = %d", a, c)
		}
	})
}
