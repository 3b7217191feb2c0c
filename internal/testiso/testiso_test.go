package testiso

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseSerial(t *testing.T) {
	serial := "SeaBIOS\r\n[    2.2] Run /init as init process\r\n" +
		"MTPREP-CMDLINE: BOOT_IMAGE=vmlinuz initrd=initrd.img ks=cdrom:/ks.cfg\r\n" +
		"[    2.9] cdrom: Uniform CD-ROM driver\r\n" +
		"MTPREP-KS-SOURCE: sr1\r\n" +
		"MTPREP-KS-BEGIN\r\n# ks\r\ninstall\r\n\r\nreboot\r\nMTPREP-KS-END\r\n[    3.1] reboot: Power down\r\n"
	r := ParseSerial(serial)
	if r.Cmdline != "BOOT_IMAGE=vmlinuz initrd=initrd.img ks=cdrom:/ks.cfg" || !r.HasKS ||
		r.Kickstart != "# ks\ninstall\n\nreboot\n" || r.Error != "" || r.Source != "sr1" {
		t.Errorf("got %+v", r)
	}
	if r := ParseSerial("MTPREP-CMDLINE: quiet\r\nMTPREP-NO-KS\r\n"); r.Error == "" || r.HasKS {
		t.Errorf("no ks: got %+v", r)
	}
	if r := ParseSerial(MediaPreseedBegin + "\r\nd-i a string b\r\n" + MediaPreseedEnd + "\r\n"); !r.HasMedia || r.MediaPreseed != "d-i a string b\n" {
		t.Errorf("media preseed: got %+v", r)
	}
	if r := ParseSerial("MTPREP-ERROR: mount /dev/sr0 failed\r\n"); r.Error != "mount /dev/sr0 failed" {
		t.Errorf("error: got %+v", r)
	}
}

func TestModuleOrder(t *testing.T) {
	dir := t.TempDir()
	dep := "kernel/drivers/scsi/sr_mod.ko.xz: kernel/drivers/scsi/scsi_mod.ko.xz kernel/drivers/cdrom/cdrom.ko.xz kernel/drivers/scsi/scsi_common.ko.xz\n" +
		"kernel/drivers/scsi/scsi_mod.ko.xz: kernel/drivers/scsi/scsi_common.ko.xz\n" +
		"kernel/drivers/scsi/scsi_common.ko.xz:\n" +
		"kernel/drivers/cdrom/cdrom.ko.xz:\n" +
		"kernel/drivers/ata/ata_piix.ko.xz: kernel/drivers/ata/libata.ko.xz kernel/drivers/scsi/scsi_mod.ko.xz kernel/drivers/scsi/scsi_common.ko.xz\n" +
		"kernel/drivers/ata/libata.ko.xz: kernel/drivers/scsi/scsi_mod.ko.xz kernel/drivers/scsi/scsi_common.ko.xz\n"
	if err := os.WriteFile(filepath.Join(dir, "modules.dep"), []byte(dep), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "modules.builtin"), []byte("kernel/fs/isofs/isofs.ko\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := moduleOrder(dir, cdModules)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range got {
		names = append(names, moduleName(m))
	}
	want := []string{"scsi_common", "scsi_mod", "libata", "ata_piix", "cdrom", "sr_mod"}
	if !slices.Equal(names, want) {
		t.Errorf("order %v, want %v (isofs is built in)", names, want)
	}
}

func TestCpioWriter(t *testing.T) {
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skip("cpio not installed")
	}
	var buf bytes.Buffer
	w := &cpioWriter{w: &buf}
	w.dir("bin")
	w.file("bin/hello", 0o755, []byte("hi\n"))
	w.file("init", 0o755, []byte("#!/bin/sh\n"))
	w.trailer()
	cmd := exec.Command("cpio", "-t", "--quiet")
	cmd.Stdin = &buf
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(out)); !slices.Equal(got, []string{"bin", "bin/hello", "init"}) {
		t.Errorf("cpio -t lists %v", got)
	}
}

func TestInitramfsHasInit(t *testing.T) {
	h, err := findHost()
	if err != nil {
		t.Skip(err)
	}
	b, err := buildInitramfs(h)
	if err != nil {
		t.Fatal(err)
	}
	z, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	if _, err := raw.ReadFrom(z); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"init\x00", "bin/busybox\x00", "lib/modules/sr_mod.ko\x00", "etc/modules.order\x00"} {
		if !bytes.Contains(raw.Bytes(), []byte(want)) {
			t.Errorf("initramfs lacks %q", strings.TrimSuffix(want, "\x00"))
		}
	}
}

