package provision

import (
	"strings"
	"testing"

	"github.com/mtprep/mtprep/centos"
)

func TestPlanRetention(t *testing.T) {
	const w = "36000c2989daa4b1e8d391f0e1b2c3d4e"
	dev := "/dev/mapper/" + w
	blank := RetentionState{Device: dev, Size: 1 << 30, Sampled: 64}
	with := func(f func(*RetentionState)) RetentionState { s := blank; f(&s); return s }
	cases := []struct {
		name  string
		st    RetentionState
		force string
		want  string // "done", "format", "mount" or a refusal fragment
	}{
		{"blank disk", blank, "", "format"},
		{"no device", RetentionState{}, "", "no disk with WWID"},
		{"zero size", with(func(s *RetentionState) { s.Size = 0 }), "", "zero size"},
		{"ext4 with files", with(func(s *RetentionState) { s.FSType = "ext4"; s.NonZero = 4000 }), "", "holds a ext4 file system"},
		{"partition table", with(func(s *RetentionState) { s.PartitionTable = "mbr"; s.NonZero = 70 }), "", "holds a mbr partition table"},
		{"fat32", with(func(s *RetentionState) { s.FSType = "vfat"; s.NonZero = 300 }), "", "FAT"},
		{"fat32 forced by another wwid", with(func(s *RetentionState) { s.FSType = "vfat" }), "36000c29aaaaaaaaaaaaaaaaaaaaaaaaa", "FAT"},
		{"mounted elsewhere", with(func(s *RetentionState) { s.FSType = "ext4"; s.Mounted = []string{"/data"} }), w, "mounted at /data"},
		{"swap", with(func(s *RetentionState) { s.Swap = true }), w, "swap"},
		{"holders", with(func(s *RetentionState) { s.Holders = true }), w, "in use"},
		{"read-only", with(func(s *RetentionState) { s.ReadOnly = true }), w, "read-only"},
		{"raw data", with(func(s *RetentionState) { s.NonZero = 1 }), "", "non-zero bytes"},
		{"nothing read back", with(func(s *RetentionState) { s.Sampled = 0 }), w, "could not be read"},
		{"negative size", with(func(s *RetentionState) { s.Size = -1 }), "", "zero size"},
		{"data forced by its wwid", with(func(s *RetentionState) { s.NonZero = 1; s.FSType = "xfs" }), w, "format"},
		{"ours, not mounted", with(func(s *RetentionState) { s.FSType = "ext4"; s.Label = retentionLabel; s.NonZero = 9 }), "", "mount"},
		{"ours, mounted, no fstab", with(func(s *RetentionState) {
			s.FSType, s.Label, s.Mounted = "ext4", retentionLabel, []string{"/mnt/retention"}
		}), "", "mount"},
		{"done", with(func(s *RetentionState) {
			s.FSType, s.Label, s.Mounted, s.FstabDevice, s.FstabFS = "ext4", retentionLabel, []string{"/mnt/retention"}, dev, "ext4"
		}), "", "done"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := PlanRetention(c.st, w, "/mnt/retention", c.force)
			got := p.Refusal
			switch {
			case p.Done:
				got = "done"
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
		})
	}
}

func TestParseRetentionState(t *testing.T) {
	st := centos.ParseRetentionState("device /dev/mapper/36000c29x\nmajmin 7:3\nsize 1073741824\nreadonly 0\nfstype ext4\nlabel mtprep-retention\nmounted /mnt/retention\nnonzero 42\nsampled 64\nfstab /dev/mapper/36000c29x ext4\n")
	if st.Device != "/dev/mapper/36000c29x" || st.Size != 1<<30 || st.ReadOnly || st.FSType != "ext4" || st.Label != retentionLabel || len(st.Mounted) != 1 || st.NonZero != 42 || st.Sampled != 64 || st.FstabDevice != st.Device {
		t.Errorf("%+v", st)
	}
}

// FuzzPlanRetention: whatever retention-state.sh prints, the phase plans a
// format only for a disk that showed nothing: present, not empty, not
// mounted, swap, held or read-only, no file system, no partition table,
// no non-zero byte; unless --format-wwid names the disk.
func FuzzPlanRetention(f *testing.F) {
	const wwid = "36000c29a1b2c3d4e5f60718293a4b5c6"
	f.Add("device /dev/mapper/" + wwid + "\nsize 1073741824\nreadonly 0\nfstype none\nlabel none\nnonzero 0\nsampled 64\n")
	f.Add("device /dev/mapper/" + wwid + "\nsize 1073741824\nreadonly 0\nfstype xfs\nlabel data\nmounted /srv\n")
	f.Add("device /dev/mapper/" + wwid + "\nsize 1\nnonzero -5\nptable mbr\n")
	f.Fuzz(func(t *testing.T, out string) {
		st := centos.ParseRetentionState(out)
		p := PlanRetention(st, wwid, "/mnt/retention", "")
		if p.Format && (st.Device == "" || st.Size <= 0 || len(st.Mounted) > 0 || st.Swap || st.Holders || st.ReadOnly ||
			st.FSType != "" || st.PartitionTable != "" || st.NonZero != 0 || st.Sampled <= 0) {
			t.Fatalf("plans to format a disk that showed something: %+v", st)
		}
		if p.Format == (p.Refusal != "") && p.Format {
			t.Fatalf("both format and refusal: %+v", p)
		}
	})
}
