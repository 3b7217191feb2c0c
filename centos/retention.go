package centos

import (
	"context"
	"strconv"
	"strings"

	"github.com/mtprep/mtprep/provision/guest"
	scripts "github.com/mtprep/mtprep/scripts/centos"
)

// Retention finds the retention disk as multipath names it by WWID
// (/dev/mapper/<wwid>, with disk.EnableUUID), formats it ext4 and mounts
// it from /etc/fstab.
type Retention struct{}

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
func (Retention) Apply(ctx context.Context, r guest.Runner, device, mountpoint, label string, format bool) error {
	f := "no"
	if format {
		f = "yes"
	}
	_, err := r.Script(ctx, scripts.RetentionApply, nil, device, mountpoint, f)
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
			st.PartitionTable = v
		case "fstab":
			st.FstabDevice, st.FstabFS, _ = strings.Cut(v, " ")
		}
	}
	return st
}
