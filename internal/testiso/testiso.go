// Package testiso builds a small bootable ISO shaped like the CentOS 6.6
// x86_64 minimal ISO (.discinfo, .treeinfo, isolinux/ with a CentOS-style
// menu, images/, Packages/) from what a Debian machine has: ISOLINUX from
// isolinux/syslinux-common, the running distribution's kernel and a busybox
// initramfs. Its /init prints the kernel command line and the kickstart
// named by ks=cdrom:/... to the serial port, then powers off, so Boot can
// check in qemu that a remastered ISO starts its kickstart unattended.
//
// This is test support (make test, make demo, make bench-iso); unlike
// package images it may use host files and external tools.
package testiso

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
)

// ErrMissingHost is wrapped when a host file or tool the test ISO needs is
// not installed (see .ci/apt-packages.d/iso.txt).
var ErrMissingHost = errors.New("missing on this host")

// VolumeLabel is the label of the real CentOS 6.6 x86_64 media.
const VolumeLabel = "CentOS 6.6 x86_64"

// Options configures Build.
type Options struct {
	// FillerMB adds deterministic, incompressible Packages/*.rpm files of
	// about this many MiB in total, to make a base as big as the real
	// one (about 450) for benchmarks.
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

const discinfo = "1414159991.958686\n6.6\nx86_64\n1\n"

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
	files := map[string][]byte{
		".discinfo":                                 []byte(discinfo),
		".treeinfo":                                 []byte(treeinfo),
		"isolinux/isolinux.cfg":                     []byte(isolinuxCfg),
		"isolinux/boot.msg":                         []byte(bootMsg),
		"isolinux/initrd.img":                       initrd,
		"images/pxeboot/initrd.img":                 initrd,
		"images/install.img":                        []byte("stage2 placeholder: the test kernel never loads it\n"),
		"Packages/mtprep-test-1.0-1.el6.x86_64.rpm": []byte("not an rpm\n"),
		"EFI/BOOT/grub.conf":                        []byte("# placeholder: the test base only boots with BIOS\n"),
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
	if err := writeFiller(ctx, filepath.Join(ws, "Packages"), o.FillerMB); err != nil {
		return "", err
	}
	size, err := dirSize(ws)
	if err != nil {
		return "", err
	}

	// Build under a temporary name, so an interrupted build is not
	// mistaken for a cached one.
	out := filepath.Join(dir, name)
	tmp := filepath.Join(scratch, name)
	if err := writeISO(tmp, ws, size+4<<20); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", fmt.Errorf("testiso: %w", err)
	}
	return out, nil
}

// writeISO makes the ISO the way CentOS's is made (isolinux El Torito,
// boot info table, load size 4, catalog isolinux/boot.cat, EFI image),
// with Rock Ridge and without Joliet, which go-diskfs v1.9.4 cannot boot.
func writeISO(path, ws string, size int64) error {
	d, err := diskfs.Create(path, size, diskfs.SectorSize(2048))
	if err != nil {
		return fmt.Errorf("testiso: create %s: %w", path, err)
	}
	defer d.Close()
	fsys, err := d.CreateFilesystem(disk.FilesystemSpec{
		Partition: 0, FSType: filesystem.TypeISO9660, VolumeLabel: VolumeLabel, WorkDir: ws,
	})
	if err != nil {
		return fmt.Errorf("testiso: create %s: %w", path, err)
	}
	iso, ok := fsys.(*iso9660.FileSystem)
	if !ok {
		return fmt.Errorf("testiso: %s: not an iso9660 file system", path)
	}
	bios := &iso9660.ElToritoEntry{
		Platform: iso9660.BIOS, Emulation: iso9660.NoEmulation,
		BootFile: "isolinux/isolinux.bin", BootTable: true,
	}
	bios.SetLoadSize(4)
	err = iso.Finalize(iso9660.FinalizeOptions{
		RockRidge:        true,
		VolumeIdentifier: VolumeLabel,
		ElTorito: &iso9660.ElTorito{
			BootCatalog: "isolinux/boot.cat",
			Entries: []*iso9660.ElToritoEntry{bios, {
				Platform: iso9660.EFI, Emulation: iso9660.NoEmulation, BootFile: "images/efiboot.img",
			}},
		},
	})
	if err != nil {
		return fmt.Errorf("testiso: finalize %s: %w", path, err)
	}
	return trimToVolume(path)
}

// trimToVolume cuts the image to the size its volume descriptor records:
// diskfs.Create needs a size up front, which is only an estimate here.
func trimToVolume(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("testiso: %w", err)
	}
	defer f.Close()
	pvd := make([]byte, 2048)
	if _, err := f.ReadAt(pvd, 16*2048); err != nil {
		return fmt.Errorf("testiso: read %s: %w", path, err)
	}
	blocks := int64(pvd[80]) | int64(pvd[81])<<8 | int64(pvd[82])<<16 | int64(pvd[83])<<24
	if err := f.Truncate(blocks * 2048); err != nil {
		return fmt.Errorf("testiso: %w", err)
	}
	return f.Close()
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

// writeFiller writes mb MiB of pseudo-random, incompressible, reproducible
// RPM-sized files (1 to 8 MiB), streamed with a small buffer.
func writeFiller(ctx context.Context, dir string, mb int) error {
	if mb <= 0 {
		return nil
	}
	left := int64(mb) << 20
	buf := make([]byte, 1<<20)
	for i := 1; left > 0; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		size := min(left, int64(1+i%8)<<20-int64(i*4093%2048))
		rng := rand.NewChaCha8([32]byte{byte(i), byte(i >> 8), 'm', 't', 'p', 'r', 'e', 'p'})
		p := filepath.Join(dir, fmt.Sprintf("filler-%04d-1.0-1.el6.x86_64.rpm", i))
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
		left -= size
	}
	return nil
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("testiso: %w", err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return fmt.Errorf("testiso: %w", err)
	}
	// Fixed times keep the tree the same from build to build.
	t := time.Date(2014, 10, 24, 14, 53, 11, 0, time.UTC)
	return os.Chtimes(path, t, t)
}

func dirSize(root string) (int64, error) {
	var total int64
	err := filepath.WalkDir(root, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		total += (fi.Size() + 2047) &^ 2047
		total += 2048 // directory records, generously
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("testiso: %w", err)
	}
	return total, nil
}
