package ubuntu

// TestDebianInstallerPartitionsOSDiskOnly boots a real debian-installer
// in qemu with the MT's preseed and two blank SCSI disks, lets partman
// partition, format and mount, and checks the disks' raw images: the OS
// disk has the MT layout as plain partitions (no LVM), the retention disk
// is byte for byte what it was.
//
// What stands in: bookworm's d-i (Debian 12: partman-base 226,
// partman-auto 162, the rest of partman from trixie; mk/di-initrd.sh) for
// xenial's (Ubuntu 16.04.2), whose sources were not checked here. The
// recipe syntax this preseed uses (min priority max fs, $primary{ },
// $bootable{ }, method{ }, format{ }, use_filesystem{ }, filesystem{ },
// mountpoint{ }), partman-auto/disk and /method, the confirmation keys and
// partman-base's MB of 10^6 bytes are partman's from long before 16.04.
// Known to differ in newer partman-auto, none of it used here: RAM caps
// for swap recipes (partman-auto/cap-ram), EFI/GPT handling, more
// recipe flags.
// The boot is BIOS (msdos label), as a vSphere VM with the LSI Logic
// controller boots 16.04.
//
// It takes about 3 minutes under TCG (2m47s on 2 cores): MTPREP_DI_TEST=1
// (make di-test) or CI=true runs it.

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/mtprep/mtprep/linux"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtprep/mtprep/internal/testiso"
	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/spec"
	"github.com/mtprep/mtprep/provision/spec/spectest"
)

const diImages = "/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64"

// Serial markers of the test-only early command (which quotes part of
// each, so the command's own text never matches).
const (
	diReportBegin = "MTPREP-DI-REPORT-BEGIN"
	diReportEnd   = "MTPREP-DI-REPORT-END"
	diDone        = "MTPREP-DI-DONE"
)

// diTestLines are appended to the MT's preseed, which is otherwise as
// Media.Seed renders it: no network in qemu (and so no netcfg), and an
// early command (the MT's preseed has none) that waits for partman to have
// mounted the three file systems on /target, reports on the serial port
// and powers the VM off before d-i would install anything. Its background
// jobs close debconf's file descriptors (3 and up), or the frontend waits
// for them.
const diTestLines = `
# --- test only (ubuntu/di_qemu_test.go) ---
d-i netcfg/enable boolean false
d-i preseed/early_command string ( tail -n +1 -f /var/log/syslog | sed "s/^/syslog: /" ) </dev/null >/dev/ttyS0 2>&1 3>&- 4>&- 5>&- 6>&- & ( while ! grep -q " /target/var/crash " /proc/mounts || ! grep -q " /target/home " /proc/mounts; do sleep 3; done; sleep 5; exec >/dev/ttyS0 2>&1; echo; echo MTPREP-DI-REPORT-"BEGIN"; cat /proc/partitions; for p in /sys/block/sd?/sd*; do echo "$p start=$(cat $p/start) size=$(cat $p/size)"; done; grep " /target" /proc/mounts; cat /proc/swaps; blkid; echo MTPREP-DI-REPORT-"END"; swapoff -a; umount /target/home /target/var/crash /target; sync; echo MTPREP-DI-"DONE"; echo o > /proc/sysrq-trigger ) </dev/null >/dev/null 2>&1 3>&- 4>&- 5>&- 6>&- &
`

