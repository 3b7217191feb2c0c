package lab

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// DiskRole says what the lab puts on a presented disk, so the retention
// phase's refusals can be tested against real content.
type DiskRole string

const (
	// RoleBlank is all zeroes: the disk a retention volume should be.
	RoleBlank DiskRole = "blank"
	// RoleOS carries the partition layout of a CentOS 6 install (/,
	// /var/crash, /home, swap) with an ext4 file system on the first
	// partition. It is presented like the MT's OS disk, but it is not the
	// guest's root: the lab guest's / is an overlay.
	RoleOS DiskRole = "os"
	// RoleExt4Data holds an ext4 file system with files on it.
	RoleExt4Data DiskRole = "ext4-data"
	// RolePartitioned holds an MBR partition table (one Linux partition)
	// and no file system.
	RolePartitioned DiskRole = "partitioned"
	// RoleFAT32 holds a FAT32 file system (mkfs.vfat -F 32).
	RoleFAT32 DiskRole = "fat32"
	// RoleMounted holds ext4 and is mounted in the guest at /data, with an
	// /etc/fstab line, so it stays in use across reboots.
	RoleMounted DiskRole = "mounted"
	// RoleZeroSize is a device of size zero. vSphere has no such disk; a
	// guest can still see one (a LUN whose capacity reads 0). The lab makes
	// it as a loop device over a 0-byte file, which this kernel accepts.
	RoleZeroSize DiskRole = "zero-size"
)

// MountedDiskPath is where a RoleMounted disk is mounted in the guest.
const MountedDiskPath = "/data"

// Disk is a virtual disk of a vSphere VM as one lab guest sees it.
type Disk struct {
	Role  DiskRole
	VM    string // vSphere VM name
	Key   int32  // vSphere device key of the VirtualDisk
	Label string // vSphere device label
	UUID  string // vSphere backing UUID, 6000C29x-...
	WWID  string // 36000c29... as the guest's multipath shows it
	// CapacityBytes is what vSphere says; SizeBytes what the guest sees
	// (the lab caps it, see Options.DiskSize).
	CapacityBytes int64
	SizeBytes     int64

	Mapper string // /dev/mapper/<wwid> (a block device node in the guest)
	ByID   string // /dev/disk/by-id/scsi-<wwid> (a symlink in the guest)
	SD     string // path device name, sdb
	DM     string // dm-N
	HCTL   string // SCSI address, 2:0:1:0
	// MountPoint is set for RoleMounted.
	MountPoint string

	Loop  string // host loop device
	Image string // host file behind it

	loop *loopDev
}

