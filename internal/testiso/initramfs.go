package testiso

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// cdModules are what /init needs to read qemu's default IDE CD-ROM:
// ata_piix (PIIX IDE), sr_mod (SCSI CD-ROM) and isofs, plus whatever
// modules.dep says they depend on (scsi_mod, scsi_common, libata, cdrom).
var cdModules = []string{"ata_piix", "sr_mod", "isofs"}

// host is what Build takes from the machine it runs on.
type host struct {
	kernel     string // /boot/vmlinuz-<release>
	modulesDir string // /lib/modules/<release>
}

// findHost checks every host file Build needs and picks the newest kernel
// that has its modules installed.
func findHost() (*host, error) {
	need := []string{isolinuxBin, busyboxPath}
	for _, m := range menuModules {
		need = append(need, filepath.Join(syslinuxDir, m))
	}
	for _, p := range need {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("testiso: %s: %w (install isolinux, syslinux-common, busybox-static)", p, ErrMissingHost)
		}
	}
	kernels, _ := filepath.Glob("/boot/vmlinuz-*")
	sort.Sort(sort.Reverse(sort.StringSlice(kernels)))
	for _, k := range kernels {
		release := strings.TrimPrefix(filepath.Base(k), "vmlinuz-")
		mods := filepath.Join("/lib/modules", release)
		if _, err := os.Stat(filepath.Join(mods, "modules.dep")); err != nil {
			continue
		}
		if f, err := os.Open(k); err == nil { // root-only on some distributions
			f.Close()
			return &host{kernel: k, modulesDir: mods}, nil
		}
	}
	return nil, fmt.Errorf("testiso: a readable /boot/vmlinuz-* with /lib/modules/<release>/modules.dep: %w (install linux-image-amd64)", ErrMissingHost)
}

// initScript is /init. It loads the CD modules, prints the command line,
// finds the kickstart the way anaconda 13's loader does for the two forms
// mtprep uses, and prints it between markers:
//
//   - ks=cdrom:<path>: every CD-ROM in turn (sr0, sr1, ...), the first
//     that has <path> (loader/cdinstall.c kickstartFromCD);
//   - ks=hd:<dev>:<path>: /dev/<dev> only (loader/hdinstall.c
//     kickstartFromHD), e.g. ks=hd:sr1:/ks.cfg for a seed ISO in the
//     second CD-ROM next to shared install media in the first.
//
// ata_piix drives both IDE channels, master and slave, so a second CD-ROM
// needs no other module: the kernel names the drives sr0, sr1, ... in
// channel and master/slave order. Only iso9660 is tried (the loader also
// tries ext2 and vfat; mtprep only ever hands it ISOs).
const initScript = `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /cdrom
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
echo "` + CmdlineMarker + `$(cat /proc/cmdline)"
for m in $(cat /etc/modules.order); do
	insmod "/lib/modules/$m" || echo "MTPREP-WARN: insmod $m failed"
done
ks=""
dev=""
for a in $(cat /proc/cmdline); do
	case "$a" in
	ks=cdrom:*) ks="${a#ks=cdrom:}"; dev="" ;;
	ks=hd:*:*) r="${a#ks=hd:}"; dev="${r%%:*}"; ks="${r#*:}" ;;
	esac
done
if [ -z "$ks" ]; then
	echo "` + NoKickstartMarker + `"
	poweroff -f
fi
wait_for() {
	i=0
	while [ ! -b "$1" ] && [ $i -lt 300 ]; do usleep 100000; i=$((i+1)); done
	[ -b "$1" ]
}
if [ -n "$dev" ]; then
	if ! wait_for "/dev/$dev"; then
		echo "` + ErrorMarker + `no /dev/$dev (ks=hd:$dev:$ks)"
		poweroff -f
	fi
	devs="/dev/$dev"
else
	if ! wait_for /dev/sr0; then
		echo "` + ErrorMarker + `no CD-ROM"
		poweroff -f
	fi
	# The drives of one channel come up together; give a second one a
	# moment, as the loader's device scan would have.
	sleep 1
	devs=$(ls /dev/sr* | sort)
fi
found=""
for d in $devs; do
	if ! mount -t iso9660 -o ro "$d" /cdrom 2>/dev/null; then
		[ -n "$dev" ] && echo "` + ErrorMarker + `mount $d failed"
		[ -n "$dev" ] && poweroff -f
		continue
	fi
	if [ -f "/cdrom$ks" ]; then
		found="$d"
		break
	fi
	umount /cdrom
done
if [ -z "$found" ]; then
	echo "` + ErrorMarker + `no $ks on $devs"
	poweroff -f
fi
# Keep kernel messages out of the kickstart text.
echo 1 > /proc/sys/kernel/printk
echo "` + SourceMarker + `${found#/dev/}"
echo "` + KickstartBegin + `"
cat "/cdrom$ks"
[ -n "$(tail -c 1 "/cdrom$ks")" ] && echo
echo "` + KickstartEnd + `"
poweroff -f
`

// buildInitramfs returns a gzip'd newc cpio archive: busybox, /init and
// the CD modules in load order.
func buildInitramfs(h *host) ([]byte, error) {
	return buildInitramfsWith(h, initScript, nil)
}

