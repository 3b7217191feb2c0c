package testiso

import (
	"context"
	"crypto/md5"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// The Ubuntu stand-in: laid out like ubuntu-16.04.2-server-amd64.iso
// (debian-cd's tree: .disk/, isolinux/ with the d-i menu in isolinux.cfg,
// menu.cfg, txt.cfg and friends and gfxboot's bootlogo, install/ with the
// kernel and initrd, boot/grub for EFI, dists/xenial, pool/ with the
// kernel packages' names, preseed/, md5sum.txt), made with genisoimage
// -R -J. Its install/vmlinuz is the host's kernel and install/initrd.gz a
// busybox initramfs that stands in for debian-installer: it prints the
// kernel command line, finds the install medium as cdrom-detect does
// (the CD-ROM with .disk/info), prints the preseed named by file= (or
// preseed/file=), and runs that preseed's preseed/early_command as d-i's
// file-preseed would (busybox sh) with a debconf-set-selections that
// records the file it is given; it prints that file as the "kickstart"
// (between KickstartBegin and KickstartEnd) and the CD it came from
// (SourceMarker). A preseed without an early command (single-ISO media)
// is itself what is printed. Nothing of d-i proper runs.

// Ubuntu stand-in identifiers, as on the real 16.04.2 server ISO.
const (
	UbuntuVolumeLabel = "Ubuntu-Server 16.04.2 LTS amd64"
	UbuntuDiskInfo    = `Ubuntu-Server 16.04.2 LTS "Xenial Xerus" - Release amd64 (20170215.8)`
)

// Markers of the Ubuntu stand-in's /init (besides Boot's).
const (
	MediaPreseedBegin = "MTPREP-MEDIA-PRESEED-BEGIN"
	MediaPreseedEnd   = "MTPREP-MEDIA-PRESEED-END"
)

// UbuntuIsolinuxCfg is 16.04 server's isolinux/isolinux.cfg: the menu in
// menu.cfg, no timeout (0: wait), and gfxboot's language chooser on top.
const UbuntuIsolinuxCfg = `# D-I config version 2.0
# search path for the c32 support libraries (libcom32, libutil etc.)
path 
include menu.cfg
default vesamenu.c32
prompt 0
timeout 0
ui gfxboot bootlogo
`

const UbuntuMenuCfg = `menu hshift 13
menu width 49
menu margin 8

menu title Installer boot menu
include stdmenu.cfg
include txt.cfg
menu begin advanced
	menu title Advanced options
	include stdmenu.cfg
	label mainmenu
		menu label ^Back..
		menu exit
	include adtxt.cfg
menu end
label help
	menu label ^Help
	text help
   Display help screens; type 'menu' at boot prompt to return to this menu
	endtext
	config prompt.cfg
`

const ubuntuStdmenuCfg = `menu background splash.png
menu color title	* #FFFFFFFF *
menu color border	* #00000000 #00000000 none
menu color sel		* #ffffffff #76a1d0ff *
menu color hotsel	1;7;37;40 #ffffffff #76a1d0ff *
menu color tabmsg	* #ffffffff #00000000 *
menu color help		37;40 #ffdddd00 #00000000 none
menu vshift 12
menu rows 10
menu helpmsgrow 15
# The command line must be at least one line from the bottom.
menu cmdlinerow 16
menu timeoutrow 16
menu tabmsgrow 18
menu tabmsg Press ENTER to boot or TAB to edit a menu entry
`

// UbuntuTxtCfg is 16.04.2 server's isolinux/txt.cfg, with console=ttyS0
// panic=1 added to the entries this stand-in boots (the real one has
// neither).
const UbuntuTxtCfg = `default install
label install
  menu label ^Install Ubuntu Server
  kernel /install/vmlinuz
  append  file=/cdrom/preseed/ubuntu-server.seed vga=788 initrd=/install/initrd.gz console=ttyS0 panic=1 quiet ---
label hwe-install
  menu label ^Install Ubuntu Server with the HWE kernel
  kernel /install/hwe-vmlinuz
  append  file=/cdrom/preseed/hwe-ubuntu-server.seed vga=788 initrd=/install/hwe-initrd.gz quiet ---
label maas
  menu label ^Install MAAS Region Controller
  kernel /install/vmlinuz
  append   modules=maas-region-udeb vga=788 initrd=/install/initrd.gz quiet ---

label maasrack
  menu label ^Install MAAS Rack Controller
  kernel /install/vmlinuz
  append   modules=maas-rack-udeb vga=788 initrd=/install/initrd.gz quiet ---
label check
  menu label ^Check disc for defects
  kernel /install/vmlinuz
  append   MENU=/bin/cdrom-checker-menu vga=788 initrd=/install/initrd.gz quiet ---
label memtest
  menu label Test ^memory
  kernel /install/mt86plus
label hd
  menu label ^Boot from first hard disk
  localboot 0x80
`

const ubuntuAdtxtCfg = `label expert
  menu hide
  kernel /install/vmlinuz
  append  file=/cdrom/preseed/ubuntu-server.seed priority=low vga=788 initrd=/install/initrd.gz ---
label rescue
  menu label ^Rescue a broken system
  kernel /install/vmlinuz
  append  rescue/enable=true vga=788 initrd=/install/initrd.gz ---
`

const UbuntuGrubCfg = `
if loadfont /boot/grub/font.pf2 ; then
	set gfxmode=auto
	insmod efi_gfx
	insmod vbe
	insmod gfxterm
	terminal_output gfxterm
fi

set menu_color_normal=white/black
set menu_color_highlight=black/light-gray

menuentry "Install Ubuntu Server" {
	set gfxpayload=keep
	linux	/install/vmlinuz  file=/cdrom/preseed/ubuntu-server.seed quiet ---
	initrd	/install/initrd.gz
}
menuentry "Install Ubuntu Server with the HWE kernel" {
	set gfxpayload=keep
	linux	/install/hwe-vmlinuz  file=/cdrom/preseed/hwe-ubuntu-server.seed quiet ---
	initrd	/install/hwe-initrd.gz
}
menuentry "Check disc for defects" {
	set gfxpayload=keep
	linux	/install/vmlinuz  MENU=/bin/cdrom-checker-menu quiet ---
	initrd	/install/initrd.gz
}
menuentry "Rescue a broken system" {
	set gfxpayload=keep
	linux	/install/vmlinuz  rescue/enable=true ---
	initrd	/install/initrd.gz
}
`

const ubuntuServerSeed = `# Suggest LVM by default.
d-i	partman-auto/init_automatically_partition	string some_device_lvm
d-i	partman-auto/init_automatically_partition	seen false
# Install the Ubuntu Server seed.
tasksel	tasksel/force-tasks	string server
# Only install basic language packs. Let tasksel ask about tasks.
d-i	pkgsel/language-pack-patterns	string
# No language support packages.
d-i	pkgsel/install-language-support	boolean false
# Only ask the UTC question if there are other operating systems installed.
d-i	clock-setup/utc-auto	boolean true
# Verbose output and no boot splash screen.
d-i	debian-installer/quiet	boolean false
d-i	debian-installer/splash	boolean false
# Install the debconf oem-config frontend (if in OEM mode).
d-i	oem-config-udeb/frontend	string debconf
# Wait for two seconds in grub
d-i	grub-installer/timeout	string 2
# Add the network and tasks oem-config steps by default.
oem-config	oem-config/steps	multiselect language, timezone, keyboard, user, network, tasks
`

const ubuntuRelease = `Origin: Ubuntu
Label: Ubuntu
Suite: xenial
Version: 16.04
Codename: xenial
Date: Wed, 15 Feb 2017 19:55:42 UTC
Architectures: amd64 i386
Components: main restricted
Description: Ubuntu Xenial 16.04
`

// ubuntuInitScript is the d-i stand-in's /init (see the package comment
// of this file).
const ubuntuInitScript = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin
mkdir -p /proc /sys /dev /cdrom /media /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "` + CmdlineMarker + `$(cat /proc/cmdline)"
for m in $(cat /etc/modules.order); do
	insmod "/lib/modules/$m" || echo "MTPREP-WARN: insmod $m failed"
done
fail() {
	echo "` + ErrorMarker + `$*"
	poweroff -f
	sleep 60
}
pf=""
for a in $(cat /proc/cmdline); do
	case "$a" in
	file=*) pf="${a#file=}" ;;
	preseed/file=*) pf="${a#preseed/file=}" ;;
	esac
