package testiso

import (
	"bytes"
	"compress/gzip"
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
