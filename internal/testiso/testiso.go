// Package testiso builds a small bootable ISO laid out like the CentOS 6.6
// x86_64 minimal ISO, made the way pungi makes it (genisoimage -U -J -R
// -T: Rock Ridge, Joliet and a TRANS.TBL in every directory; volume id
// CentOS_6.6_Final; .discinfo and .treeinfo as the compose writes them;
// isolinux/ with CentOS's vesamenu menu, images/, EFI/BOOT/, Packages/
// with CentOS 6.6's package file names, repodata/), from what a Debian
// machine has: ISOLINUX from isolinux/syslinux-common, the running
// distribution's kernel and a busybox initramfs. Its /init prints the kernel command line and the kickstart
// named by ks=cdrom:/... to the serial port, then powers off, so Boot can
// check in qemu that a remastered ISO starts its kickstart unattended.
//
// BuildUbuntu and BuildWindows make the stand-ins of the other two
// families: an Ubuntu 16.04.2 server-shaped ISO whose initramfs plays
// debian-installer's preseed loading (see ubuntu.go), and a Windows Server
// 2016-shaped UDF bridge disc (genisoimage -udf; its ISO 9660 side holds
// only README.TXT) for identification alone.
//
// This is test support (make test, make demo, make bench-iso); unlike
// package images it may use host files and external tools.
package testiso

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
)

// ErrMissingHost is wrapped when a host file or tool the test ISO needs is
// not installed (see .ci/apt-packages.d/iso.txt).
var ErrMissingHost = errors.New("missing on this host")

// VolumeLabel is the volume id of the real CentOS 6.6 x86_64 media.
const VolumeLabel = "CentOS_6.6_Final"

// packageNames are the Packages/ file names: CentOS 6.6 x86_64's
// minimal set (from 6.6 GA's rpm -qa and package lists; not checked file
// by file against the ISO). Most are longer than 31 characters, so only
// Rock Ridge (or Joliet) keeps them.
//
//go:embed packages.txt
var packageNames string

// Options configures Build.
type Options struct {
	// FillerMB makes the Packages/*.rpm files about this many MiB in
	// total (deterministic, incompressible), to make a base as big as the
	// real one (about 450) for benchmarks. Without it they are a few KiB
	// each.
	FillerMB int
	// Name is the file name in dir; default centos66-test.iso, or
	// centos66-test-<FillerMB>mb.iso with filler.
	Name string
}

// Host files, Debian paths (isolinux, syslinux-common, busybox-static,
// linux-image-amd64).
const (
	isolinuxBin = "/usr/lib/ISOLINUX/isolinux.bin"
	syslinuxDir = "/usr/lib/syslinux/modules/bios"
	busyboxPath = "/bin/busybox"
)

// menuModules are the ISOLINUX modules CentOS 6.6's menu needs in Debian's
// syslinux 6: vesamenu.c32 loads libcom32.c32 and libutil.c32.
var menuModules = []string{"ldlinux.c32", "vesamenu.c32", "libcom32.c32", "libutil.c32"}

// isolinuxCfg is CentOS 6.6's isolinux.cfg with console=ttyS0 (so the
// kernel and /init talk to the serial port) and panic=1 (with qemu
// -no-reboot a panic ends the run instead of hanging until the timeout).
const isolinuxCfg = `default vesamenu.c32
#prompt 1
timeout 600

display boot.msg

menu title Welcome to CentOS 6.6!
menu color border 0 #ffffffff #00000000
menu color sel 7 #ffffffff #ff000000
menu color title 0 #ffffffff #00000000
menu color tabmsg 0 #ffffffff #00000000
menu color unsel 0 #ffffffff #00000000
menu color hotsel 0 #ff000000 #ffffffff
menu color hotkey 7 #ffffffff #ff000000
menu color scrollbar 0 #ffffffff #00000000

label linux
  menu label ^Install or upgrade an existing system
  menu default
  kernel vmlinuz
  append initrd=initrd.img console=ttyS0 panic=1
label vesa
  menu label Install system with ^basic video driver
  kernel vmlinuz
  append initrd=initrd.img xdriver=vesa nomodeset console=ttyS0 panic=1
label rescue
  menu label ^Rescue installed system
  kernel vmlinuz
  append initrd=initrd.img rescue console=ttyS0 panic=1
label local
  menu label Boot from ^local drive
  localboot 0xffff
`

// discinfo is what pungi has anaconda's makestamp.py write: media id (the
// compose's timestamp), --releasestr "<product> <version>", arch, disc
// numbers.
const discinfo = "1414159991.958686\nCentOS 6.6\nx86_64\n1\n"

