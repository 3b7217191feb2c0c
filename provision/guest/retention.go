package guest

import (
	"context"
	"fmt"
	"time"
)

// RetentionState is what the retention check read of one disk: raw
// facts; the decision (provision.PlanRetention) is ASR's, not the OS's.
type RetentionState struct {
	Device, FSType, Label string
	Size                  int64
	ReadOnly, Swap        bool
	Holders               bool
	Mounted               []string
	NonZero               int64 // non-zero bytes in the MiBs sampled
	Sampled               int   // MiBs sampled across the disk
	PartitionTable        string
	FstabDevice, FstabFS  string
	// Signatures are what a low-level probe found anywhere on the disk,
	// "type (tool)": blkid -p and wipefs -n (file systems, partition
	// tables, RAID, LVM, swap, LUKS, bcache members, …).
	Signatures []string
	// BackupGPT: the disk's last LBA holds a GPT header ("EFI PART"),
	// whether or not the primary header at LBA 1 survives.
	BackupGPT bool
}

// ScanResult is a full read of a disk: every byte zero, or where the
// first non-zero byte is.
type ScanResult struct {
	AllZero      bool
	FirstNonZero int64 // byte offset; -1 when AllZero
	Bytes        int64 // bytes read and checked
	Elapsed      time.Duration
}

// Retention reads and prepares the retention disk, found by its WWID.
type Retention interface {
	// DevicePath names the disk with this WWID on this OS, for messages.
	DevicePath(wwid string) string
	Read(ctx context.Context, r Runner, wwid, mountpoint string) (RetentionState, error)
	// Scan reads all size bytes of device on the MT (it only reads) and
	// reports whether each is zero; progress goes to env.
	Scan(ctx context.Context, r Runner, device string, size int64, env Env) (ScanResult, error)
	// Steps says what Apply does, for plans ("mkfs.ext4, mount at …,
	// add to /etc/fstab").
	Steps(mountpoint string) string
	// Apply formats device (as format says) with the label, writes the
	// boot mount entry and mounts it at mountpoint.
	// wwid is the disk's, so the apply can check on the MT that device
	// is still that disk.
	Apply(ctx context.Context, r Runner, wwid, device, mountpoint, label string, format Format) error
}

// Format is how the retention part's Apply may format the disk.
type Format int

const (
	// NoFormat only writes the mount entry and mounts.
	NoFormat Format = iota
	// FormatBlank formats a disk found blank; the apply looks once more,
	// just before formatting, and refuses if a signature or data appeared
	// since the check.
	FormatBlank
	// FormatNamed formats the disk the operator named (--format-wwid),
	// whatever it holds.
	FormatNamed
)

// ScanChunks is the full scan's loop that every OS's Retention.Scan
// shares: it reads [0, size) in chunks of chunk bytes with read (one
// script call on the MT, returning the first non-zero offset in its range
// or -1), reports progress after each chunk, stops at the first non-zero
// byte, and stops between chunks on ctx. It only reads; a scan cut short
// leaves the disk as it was.
func ScanChunks(ctx context.Context, device string, size, chunk int64, env Env, read func(ctx context.Context, off, n int64) (int64, error)) (ScanResult, error) {
	start := time.Now()
	res := ScanResult{FirstNonZero: -1}
	stage := "full scan of " + device
	for off := int64(0); off < size; off += chunk {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		n := min(chunk, size-off)
		first, err := read(ctx, off, n)
		if err != nil {
			return res, fmt.Errorf("reading %s at byte %d: %w", device, off, err)
		}
		res.Elapsed = time.Since(start)
		if first >= 0 {
			res.FirstNonZero, res.Bytes = first, first+1
			return res, nil
		}
		res.Bytes = off + n
		if env.Progress != nil {
			env.Progress(stage, res.Bytes, size)
		}
		if env.Log != nil {
			env.Log.Debug("retention scan", "device", device, "read_mb", res.Bytes>>20, "total_mb", size>>20,
				"mb_per_s", float64(res.Bytes>>20)/max(res.Elapsed.Seconds(), 1e-3))
		}
	}
	res.AllZero = res.Bytes == size
	res.Elapsed = time.Since(start)
	return res, nil
}
