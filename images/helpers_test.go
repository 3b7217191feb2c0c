package images

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
)

// baseTree is a tree shaped like CentOS 6.6 minimal, with contents small
// enough for unit tests. Boot files are random bytes: these tests do not
// boot (boot_test.go does).
type baseTree struct {
	files map[string][]byte
	links map[string]string // symlink -> target (go-diskfs builds only)
}

func centosTree(t *testing.T) baseTree {
	t.Helper()
	cfg, err := os.ReadFile(filepath.Join("testdata", "isolinux", "centos66-minimal.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	return baseTree{
		files: map[string][]byte{
			// As pungi has makestamp.py write it: media id, "<product> <version>", arch, discs.
			".discinfo":              []byte("1414159991.958686\nCentOS 6.6\nx86_64\n1\n"),
			".treeinfo":              []byte(treeinfo66),
			"isolinux/isolinux.cfg":  cfg,
			"isolinux/isolinux.bin":  random(1, 24576),
			"isolinux/boot.msg":      []byte("\nPress the <ENTER> key to begin the installation process.\n"),
			"isolinux/vmlinuz":       random(2, 300_001),
			"isolinux/initrd.img":    random(3, 2*2048),
			"images/efiboot.img":     random(4, 64<<10),
			"images/pxeboot/vmlinuz": random(2, 300_001),
			"images/install.img":     random(5, 1<<20+17),
			"EFI/BOOT/BOOTX64.efi":   random(6, 5000),
			"Packages/Long-Mixed_Case.name-1.2.3-4.el6.x86_64.rpm": random(7, 777_777),
			"Packages/openssh-server-5.3p1-104.el6.x86_64.rpm":     random(8, 2048*3),
			"Packages/empty-0-0.el6.noarch.rpm":                    {},
			"repodata/a1b2c3d4e5f6-primary.sqlite.bz2":             random(9, 12345),
			"deep/a/b/c/d/e/f/README":                              []byte("seven levels down\n"),
		},
		links: map[string]string{"isolinux/LINK.cfg": "isolinux.cfg"},
	}
}

// treeinfo66 is CentOS 6.6's .treeinfo as anaconda's buildinstall writes
// it (the pre-productmd [general] section).
const treeinfo66 = `[general]
family = CentOS
timestamp = 1414159991.96
variant = 
totaldiscs = 1
version = 6.6
discnum = 1
packagedir = 
arch = x86_64

[images-x86_64]
kernel = images/pxeboot/vmlinuz
initrd = images/pxeboot/initrd.img

[images-xen]
kernel = images/pxeboot/vmlinuz
initrd = images/pxeboot/initrd.img

[stage2]
mainimage = images/install.img
`

func random(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 42))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// writeTree writes tr under dir with fixed times.
func writeTree(t *testing.T, dir string, tr baseTree) {
	t.Helper()
	when := time.Date(2014, 10, 24, 14, 53, 11, 0, time.UTC)
	for rel, data := range tr.files {
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, when, when); err != nil {
			t.Fatal(err)
		}
	}
	for rel, target := range tr.links {
		if err := os.Symlink(target, filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
			t.Fatal(err)
		}
	}
}

// diskfsISO builds an ISO of tr with go-diskfs (Rock Ridge, El Torito
// like CentOS when isolinux.bin is there) and returns its path.
func diskfsISO(t *testing.T, tr baseTree, label string) string {
	t.Helper()
	dir := t.TempDir()
	ws := filepath.Join(dir, "ws")
	writeTree(t, ws, tr)
	var size int64 = 1 << 20
	for _, b := range tr.files {
		size += int64(len(b)) + 4096
	}
	out := filepath.Join(dir, "base.iso")
	d, err := diskfs.Create(out, size, diskfs.SectorSize(2048))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	fsys, err := d.CreateFilesystem(disk.FilesystemSpec{Partition: 0, FSType: filesystem.TypeISO9660, VolumeLabel: label, WorkDir: ws})
	if err != nil {
		t.Fatal(err)
	}
	o := iso9660.FinalizeOptions{RockRidge: true, VolumeIdentifier: label}
	if _, ok := tr.files["isolinux/isolinux.bin"]; ok {
		bios := &iso9660.ElToritoEntry{Platform: iso9660.BIOS, Emulation: iso9660.NoEmulation, BootFile: "isolinux/isolinux.bin", BootTable: true}
		bios.SetLoadSize(4)
		o.ElTorito = &iso9660.ElTorito{BootCatalog: "isolinux/boot.cat", Entries: []*iso9660.ElToritoEntry{bios}}
	}
	if err := fsys.(*iso9660.FileSystem).Finalize(o); err != nil {
		t.Fatal(err)
	}
	return out
}

// xorrisoISO builds tr with xorriso's mkisofs mode, Rock Ridge and Joliet
// (it accepts -T but writes no TRANS.TBL; see pungiISO for that).
func xorrisoISO(t *testing.T, tr baseTree, label string) string {
	t.Helper()
	requireTool(t, "xorriso")
	dir := t.TempDir()
	ws := filepath.Join(dir, "ws")
	tr.links = nil
	writeTree(t, ws, tr)
	out := filepath.Join(dir, "base.iso")
	cmd := exec.Command("xorriso", "-as", "mkisofs", "-quiet", "-R", "-J", "-T", "-V", label,
		"-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat", "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table",
		"-eltorito-alt-boot", "-e", "images/efiboot.img", "-no-emul-boot", "-o", out, ws)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xorriso: %v\n%s", err, b)
	}
	return out
}

// pungiISO builds tr with genisoimage and the flags pungi gives mkisofs
// for CentOS 6 media: -v -U -J -R -T (untranslated ISO 9660 names, Joliet,
// Rock Ridge, a TRANS.TBL in every directory), isolinux El Torito with a
// boot info table, the EFI image as the alternative entry. xorriso's
// mkisofs mode writes no TRANS.TBL, so this is the base like the real one.
func pungiISO(t *testing.T, tr baseTree, label string) string {
	t.Helper()
	requireTool(t, "genisoimage")
	dir := t.TempDir()
	ws := filepath.Join(dir, "ws")
	tr.links = nil
	writeTree(t, ws, tr)
	out := filepath.Join(dir, "base.iso")
	args := []string{"-quiet", "-U", "-J", "-R", "-T", "-V", label, "-o", out}
	if _, ok := tr.files["isolinux/isolinux.bin"]; ok {
		args = append(args, "-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat", "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table")
	}
	if _, ok := tr.files["images/efiboot.img"]; ok {
		args = append(args, "-eltorito-alt-boot", "-e", "images/efiboot.img", "-no-emul-boot")
	}
	if b, err := exec.Command("genisoimage", append(args, ws)...).CombinedOutput(); err != nil {
		t.Fatalf("genisoimage: %v\n%s", err, b)
	}
	return out
}

// requireTool skips without tool, but fails in CI (CI=true), where
// .ci/apt-packages.d/iso.txt installs it: tests must not silently vanish.
func requireTool(t *testing.T, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (CI=true; see .ci/apt-packages.d/iso.txt)", tool)
		}
		t.Skipf("%s is not installed (apt-get install it; see .ci/apt-packages.d/iso.txt)", tool)
	}
}

func sha256File(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// listDir returns the names in dir, for "nothing left behind" checks.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func withFile(tr baseTree, rel string, data []byte) baseTree {
	files := make(map[string][]byte, len(tr.files))
	for k, v := range tr.files {
		files[k] = v
	}
	if data == nil {
		delete(files, rel)
	} else {
		files[rel] = data
	}
	return baseTree{files: files, links: tr.links}
}