// buildInitramfsWith is buildInitramfs with another /init and extra
// files (path -> executable script).
func buildInitramfsWith(h *host, init string, extra map[string]string) ([]byte, error) {
	mods, err := moduleOrder(h.modulesDir, cdModules)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	w := &cpioWriter{w: gz}
	dirs := []string{"bin", "dev", "etc", "lib", "lib/modules", "proc", "sys", "cdrom"}
	if extra != nil {
		dirs = append(dirs, "media", "tmp", "usr", "usr/bin")
	}
	for _, d := range dirs {
		w.dir(d)
	}
	bb, err := os.ReadFile(busyboxPath)
	if err != nil {
		return nil, fmt.Errorf("testiso: %w", err)
	}
	w.file("bin/busybox", 0o755, bb)
	w.file("init", 0o755, []byte(init))
	names := make([]string, 0, len(extra))
	for p := range extra {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		w.file(p, 0o755, []byte(extra[p]))
	}
	var order []string
	for _, m := range mods {
		data, err := readModule(filepath.Join(h.modulesDir, m))
		if err != nil {
			return nil, err
		}
		name := moduleName(m) + ".ko"
		w.file("lib/modules/"+name, 0o644, data)
		order = append(order, name)
	}
	w.file("etc/modules.order", 0o644, []byte(strings.Join(order, "\n")+"\n"))
	w.trailer()
	if w.err != nil {
		return nil, fmt.Errorf("testiso: initramfs: %w", w.err)
	}
	if err := gz.Close(); err != nil {
		return nil, fmt.Errorf("testiso: initramfs: %w", err)
	}
	return buf.Bytes(), nil
}

// moduleOrder resolves want through modules.dep into a load order,
// dependencies first, leaving out modules built into the kernel.
func moduleOrder(dir string, want []string) ([]string, error) {
	f, err := os.Open(filepath.Join(dir, "modules.dep"))
	if err != nil {
		return nil, fmt.Errorf("testiso: %w: %w", err, ErrMissingHost)
	}
	defer f.Close()
	deps := map[string][]string{} // module path -> dependency paths
	byName := map[string]string{} // module name -> path
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		mod, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		deps[mod] = strings.Fields(rest)
		byName[moduleName(mod)] = mod
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("testiso: modules.dep: %w", err)
	}
	builtin := map[string]bool{}
	if b, err := os.ReadFile(filepath.Join(dir, "modules.builtin")); err == nil {
		for _, l := range strings.Fields(string(b)) {
			builtin[moduleName(l)] = true
		}
	}
	var order []string
	seen := map[string]bool{}
	var visit func(mod string)
	visit = func(mod string) {
		if seen[mod] {
			return
		}
		seen[mod] = true
		for _, d := range deps[mod] {
			visit(d)
		}
		order = append(order, mod)
	}
	for _, name := range want {
		if builtin[name] {
			continue
		}
		mod, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("testiso: kernel module %s: not in %s/modules.dep: %w", name, dir, ErrMissingHost)
		}
		visit(mod)
	}
	return order, nil
}

// moduleName turns kernel/drivers/scsi/sr_mod.ko.xz into sr_mod (modprobe
// treats - and _ alike).
func moduleName(p string) string {
	n := path.Base(p)
	if i := strings.Index(n, ".ko"); i >= 0 {
		n = n[:i]
	}
	return strings.ReplaceAll(n, "-", "_")
}

// readModule returns a module uncompressed: busybox insmod cannot read
// compressed ones. Newer distributions ship .ko.xz or .ko.zst.
func readModule(p string) ([]byte, error) {
	switch {
	case strings.HasSuffix(p, ".ko"):
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("testiso: %w", err)
		}
		return b, nil
	case strings.HasSuffix(p, ".ko.gz"):
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("testiso: %w", err)
		}
		defer f.Close()
		z, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("testiso: %s: %w", p, err)
		}
		return io.ReadAll(z)
	default:
		tool := map[string]string{".xz": "xz", ".zst": "zstd"}[path.Ext(p)]
		if tool == "" {
			return nil, fmt.Errorf("testiso: %s: unknown module compression", p)
		}
		out, err := exec.Command(tool, "-dc", p).Output()
		if err != nil {
			return nil, fmt.Errorf("testiso: %s -dc %s: %w", tool, p, err)
		}
		return out, nil
	}
}

// cpioWriter writes the "newc" cpio format the kernel unpacks.
type cpioWriter struct {
	w   io.Writer
	ino int
	n   int64
	err error
}

func (c *cpioWriter) dir(name string)                         { c.entry(name, 0o040755, nil) }
func (c *cpioWriter) file(name string, perm int, data []byte) { c.entry(name, 0o100000|perm, data) }
func (c *cpioWriter) trailer()                                { c.entry("TRAILER!!!", 0, nil) }

func (c *cpioWriter) entry(name string, mode int, data []byte) {
	c.ino++
	nlink := 1
	if mode&0o040000 != 0 {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x%08x",
		c.ino, mode, 0, 0, nlink, 0, len(data), 0, 0, 0, 0, len(name)+1, 0)
	c.write([]byte(hdr))
	c.write(append([]byte(name), 0))
	c.pad()
	c.write(data)
	c.pad()
}

func (c *cpioWriter) write(b []byte) {
	if c.err != nil {
		return
	}
	n, err := c.w.Write(b)
	c.n += int64(n)
	c.err = err
}

func (c *cpioWriter) pad() {
	if r := c.n % 4; r != 0 {
		c.write(make([]byte, 4-r))
	}
}
