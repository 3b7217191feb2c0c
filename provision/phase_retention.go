package provision

import (
	"context"
	"fmt"
	"strings"
	"time"

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

// ScanResult is a full read of the retention disk (guest.ScanResult).
type ScanResult = guest.ScanResult

// RetentionPlan is what the phase will do with a disk, or why it will not.
type RetentionPlan struct {
	Done   bool
	Format bool // mkfs.ext4 (after the full scan, when Scan)
	// Named: --format-wwid names the disk, which is formatted whatever
	// it holds (no last look before mkfs).
	Named bool
	Mount bool // fstab line and mount
	// Scan: the disk looks blank but nothing proves it: read every byte
	// first, and format only if all are zero (PlanRetention again, with
	// the result).
	Scan bool
	// Rule says which rule lets the disk be formatted, for plan and the
	// log: "full scan of 1024 GB before formatting: …", "format without a
	// full read: …", "--format-wwid names it".
	Rule    string
	Refusal string // non-empty: touch nothing
}

// PlanRetention decides, from what the disk holds, what vSphere proves of
// it (prov) and a full scan of it (scan, nil before one ran), whether it
// is done, may be formatted, must be read in full first, only needs
// mounting, or must be refused. A blank-looking disk is formatted without
// a full read only when prov.Proven; otherwise only after a scan found
// every byte zero, or when --format-wwid names it. Pure, so every rule is
// tested on its own.
func PlanRetention(st RetentionState, prov Provenance, scan *ScanResult, wwid, mountpoint, formatWWID string) RetentionPlan {
	return PlanRetentionFS(st, prov, scan, wwid, mountpoint, "ext4", formatWWID)
}

// PlanRetentionFS is PlanRetention for a retention file system fs (the
// spec's retention.filesystem: ext4 on Linux, ntfs on Windows).
func PlanRetentionFS(st RetentionState, prov Provenance, scan *ScanResult, wwid, mountpoint, fs, formatWWID string) RetentionPlan {
	ours := st.FSType == fs && st.Label == retentionLabel
	mountedHere := len(st.Mounted) == 1 && st.Mounted[0] == mountpoint
	fstabOK := st.FstabDevice == st.Device && st.FstabFS == fs
	dev := fmt.Sprintf("%s (WWID %s)", st.Device, wwid)
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
		data = "holds a FAT file system (ASR refuses FAT/FAT32 retention volumes, and it may hold data)"
	case strings.HasSuffix(st.FSType, "_member") || st.FSType == "crypto_LUKS" || st.FSType == "bcache":
		data = fmt.Sprintf("is a %s (a RAID, LVM, LUKS or cache volume's member: its data lives there)", st.FSType)
	case st.FSType != "":
		data = fmt.Sprintf("holds a %s file system", st.FSType)
	case st.PartitionTable != "":
		data = fmt.Sprintf("holds a %s partition table", st.PartitionTable)
	case st.BackupGPT:
		data = "holds a GPT partition table (its backup header at the disk's last sector; the primary was wiped)"
	case len(st.Signatures) > 0:
		data = fmt.Sprintf("holds signatures: %s", strings.Join(st.Signatures, ", "))
	case st.NonZero != 0:
		data = fmt.Sprintf("holds data (%d non-zero bytes in %d MiB read across it)", st.NonZero, st.Sampled)
	case scan != nil && !scan.AllZero && scan.FirstNonZero >= 0:
		data = fmt.Sprintf("holds data: a full read found a non-zero byte at offset %d (%s from the start) although no signature was found", scan.FirstNonZero, diskSize(scan.FirstNonZero))
	case st.Sampled <= 0:
		// Nothing was read back: no proof the disk is empty, and no
		// --format-wwid either, since nothing says what it holds.
		return RetentionPlan{Refusal: fmt.Sprintf("%s could not be read to check that it holds no data", st.Device)}
	}
	switch {
	case formatWWID == wwid && wwid != "":
		return RetentionPlan{Format: true, Named: true, Mount: true, Rule: "format without a full read: --format-wwid " + wwid + " names it"}
	case data != "":
		return RetentionPlan{Refusal: fmt.Sprintf("%s %s; to format it anyway, pass --format-wwid %s if you are sure", dev, data, wwid)}
	case prov.Proven:
		return RetentionPlan{Format: true, Mount: true, Rule: "format without a full read: " + prov.Why}
	case scan == nil:
		return RetentionPlan{Format: true, Mount: true, Scan: true,
			Rule: fmt.Sprintf("full scan of %s before formatting: %s", diskSize(st.Size), prov.Why)}
	case scan.AllZero && scan.Bytes >= st.Size:
		return RetentionPlan{Format: true, Mount: true,
			Rule: fmt.Sprintf("format after a full read of %s found only zeros (%s)", diskSize(scan.Bytes), scan.Elapsed.Round(time.Second))}
	}
	return RetentionPlan{Refusal: fmt.Sprintf("%s: the full read covered %d of %d bytes: no proof it holds no data; run again to scan again, or pass --format-wwid %s if you are sure", dev, scan.Bytes, st.Size, wwid)}
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

func readRetention(ctx context.Context, t *Target) (string, RetentionState, Provenance, RetentionPlan, error) {
	fail := func(err error) (string, RetentionState, Provenance, RetentionPlan, error) {
		return "", RetentionState{}, Provenance{}, RetentionPlan{}, err
	}
	wwid, err := t.retentionWWID(ctx)
	if err != nil {
		return fail(err)
	}
	if t.OS == nil || t.OS.Retention == nil {
		return fail(fmt.Errorf("no retention part for os %q", t.Spec.OS))
	}
	c, err := t.SSH(ctx)
	if err != nil {
		return fail(err)
	}
	st, err := t.OS.Retention.Read(ctx, c, wwid, t.Spec.Retention.Mountpoint)
	if err != nil {
		return fail(err)
	}
	prov, err := t.retentionProvenance(ctx, wwid)
	if err != nil {
		return fail(fmt.Errorf("retention disk %s: reading its provenance: %w", wwid, err))
	}
	return wwid, st, prov, PlanRetentionFS(st, prov, nil, wwid, t.Spec.Retention.Mountpoint, t.Spec.Retention.Filesystem, t.Options.FormatWWID), nil
}

func (retentionPhase) OnFreshMT(t *Target) []string {
	return []string{fmt.Sprintf("find the retention disk by its vSphere UUID (WWID 36000c29…), check it holds no data, %s", t.OS.Retention.Steps(t.Spec.Retention.Mountpoint))}
}

func (retentionPhase) Check(ctx context.Context, t *Target) (Check, error) {
	wwid, st, _, p, err := readRetention(ctx, t)
	if err != nil {
		return Check{}, err
	}
	switch {
	case p.Refusal != "":
		return Check{}, fmt.Errorf("retention disk %s: %s", wwid, p.Refusal)
	case p.Done:
		return Check{Done: true, Observed: fmt.Sprintf("%s (%s, %s) mounted at %s, at boot too", st.Device, diskSize(st.Size), t.Spec.Retention.Filesystem, t.Spec.Retention.Mountpoint)}, nil
	case p.Format:
		return Check{Changes: []string{p.Rule, fmt.Sprintf("%s (WWID %s, %s): %s", st.Device, wwid, diskSize(st.Size), t.OS.Retention.Steps(t.Spec.Retention.Mountpoint))}}, nil
	}
	return Check{Changes: []string{fmt.Sprintf("mount %s (already %s by mtprep) at %s, at boot too", st.Device, t.Spec.Retention.Filesystem, t.Spec.Retention.Mountpoint)}}, nil
}

func (retentionPhase) Apply(ctx context.Context, t *Target) error {
	wwid, st, prov, p, err := readRetention(ctx, t)
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
	if p.Scan {
		// Read every byte right before formatting, in this Apply: a
		// result kept from an earlier run would not prove that nothing
		// wrote to the disk since. It only reads; Ctrl-C or a lost
		// connection leaves the disk as it was.
		t.Log.Info("retention: "+p.Rule, "device", st.Device, "wwid", wwid)
		res, err := t.OS.Retention.Scan(ctx, c, st.Device, st.Size, guest.Env{Log: t.Log, Progress: t.Progress})
		if err != nil {
			return fmt.Errorf("retention disk %s (%s): full scan: %w; nothing was written: run again to scan again, or pass --format-wwid %s if you are sure", wwid, st.Device, err, wwid)
		}
		t.recordScan(wwid, st.Device, res)
		t.Log.Info("retention: full scan done", "device", st.Device, "wwid", wwid, "all_zero", res.AllZero, "first_nonzero", res.FirstNonZero,
			"bytes", res.Bytes, "seconds", res.Elapsed.Seconds(), "mb_per_s", float64(res.Bytes>>20)/max(res.Elapsed.Seconds(), 1e-3))
		p = PlanRetentionFS(st, prov, &res, wwid, t.Spec.Retention.Mountpoint, t.Spec.Retention.Filesystem, t.Options.FormatWWID)
		if p.Refusal != "" {
			return fmt.Errorf("retention disk %s: %s", wwid, p.Refusal)
		}
		if p.Scan || !p.Format {
			return fmt.Errorf("retention disk %s (%s): the full scan left no decision: refusing to format", wwid, st.Device)
		}
	}
	t.Log.Info("retention: "+p.Rule, "device", st.Device, "wwid", wwid)
	format := guest.NoFormat
	switch {
	case p.Format && p.Named:
		format = guest.FormatNamed
	case p.Format:
		format = guest.FormatBlank
	}
	if err := t.OS.Retention.Apply(ctx, c, wwid, st.Device, t.Spec.Retention.Mountpoint, retentionLabel, format); err != nil {
		return fmt.Errorf("retention disk %s: %w", wwid, err)
	}
	note := fmt.Sprintf("%s %s (WWID %s) at %s", map[bool]string{true: "formatted " + t.Spec.Retention.Filesystem + " and mounted", false: "mounted"}[p.Format], st.Device, wwid, t.Spec.Retention.Mountpoint)
	if p.Format {
		note += "; " + p.Rule
	}
	t.Note("retention", note)
	return nil
}

func (retentionPhase) Verify(ctx context.Context, t *Target) error {
	wwid, st, _, p, err := readRetention(ctx, t)
	if err != nil {
		return err
	}
	if !p.Done {
		return fmt.Errorf("retention disk %s not done after apply: %+v", wwid, st)
	}
	return nil
}

// RetentionScanRecord is a full read of the retention disk, for the
// handoff manifest: every byte zero, or the first that is not.
type RetentionScanRecord struct {
	WWID         string    `json:"wwid"`
	Device       string    `json:"device"`
	Bytes        int64     `json:"bytes"`
	AllZero      bool      `json:"allZero"`
	FirstNonZero int64     `json:"firstNonZero"` // -1 when allZero
	Seconds      float64   `json:"seconds"`
	At           time.Time `json:"at"`
}

func (t *Target) recordScan(wwid, device string, r ScanResult) {
	t.Facts.RetentionScan = &RetentionScanRecord{
		WWID: wwid, Device: device, Bytes: r.Bytes, AllZero: r.AllZero, FirstNonZero: r.FirstNonZero,
		Seconds: r.Elapsed.Seconds(), At: time.Now().UTC(),
	}
}
