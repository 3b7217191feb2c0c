package provision_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtprep/mtprep/centos"
	"github.com/mtprep/mtprep/internal/lab"
	"github.com/mtprep/mtprep/provision"
	"github.com/mtprep/mtprep/provision/spec"
)

// TestRetentionDetection makes each kind of content with the real tool on
// the lab MT's blank retention disk (through its host loop device, the
// same block device the guest's /dev/mapper/<wwid> names), runs the
// retention phase, and checks it refuses with the reason and the fix and
// that the disk's bytes are the same after. The disk is zeroed again
// between cases. Last, the blank disk: a full scan, a format, and a second
// build that changes nothing and scans nothing.
func TestRetentionDetection(t *testing.T) {
	// 512 MiB: mkfs.xfs wants more than 300 MB.
	l := lab.StartWith(t, lab.Options{DiskSize: 512 << 20})
	g := l.Guests[0]
	disk := g.DiskByRole(lab.RoleBlank)
	osDisk := g.DiskByRole(lab.RoleOS)
	dir := t.TempDir()
	specPath := filepath.Join(dir, "mt.yaml")
	if err := os.WriteFile(specPath, []byte(l.SpecYAML(g, g.VMName, g.Address, labVCPasswordEnv)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	dev, size := disk.Loop, disk.SizeBytes
	sh := func(t *testing.T, script string) {
		t.Helper()
		cmd := exec.CommandContext(ctx, "bash", "-c", script)
		cmd.Env = append(os.Environ(), "DEV="+dev, fmt.Sprintf("SIZE=%d", size), "LVM_SUPPRESS_FD_WARNINGS=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", script, err, out)
		}
		_ = exec.Command("blockdev", "--flushbufs", dev).Run()
	}
	have := func(tool string) bool { _, err := exec.LookPath(tool); return err == nil }
	build := func(t *testing.T, formatWWID string) (*provision.Target, []provision.Result, error) {
		s, err := spec.Load(specPath)
		if err != nil {
			t.Fatal(err)
		}
		tg := &provision.Target{
			Spec: s, OS: centos.OS(), Log: slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
			Env: func(k string) (string, bool) {
				if k == labVCPasswordEnv {
					return l.VC.Password, true
				}
				return "", false
			},
			Options: provision.BuildOptions{WorkDir: filepath.Join(dir, "work"), FormatWWID: formatWWID},
		}
		tg.Facts.DiskUUIDs = map[string]string{"os": osDisk.UUID, "retention": disk.UUID}
		phases, err := provision.Select(provision.Phases(), "retention")
		if err != nil {
			t.Fatal(err)
		}
		rs, err := provision.Build(ctx, tg, phases)
		tg.Close()
		return tg, rs, err
	}
	// 2 MiB + 5000: between the MiBs the 64-sample look reads of a 512 MiB
	// disk (0, 8, 16, … MiB), so only the full scan sees it.
	const between = 2<<20 + 5000
	lvm := `--config 'devices { obtain_device_list_from_udev = 0 filter = [ "a|.*|" ] } global { use_lvmetad = 0 locking_type = 0 }'`
	cases := []struct {
		name, tool, make, want string
	}{
		{"xfs", "mkfs.xfs", `mkfs.xfs -q -f "$DEV"`, "holds a xfs file system"},
		{"ext4, no label", "mkfs.ext4", `mkfs.ext4 -q -F "$DEV"`, "holds a ext4 file system"},
		{"vfat", "mkfs.vfat", `mkfs.vfat "$DEV"`, "holds a FAT file system"},
		{"swap", "mkswap", `mkswap "$DEV"`, "holds a swap file system"},
		{"LVM physical volume", "pvcreate", `pvcreate -ff -y ` + lvm + ` "$DEV" || pvcreate -ff -y "$DEV"`, "is a LVM2_member"},
		{"LUKS", "cryptsetup", `printf 'k' | cryptsetup luksFormat -q --type luks1 --iter-time 1 --key-file - "$DEV"`, "is a crypto_LUKS"},
		{"bcache backing device", "make-bcache", `make-bcache -B "$DEV" >/dev/null 2>&1; true`, "is a bcache"},
		{"GPT with its primary header wiped", "sgdisk", `sgdisk -o -n 1:2048:+8M "$DEV" >/dev/null && dd if=/dev/zero of="$DEV" bs=512 count=34 conv=fsync status=none`, "GPT"},
		{"MBR partition table", "sfdisk", `echo 'start=2048, type=83' | sfdisk -q "$DEV"`, "holds a dos partition table"},
		{"a few KiB between the sampled places", "dd", fmt.Sprintf(`printf 'data of another system%%.0s' $(seq 200) | dd of="$DEV" bs=1 seek=%d conv=notrunc,fsync status=none`, between),
			fmt.Sprintf("non-zero byte at offset %d", between)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !have(c.tool) {
				t.Skipf("%s is not installed (.ci/apt-packages.d/lab.txt)", c.tool)
			}
			sh(t, c.make)
			defer sh(t, `dd if=/dev/zero of="$DEV" bs=4M conv=fsync status=none 2>/dev/null; true`)
			before, err := disk.SHA256()
			if err != nil {
				t.Fatal(err)
			}
			_, rs, err := build(t, "")
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "--format-wwid "+disk.WWID) {
				t.Errorf("got %v, want a refusal with %q naming --format-wwid %s", err, c.want, disk.WWID)
			} else {
				t.Logf("refused: %v", err)
			}
			if len(rs) != 1 || rs[0].Status != provision.StatusFailed {
				t.Errorf("results %+v", rs)
			}
			if after, err := disk.SHA256(); err != nil || after != before {
				t.Errorf("the refused disk changed (%v)", err)
			}
		})
	}
	t.Run("blank: full scan, format, then done without a scan", func(t *testing.T) {
		tg, rs, err := build(t, "")
		if err != nil || rs[0].Status != provision.StatusChanged {
			t.Fatalf("blank disk: %v %+v", err, rs)
		}
		sc := tg.Facts.RetentionScan
		if sc == nil || !sc.AllZero || sc.Bytes != size || sc.WWID != disk.WWID {
			t.Fatalf("scan record %+v, want all %d bytes zero", sc, size)
		}
		if n := tg.Facts.PhaseNotes["retention"]; !strings.Contains(n, "full read of") {
			t.Errorf("note %q does not say the full read let it format", n)
		}
		tg, rs, err = build(t, "")
		if err != nil || rs[0].Status != provision.StatusDone || tg.Facts.RetentionScan != nil {
			t.Errorf("second build: %v %+v scan %+v", err, rs, tg.Facts.RetentionScan)
		}
	})
}

// labVCPasswordEnv carries the lab vCenter's password to the spec.
const labVCPasswordEnv = "MTLAB_RETENTION_VC_PASSWORD"

// tWriter sends a Target's log to the test's.
type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
