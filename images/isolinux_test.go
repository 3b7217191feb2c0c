package images

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// golden compares got with testdata/<name>, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestRewriteIsolinuxCfgGolden(t *testing.T) {
	tests := []struct {
		in, golden string
		timeout    time.Duration
	}{
		// CentOS 6.6 minimal's own isolinux.cfg: vesamenu started with
		// the old "default vesamenu.c32", "menu default" on "linux".
		{"isolinux/centos66-minimal.cfg", "isolinux/centos66-minimal.golden", 0},
		// No "menu default", DEFAULT names a label, CRLF, upper case,
		// tabs, INITRD and LINUX directives, ONTIMEOUT, an old ks=.
		{"isolinux/odd-crlf.cfg", "isolinux/odd-crlf.golden", 2500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			in, err := os.ReadFile(filepath.Join("testdata", tt.in))
			if err != nil {
				t.Fatal(err)
			}
			got, err := RewriteIsolinuxCfg(in, tt.timeout)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, tt.golden, got)
			checkRewrite(t, in, got)

			// A remastered ISO can be remastered again: same result.
			again, err := RewriteIsolinuxCfg(got, tt.timeout)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, got) {
				t.Errorf("rewrite is not idempotent:\n%s", again)
			}
		})
	}
}

func TestRewriteIsolinuxCfgTimeout(t *testing.T) {
	cfg := []byte("default linux\nlabel linux\n kernel vmlinuz\n")
	tests := []struct {
		timeout time.Duration
		want    string
	}{
		{0, "timeout 50"}, // DefaultTimeout
		{-time.Second, "timeout 50"},
		{time.Second, "timeout 10"},
		{50 * time.Millisecond, "timeout 1"}, // rounded up: 0 would wait forever
		{1234 * time.Millisecond, "timeout 13"},
		{time.Hour - 400*time.Millisecond, "timeout 35996"},
	}
	for _, tt := range tests {
		got, err := RewriteIsolinuxCfg(cfg, tt.timeout)
		if err != nil {
			t.Fatalf("%s: %v", tt.timeout, err)
		}
		if !strings.Contains(string(got), "\n"+tt.want+"\n") {
			t.Errorf("%s: want %q in\n%s", tt.timeout, tt.want, got)
		}
	}
	if _, err := RewriteIsolinuxCfg(cfg, 2*time.Hour); err == nil {
		t.Error("a 2h timeout was accepted; syslinux allows at most 35996 tenths")
	}
}

func TestRewriteIsolinuxCfgErrors(t *testing.T) {
	tests := map[string]string{
		"empty":                  "",
		"no labels":              "default vesamenu.c32\ntimeout 600\n",
		"default names no label": "default nothere\nlabel linux\n kernel vmlinuz\n",
		"default has no kernel":  "label local\n menu default\n localboot 0xffff\nlabel linux\n kernel vmlinuz\n",
	}
	for name, cfg := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := RewriteIsolinuxCfg([]byte(cfg), 0)
			if !errors.Is(err, ErrIsolinuxCfg) {
				t.Fatalf("got %q, %v; want an ErrIsolinuxCfg error", out, err)
			}
			if !strings.HasPrefix(err.Error(), "iso: isolinux.cfg: ") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
}

func TestRewriteIsolinuxCfgNoDefault(t *testing.T) {
	// No default and no timeout at all: both are added, and the first
	// entry with a kernel is cloned (what the menu would boot).
	in := "label local\n localboot 0\nlabel linux\n kernel vmlinuz\n append initrd=initrd.img\n"
	got, err := RewriteIsolinuxCfg([]byte(in), 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := "default ks\ntimeout 30\nlabel ks\n menu label Install MT with ^kickstart\n menu default\n" +
		" kernel vmlinuz\n append initrd=initrd.img ks=cdrom:/ks.cfg\n" + in
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// checkRewrite asserts the invariants of a rewrite: exactly one "default
// ks", one "menu default" (in the ks entry), one ks label whose append
// line ends in ks=cdrom:/ks.cfg, and every base label kept.
func checkRewrite(t *testing.T, in, out []byte) {
	t.Helper()
	lines, entries := parseCfg(out)
	var defaults, menuDefaults, ksLabels int
	for _, l := range lines {
		switch {
		case l.key == "default" && len(l.fields) == 2 && l.fields[1] == KickstartLabel:
			defaults++
		case l.key == "default":
			t.Errorf("another default line: %q", l.raw)
		case isMenuDefault(l):
			menuDefaults++
			if l.entry < 0 || entries[l.entry].name != KickstartLabel {
				t.Errorf("menu default outside the ks entry: %q", l.raw)
			}
		}
	}
	for _, e := range entries {
		if isKickstartLabel(e.name) {
			ksLabels++
			if e.appendLine < 0 || !strings.HasSuffix(lines[e.appendLine].raw, " "+KickstartArg) {
				t.Errorf("ks entry does not append %s", KickstartArg)
			}
		}
	}
	if defaults != 1 || menuDefaults != 1 || ksLabels != 1 {
		t.Errorf("got %d \"default ks\", %d \"menu default\", %d ks labels; want 1 each:\n%s", defaults, menuDefaults, ksLabels, out)
	}
	have := map[string]int{}
	for _, e := range entries {
		have[strings.ToLower(e.name)]++
	}
	_, base := parseCfg(in)
	for _, e := range base {
		if isKickstartLabel(e.name) {
			continue
		}
		if have[strings.ToLower(e.name)] == 0 {
			t.Errorf("label %q of the base was lost", e.name)
		}
		have[strings.ToLower(e.name)]--
	}
}
