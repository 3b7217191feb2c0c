package provision

import (
	"strings"
	"testing"

	"github.com/mtprep/mtprep/linux"
)

func TestPlanRetention(t *testing.T) {
	const w = "36000c2989daa4b1e8d391f0e1b2c3d4e"
	dev := "/dev/mapper/" + w
	blank := RetentionState{Device: dev, Size: 1 << 30, Sampled: 64}
	with := func(f func(*RetentionState)) RetentionState { s := blank; f(&s); return s }
	zeros := &ScanResult{AllZero: true, FirstNonZero: -1, Bytes: 1 << 30}
	proven := Provenance{Proven: true, Why: "contentId unchanged since mtprep created it"}
	none := Provenance{Why: "no provenance record"}
	cases := []struct {
		name  string
		st    RetentionState
		force string
		want  string // "done", "format", "scan", "mount" or a refusal fragment
		prov  Provenance
		scan  *ScanResult
	}{
		{name: "blank, unproven: scan first", st: blank, want: "scan"},
		{name: "blank, unproven, scanned all zero", st: blank, want: "format", scan: zeros},
		{name: "blank, proven: no scan", st: blank, want: "format", prov: proven},
		{name: "blank, forced: no scan", st: blank, force: w, want: "format"},
		{name: "a few KiB between the samples", st: blank, want: "non-zero byte at offset 5000", scan: &ScanResult{FirstNonZero: 5000, Bytes: 5001}},
		{name: "scan cut short", st: blank, want: "covered 4096 of", scan: &ScanResult{FirstNonZero: -1, Bytes: 4096}},
		{name: "backup GPT only", st: with(func(s *RetentionState) { s.BackupGPT = true }), want: "backup header", prov: proven},
		{name: "LVM member", st: with(func(s *RetentionState) { s.Signatures = []string{"LVM2_member at 0x218 (wipefs)"} }), want: "signatures: LVM2_member", prov: proven, scan: zeros},
		{name: "signature forced by its wwid", st: with(func(s *RetentionState) { s.Signatures = []string{"swap"} }), force: w, want: "format"},
		{"blank disk", blank, "", "scan", none, nil},
		{"no device", RetentionState{}, "", "no disk with WWID", none, nil},
		{"zero size", with(func(s *RetentionState) { s.Size = 0 }), "", "zero size", none, nil},
		{"ext4 with files", with(func(s *RetentionState) { s.FSType = "ext4"; s.NonZero = 4000 }), "", "holds a ext4 file system", none, nil},
		{"partition table", with(func(s *RetentionState) { s.PartitionTable = "mbr"; s.NonZero = 70 }), "", "holds a mbr partition table", none, nil},
		{"fat32", with(func(s *RetentionState) { s.FSType = "vfat"; s.NonZero = 300 }), "", "FAT", none, nil},
		{"fat32 forced by another wwid", with(func(s *RetentionState) { s.FSType = "vfat" }), "36000c29aaaaaaaaaaaaaaaaaaaaaaaaa", "FAT", none, nil},
		{"mounted elsewhere", with(func(s *RetentionState) { s.FSType = "ext4"; s.Mounted = []string{"/data"} }), w, "mounted at /data", none, nil},
		{"swap", with(func(s *RetentionState) { s.Swap = true }), w, "swap", none, nil},
		{"holders", with(func(s *RetentionState) { s.Holders = true }), w, "in use", none, nil},
		{"read-only", with(func(s *RetentionState) { s.ReadOnly = true }), w, "read-only", none, nil},
		{"raw data", with(func(s *RetentionState) { s.NonZero = 1 }), "", "non-zero bytes", none, nil},
		{"nothing read back", with(func(s *RetentionState) { s.Sampled = 0 }), w, "could not be read", none, nil},
		{"negative size", with(func(s *RetentionState) { s.Size = -1 }), "", "zero size", none, nil},
		{"data forced by its wwid", with(func(s *RetentionState) { s.NonZero = 1; s.FSType = "xfs" }), w, "format", none, nil},
		{"ours, not mounted", with(func(s *RetentionState) { s.FSType = "ext4"; s.Label = retentionLabel; s.NonZero = 9 }), "", "mount", none, nil},
		{"ours, mounted, no fstab", with(func(s *RetentionState) {
			s.FSType, s.Label, s.Mounted = "ext4", retentionLabel, []string{"/mnt/retention"}
		}), "", "mount", none, nil},
		{"done", with(func(s *RetentionState) {
			s.FSType, s.Label, s.Mounted, s.FstabDevice, s.FstabFS = "ext4", retentionLabel, []string{"/mnt/retention"}, dev, "ext4"
		}), "", "done", none, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := PlanRetention(c.st, c.prov, c.scan, w, "/mnt/retention", c.force)
			got := p.Refusal
			switch {
			case p.Done:
				got = "done"
			case p.Refusal == "" && p.Scan:
				got = "scan"
			case p.Refusal == "" && p.Format:
				got = "format"
			case p.Refusal == "" && p.Mount:
				got = "mount"
			}
			if !strings.Contains(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
			if p.Refusal != "" && (p.Format || p.Mount) {
				t.Error("a refusal that still formats or mounts")
			}
			if p.Format && p.Rule == "" {
				t.Error("a format with no rule for plan to print")
			}
			if p.Refusal != "" && !strings.Contains(p.Refusal, "--format-wwid") && c.st.Sampled > 0 && c.st.Size > 0 && c.st.Device != "" && len(c.st.Mounted) == 0 && !c.st.Swap && !c.st.Holders && !c.st.ReadOnly {
				t.Errorf("a data refusal that does not name the fix: %s", p.Refusal)
			}
		})
	}
}