func TestDebianInstallerPartitionsOSDiskOnly(t *testing.T) {
	ci := os.Getenv("CI") == "true"
	if os.Getenv("MTPREP_DI_TEST") != "1" && !ci {
		t.Skip("boots debian-installer in qemu (about 3 minutes under TCG): set MTPREP_DI_TEST=1 (make di-test); CI=true runs it too")
	}
	// As the other boot tests: with CI=true a missing host requirement
	// fails the test rather than skipping it.
	missing := t.Skip
	if ci {
		missing = t.Fatal
	}
	if os.Geteuid() != 0 {
		missing("needs root (mk/di-initrd.sh unpacks d-i's initrd with its owners)")
	}
	if _, err := exec.LookPath(testiso.QEMU); err != nil {
		missing("needs " + testiso.QEMU + " (Debian package qemu-system-x86)")
	}
	if _, err := os.Stat(filepath.Join(diImages, "initrd.gz")); err != nil {
		missing("needs the Debian package debian-installer-12-netboot-amd64 (.ci/apt-packages.d/iso.txt)")
	}
	start := time.Now()
	cache := os.Getenv("MTPREP_DI_DIR")
	if cache == "" {
		cache = filepath.Join("..", "build", "di")
	}
	mk := exec.Command("sh", filepath.Join("..", "mk", "di-initrd.sh"), cache)
	if out, err := mk.CombinedOutput(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() == 3 {
			// The archive's udebs are not the project's to keep: a mirror
			// that lacks one is no verdict on the preseed.
			t.Skipf("mk/di-initrd.sh could not download d-i's udebs:\n%s", out)
		}
		t.Fatalf("mk/di-initrd.sh: %v\n%s", err, out)
	}
	t.Logf("d-i initrd ready after %s", time.Since(start).Round(time.Second))

	// The spec's minimums (spec.Validate: 6 GB of memory, a 100 GB OS
	// disk), which is examples/mt01.yaml's VM: / 40 GiB, swap 6 GiB,
	// /var/crash 7 GiB, /home the rest. The memory only sizes the recipe;
	// the VM that runs d-i has 1 GiB. The disks are sparse files.
	const memoryMB, osDiskGB, retentionGB = 6144, 100, 1
	y := strings.Replace(spectest.Valid, "os: centos-6.6", "os: ubuntu-16.04", 1)
	y = strings.Replace(y, "retentionDiskGB: 1024", fmt.Sprintf("retentionDiskGB: %d", retentionGB), 1)
	s, err := spec.Parse("mt01.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	files, err := Media{}.Seed(s, guest.SeedInput{RootPassword: "di-test", AuthorizedKey: userKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1 || files[0].Name != SeedName {
		t.Fatalf("seed files %v: want one %s", files, SeedName)
	}
	mt := files[0].Data
	if bytes.Contains(mt, []byte("preseed/early_command")) || bytes.Contains(mt, []byte("netcfg/enable boolean false")) {
		t.Fatal("the MT's preseed sets what the test appends: the test would not be testing it as it is")
	}
	preseed := append(append([]byte{}, mt...), diTestLines...)

	dir := t.TempDir()
	initrd := filepath.Join(dir, "initrd.gz")
	if err := writeInitrdWithPreseed(initrd, filepath.Join(cache, "initrd.gz"), preseed); err != nil {
		t.Fatal(err)
	}
	sda, sdb := filepath.Join(dir, "sda.raw"), filepath.Join(dir, "sdb.raw")
	for _, d := range []struct {
		path string
		gb   int64
	}{{sda, osDiskGB}, {sdb, retentionGB}} {
		f, err := os.Create(d.path)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(d.gb << 30); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	before := fileHash(t, sdb)

	var live io.Writer
	if testing.Verbose() {
		live = os.Stderr
	}
	if p := os.Getenv("MTPREP_DI_SERIAL"); p != "" {
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		live = f
	}
	bootStart := time.Now()
	serial, found, err := testiso.BootKernel(context.Background(), testiso.KernelBoot{
		Kernel: filepath.Join(cache, "linux"), Initrd: initrd,
		Append:   "console=ttyS0 priority=critical DEBIAN_FRONTEND=text locale=en_US.UTF-8 keymap=us ---",
		Disks:    []string{sda, sdb},
		MemoryMB: 1024,
		Done:     []string{diDone},
	}, 40*time.Minute, live)
	boot := time.Since(bootStart).Round(time.Second)
	if err != nil || !found {
		t.Fatalf("d-i did not finish partitioning (%v, after %s); serial tail:\n%s", err, boot, tail(serial, 4000))
	}
	report := between(serial, diReportBegin, diReportEnd)
	t.Logf("d-i partitioned in %s (whole test %s); its report:\n%s", boot, time.Since(start).Round(time.Second), report)

	// The retention disk: not a byte changed.
	if after := fileHash(t, sdb); after != before {
		t.Errorf("the retention disk (sdb) changed: sha256 %x before, %x after", before, after)
	}
	if strings.Contains(report, "sdb1") {
		t.Errorf("d-i reports a partition on sdb:\n%s", report)
	}

	// The OS disk: the MT layout, plain partitions.
	parts, err := mbrPartitions(sda)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := linux.Layout(memoryMB, osDiskGB)
	if len(parts) != len(want) {
		t.Fatalf("sda has %d partitions %+v: want %d (%+v)", len(parts), parts, len(want), want)
	}
	img, err := os.Open(sda)
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	for i, p := range parts {
		w := want[i]
		sizeMB := p.Sectors * 512 >> 20
		t.Logf("sda partition %d: type %#02x start %d sectors %d (%d MiB), want %s %s %d MiB%s", i+1, p.Type, p.Start, p.Sectors, sizeMB, w.Mount, w.FSType, w.SizeMB, map[bool]string{true: " or more"}[w.Grow])
		if p.Type == 0x8e {
			t.Errorf("partition %d is Linux LVM (0x8e)", i+1)
		}
		if lvm := readAt(t, img, p.Start*512+512, 8); string(lvm) == "LABELONE" {
			t.Errorf("partition %d is an LVM physical volume (LABELONE)", i+1)
		}
		// Layout's MiB: the recipe rounds them up to partman's MB (10^6
		// bytes, RecipeMB) and partman aligns partitions to 1 MiB.
		lo, hi := int64(w.SizeMB)-1, int64(w.SizeMB)*101/100+1
		if w.Grow {
			hi = osDiskGB << 10
		}
		if sizeMB < lo || sizeMB > hi {
			t.Errorf("partition %d (%s): %d MiB, want %d–%d", i+1, w.Mount, sizeMB, lo, hi)
		}
		switch w.FSType {
		case "swap":
			if p.Type != 0x82 {
				t.Errorf("partition %d (swap): type %#02x, want 0x82", i+1, p.Type)
			}
			if sig := readAt(t, img, p.Start*512+4096-10, 10); string(sig) != "SWAPSPACE2" {
				t.Errorf("partition %d: no swap signature (%q)", i+1, sig)
			}
		case "ext4":
			if p.Type != 0x83 {
				t.Errorf("partition %d (%s): type %#02x, want 0x83", i+1, w.Mount, p.Type)
			}
			sb := readAt(t, img, p.Start*512+1024, 1024)
			// s_magic 0xEF53; ext4: the extents incompat feature (0x40).
			if binary.LittleEndian.Uint16(sb[0x38:]) != 0xEF53 {
				t.Errorf("partition %d (%s): no ext2/3/4 superblock", i+1, w.Mount)
			} else if binary.LittleEndian.Uint32(sb[0x60:])&0x40 == 0 {
				t.Errorf("partition %d (%s): ext2/3, not ext4 (incompat %#x)", i+1, w.Mount, binary.LittleEndian.Uint32(sb[0x60:]))
			}
		}
	}
	if !parts[0].Boot {
		t.Error("partition 1 (/) is not marked bootable ($bootable{ })")
	}
	for _, m := range []string{"/target ", "/target/var/crash ", "/target/home "} {
		if !strings.Contains(report, m) {
			t.Errorf("d-i did not mount %s", m)
		}
	}
	if strings.Contains(report, "LVM2_member") || strings.Contains(report, "/dev/mapper") {
		t.Errorf("LVM in d-i's report:\n%s", report)
	}
}

// writeInitrdWithPreseed writes base followed by a gzipped newc cpio
// holding /preseed.cfg: the kernel unpacks both, and d-i's initrd-preseed
// reads /preseed.cfg.
func writeInitrdWithPreseed(out, base string, preseed []byte) error {
	b, err := os.ReadFile(base)
	if err != nil {
		return err
	}
	var c bytes.Buffer
	entry := func(name string, mode int, data []byte) {
		fmt.Fprintf(&c, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
			0, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
		c.WriteString(name + "\x00")
		for c.Len()%4 != 0 {
			c.WriteByte(0)
		}
		c.Write(data)
		for c.Len()%4 != 0 {
			c.WriteByte(0)
		}
	}
	entry("preseed.cfg", 0o100644, preseed)
	entry("TRAILER!!!", 0, nil)
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	zw.Write(c.Bytes())
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(out, append(b, z.Bytes()...), 0o644)
}

type mbrPart struct {
	Type           byte
	Boot           bool
	Start, Sectors int64 // in 512-byte sectors, from the disk's start
}

// mbrPartitions reads an msdos label: the primary partitions, and the
// logical ones through the extended partition's chain, extended entries
// themselves left out.
func mbrPartitions(path string) ([]mbrPart, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sector := func(lba int64) ([]byte, error) {
		b := make([]byte, 512)
		if _, err := f.ReadAt(b, lba*512); err != nil {
			return nil, err
		}
		if b[510] != 0x55 || b[511] != 0xaa {
			return nil, fmt.Errorf("%s: sector %d has no 55aa signature", path, lba)
		}
		return b, nil
	}
	entry := func(b []byte, i int) (byte, bool, int64, int64) {
		e := b[446+16*i:]
		return e[4], e[0] == 0x80, int64(binary.LittleEndian.Uint32(e[8:])), int64(binary.LittleEndian.Uint32(e[12:]))
	}
	mbr, err := sector(0)
	if err != nil {
		return nil, err
	}
	var out []mbrPart
	for i := range 4 {
		typ, boot, start, n := entry(mbr, i)
		switch typ {
		case 0:
		case 0x05, 0x0f, 0x85:
			ext := start
			for ebr := ext; ; {
				b, err := sector(ebr)
				if err != nil {
					return nil, err
				}
				t1, b1, s1, n1 := entry(b, 0)
				if t1 != 0 {
					out = append(out, mbrPart{Type: t1, Boot: b1, Start: ebr + s1, Sectors: n1})
				}
				t2, _, s2, _ := entry(b, 1)
				if t2 == 0 || len(out) > 64 {
					break
				}
				ebr = ext + s2
			}
		default:
			out = append(out, mbrPart{Type: typ, Boot: boot, Start: start, Sectors: n})
		}
	}
	return out, nil
}

func readAt(t *testing.T, f *os.File, off int64, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	return b
}

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

func between(s, begin, end string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	if i := strings.LastIndex(s, begin); i >= 0 {
		s = s[i+len(begin):]
		if j := strings.Index(s, end); j >= 0 {
			return strings.TrimSpace(s[:j])
		}
	}
	return ""
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