done
if [ -z "$pf" ]; then
	echo "` + NoKickstartMarker + `"
	poweroff -f
fi
i=0
while [ ! -b /dev/sr0 ] && [ $i -lt 300 ]; do usleep 100000; i=$((i+1)); done
[ -b /dev/sr0 ] || fail "no CD-ROM"
sleep 1
# cdrom-detect: the install medium is the CD-ROM with .disk/info.
medium=""
for d in $(ls /dev/sr* | sort); do
	mount -t iso9660 -o ro "$d" /cdrom 2>/dev/null || continue
	if [ -f /cdrom/.disk/info ]; then medium="$d"; break; fi
	umount /cdrom
done
[ -n "$medium" ] || fail "no CD-ROM with .disk/info"
case "$pf" in
/cdrom/*) ;;
*) fail "preseed/file $pf is not on the install medium (/cdrom)" ;;
esac
[ -f "$pf" ] || fail "no $pf on $medium"
echo 1 > /proc/sys/kernel/printk
echo "` + MediaPreseedBegin + `"
cat "$pf"
[ -n "$(tail -c 1 "$pf")" ] && echo
echo "` + MediaPreseedEnd + `"
# file-preseed: preseed/early_command, continuation lines joined.
cmd=$(sed -e ':a' -e '/\\$/N' -e 's/\\\n//' -e 'ta' "$pf" | sed -n 's/^d-i[[:space:]][[:space:]]*preseed\/early_command[[:space:]][[:space:]]*string[[:space:]]*//p')
if [ -z "$cmd" ]; then
	echo "` + SourceMarker + `${medium#/dev/}"
	echo "` + KickstartBegin + `"
	cat "$pf"
	[ -n "$(tail -c 1 "$pf")" ] && echo
	echo "` + KickstartEnd + `"
	poweroff -f