// TestBuildLikeCentOS checks the test base against what pungi's mkisofs
// -U -J -R -T makes of CentOS 6.6, read with isoinfo (genisoimage's
// reader): volume id, Rock Ridge and Joliet, a TRANS.TBL in every
// directory, the long package names, the compose's .discinfo.
func TestBuildLikeCentOS(t *testing.T) {
	if _, err := exec.LookPath("isoinfo"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("isoinfo is not installed (CI=true; see .ci/apt-packages.d/iso.txt)")
		}
		t.Skip("isoinfo is not installed (apt-get install genisoimage)")
	}
	iso, err := Build(t.Context(), t.TempDir(), Options{})
	if errors.Is(err, ErrMissingHost) && os.Getenv("CI") != "true" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	isoinfo := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("isoinfo", append(args, "-i", iso)...).CombinedOutput()
		if err != nil {
			t.Fatalf("isoinfo %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	d := isoinfo("-d")
	for _, want := range []string{"Volume id: CentOS_6.6_Final", "Joliet", "Rock Ridge signatures"} {
		if !strings.Contains(d, want) {
			t.Errorf("isoinfo -d does not say %q:\n%s", want, d)
		}
	}
	rr := strings.Fields(isoinfo("-R", "-f"))
	dirs := map[string]bool{"": true}
	files := map[string]bool{}
	for _, p := range rr {
		files[p] = true
		if i := strings.LastIndexByte(p, '/'); i > 0 {
			dirs[p[:i]] = true
		}
	}
	for dir := range dirs {
		if !files[dir+"/TRANS.TBL"] {
			t.Errorf("no TRANS.TBL in %q", dir+"/")
		}
	}
	names := strings.Fields(packageNames)
	if len(names) < 200 {
		t.Errorf("%d package names, want a few hundred", len(names))
	}
	long := 0
	for _, n := range names {
		if !files["/Packages/"+n] {
			t.Errorf("Rock Ridge tree lacks /Packages/%s", n)
		}
		if len(n) > 31 {
			long++
		}
	}
	if long < len(names)/2 {
		t.Errorf("only %d of %d package names are longer than 31 characters", long, len(names))
	}
	for _, want := range []string{"/.discinfo", "/.treeinfo", "/images/efiboot.img", "/images/install.img", "/EFI/BOOT/BOOTX64.efi", "/repodata/repomd.xml", "/isolinux/vesamenu.c32"} {
		if !files[want] {
			t.Errorf("no %s", want)
		}
	}
	if got := isoinfo("-R", "-x", "/.discinfo"); got != discinfo {
		t.Errorf(".discinfo = %q, want %q", got, discinfo)
	}
	if cfg := isoinfo("-R", "-x", "/isolinux/isolinux.cfg"); !strings.Contains(cfg, "timeout 600") || !strings.Contains(cfg, "default vesamenu.c32") {
		t.Errorf("isolinux.cfg is not CentOS's vesamenu menu:\n%s", cfg)
	}
}

// TestBuildStandIns: the Windows stand-in's ISO 9660 side holds
// README.TXT alone (isoinfo, without Rock Ridge or Joliet); the Ubuntu
// one has debian-cd's .disk/info and the d-i menu with gfxboot on, read
// back by isoinfo with Rock Ridge.
func TestBuildStandIns(t *testing.T) {
	if _, err := exec.LookPath("isoinfo"); err != nil {
		t.Skip("isoinfo (genisoimage) not installed")
	}
	dir := t.TempDir()
	win, err := BuildWindows(context.Background(), dir, "")
	if errors.Is(err, ErrMissingHost) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("isoinfo", "-f", "-i", win).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "/README.TXT;1" {
		t.Errorf("Windows stand-in's ISO 9660 files (%v):\n%s", err, out)
	}
	ub, err := BuildUbuntu(context.Background(), dir, UbuntuOptions{})
	if errors.Is(err, ErrMissingHost) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]string{
		"/.disk/info":            UbuntuDiskInfo,
		"/isolinux/isolinux.cfg": "ui gfxboot bootlogo",
		"/isolinux/txt.cfg":      "append  file=/cdrom/preseed/ubuntu-server.seed vga=788 initrd=/install/initrd.gz",
		"/md5sum.txt":            "  ./install/vmlinuz\n",
	} {
		got, err := exec.Command("isoinfo", "-R", "-i", ub, "-x", p).Output()
		if err != nil || !strings.Contains(string(got), want) {
			t.Errorf("%s (%v): %q lacks %q", p, err, got, want)
		}
	}
	pvd, err := exec.Command("isoinfo", "-d", "-i", ub).Output()
	if err != nil || !strings.Contains(string(pvd), "Volume id: "+UbuntuVolumeLabel+"\n") {
		t.Errorf("Ubuntu volume id (%v):\n%s", err, pvd)
	}
}