// SHA256 hashes the disk's bytes as the guest sees them, so a test can
// prove that a refused disk was not touched.
func (d *Disk) SHA256() (string, error) {
	f, err := os.Open(d.Image)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// PresentOption changes how PresentDisks presents a VM's disks.
type PresentOption func(*presentOpts)

type presentOpts struct {
	roles    map[string]DiskRole
	rootUUID string
}

// WithRole gives the disk with vSphere backing UUID uuid the role r. By
// default the first disk (SCSI 0:0) is RoleOS and the others RoleBlank.
func WithRole(uuid string, r DiskRole) PresentOption {
	return func(o *presentOpts) { o.roles[strings.ToLower(uuid)] = r }
}

func withRootUUID(u string) PresentOption { return func(o *presentOpts) { o.rootUUID = u } }

// PresentDisks reads the virtual disks of vSphere VM vmName from the lab's
// vCenter (each VirtualDisk's backing UUID), makes a sparse loop-backed
// image of each, and presents it in guest g the way multipath presents a
// VMware disk with disk.EnableUUID=TRUE: a block device node
// /dev/mapper/<wwid>, /dev/dm-N and /dev/sdX nodes, the symlink
// /dev/disk/by-id/scsi-<wwid>, and a line for the guest's multipath -ll.
// Disks already presented (same WWID) are returned as they are, so calling
// it again after a VM gained a disk presents just the new one.
func (l *Lab) PresentDisks(ctx context.Context, g *Guest, vmName string, opts ...PresentOption) ([]*Disk, error) {
	o := presentOpts{roles: map[string]DiskRole{}}
	for _, f := range opts {
		f(&o)
	}
	vds, err := l.readVMDisks(ctx, vmName)
	if err != nil {
		return nil, fmt.Errorf("read disks of VM %s: %w", vmName, err)
	}
	var out []*Disk
	for i, vd := range vds {
		wwid := wwidFromDiskUUID(vd.UUID)
		if wwid == "" {
			return out, fmt.Errorf("VM %s: %s has UUID %q, not a vSphere disk UUID", vmName, vd.Label, vd.UUID)
		}
		if d := g.disk(wwid); d != nil {
			out = append(out, d)
			continue
		}
		role, ok := o.roles[strings.ToLower(vd.UUID)]
		if !ok {
			role = RoleBlank
			if i == 0 {
				role = RoleOS
			}
		}
		d, err := l.presentDisk(ctx, g, vmName, vd, wwid, role, o.rootUUID)
		if err != nil {
			return out, fmt.Errorf("present %s of VM %s: %w", vd.Label, vmName, err)
		}
		out = append(out, d)
	}
	return out, nil
}

func (l *Lab) presentDisk(ctx context.Context, g *Guest, vmName string, vd vmDisk, wwid string, role DiskRole, rootUUID string) (*Disk, error) {
	d := &Disk{
		Role: role, VM: vmName, Key: vd.Key, Label: vd.Label, UUID: vd.UUID, WWID: wwid,
		CapacityBytes: vd.CapacityKB * 1024,
		Mapper:        "/dev/mapper/" + wwid,
		ByID:          "/dev/disk/by-id/scsi-" + wwid,
		HCTL:          fmt.Sprintf("%d:0:%d:0", 2+vd.Bus, vd.Unit),
		Image:         filepath.Join(l.runDir, "disks", g.Name+"-"+wwid+".img"),
	}
	size := min(d.CapacityBytes, l.opts.DiskSize)
	if role != RoleOS && role != RoleBlank {
		size = min(size, 64<<20)
	}
	if role == RoleZeroSize {
		size = 0
	}
	if err := os.MkdirAll(filepath.Dir(d.Image), 0o755); err != nil {
		return nil, err
	}
	if err := makeImage(ctx, d.Image, size, role, rootUUID); err != nil {
		return nil, err
	}
	lo, err := attachLoop(d.Image)
	if err != nil {
		return nil, err
	}
	d.loop, d.Loop, d.SizeBytes = lo, lo.Path, size
	if err := g.addDisk(ctx, d); err != nil {
		lo.detach()
		return nil, err
	}
	// From now on a write to the image, by anyone, moves the disk's
	// contentId and allocated bytes in vSphere (diskproof.go).
	if err := l.watchDisk(d, vd, role == RoleBlank || role == RoleZeroSize); err != nil {
		return d, err
	}
	if role == RoleMounted {
		d.MountPoint = MountedDiskPath
		if out, err := g.Exec(ctx, "mkdir", "-p", MountedDiskPath); err != nil {
			return d, fmt.Errorf("%w: %s", err, out)
		}
		line := fmt.Sprintf("%s %s ext4 defaults 0 0\n", d.Mapper, MountedDiskPath)
		if err := g.appendFstab(line); err != nil {
			return d, err
		}
		if out, err := g.Exec(ctx, "mount", MountedDiskPath); err != nil {
			return d, fmt.Errorf("%w: %s", err, out)
		}
	}
	l.log.Info("disk presented", "guest", g.Name, "vm", vmName, "disk", vd.Label, "uuid", vd.UUID, "wwid", wwid, "role", role, "loop", lo.Path, "size", size)
	return d, nil
}

// makeImage writes the backing file for a role. Everything happens on the
// file before a loop device exists, with the host's tools.
func makeImage(ctx context.Context, path string, size int64, role DiskRole, rootUUID string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	err = f.Truncate(size) // sparse: costs no space until written
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	switch role {
	case RoleBlank, RoleZeroSize:
		return nil
	case RoleOS:
		mb := size >> 20
		rootMB, crashMB, homeMB := mb*3/8, mb/4, mb/4
		layout := fmt.Sprintf("label: dos\nstart=2048, size=%dMiB, type=83, bootable\nsize=%dMiB, type=83\nsize=%dMiB, type=83\ntype=82\n", rootMB, crashMB, homeMB)
		if err := sfdisk(ctx, path, layout); err != nil {
			return err
		}
		args := []string{"-q", "-F", "-t", "ext4", "-E", "offset=1048576"}
		if rootUUID != "" {
			args = append(args, "-U", rootUUID)
		}
		return run(ctx, "mke2fs", append(args, path, fmt.Sprintf("%dM", rootMB))...)
	case RolePartitioned:
		return sfdisk(ctx, path, "label: dos\nstart=2048, type=83\n")
	case RoleExt4Data, RoleMounted:
		content, err := os.MkdirTemp(filepath.Dir(path), "content-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(content)
		os.WriteFile(filepath.Join(content, "README"), []byte("Data of another system. mtlab: a disk that must never be formatted.\n"), 0o644)
		os.MkdirAll(filepath.Join(content, "db"), 0o755)
		os.WriteFile(filepath.Join(content, "db", "orders.dat"), bytesOf(256<<10), 0o644)
		label := "data"
		if role == RoleMounted {
			label = "inuse"
		}
		return run(ctx, "mkfs.ext4", "-q", "-F", "-L", label, "-d", content, path)
	case RoleFAT32:
		return run(ctx, "mkfs.vfat", "-F", "32", "-n", "FAT32DATA", path)
	}
	return fmt.Errorf("unknown disk role %q", role)
}

func sfdisk(ctx context.Context, path, layout string) error {
	cmd := commandWithInput(ctx, layout, "sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", path)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("sfdisk %s: %w: %s", path, err, out)
	}
	return nil
}

// bytesOf returns n bytes of a fixed, non-zero pattern.
func bytesOf(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

// addDisk makes the guest's device nodes for d and records it in the disk
// list the guest's multipath stand-in reads. The nodes go into the guest's
// own /dev (a tmpfs in its mount namespace), reached through the guest
// init's /proc/<pid>/root, so nothing appears in the host's /dev.
func (g *Guest) addDisk(ctx context.Context, d *Disk) error {
	rfs, err := g.guestRootFS()
	if err != nil {
		return err
	}
	defer rfs.Close()
	g.mu.Lock()
	defer g.mu.Unlock()
	d.DM = fmt.Sprintf("dm-%d", g.nextDM)
	d.SD = sdName(g.nextSD)
	dev := uint64(unix.Mkdev(d.loop.Major, d.loop.Minor))
	// disk group (6) and 0660, as udev makes them.
	for _, p := range []string{d.Mapper, "/dev/" + d.DM, "/dev/" + d.SD} {
		if err := rfs.Mknod(p, unix.S_IFBLK|0o660, dev); err != nil {
			return err
		}
		rfs.Chown(p, 0, 6)
	}
	if err := rfs.Symlink("../../"+d.DM, d.ByID); err != nil {
		return err
	}
	if err := rfs.Symlink("../../"+d.DM, "/dev/disk/by-id/dm-uuid-mpath-"+d.WWID); err != nil {
		return err
	}
	g.nextDM++
	g.nextSD++
	g.disks = append(g.disks, d)
	var b strings.Builder
	b.WriteString("# mtlab: disks presented to this guest, read by the multipath stand-in\n")
	b.WriteString("# wwid dm sd h:c:t:l size-bytes major:minor\n")
	for _, x := range g.disks {
		fmt.Fprintf(&b, "%s %s %s %s %d %d:%d\n", x.WWID, x.DM, x.SD, x.HCTL, x.SizeBytes, x.loop.Major, x.loop.Minor)
	}
	return rfs.WriteFile("/var/lib/mtlab/disks", []byte(b.String()), 0o644)
}

// sdName is Linux's name for the n-th SCSI disk: sda..sdz, sdaa...
func sdName(n int) string {
	const letters = "abcdefghijklmnopqrstuvwxyz"
	if n < 26 {
		return "sd" + letters[n:n+1]
	}
	return "sd" + letters[n/26-1:n/26] + letters[n%26:n%26+1]
}

func (g *Guest) disk(wwid string) *Disk {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, d := range g.disks {
		if d.WWID == wwid {
			return d
		}
	}
	return nil
}

// Disks returns the disks presented to the guest, in presentation order.
func (g *Guest) Disks() []*Disk {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]*Disk(nil), g.disks...)
}

// DiskByRole returns the first presented disk with role r, or nil.
func (g *Guest) DiskByRole(r DiskRole) *Disk {
	for _, d := range g.Disks() {
		if d.Role == r {
			return d
		}
	}
	return nil
}

func (g *Guest) appendFstab(line string) error {
	rfs, err := openRootFS(g.Root)
	if err != nil {
		return err
	}
	defer rfs.Close()
	return rfs.AppendFile("/etc/fstab", []byte(line), 0o644)
}
