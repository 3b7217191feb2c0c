package images

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sharedOptions are the options of shared install media.
func sharedOptions(base, out string) RemasterOptions {
	return RemasterOptions{Base: base, Out: out, KickstartArg: SharedKickstartArg, Reproducible: true, Timeout: 3 * time.Second}
}

// TestSharedMediaReproducible: shared media made twice from one base, at
// different moments from different scratch trees, have the same bytes
// (the same sha256, so a fleet uploads them once); they hold no kickstart,
// not even a remastered base's old one, and boot with SharedKickstartArg.
func TestSharedMediaReproducible(t *testing.T) {
	tests := []struct {
		name string
		base func(t *testing.T) string
	}{
		{"go-diskfs base", func(t *testing.T) string { return diskfsISO(t, centosTree(t), "CentOS 6.6 x86_64") }},
		{"remastered base with an old ks.cfg", func(t *testing.T) string {
			b := diskfsISO(t, centosTree(t), "CentOS 6.6 x86_64")
			out := filepath.Join(t.TempDir(), "old.iso")
			if _, err := Remaster(context.Background(), RemasterOptions{Base: b, Out: out, Kickstart: []byte("# another MT's kickstart\n")}); err != nil {
				t.Fatal(err)
			}
			return out
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := tt.base(t)
			ctx := context.Background()
			var sums []string
			for i := range 2 {
				dir := t.TempDir()
				if i == 1 {
					// Another second, another scratch tree: what changes
					// between two runs must not reach the bytes.
					time.Sleep(1100 * time.Millisecond)
				}
				res, err := Remaster(ctx, sharedOptions(base, filepath.Join(dir, "media.iso")))
				if err != nil {
					t.Fatal(err)
				}
				if res.SHA256 != sha256File(t, res.Out) {
					t.Errorf("Result.SHA256 is not the output's")
				}
				sums = append(sums, res.SHA256)
				img, err := openISO(res.Out)
				if err != nil {
					t.Fatal(err)
				}
				_, byPath, err := img.tree()
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := byPath[kickstartPath]; ok {
					t.Errorf("shared media hold %s", kickstartPath)
				}
				for p, e := range byPath {
					if !e.modTime.Equal(ReproducibleEpoch()) {
						t.Errorf("%s: time %v, want the fixed %v", p, e.modTime, ReproducibleEpoch())
						break
					}
				}
				cfg, err := img.readSmall(isolinuxCfgPath, 1<<20)
				img.Close()
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(cfg), " "+SharedKickstartArg+"\n") || strings.Contains(string(cfg), KickstartArg) {
					t.Errorf("isolinux.cfg does not boot with %s only:\n%s", SharedKickstartArg, cfg)
				}
			}
			if sums[0] != sums[1] {
				t.Errorf("two remasters of one base differ: %s, %s", sums[0], sums[1])
			}
		})
	}
}

// TestSharedMediaByXorriso reads shared media with xorriso, an
// independent reader: the tree is the base's without ks.cfg.
func TestSharedMediaByXorriso(t *testing.T) {
	requireTool(t, "xorriso")
	base := diskfsISO(t, centosTree(t), "CentOS 6.6 x86_64")
	out := filepath.Join(t.TempDir(), "media.iso")
	if _, err := Remaster(context.Background(), sharedOptions(base, out)); err != nil {
		t.Fatal(err)
	}
	b, err := exec.Command("xorriso", "-indev", out, "-find", "/", "-type", "f").CombinedOutput()
	if err != nil {
		t.Fatalf("xorriso: %v\n%s", err, b)
	}
	s := string(b)
	for _, want := range []string{"'/isolinux/isolinux.cfg'", "'/Packages/Long-Mixed_Case.name-1.2.3-4.el6.x86_64.rpm'", "'/.discinfo'"} {
		if !strings.Contains(s, want) {
			t.Errorf("xorriso does not list %s:\n%s", want, s)
		}
	}
	if strings.Contains(s, "'/ks.cfg'") {
		t.Errorf("xorriso lists /ks.cfg in shared media")
	}
}

func TestWriteSeed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	ks := []byte(testKS + "# " + strings.Repeat("x", 5000) + "\n")
	a, err := WriteSeed(ctx, SeedOptions{Out: filepath.Join(dir, "a.iso"), Kickstart: ks})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	b, err := WriteSeed(ctx, SeedOptions{Out: filepath.Join(dir, "b.iso"), Kickstart: ks})
	if err != nil {
		t.Fatal(err)
	}
	if a.SHA256 != b.SHA256 || a.SHA256 != sha256File(t, a.Out) {
		t.Errorf("seeds of one kickstart: %s, %s (file %s)", a.SHA256, b.SHA256, sha256File(t, a.Out))
	}
	fi, err := os.Stat(a.Out)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != a.Size || fi.Size() >= 1<<20 {
		t.Errorf("seed is %d bytes (Result.Size %d); want under 1 MiB", fi.Size(), a.Size)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("seed mode %v, want 0600 (it holds secrets)", fi.Mode().Perm())
	}
	got, err := ReadSeed(a.Out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, ks) {
		t.Errorf("seed holds %q", got)
	}
	if got := listDir(t, dir); len(got) != 2 {
		t.Errorf("directory holds %v, want a.iso and b.iso only", got)
	}
	if _, err := exec.LookPath("xorriso"); err == nil {
		x, err := exec.Command("xorriso", "-indev", a.Out, "-osirrox", "on", "-extract", "/ks.cfg", filepath.Join(dir, "ks.out")).CombinedOutput()
		if err != nil {
			t.Fatalf("xorriso: %v\n%s", err, x)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "ks.out")); !bytes.Equal(got, ks) {
			t.Errorf("xorriso extracts %q", got)
		}
	}

	for _, tt := range []struct {
		name string
		o    SeedOptions
	}{
		{"no output", SeedOptions{Kickstart: ks}},
		{"empty kickstart", SeedOptions{Out: filepath.Join(dir, "c.iso")}},
		{"too large", SeedOptions{Out: filepath.Join(dir, "c.iso"), Kickstart: make([]byte, maxSeed+1)}},
	} {
		if _, err := WriteSeed(ctx, tt.o); err == nil {
			t.Errorf("%s: no error", tt.name)
		}
	}
}
