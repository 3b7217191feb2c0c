// Command retention benchmarks mtprep's full scan of a retention disk
// (linux.Retention.Scan: retention-scan.sh, O_DIRECT dd | cmp) against
// dd if=DISK of=/dev/null bs=4M iflag=direct, on the same loop device,
// alternating, and prints the ratio of throughputs. Root; not a test.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mtprep/mtprep/internal/progress"
	"github.com/mtprep/mtprep/linux"
	"github.com/mtprep/mtprep/provision/guest"
)

// local runs the OS's scripts on this machine with bash, as the MT would.
type local struct{}

func (local) Run(ctx context.Context, args ...string) ([]byte, error) {
	return exec.CommandContext(ctx, args[0], args[1:]...).Output()
}

func (local) Script(ctx context.Context, script string, stdin io.Reader, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "bash", append([]string{"-s", "--"}, args...)...)
	cmd.Stdin = strings.NewReader(script)
	cmd.Stderr = os.Stderr
	return cmd.Output()
}

func (local) Upload(context.Context, string, string, progress.Func) (*guest.UploadResult, error) {
	return nil, fmt.Errorf("no upload")
}
func (local) UploadDir() (string, error)                  { return "", fmt.Errorf("no upload") }
func (local) Reboot(context.Context, time.Duration) error { return fmt.Errorf("no reboot") }
func (local) User() string                                { return "root" }

func main() {
	gb := flag.Int("gb", 4, "disk size in GB")
	runs := flag.Int("runs", 3, "runs of each")
	dir := flag.String("dir", "build/bench-retention", "where the disk image goes")
	flag.Parse()
	ctx := context.Background()
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		log.Fatal(err)
	}
	img := filepath.Join(*dir, "disk.img")
	size := int64(*gb) << 30
	fmt.Printf("writing %d GB of zeros to %s (every block allocated)\n", *gb, img)
	must(exec.Command("dd", "if=/dev/zero", "of="+img, "bs=4M", fmt.Sprintf("count=%d", size>>22), "conv=fsync", "status=none").Run())
	defer os.Remove(img)
	out, err := exec.Command("losetup", "--direct-io=on", "-f", "--show", img).Output()
	must(err)
	dev := strings.TrimSpace(string(out))
	defer exec.Command("losetup", "-d", dev).Run()
	fmt.Printf("loop device %s (direct I/O: reads hit the disk)\n", dev)
	var dd, scan []float64 // MB/s
	for i := 0; i < *runs; i++ {
		t := time.Now()
		must(exec.Command("dd", "if="+dev, "of=/dev/null", "bs=4M", "iflag=direct", "status=none").Run())
		r := float64(size>>20) / time.Since(t).Seconds()
		dd = append(dd, r)
		t = time.Now()
		res, err := linux.Retention{}.Scan(ctx, local{}, dev, size, guest.Env{})
		must(err)
		if !res.AllZero || res.Bytes != size {
			log.Fatalf("scan: %+v, want all %d bytes zero", res, size)
		}
		s := float64(size>>20) / time.Since(t).Seconds()
		scan = append(scan, s)
		fmt.Printf("run %d: dd %.0f MB/s, mtprep scan %.0f MB/s, ratio %.2f\n", i+1, r, s, s/r)
	}
	md, ms := median(dd), median(scan)
	fmt.Printf("median: dd %.0f MB/s, mtprep scan %.0f MB/s, ratio %.2f (target >= 0.80)\n", md, ms, ms/md)
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
