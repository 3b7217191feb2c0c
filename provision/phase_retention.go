package provision

import (
	"context"
	"fmt"
	"strings"

	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/vsphere"
)

// retentionPhase formats and mounts the retention disk, found by identity:
// the vSphere UUID of the VM's retention disk → WWID 36000c29… →
// /dev/mapper/<wwid>. Never by a guessed /dev/sdb. It refuses any disk
// that holds data or is in use; the only way past that is --format-wwid
// naming the disk's WWID.
type retentionPhase struct{}

func (retentionPhase) Name() string { return "retention" }

// retentionLabel marks a file system mtprep made, so a re-run mounts it
// instead of calling it "data".
const retentionLabel = "mtprep-retention"

// RetentionState is what the OS's retention part read of the disk.
type RetentionState = guest.RetentionState

// RetentionPlan is what the phase will do with a disk, or why it will not.
type RetentionPlan struct {
	Done    bool
	Format  bool   // mkfs.ext4
	Mount   bool   // fstab line and mount
	Refusal string // non-empty: touch nothing
}

// PlanRetention decides, from what the disk holds, whether it is done, may
// be formatted, only needs mounting, or must be refused. Pure, so every
// refusal is tested on its own.
func PlanRetention(st RetentionState, wwid, mountpoint, formatWWID string) RetentionPlan {
	ours := st.FSType == "ext4" && st.Label == retentionLabel
	mountedHere := len(st.Mounted) == 1 && st.Mounted[0] == mountpoint
	fstabOK := st.FstabDevice == st.Device && st.FstabFS == "ext4"
	switch {
	case st.Device == "":
		return RetentionPlan{Refusal: fmt.Sprintf("no disk with WWID %s on the MT (/dev/mapper/%s): is disk.EnableUUID TRUE and multipathd running?", wwid, wwid)}
	case st.Size <= 0:
		return RetentionPlan{Refusal: fmt.Sprintf("%s has zero size", st.Device)}
	case ours && mountedHere && fstabOK:
		return RetentionPlan{Done: true}
	case len(st.Mounted) > 0 && !(ours && mountedHere):
		return RetentionPlan{Refusal: fmt.Sprintf("%s is mounted at %s", st.Device, strings.Join(st.Mounted, ", "))}
	case st.Swap:
		return RetentionPlan{Refusal: fmt.Sprintf("%s is in use as swap", st.Device)}
	case st.Holders:
		return RetentionPlan{Refusal: fmt.Sprintf("%s is in use: a partition, device-mapper or md device sits on it", st.Device)}
	case st.ReadOnly:
		return RetentionPlan{Refusal: fmt.Sprintf("%s is read-only (locked)", st.Device)}
	case ours:
		return RetentionPlan{Mount: true}
	}
	var data string
	switch {
	case st.FSType == "vfat" || st.FSType == "msdos":
		data = fmt.Sprintf("holds a FAT file system (ASR refuses FAT/FAT32 retention volumes, and it may hold data)")
	case st.FSType != "":
		data = fmt.Sprintf("holds a %s file system", st.FSType)
	case st.PartitionTable != "":
		data = fmt.Sprintf("holds a %s partition table", st.PartitionTable)
	case st.NonZero != 0:
		data = fmt.Sprintf("holds data (%d non-zero bytes in %d MiB read across it)", st.NonZero, st.Sampled)
	case st.Sampled <= 0:
		// Nothing was read back: no proof the disk is empty, and no
		// --format-wwid either, since nothing says what it holds.
		return RetentionPlan{Refusal: fmt.Sprintf("%s could not be read to check that it holds no data", st.Device)}
	}
	if data != "" && formatWWID != wwid {
		return RetentionPlan{Refusal: fmt.Sprintf("%s %s; to format it anyway, pass --format-wwid %s", st.Device, data, wwid)}
	}
	return RetentionPlan{Format: true, Mount: true}
}

// diskSize prints a disk size in GB, or MB below 1 GB (a small test disk
// said "0 GB").
func diskSize(b int64) string {
	if b < 1<<30 {
		return fmt.Sprintf("%d MB", b>>20)
	}
	return fmt.Sprintf("%d GB", b>>30)
}

