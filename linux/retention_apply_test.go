package linux

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mtprep/mtprep/internal/progress"
	"github.com/mtprep/mtprep/provision/guest"
)

// localRunner runs the retention scripts on this machine, as the MT's
// shell would (bash -s), for tests on a real loop device.
type localRunner struct{}

func (localRunner) Run(ctx context.Context, args ...string) ([]byte, error) {
	return exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
}

func (localRunner) Script(ctx context.Context, script string, stdin io.Reader, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "bash", append([]string{"-s", "--"}, args...)...)
	cmd.Stdin = strings.NewReader("{\n" + script + "\n}\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%w: %s", err, out)
	}
	return out, nil
}

func (localRunner) Upload(context.Context, string, string, progress.Func) (*guest.UploadResult, error) {
	return nil, nil
}
func (localRunner) UploadDir() (string, error)                  { return "", nil }
func (localRunner) Reboot(context.Context, time.Duration) error { return nil }
func (localRunner) User() string                                { return "root" }

// TestRetentionApplyLastLook: a disk found blank that holds a file system
// by the time Apply runs (another tool wrote it after the check) is
// refused by the apply's own last look, and its bytes are unchanged; only
// the operator's --format-wwid (FormatNamed) formats it. A real loop
// device and real mkfs; the refusal exits before fstab is touched.
func TestRetentionApplyLastLook(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root (loop devices)")
		}
		t.Skip("needs root (loop devices)")
	}
	for _, tool := range []string{"losetup", "mkfs.ext4", "blkid"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s missing", tool)
		}
	}
	ctx := context.Background()
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, 64<<20); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "-f", "--show", img).Output()
	if err != nil {
		t.Skipf("losetup: %v", err)
	}
	dev := strings.TrimSpace(string(out))
	defer exec.Command("losetup", "-d", dev).Run()
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-L", "someone-else", dev).CombinedOutput(); err != nil {
		t.Fatalf("mkfs: %v %s", err, out)
	}
	hash := func() string {
		b, err := os.ReadFile(img)
		if err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256(b)
		return hex.EncodeToString(s[:])
	}
	before := hash()
	mnt := filepath.Join(t.TempDir(), "never-mounted")
	err = Retention{}.Apply(ctx, localRunner{}, "", dev, mnt, "mtprep-retention", guest.FormatBlank)
	if err == nil || !strings.Contains(err.Error(), "changed after mtprep checked it") {
		t.Fatalf("apply on a disk that gained a file system: %v, want the last look's refusal", err)
	}
	if hash() != before {
		t.Fatal("the refused disk changed")
	}
	if _, err := os.Stat(mnt); err == nil {
		t.Fatal("the refused apply went on to the mount point")
	}
}