// treeinfo is the compose's .treeinfo; [checksums] (sha256 of images/, as
// pungi adds them) is appended by Build.
const treeinfo = `[general]
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

const bootMsg = "\n\x0f0fPress the <ENTER> key to begin the installation process.\x0f07\n\n"

// Build writes a CentOS-6.6-shaped bootable base ISO into dir and returns
// its path. It is rebuilt every time; callers cache it (make uses build/).
func Build(ctx context.Context, dir string, o Options) (string, error) {
	host, err := findHost()
	if err != nil {
		return "", err
	}
	name := o.Name
	if name == "" {
		name = "centos66-test.iso"
		if o.FillerMB > 0 {
			name = fmt.Sprintf("centos66-test-%dmb.iso", o.FillerMB)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("testiso: %w", err)
	}
	scratch, err := os.MkdirTemp(dir, ".testiso-")
	if err != nil {
		return "", fmt.Errorf("testiso: %w", err)
	}
	defer os.RemoveAll(scratch)
	ws := filepath.Join(scratch, "tree")

	initrd, err := buildInitramfs(host)
	if err != nil {
		return "", err
	}
	placeholder := func(what string) []byte { return []byte("mtprep test base placeholder: " + what + "\n") }
	files := map[string][]byte{
		".discinfo":                     []byte(discinfo),
		"isolinux/isolinux.cfg":         []byte(isolinuxCfg),
		"isolinux/boot.msg":             []byte(bootMsg),
		"isolinux/initrd.img":           initrd,
		"isolinux/grub.conf":            placeholder("grub.conf, for booting the ISO's kernel from grub"),
		"isolinux/memtest":              placeholder("memtest86+"),
		"isolinux/splash.jpg":           placeholder("splash image"),
		"images/pxeboot/initrd.img":     initrd,
		"images/install.img":            placeholder("stage2 (the test kernel never loads it)"),
		"EFI/BOOT/BOOTX64.conf":         placeholder("grub.conf for EFI (the test base only boots with BIOS)"),
		"EFI/BOOT/BOOTX64.efi":          placeholder("EFI grub"),
		"EFI/BOOT/splash.xpm.gz":        placeholder("EFI splash"),
		"CentOS_BuildTag":               []byte("20141024-1414159991\n"),
		"EULA":                          placeholder("EULA"),
		"GPL":                           placeholder("GPL"),
		"RELEASE-NOTES-en-US.html":      placeholder("release notes"),
		"RPM-GPG-KEY-CentOS-6":          placeholder("RPM-GPG-KEY-CentOS-6"),
		"RPM-GPG-KEY-CentOS-Debug-6":    placeholder("RPM-GPG-KEY-CentOS-Debug-6"),
		"RPM-GPG-KEY-CentOS-Security-6": placeholder("RPM-GPG-KEY-CentOS-Security-6"),
		"RPM-GPG-KEY-CentOS-Testing-6":  placeholder("RPM-GPG-KEY-CentOS-Testing-6"),
		"repodata/repomd.xml":           placeholder("repomd.xml"),
	}
	// repodata file names are checksum-prefixed, as createrepo writes them.
	for _, kind := range []string{"primary.sqlite.bz2", "filelists.sqlite.bz2", "other.sqlite.bz2", "primary.xml.gz", "filelists.xml.gz", "other.xml.gz", "c6-minimal-x86_64.xml"} {
		data := placeholder("repodata " + kind)
		sum := sha256.Sum256(data)
		files["repodata/"+hex.EncodeToString(sum[:])+"-"+kind] = data
	}
	copies := map[string]string{
		"isolinux/isolinux.bin":  isolinuxBin,
		"isolinux/vmlinuz":       host.kernel,
		"images/pxeboot/vmlinuz": host.kernel,
	}
	for _, m := range menuModules {
		copies["isolinux/"+m] = filepath.Join(syslinuxDir, m)
	}
	for rel, data := range files {
		if err := writeFile(filepath.Join(ws, rel), data); err != nil {
			return "", err
		}
	}
	for rel, src := range copies {
		data, err := os.ReadFile(src)
		if err != nil {
			return "", fmt.Errorf("testiso: %w", err)
		}
		if err := writeFile(filepath.Join(ws, rel), data); err != nil {
			return "", err
		}
	}
	if err := writeEFIImage(filepath.Join(ws, "images/efiboot.img")); err != nil {
		return "", err
	}
	if err := writeTreeinfo(ws); err != nil {
		return "", err
	}
	if err := writePackages(ctx, filepath.Join(ws, "Packages"), o.FillerMB); err != nil {
		return "", err
	}
	// Build under a temporary name, so an interrupted build is not
	// mistaken for a cached one.
	out := filepath.Join(dir, name)
	tmp := filepath.Join(scratch, name)
	if err := writeISO(ctx, tmp, ws); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", fmt.Errorf("testiso: %w", err)
	}
	return out, nil
}

// writeISO makes the ISO with the flags pungi gives mkisofs for CentOS 6
// (pypungi doCreateIsos: -v -U -J -R -T, isolinux El Torito with a boot
// info table and load size 4, catalog isolinux/boot.cat, the EFI image as
// the alternative entry), with genisoimage, Debian's mkisofs. xorriso's
// mkisofs mode would do, except that it writes no TRANS.TBL for -T.
// isohybrid and implantisomd5, which pungi runs afterwards, are left out:
// they change only the system area and an unused part of the volume
// descriptor, which the remaster writes anew.
func writeISO(ctx context.Context, path, ws string) error {
	tool, err := exec.LookPath("genisoimage")
	if err != nil {
		return fmt.Errorf("testiso: genisoimage: %w (install genisoimage)", ErrMissingHost)
	}
	cmd := exec.CommandContext(ctx, tool, "-quiet", "-U", "-J", "-R", "-T",
		"-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat", "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table",
		"-eltorito-alt-boot", "-e", "images/efiboot.img", "-no-emul-boot",
		"-V", VolumeLabel, "-o", path, ws)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("testiso: genisoimage %s: %w\n%s", path, err, out)
	}
	return nil
}

// writeTreeinfo writes .treeinfo with pungi's [checksums] of images/.
func writeTreeinfo(ws string) error {
	var b strings.Builder
	b.WriteString(treeinfo)
	b.WriteString("\n[checksums]\n")
	for _, rel := range []string{"images/efiboot.img", "images/install.img", "images/pxeboot/initrd.img", "images/pxeboot/vmlinuz"} {
		data, err := os.ReadFile(filepath.Join(ws, rel))
		if err != nil {
			return fmt.Errorf("testiso: %w", err)
		}
		fmt.Fprintf(&b, "%s = sha256:%x\n", rel, sha256.Sum256(data))
	}
	return writeFile(filepath.Join(ws, ".treeinfo"), []byte(b.String()))
}

// writeEFIImage makes images/efiboot.img a small FAT12 image with an
// EFI/BOOT directory, like CentOS's (which holds the EFI loader).
func writeEFIImage(path string) error {
	d, err := diskfs.Create(path, 1440*1024, diskfs.SectorSize512)
	if err != nil {
		return fmt.Errorf("testiso: create %s: %w", path, err)
	}
	defer d.Close()
	fsys, err := d.CreateFilesystem(disk.FilesystemSpec{Partition: 0, FSType: filesystem.TypeFat12, VolumeLabel: "EFIBOOT"})
	if err != nil {
		return fmt.Errorf("testiso: %s: %w", path, err)
	}
	if err := fsys.Mkdir("/EFI/BOOT"); err != nil {
		return fmt.Errorf("testiso: %s: %w", path, err)
	}
	f, err := fsys.OpenFile("/EFI/BOOT/README.TXT", os.O_CREATE|os.O_RDWR)
	if err != nil {
		return fmt.Errorf("testiso: %s: %w", path, err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("mtprep test base: no EFI loader, BIOS boot only\r\n")); err != nil {
		return fmt.Errorf("testiso: %s: %w", path, err)
	}
	return nil
}

// writePackages writes one file per CentOS 6.6 package name: a few KiB
// each, or, with mb, sizes of 1 to 8 shares adding up to about mb MiB, all
// pseudo-random (incompressible) and reproducible, streamed with a small
// buffer.
func writePackages(ctx context.Context, dir string, mb int) error {
	names := strings.Fields(packageNames)
	var shares int64
	for i := range names {
		shares += int64(1 + i%8)
	}
	buf := make([]byte, 1<<20)
	for i, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		size := int64(1+i%8)*1024 + int64(i*37%1024)
		if mb > 0 {
			size = int64(mb) << 20 * int64(1+i%8) / shares
		}
		rng := rand.NewChaCha8([32]byte{byte(i), byte(i >> 8), 'm', 't', 'p', 'r', 'e', 'p'})
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("testiso: %w", err)
		}
		f, err := os.Create(p)
		if err != nil {
			return fmt.Errorf("testiso: %w", err)
		}
		for n := size; n > 0; {
			k := min(n, int64(len(buf)))
			_, _ = rng.Read(buf[:k])
			if _, err := f.Write(buf[:k]); err != nil {
				f.Close()
				return fmt.Errorf("testiso: write %s: %w", p, err)
			}
			n -= k
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("testiso: write %s: %w", p, err)
		}
		if err := os.Chtimes(p, fixedTime, fixedTime); err != nil {
			return fmt.Errorf("testiso: %w", err)
		}
	}
	return nil
}

// fixedTime keeps the tree the same from build to build.
var fixedTime = time.Date(2014, 10, 24, 14, 53, 11, 0, time.UTC)

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("testiso: %w", err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("testiso: %w", err)
	}
	return os.Chtimes(path, fixedTime, fixedTime)
}