// retentionWWID is the WWID of the VM's retention disk. The enable-uuid
// phase records the disk UUIDs; a run of the guest phases alone
// (--phases retention,handoff) reads them from vSphere here.
func (t *Target) retentionWWID(ctx context.Context) (string, error) {
	if t.Facts.DiskUUIDs["retention"] == "" {
		st, err := t.vmFor(ctx)
		if err != nil {
			return "", fmt.Errorf("reading the retention disk's vSphere UUID: %w", err)
		}
		if st == nil {
			return "", fmt.Errorf("VM %s not found: run the vm phase first", t.Spec.Name)
		}
		t.recordDiskUUIDs(st)
	}
	uuid := t.Facts.DiskUUIDs["retention"]
	if uuid == "" {
		return "", fmt.Errorf("VM %s has no second disk to use for retention", t.Spec.Name)
	}
	if uuid == t.Facts.DiskUUIDs["os"] {
		return "", fmt.Errorf("the retention disk and the OS disk have the same UUID %s", uuid)
	}
	w := vsphere.WWIDFromDiskUUID(uuid)
	if w == "" {
		return "", fmt.Errorf("vSphere disk UUID %q is not a UUID", uuid)
	}
	return w, nil
}

func readRetention(ctx context.Context, t *Target) (string, RetentionState, RetentionPlan, error) {
	wwid, err := t.retentionWWID(ctx)
	if err != nil {
		return "", RetentionState{}, RetentionPlan{}, err
	}
	if t.OS == nil || t.OS.Retention == nil {
		return "", RetentionState{}, RetentionPlan{}, fmt.Errorf("no retention part for os %q", t.Spec.OS)
	}
	c, err := t.SSH(ctx)
	if err != nil {
		return "", RetentionState{}, RetentionPlan{}, err
	}
	st, err := t.OS.Retention.Read(ctx, c, wwid, t.Spec.Retention.Mountpoint)
	if err != nil {
		return "", RetentionState{}, RetentionPlan{}, err
	}
	return wwid, st, PlanRetention(st, wwid, t.Spec.Retention.Mountpoint, t.Options.FormatWWID), nil
}

func (retentionPhase) OnFreshMT(t *Target) []string {
	return []string{fmt.Sprintf("find the retention disk by its vSphere UUID (WWID 36000c29…), check it holds no data, mkfs.ext4, mount at %s, add to /etc/fstab", t.Spec.Retention.Mountpoint)}
}

func (retentionPhase) Check(ctx context.Context, t *Target) (Check, error) {
	wwid, st, p, err := readRetention(ctx, t)
	if err != nil {
		return Check{}, err
	}
	switch {
	case p.Refusal != "":
		return Check{}, fmt.Errorf("retention disk %s: %s", wwid, p.Refusal)
	case p.Done:
		return Check{Done: true, Observed: fmt.Sprintf("%s (%s, ext4) mounted at %s, in fstab", st.Device, diskSize(st.Size), t.Spec.Retention.Mountpoint)}, nil
	case p.Format:
		return Check{Changes: []string{fmt.Sprintf("mkfs.ext4 %s (WWID %s, %s), mount at %s, add to /etc/fstab", st.Device, wwid, diskSize(st.Size), t.Spec.Retention.Mountpoint)}}, nil
	}
	return Check{Changes: []string{fmt.Sprintf("mount %s (already ext4 by mtprep) at %s, fix /etc/fstab", st.Device, t.Spec.Retention.Mountpoint)}}, nil
}

func (retentionPhase) Apply(ctx context.Context, t *Target) error {
	wwid, st, p, err := readRetention(ctx, t)
	if err != nil {
		return err
	}
	if p.Refusal != "" {
		return fmt.Errorf("retention disk %s: %s", wwid, p.Refusal)
	}
	if p.Done {
		return nil
	}
	c, err := t.SSH(ctx)
	if err != nil {
		return err
	}
	if err := t.OS.Retention.Apply(ctx, c, st.Device, t.Spec.Retention.Mountpoint, retentionLabel, p.Format); err != nil {
		return fmt.Errorf("retention disk %s: %w", wwid, err)
	}
	t.Note("retention", fmt.Sprintf("%s %s (WWID %s) at %s", map[bool]string{true: "formatted ext4 and mounted", false: "mounted"}[p.Format], st.Device, wwid, t.Spec.Retention.Mountpoint))
	return nil
}

func (retentionPhase) Verify(ctx context.Context, t *Target) error {
	wwid, st, p, err := readRetention(ctx, t)
	if err != nil {
		return err
	}
	if !p.Done {
		return fmt.Errorf("retention disk %s not done after apply: %+v", wwid, st)
	}
	return nil
}