fi
sh -c "$cmd" > /tmp/early.log 2>&1
rc=$?
sed 's/^/early_command: /' /tmp/early.log
[ $rc -eq 0 ] || fail "preseed/early_command exited $rc"
[ -f /tmp/debconf-set-selections.in ] || fail "preseed/early_command did not call debconf-set-selections"
echo "` + SourceMarker + `$(sed -n 's/^mtprep: MT preseed from \/dev\///p' /tmp/early.log)"
echo "` + KickstartBegin + `"
cat /tmp/debconf-set-selections.in
[ -n "$(tail -c 1 /tmp/debconf-set-selections.in)" ] && echo
echo "` + KickstartEnd + `"
poweroff -f
`

// debconfSetSelections stands in for cdebconf's: it keeps the file it
// is given for /init to print.
const debconfSetSelections = `#!/bin/sh
[ -f "$1" ] || { echo "debconf-set-selections: no file $1" >&2; exit 1; }
cat "$1" > /tmp/debconf-set-selections.in
`

// ubuntuKernels are the kernel packages of 16.04.2's pool/ (GA 4.4.0-62,
// HWE 4.8.0-36).
var ubuntuKernels = []string{
	"pool/main/l/linux/linux-image-4.4.0-62-generic_4.4.0-62.83_amd64.deb",
	"pool/main/l/linux/linux-image-extra-4.4.0-62-generic_4.4.0-62.83_amd64.deb",
	"pool/main/l/linux-hwe/linux-image-4.8.0-36-generic_4.8.0-36.36~16.04.1_amd64.deb",
}

// UbuntuOptions configures BuildUbuntu.
type UbuntuOptions struct {
	Name string // file name in dir; ubuntu1604-test.iso by default
	// DiskInfo and VolumeLabel replace .disk/info and the volume id
	// (another release, a desktop disc), for refusal tests.
	DiskInfo, VolumeLabel string
}

// BuildUbuntu writes the Ubuntu 16.04.2 server stand-in into dir and
// returns its path.
func BuildUbuntu(ctx context.Context, dir string, o UbuntuOptions) (string, error) {
	h, err := findHost()
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(syslinuxDir, "gfxboot.c32")); err != nil {
		return "", fmt.Errorf("testiso: %s/gfxboot.c32: %w (install syslinux-common)", syslinuxDir, ErrMissingHost)
	}
	tool, err := exec.LookPath("genisoimage")
	if err != nil {
		return "", fmt.Errorf("testiso: genisoimage: %w (install genisoimage)", ErrMissingHost)
	}
	if o.Name == "" {
		o.Name = "ubuntu1604-test.iso"
	}
	if o.DiskInfo == "" {
		o.DiskInfo = UbuntuDiskInfo
	}
	if o.VolumeLabel == "" {
		o.VolumeLabel = UbuntuVolumeLabel
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("testiso: %w", err)
	}
	scratch, err := os.MkdirTemp(dir, ".testiso-ubuntu-")
	if err != nil {
		return "", fmt.Errorf("testiso: %w", err)
	}
	defer os.RemoveAll(scratch)
	ws := filepath.Join(scratch, "tree")
	initrd, err := buildInitramfsWith(h, ubuntuInitScript, map[string]string{"usr/bin/debconf-set-selections": debconfSetSelections})
	if err != nil {
		return "", err
	}
	kernel, err := os.ReadFile(h.kernel)
	if err != nil {
		return "", fmt.Errorf("testiso: %w", err)
	}
	ph := func(what string) []byte { return []byte("mtprep Ubuntu stand-in placeholder: " + what + "\n") }
	files := map[string][]byte{
		".disk/info":                                       []byte(o.DiskInfo),
		".disk/base_installable":                           {},
		".disk/cd_type":                                    []byte("full_cd/single\n"),
		".disk/release_notes_url":                          []byte("http://www.ubuntu.com/getubuntu/releasenotes?os=ubuntu&ver=16.04.2&lang=en\n"),
		".disk/udeb_include":                               []byte("netcfg\nethdetect\npcmciautils-udeb\nlive-installer\n"),
		"isolinux/isolinux.cfg":                            []byte(UbuntuIsolinuxCfg),
		"isolinux/menu.cfg":                                []byte(UbuntuMenuCfg),
		"isolinux/stdmenu.cfg":                             []byte(ubuntuStdmenuCfg),
		"isolinux/txt.cfg":                                 []byte(UbuntuTxtCfg),
		"isolinux/adtxt.cfg":                               []byte(ubuntuAdtxtCfg),
		"isolinux/exithelp.cfg":                            []byte("label menu\n  kernel /isolinux/vesamenu.c32\n  config isolinux.cfg\n"),
		"isolinux/prompt.cfg":                              []byte("prompt 1\ndisplay f1.txt\ntimeout 0\ninclude menu.cfg\ninclude exithelp.cfg\n"),
		"isolinux/f1.txt":                                  ph("help screen f1"),
		"isolinux/bootlogo":                                ph("gfxboot theme archive (a cpio on the real media)"),
		"isolinux/splash.png":                              ph("splash image"),
		"isolinux/lang":                                    []byte("en\n"),
		"isolinux/langlist":                                []byte("en\n"),
		"install/vmlinuz":                                  kernel,
		"install/initrd.gz":                                initrd,
		"install/hwe-vmlinuz":                              ph("HWE kernel 4.8"),
		"install/hwe-initrd.gz":                            ph("HWE initrd"),
		"install/mt86plus":                                 ph("memtest86+"),
		"install/netboot/ubuntu-installer/amd64/linux":     ph("netboot kernel"),
		"install/netboot/ubuntu-installer/amd64/initrd.gz": ph("netboot initrd"),
		"install/netboot/pxelinux.0":                       ph("pxelinux"),
		"boot/grub/grub.cfg":                               []byte(UbuntuGrubCfg),
		"boot/grub/font.pf2":                               ph("grub font"),
		"boot/grub/x86_64-efi/linux.mod":                   ph("grub module"),
		"EFI/BOOT/BOOTx64.EFI":                             ph("shim"),
		"EFI/BOOT/grubx64.efi":                             ph("grub"),
		"dists/xenial/Release":                             []byte(ubuntuRelease),
		"dists/xenial/main/binary-amd64/Packages.gz":       ph("Packages.gz"),
		"dists/xenial/main/debian-installer/binary-amd64/Packages.gz": ph("udeb Packages.gz"),
		"preseed/ubuntu-server.seed":                                  []byte(ubuntuServerSeed),
		"preseed/hwe-ubuntu-server.seed":                              []byte(ubuntuServerSeed),
		"preseed/cli.seed":                                            ph("cli.seed"),
		"README.diskdefines":                                          []byte("#define DISKNAME  Ubuntu-Server 16.04.2 LTS \"Xenial Xerus\" - Release amd64\n"),
		"pool/main/o/open-vm-tools/open-vm-tools_10.0.7-3227872-2ubuntu1_amd64.deb":          ph("open-vm-tools"),
		"pool/main/m/multipath-tools/multipath-tools_0.5.0+git1.656f8865-5ubuntu2_amd64.deb": ph("multipath-tools"),
	}
	for _, k := range ubuntuKernels {
		files[k] = ph(filepath.Base(k))
	}
	for rel, data := range files {
		if err := writeFile(filepath.Join(ws, rel), data); err != nil {
			return "", err
		}
	}
	for _, m := range append(menuModules, "gfxboot.c32") {
		data, err := os.ReadFile(filepath.Join(syslinuxDir, m))
		if err != nil {
			return "", fmt.Errorf("testiso: %w", err)
		}
		if err := writeFile(filepath.Join(ws, "isolinux", m), data); err != nil {
			return "", err
		}
	}
	bin, err := os.ReadFile(isolinuxBin)
	if err != nil {
		return "", fmt.Errorf("testiso: %w", err)
	}
	if err := writeFile(filepath.Join(ws, "isolinux/isolinux.bin"), bin); err != nil {
		return "", err
	}
	if err := writeEFIImage(filepath.Join(ws, "boot/grub/efi.img")); err != nil {
		return "", err
	}
	if err := writeMD5Sums(ws); err != nil {
		return "", err
	}
	out := filepath.Join(dir, o.Name)
	tmp := filepath.Join(scratch, o.Name)
	// debian-cd's flags (xorriso -as mkisofs) but -isohybrid-gpt-basdat,
	// which genisoimage does not have.
	cmd := exec.CommandContext(ctx, tool, "-quiet", "-r", "-J", "-l",
		"-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat", "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table",
		"-eltorito-alt-boot", "-e", "boot/grub/efi.img", "-no-emul-boot",
		"-V", o.VolumeLabel, "-o", tmp, ws)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("testiso: genisoimage %s: %w\n%s", tmp, err, b)
	}
	if err := os.Rename(tmp, out); err != nil {
		return "", fmt.Errorf("testiso: %w", err)
	}
	return out, nil
}

// writeMD5Sums writes md5sum.txt as debian-cd does: "<md5>  ./<path>",
// sorted, every file but md5sum.txt itself and the boot catalog.
func writeMD5Sums(ws string) error {
	var lines []string
	err := filepath.WalkDir(ws, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(ws, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		lines = append(lines, fmt.Sprintf("%x  ./%s", md5.Sum(b), filepath.ToSlash(rel)))
		return nil
	})
	if err != nil {
		return fmt.Errorf("testiso: md5sum.txt: %w", err)
	}
	sort.Slice(lines, func(i, j int) bool { return lines[i][34:] < lines[j][34:] })
	return writeFile(filepath.Join(ws, "md5sum.txt"), []byte(strings.Join(lines, "\n")+"\n"))
}
