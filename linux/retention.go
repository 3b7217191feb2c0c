package linux

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/mtprep/mtprep/provision/guest"
	scripts "github.com/mtprep/mtprep/scripts/linux"
)

// Retention finds the retention disk as multipath names it by WWID
// (/dev/mapper/<wwid>, with disk.EnableUUID), formats it ext4 and mounts
// it from /etc/fstab.
type Retention struct {
	// FstabOptions are the mount options of its fstab line: "" is
	// "defaults" (CentOS 6); Ubuntu 16.04 adds nofail, as systemd drops
	// to emergency mode for a failed fstab mount.
	FstabOptions string
}

// DevicePath is /dev/mapper/<wwid>.
func (Retention) DevicePath(wwid string) string { return "/dev/mapper/" + wwid }

// Read reads what retention-state.sh sees of the disk and mountpoint.
func (Retention) Read(ctx context.Context, r guest.Runner, wwid, mountpoint string) (guest.RetentionState, error) {
	out, err := r.Script(ctx, scripts.RetentionState, nil, wwid, mountpoint)
	if err != nil {
		return guest.RetentionState{}, err
	}
	return ParseRetentionState(string(out)), nil
}

// Apply formats (when format), writes fstab and mounts. The label is
// retention-apply.sh's own (mtprep-retention).
func (rt Retention) Apply(ctx context.Context, r guest.Runner, _, device, mountpoint, label string, format guest.Format) error {
	f := "no"
	switch format {
	case guest.FormatBlank:
		f = "yes"
	case guest.FormatNamed:
		f = "named"
	}
	_, err := r.Script(ctx, scripts.RetentionApply, nil, device, mountpoint, f, rt.options())
	return err
}

// ParseRetentionState reads retention-state.sh's output.
func ParseRetentionState(out string) guest.RetentionState {
	var st guest.RetentionState
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch k {
		case "device":
			if v != "none" {
				st.Device = v
			}
		case "size":
			st.Size, _ = strconv.ParseInt(v, 10, 64)
		case "readonly":
			st.ReadOnly = v != "0"
		case "fstype":
			if v != "none" {
				st.FSType = v
			}
		case "label":
			if v != "none" {
				st.Label = v
			}
		case "mounted":
			st.Mounted = append(st.Mounted, v)
		case "swap":
			st.Swap = true
		case "holders":
			st.Holders = true
		case "nonzero":
			st.NonZero, _ = strconv.ParseInt(v, 10, 64)
		case "sampled":
			st.Sampled, _ = strconv.Atoi(v)
		case "ptable":
			if st.PartitionTable == "" {
				st.PartitionTable = v
			}
		case "signature":
			if v != "" {
				st.Signatures = append(st.Signatures, v)
			}
		case "backupgpt":
			st.BackupGPT = true
		case "fstab":
			st.FstabDevice, st.FstabFS, _ = strings.Cut(v, " ")
		}
	}
	return st
}

// scanChunk is how much of the disk one retention-scan.sh call reads: a
// progress step, and where Ctrl-C stops the scan. scanStreams is how many
// contiguous parts of a chunk are read side by side.
const (
	scanChunk   = 1 << 30
	scanStreams = 2
)

// Scan reads the whole device on the MT, chunk by chunk, and stops at the
// first chunk with a non-zero byte. It only reads: a scan cut short by
// Ctrl-C or a lost connection leaves the disk as it was, and the next run
// scans again from the start.
func (Retention) Scan(ctx context.Context, r guest.Runner, device string, size int64, env guest.Env) (guest.ScanResult, error) {
	return guest.ScanChunks(ctx, device, size, scanChunk, env, func(ctx context.Context, off, n int64) (int64, error) {
		out, err := r.Script(ctx, scripts.RetentionScan, nil, device, strconv.FormatInt(off, 10), strconv.FormatInt(n, 10), strconv.Itoa(scanStreams))
		if err != nil {
			return -1, err
		}
		return ParseScan(string(out), off, n)
	})
}

// ParseScan reads retention-scan.sh's lines for the range [off, off+n):
// the lowest non-zero offset, or -1 when every part was zero. A part that
// reports an error, or a part missing, is an error: no proof.
func ParseScan(out string, off, n int64) (int64, error) {
	first := int64(-1)
	parts := 0
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || f[0] != "part" {
			continue
		}
		start, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || start < off || start >= off+n {
			return -1, fmt.Errorf("retention-scan.sh: bad line %q", line)
		}
		parts++
		switch f[2] {
		case "zero":
		case "nonzero":
			if len(f) < 4 {
				return -1, fmt.Errorf("retention-scan.sh: bad line %q", line)
			}
			o, err := strconv.ParseInt(f[3], 10, 64)
			if err != nil || o < start || o >= off+n {
				return -1, fmt.Errorf("retention-scan.sh: bad line %q", line)
			}
			if first < 0 || o < first {
				first = o
			}
		default:
			return -1, fmt.Errorf("retention-scan.sh: %s", strings.Join(f[2:], " "))
		}
	}
	want := (n + (4<<20 - 1)) / (4 << 20)
	want = min(want, scanStreams)
	if int64(parts) < want {
		return -1, fmt.Errorf("retention-scan.sh reported %d of %d parts: the scan did not finish", parts, want)
	}
	return first, nil
}

func (rt Retention) options() string {
	if rt.FstabOptions == "" {
		return "defaults"
	}
	return rt.FstabOptions
}

// Steps: ext4 on the whole multipath device, mounted by fstab.
func (rt Retention) Steps(mountpoint string) string {
	s := "mkfs.ext4, mount at " + mountpoint + ", add to /etc/fstab"
	if rt.FstabOptions != "" {
		s += " (" + rt.FstabOptions + ")"
	}
	return s
}
