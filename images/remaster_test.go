package images

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const testKS = "# mtprep remaster test kickstart\ninstall\ncdrom\nlang en_US.UTF-8\nreboot\n"

func TestRemasterRoundTrip(t *testing.T) {
	tr := centosTree(t)
	tests := []struct {
		name string
		base func() string
	}{
		{"go-diskfs base", func() string { return diskfsISO(t, tr, "CentOS 6.6 x86_64") }},
		{"xorriso base (RR+Joliet)", func() string { return xorrisoISO(t, tr, "CentOS 6.6 x86_64") }},
		{"genisoimage base as pungi makes CentOS's (-U -J -R -T)", func() string { return pungiISO(t, tr, "CentOS_6.6_Final") }},
		{"base without EFI", func() string {
			return diskfsISO(t, withFile(tr, "images/efiboot.img", nil), "CentOS 6.6 x86_64")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := tt.base()
			outDir := t.TempDir()
			out := filepath.Join(outDir, "mt01.iso")
			var stages []string
			res, err := Remaster(context.Background(), RemasterOptions{
				Base: base, Out: out, Kickstart: []byte(testKS), Timeout: 3 * time.Second,
				Progress: func(stage string, done, total int64) {
					if done > total {
						t.Errorf("progress %s: done %d > total %d", stage, done, total)
					}
					if !slices.Contains(stages, stage) {
						stages = append(stages, stage)
					}
				},
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{StageHash, StageWorkspace, StageLayout, StageCopy} {
				if !slices.Contains(stages, s) {
					t.Errorf("no progress for stage %s (got %v)", s, stages)
				}
			}
			if got := listDir(t, outDir); !slices.Equal(got, []string{"mt01.iso"}) {
				t.Errorf("output directory holds %v, want only mt01.iso", got)
			}
			verifyRemaster(t, base, res, 30)
		})
	}
}

// verifyRemaster reads the new ISO back and checks everything the issue
// asks of it.
func verifyRemaster(t *testing.T, base string, res *Result, tenths int) {
	t.Helper()
	if res.SHA256 != sha256File(t, res.Out) {
		t.Errorf("Result.SHA256 %s is not the output's", res.SHA256)
	}
	if res.Base.SHA256 != sha256File(t, base) {
		t.Errorf("Result.Base.SHA256 %s is not the base's", res.Base.SHA256)
	}
	fi, err := os.Stat(res.Out)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != res.Size {
		t.Errorf("Result.Size %d, file has %d", res.Size, fi.Size())
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("output mode %v, want 0600 (it holds secrets)", fi.Mode().Perm())
	}

	b, err := openISO(base)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	o, err := openISO(res.Out)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	baseEntries, _, err := b.tree()
	if err != nil {
		t.Fatal(err)
	}
	_, outByPath, err := o.tree()
	if err != nil {
		t.Fatal(err)
	}
	read := func(img *isoImage, p string) []byte {
		t.Helper()
		data, err := img.readSmall(p, 1<<30)
		if err != nil {
			t.Fatalf("read %s: %v", p, err)
		}
		return data
	}

	// Every base file, with the same bytes, except what the remaster
	// must change, and the TRANS.TBL files it drops (see dropTransTables).
	for _, e := range baseEntries {
		n, ok := outByPath[e.path]
		if path.Base(e.path) == transTable {
			if ok {
				t.Errorf("%s of the base was kept; its ISO 9660 names are stale in the new ISO", e.path)
			}
			continue
		}
		if !ok {
			t.Errorf("%s of the base is missing", e.path)
			continue
		}
		switch {
		case e.mode.IsDir() != n.mode.IsDir(), e.mode&fs.ModeSymlink != n.mode&fs.ModeSymlink:
			t.Errorf("%s: type %v, base has %v", e.path, n.mode.Type(), e.mode.Type())
		case e.mode&fs.ModeSymlink != 0:
			if n.target != e.target {
				t.Errorf("symlink %s -> %q, base has %q", e.path, n.target, e.target)
			}
		case e.mode.IsDir(), e.path == bootCatalogPath, e.path == isolinuxCfgPath, e.path == kickstartPath:
		case e.path == isolinuxBinPath:
			// Bytes 8-63 are the boot info table, written for the new ISO.
			got, want := read(o, e.path), read(b, e.path)
			if len(got) != len(want) || !bytes.Equal(got[:8], want[:8]) || !bytes.Equal(got[64:], want[64:]) {
				t.Errorf("%s differs outside the boot info table", e.path)
			}
		default:
			if !bytes.Equal(read(o, e.path), read(b, e.path)) {
				t.Errorf("%s: bytes differ from the base", e.path)
			}
			if !n.modTime.Equal(e.modTime) {
				t.Errorf("%s: mtime %v, base has %v", e.path, n.modTime, e.modTime)
			}
		}
	}
	if got := string(read(o, kickstartPath)); got != testKS {
		t.Errorf("ks.cfg = %q, want %q", got, testKS)
	}
	wantCfg, err := RewriteIsolinuxCfg(read(b, isolinuxCfgPath), time.Duration(tenths)*100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if got := read(o, isolinuxCfgPath); !bytes.Equal(got, wantCfg) {
		t.Errorf("isolinux.cfg:\n%s\nwant\n%s", got, wantCfg)
	}

	// Rock Ridge names, through go-diskfs itself.
	des, err := o.fs.ReadDir("Packages")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range des {
		names = append(names, d.Name())
	}
	if !slices.Contains(names, "Long-Mixed_Case.name-1.2.3-4.el6.x86_64.rpm") {
		t.Errorf("Rock Ridge name lost; Packages has %v", names)
	}

	// No Joliet, the base's label.
	vd := make([]byte, sectorSize)
	for s := int64(16); ; s++ {
		if _, err := o.f.ReadAt(vd, s*sectorSize); err != nil {
			t.Fatal(err)
		}
		if vd[0] == 2 {
			t.Error("the output has a supplementary (Joliet) volume descriptor; ISOLINUX cannot boot it")
		}
		if vd[0] == 255 {
			break
		}
	}
	if got, want := strings.TrimRight(o.fs.Label(), " \x00"), strings.TrimRight(b.fs.Label(), " \x00"); got != want {
		t.Errorf("volume label %q, want %q", got, want)
	}

	// El Torito: BIOS isolinux.bin, no emulation, load size 4, boot info
	// table; EFI image when the base has one.
	cat, err := bootCatalogSector(o.f)
	if err != nil || cat == 0 {
		t.Fatalf("boot catalog: %d, %v", cat, err)
	}
	if e := outByPath[bootCatalogPath]; e.location != cat {
		t.Errorf("%s is at sector %d, the boot record says %d", bootCatalogPath, e.location, cat)
	}
	c := make([]byte, 128)
	if _, err := o.f.ReadAt(c, int64(cat)*sectorSize); err != nil {
		t.Fatal(err)
	}
	bin := outByPath[isolinuxBinPath]
	if c[0] != 1 || c[1] != 0 || c[30] != 0x55 || c[31] != 0xAA {
		t.Errorf("bad validation entry % x", c[:32])
	}
	if c[32] != 0x88 || c[33] != 0 || binary.LittleEndian.Uint16(c[38:40]) != 4 || binary.LittleEndian.Uint32(c[40:44]) != bin.location {
		t.Errorf("bad BIOS entry % x (isolinux.bin at %d)", c[32:64], bin.location)
	}
	table := read(o, isolinuxBinPath)[8:24]
	if binary.LittleEndian.Uint32(table[0:4]) != 16 || binary.LittleEndian.Uint32(table[4:8]) != bin.location ||
		int64(binary.LittleEndian.Uint32(table[8:12])) != bin.size {
		t.Errorf("bad boot info table % x", table)
	}
	if efi, ok := outByPath[efiImagePath]; ok {
		if !res.Base.HasEFI {
			t.Error("Result.Base.HasEFI is false")
		}
		if c[64] != 0x91 || c[65] != 0xEF || c[96] != 0x88 || binary.LittleEndian.Uint32(c[104:108]) != efi.location {
			t.Errorf("bad EFI section % x (efiboot.img at %d)", c[64:128], efi.location)
		}
	} else if c[64] != 0 {
		t.Errorf("an El Torito section without an EFI image: % x", c[64:96])
	}

	xorrisoCompare(t, base, res.Out)
}

// xorrisoCompare extracts both ISOs with xorriso, an independent reader,
// and compares the trees: only isolinux.cfg, isolinux.bin (boot info
// table), boot.cat and the new ks.cfg may differ, and TRANS.TBL files go.
func xorrisoCompare(t *testing.T, base, out string) {
	t.Helper()
	requireTool(t, "xorriso")
	extract := func(iso string) string {
		dir := filepath.Join(t.TempDir(), "x")
		b, err := exec.Command("xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/", dir).CombinedOutput()
		if err != nil || bytes.Contains(b, []byte("FAILURE")) || bytes.Contains(b, []byte("SORRY")) {
			t.Fatalf("xorriso -extract %s: %v\n%s", iso, err, b)
		}
		return dir
	}
	bd, od := extract(base), extract(out)
	files := func(root string) map[string][]byte {
		m := map[string][]byte{}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if d.Type()&fs.ModeSymlink != 0 {
				target, err := os.Readlink(p)
				m[rel] = []byte("-> " + target)
				return err
			}
			m[rel], err = os.ReadFile(p)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	bf, of := files(bd), files(od)
	changed := map[string]bool{"isolinux/isolinux.cfg": true, "isolinux/isolinux.bin": true, "isolinux/boot.cat": true, "ks.cfg": true}
	for rel, data := range bf {
		if changed[rel] || filepath.Base(rel) == transTable {
			continue
		}
		if got, ok := of[rel]; !ok || !bytes.Equal(got, data) {
			t.Errorf("xorriso: %s missing or different in the output", rel)
		}
	}
	for rel := range of {
		if _, ok := bf[rel]; !ok && rel != "ks.cfg" {
			t.Errorf("xorriso: unexpected %s in the output", rel)
		}
	}
}

func TestRemasterAllowUnknownBase(t *testing.T) {
	tr := withFile(withFile(centosTree(t), ".discinfo", []byte("1385726732.061157\nCentOS 6.5\nx86_64\n1\n")),
		".treeinfo", []byte(strings.Replace(treeinfo66, "version = 6.6", "version = 6.5", 1)))
	base := diskfsISO(t, tr, "CentOS 6.5 x86_64")
	out := filepath.Join(t.TempDir(), "mt01.iso")
	_, err := Remaster(context.Background(), RemasterOptions{Base: base, Out: out, Kickstart: []byte(testKS)})
	if !errors.Is(err, ErrUnknownBase) || !strings.Contains(err.Error(), `"6.5"`) {
		t.Fatalf("err = %v, want ErrUnknownBase naming 6.5", err)
	}
	res, err := Remaster(context.Background(), RemasterOptions{Base: base, Out: out, Kickstart: []byte(testKS), AllowUnknownBase: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Base.Version != "6.5" {
		t.Errorf("Base.Version = %q", res.Base.Version)
	}
	verifyRemaster(t, base, res, 50)
}

// TestRemasterRemastered remasters an already remastered ISO (a re-run
// with a new kickstart): one ks entry, the new kickstart.
func TestRemasterRemastered(t *testing.T) {
	base := diskfsISO(t, centosTree(t), "CentOS 6.6 x86_64")
	dir := t.TempDir()
	first := filepath.Join(dir, "first.iso")
	if _, err := Remaster(context.Background(), RemasterOptions{Base: base, Out: first, Kickstart: []byte("old\n")}); err != nil {
		t.Fatal(err)
	}
	res, err := Remaster(context.Background(), RemasterOptions{Base: first, Out: filepath.Join(dir, "second.iso"), Kickstart: []byte(testKS)})
	if err != nil {
		t.Fatal(err)
	}
	verifyRemaster(t, first, res, 50)
}

// TestRemasterFailureLeavesNothing: whatever goes wrong, the output
// directory ends as it began (an existing output untouched) and no
// temporary file or scratch directory is left.
func TestRemasterFailureLeavesNothing(t *testing.T) {
	tr := centosTree(t)
	good := diskfsISO(t, tr, "CentOS 6.6 x86_64")
	noCfg := diskfsISO(t, withFile(tr, "isolinux/isolinux.cfg", nil), "CentOS 6.6 x86_64")
	unknown := diskfsISO(t, withFile(tr, ".treeinfo", nil), "X")
	previous := []byte("a previous, good ISO")

	cancelAt := func(stage string) func(context.CancelFunc) func(string, int64, int64) {
		return func(cancel context.CancelFunc) func(string, int64, int64) {
			return func(s string, done, total int64) {
				if s == stage && (done > 0 || stage == StageLayout) {
					cancel()
				}
			}
		}
	}
	tests := []struct {
		name     string
		base     string
		out      func(dir string) string
		progress func(context.CancelFunc) func(string, int64, int64)
		pre      bool // cancel before the call
		want     error
	}{
		{name: "cancelled before start", base: good, pre: true, want: context.Canceled},
		{name: "cancelled while hashing", base: good, progress: cancelAt(StageHash), want: context.Canceled},
		{name: "cancelled in workspace", base: good, progress: cancelAt(StageWorkspace), want: context.Canceled},
		{name: "cancelled in layout", base: good, progress: cancelAt(StageLayout), want: context.Canceled},
		{name: "cancelled while copying", base: good, progress: cancelAt(StageCopy), want: context.Canceled},
		{name: "unknown base", base: unknown, want: ErrUnknownBase},
		{name: "base without isolinux.cfg", base: noCfg, want: ErrUnknownBase},
		{name: "output directory missing", base: good, out: func(dir string) string { return filepath.Join(dir, "nodir", "mt01.iso") }},
		{name: "output is a directory", base: good, out: func(dir string) string { return dir }},
		{name: "output is the base", base: good, out: func(string) string { return good }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "mt01.iso")
			if tt.out != nil {
				out = tt.out(dir)
			}
			if err := os.WriteFile(filepath.Join(dir, "mt01.iso"), previous, 0o644); err != nil {
				t.Fatal(err)
			}
			baseSum := sha256File(t, tt.base)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			o := RemasterOptions{Base: tt.base, Out: out, Kickstart: []byte(testKS)}
			if tt.progress != nil {
				o.Progress = tt.progress(cancel)
			}
			if tt.pre {
				cancel()
			}
			_, err := Remaster(ctx, o)
			if err == nil {
				t.Fatal("Remaster succeeded")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
			if got := listDir(t, dir); !slices.Equal(got, []string{"mt01.iso"}) {
				t.Errorf("left behind: %v", got)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "mt01.iso")); !bytes.Equal(b, previous) {
				t.Error("the existing output was changed")
			}
			if sha256File(t, tt.base) != baseSum {
				t.Error("the base was changed")
			}
			for _, d := range []string{filepath.Dir(tt.base)} {
				for _, n := range listDir(t, d) {
					if strings.Contains(n, "tmp") || strings.Contains(n, "scratch") {
						t.Errorf("left behind next to the base: %s", n)
					}
				}
			}
		})
	}
}

func TestRemasterReplacesOutput(t *testing.T) {
	base := diskfsISO(t, centosTree(t), "CentOS 6.6 x86_64")
	out := filepath.Join(t.TempDir(), "mt01.iso")
	if err := os.WriteFile(out, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Remaster(context.Background(), RemasterOptions{Base: base, Out: out, Kickstart: []byte(testKS)})
	if err != nil {
		t.Fatal(err)
	}
	verifyRemaster(t, base, res, 50)
}

func TestRemasterOptionErrors(t *testing.T) {
	base := diskfsISO(t, centosTree(t), "CentOS 6.6 x86_64")
	out := filepath.Join(t.TempDir(), "o.iso")
	tests := map[string]RemasterOptions{
		"no base":      {Out: out, Kickstart: []byte(testKS)},
		"no out":       {Base: base, Kickstart: []byte(testKS)},
		"no kickstart": {Base: base, Out: out},
		"long timeout": {Base: base, Out: out, Kickstart: []byte(testKS), Timeout: 2 * time.Hour},
		"missing base": {Base: base + ".nothere", Out: out, Kickstart: []byte(testKS)},
	}
	for name, o := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := Remaster(context.Background(), o); err == nil || !strings.HasPrefix(err.Error(), "iso:") {
				t.Errorf("err = %v, want an iso: error", err)
			}
		})
	}
}

func TestCheckSpace(t *testing.T) {
	dir := t.TempDir()
	if err := checkSpace(dir, 1<<20, slog.New(slog.DiscardHandler)); err != nil {
		t.Errorf("1 MiB: %v", err)
	}
	err := checkSpace(dir, 1<<60, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "not enough free space in "+dir) {
		t.Errorf("1 EiB: err = %v, want a clear free-space error", err)
	}
}
