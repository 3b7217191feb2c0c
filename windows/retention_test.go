package windows

import (
	"context"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/mtprep/mtprep/provision/guest"
	scripts "github.com/mtprep/mtprep/scripts/windows"
)

func TestUniqueID(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"36000c2989daa1234567890abcdef0123", "6000C2989DAA1234567890ABCDEF0123"}, // the Linux WWID
		{"6000c2989daa1234567890abcdef0123", "6000C2989DAA1234567890ABCDEF0123"},  // the NAA id
		{"6000C298-9daa-1234-5678-90abcdef0123", "6000C2989DAA1234567890ABCDEF0123"},
		{" 36000C2989DAA1234567890ABCDEF0123\n", "6000C2989DAA1234567890ABCDEF0123"},
	} {
		if got := UniqueID(tc.in); got != tc.want {
			t.Errorf("UniqueID(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := (Retention{}).DevicePath("36000c2989daa1234567890abcdef0123"); got != "the disk with UniqueId 6000C2989DAA1234567890ABCDEF0123" {
		t.Error(got)
	}
}

func TestRetentionLetter(t *testing.T) {
	for in, want := range map[string]string{"R:": "R", `r:\`: "R", "S:": "S", "/mnt/retention": "", "R": "", `R:\ret`: "", "": ""} {
		got, ok := RetentionLetter(in)
		if got != want || ok != (want != "") {
			t.Errorf("RetentionLetter(%q) = %q, %v", in, got, ok)
		}
	}
}

func TestParseRetentionState(t *testing.T) {
	for _, tc := range []struct {
		file    string
		want    guest.RetentionState
		refusal string
	}{
		{file: "retention-blank.json", want: guest.RetentionState{Device: `\\.\PhysicalDrive1`, Size: 1 << 40, Sampled: 64}},
		{file: "retention-ours.json", want: guest.RetentionState{
			Device: `\\.\PhysicalDrive1`, Size: 1 << 40, FSType: "ntfs", Label: "mtprep-retention", PartitionTable: "gpt",
			Mounted: []string{"R:"}, Sampled: 64, NonZero: 73422, BackupGPT: true,
			FstabDevice: `\\.\PhysicalDrive1`, FstabFS: "ntfs",
			Signatures: []string{
				"partition 1 Reserved (Get-Partition)", "partition 2 Basic (Get-Partition)", "ntfs (Get-Volume)",
			},
		}},
		{file: "retention-linux-xfs.json", want: guest.RetentionState{
			Device: `\\.\PhysicalDrive2`, Size: 1 << 40, FSType: "xfs", Sampled: 64, NonZero: 412,
			Signatures: []string{"xfs (raw read)"},
		}},
		{file: "retention-osdisk.json", refusal: `\\.\PhysicalDrive0 is the boot and system disk`},
		{file: "retention-offline.json", refusal: `\\.\PhysicalDrive1 is offline (reason Policy)`},
		{file: "retention-pagefile.json", refusal: `\\.\PhysicalDrive1 holds a page file`},
		{file: "retention-two.json", refusal: "matches 2 disks"},
		{file: "retention-none.json", want: guest.RetentionState{}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			st, err := ParseRetentionState(b, "R")
			if tc.refusal != "" {
				var re *RefusalError
				if !errors.As(err, &re) || !strings.Contains(err.Error(), tc.refusal) {
					t.Fatalf("err %v, want a refusal %q", err, tc.refusal)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(st, tc.want) {
				t.Errorf("state\n %+v\nwant\n %+v", st, tc.want)
			}
		})
	}
}

// TestParsePageFileState: the refused disk's state still says what it
// holds (FAT, the letter and the folder mount, the page file).
func TestParsePageFileState(t *testing.T) {
	b, _ := os.ReadFile("testdata/retention-pagefile.json")
	st, _ := ParseRetentionState(b, "R")
	if st.FSType != "vfat" || !st.Swap || st.PartitionTable != "dos" || !reflect.DeepEqual(st.Mounted, []string{"D:", `C:\mnt\data`}) {
		t.Errorf("%+v", st)
	}
}

func TestEnumAndListForms(t *testing.T) {
	for _, in := range []string{
		`{"matches":1,"disk":{"Number":3,"Size":10,"PartitionStyle":"RAW"},"partitions":null,"volumes":{"value":[],"Count":0},"pageFiles":"C:\\pagefile.sys","magic":"xfs","sampled":1}`,
		`{"matches":1,"disk":{"Number":3,"Size":10,"PartitionStyle":0},"partitions":[],"volumes":[],"pageFiles":["C:\\pagefile.sys"],"magic":["xfs"],"sampled":1}`,
	} {
		st, err := ParseRetentionState([]byte("noise\r\n"+in), "R")
		if err != nil || st.Device != `\\.\PhysicalDrive3` || st.PartitionTable != "" || st.FSType != "xfs" {
			t.Errorf("%s: %+v %v", in, st, err)
		}
	}
	if _, err := ParseRetentionState([]byte("oops"), "R"); err == nil {
		t.Error("no JSON accepted")
	}
}

func TestParseScan(t *testing.T) {
	for _, tc := range []struct {
		out     string
		want    int64
		wantErr bool
	}{
		{"part 0 zero\n", -1, false},
		{"part 1073741824 nonzero 1073741900\n", 1073741900, false},
		{"", -1, true},
		{"part 5 zero\n", -1, true},
		{"part 0 nonzero 99999999999\n", -1, true},
		{"part 0 error access denied\n", -1, true},
	} {
		off := int64(0)
		if strings.Contains(tc.out, "1073741824") {
			off = 1 << 30
		}
		got, err := ParseScan(tc.out, off, 1<<30)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("ParseScan(%q) = %d, %v", tc.out, got, err)
		}
	}
}

func TestRetentionReadApply(t *testing.T) {
	ctx := context.Background()
	b, _ := os.ReadFile("testdata/retention-blank.json")
	r := &fakeRunner{out: map[string]string{scripts.RetentionState: string(b)}}
	const wwid = "36000c2989daa1234567890abcdef0123"
	if _, err := (Retention{}).Read(ctx, r, wwid, "/mnt/retention"); err == nil {
		t.Fatal("a Linux mountpoint was accepted")
	}
	// Apply with a WWID that has no UniqueId is refused.
	other := &fakeRunner{}
	if err := (Retention{}).Apply(ctx, other, "not-a-wwid", `\\.\PhysicalDrive1`, "R:", "mtprep-retention", guest.FormatBlank); err == nil {
		t.Fatal("Apply without a UniqueId")
	}
	st, err := (Retention{}).Read(ctx, r, wwid, "R:")
	if err != nil || st.Device != `\\.\PhysicalDrive1` {
		t.Fatal(st, err)
	}
	if got := r.calls[0].args; !reflect.DeepEqual(got, []string{"6000C2989DAA1234567890ABCDEF0123", "R"}) {
		t.Errorf("retention-state args %q", got)
	}
	if err := (Retention{}).Apply(ctx, r, wwid, st.Device, "R:", "mtprep-retention", guest.FormatBlank); err != nil {
		t.Fatal(err)
	}
	if got := r.calls[1].args; !reflect.DeepEqual(got, []string{"1", "6000C2989DAA1234567890ABCDEF0123", "R", "mtprep-retention", "yes"}) {
		t.Errorf("retention-apply args %q", got)
	}
	if err := (Retention{}).Apply(ctx, r, wwid, "/dev/sdb", "R:", "x", guest.FormatNamed); err == nil {
		t.Error("a Linux device was accepted")
	}
}

func TestRetentionScan(t *testing.T) {
	r := &fakeRunner{out: map[string]string{scripts.RetentionScan: "part 0 zero\n"}}
	res, err := (Retention{}).Scan(context.Background(), r, `\\.\PhysicalDrive1`, 1<<30, guest.Env{})
	if err != nil || !res.AllZero || res.Bytes != 1<<30 || res.FirstNonZero != -1 {
		t.Fatalf("%+v %v", res, err)
	}
	if got := r.calls[0].args; !reflect.DeepEqual(got, []string{`\\.\PhysicalDrive1`, "0", "1073741824"}) {
		t.Errorf("args %q", got)
	}
	r = &fakeRunner{out: map[string]string{scripts.RetentionScan: "part 0 nonzero 4097\n"}}
	res, err = (Retention{}).Scan(context.Background(), r, `\\.\PhysicalDrive1`, 3<<30, guest.Env{})
	if err != nil || res.AllZero || res.FirstNonZero != 4097 || len(r.calls) != 1 {
		t.Fatalf("%+v %v", res, err)
	}
}