func TestParseRetentionState(t *testing.T) {
	st := linux.ParseRetentionState("device /dev/mapper/36000c29x\nmajmin 7:3\nsize 1073741824\nreadonly 0\nsignature ext4 (blkid -p)\nfstype ext4\nlabel mtprep-retention\nsignature ext4 at 0x438 (wipefs)\nmounted /mnt/retention\nnonzero 42\nsampled 64\nbackupgpt yes\nfstab /dev/mapper/36000c29x ext4\n")
	if len(st.Signatures) != 2 || !st.BackupGPT {
		t.Errorf("signatures %q, backup GPT %v", st.Signatures, st.BackupGPT)
	}
	if st.Device != "/dev/mapper/36000c29x" || st.Size != 1<<30 || st.ReadOnly || st.FSType != "ext4" || st.Label != retentionLabel || len(st.Mounted) != 1 || st.NonZero != 42 || st.Sampled != 64 || st.FstabDevice != st.Device {
		t.Errorf("%+v", st)
	}
}

// FuzzPlanRetention: whatever retention-state.sh and retention-scan.sh
// print and whatever vSphere proves, the phase plans a format only for a
// disk that showed nothing: present, not empty, not mounted, swap, held or
// read-only, no file system, partition table (primary or backup GPT) or
// signature, no non-zero byte; and never formats an unproven disk without
// a full scan that found every byte zero (or a scan still to run first).
// --format-wwid is not given here.
func FuzzPlanRetention(f *testing.F) {
	const wwid = "36000c29a1b2c3d4e5f60718293a4b5c6"
	f.Add("device /dev/mapper/"+wwid+"\nsize 1073741824\nreadonly 0\nfstype none\nlabel none\nnonzero 0\nsampled 64\n", false, "part 0 zero\npart 536870912 zero\n", true)
	f.Add("device /dev/mapper/"+wwid+"\nsize 1073741824\nreadonly 0\nfstype xfs\nlabel data\nmounted /srv\n", true, "", false)
	f.Add("device /dev/mapper/"+wwid+"\nsize 1\nnonzero -5\nptable mbr\n", false, "part 0 zero\n", true)
	f.Add("device /dev/mapper/"+wwid+"\nsize 1073741824\nreadonly 0\nfstype none\nnonzero 0\nsampled 64\nbackupgpt yes\n", true, "", false)
	f.Add("device /dev/mapper/"+wwid+"\nsize 4194304\nfstype none\nnonzero 0\nsampled 4\n", false, "part 0 nonzero 5000\n", true)
	f.Fuzz(func(t *testing.T, out string, proven bool, scanOut string, scanned bool) {
		st := linux.ParseRetentionState(out)
		var scan *ScanResult
		if scanned {
			// What Scan makes of one chunk covering the disk.
			first, err := linux.ParseScan(scanOut, 0, max(st.Size, 1))
			if err != nil {
				return
			}
			r := ScanResult{FirstNonZero: first, Bytes: max(st.Size, 1)}
			if first >= 0 {
				r.Bytes = first + 1
			} else {
				r.AllZero = true
			}
			scan = &r
		}
		p := PlanRetention(st, Provenance{Proven: proven, Why: "fuzz"}, scan, wwid, "/mnt/retention", "")
		if p.Format && (st.Device == "" || st.Size <= 0 || len(st.Mounted) > 0 || st.Swap || st.Holders || st.ReadOnly ||
			st.FSType != "" || st.PartitionTable != "" || st.BackupGPT || len(st.Signatures) > 0 || st.NonZero != 0 || st.Sampled <= 0) {
			t.Fatalf("plans to format a disk that showed something: %+v", st)
		}
		if p.Format && !proven && !p.Scan && (scan == nil || !scan.AllZero || scan.Bytes < st.Size) {
			t.Fatalf("plans to format an unproven disk without an all-zero full scan: %+v scan %+v", st, scan)
		}
		if p.Scan && !p.Format {
			t.Fatalf("a scan that could not lead to a format: %+v", p)
		}
		if p.Format == (p.Refusal != "") && p.Format {
			t.Fatalf("both format and refusal: %+v", p)
		}
	})
}
