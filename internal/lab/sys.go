package lab

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// run runs a host command and returns its combined output in the error.
func run(ctx context.Context, name string, args ...string) error {
	_, err := output(ctx, name, args...)
	return err
}

// output runs a host command and returns its standard output.
func output(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()+" "+stdout.String()))
	}
	return stdout.Bytes(), nil
}

// mountEntry is one line of /proc/<pid>/mountinfo.
type mountEntry struct {
	ID     int
	Parent int
	Target string
	FSType string
	Source string
}

// unescapeMount undoes the octal escapes (\040 for a space) of mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// readMountinfo parses a mountinfo file, in mount order.
func readMountinfo(path string) ([]mountEntry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []mountEntry
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 10 {
			continue
		}
		id, _ := strconv.Atoi(f[0])
		parent, _ := strconv.Atoi(f[1])
		e := mountEntry{ID: id, Parent: parent, Target: unescapeMount(f[4])}
		for i := 6; i < len(f); i++ {
			if f[i] == "-" && i+2 < len(f) {
				e.FSType = f[i+1]
				e.Source = unescapeMount(f[i+2])
				break
			}
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

func under(p, dir string) bool {
	dir = filepath.Clean(dir)
	return p == dir || strings.HasPrefix(p, dir+"/")
}

// mountsUnder lists the lab process's mount points at or below dir.
func mountsUnder(dir string) []mountEntry {
	ms, _ := readMountinfo("/proc/self/mountinfo")
	var out []mountEntry
	for _, m := range ms {
		if under(m.Target, dir) {
			out = append(out, m)
		}
	}
	return out
}

// unmountUnder unmounts everything at or below dir, the newest mount first,
// detaching lazily what is busy.
func unmountUnder(dir string) error {
	var errs []error
	for try := 0; try < 3; try++ {
		ms := mountsUnder(dir)
		if len(ms) == 0 {
			return nil
		}
		// Deeper and later mounts first: a tmpfs under an overlay's upper dir
		// cannot go before the overlay.
		sort.SliceStable(ms, func(i, j int) bool { return ms[i].ID > ms[j].ID })
		errs = errs[:0]
		for _, m := range ms {
			if err := unix.Unmount(m.Target, 0); err != nil {
				if err2 := unix.Unmount(m.Target, unix.MNT_DETACH); err2 != nil && !errors.Is(err2, unix.EINVAL) && !errors.Is(err2, unix.ENOENT) {
					errs = append(errs, fmt.Errorf("unmount %s: %w", m.Target, err2))
				}
			}
		}
	}
	if ms := mountsUnder(dir); len(ms) > 0 {
		errs = append(errs, fmt.Errorf("%d mounts remain under %s", len(ms), dir))
	}
	return errors.Join(errs...)
}

// loopBacking maps each bound loop device (/dev/loopN) to its backing file.
func loopBacking() map[string]string {
	out := map[string]string{}
	ents, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, p := range ents {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		dev := "/dev/" + filepath.Base(filepath.Dir(filepath.Dir(p)))
		out[dev] = strings.TrimSuffix(strings.TrimSpace(string(b)), " (deleted)")
	}
	return out
}

// detachLoopsUnder detaches every loop device whose backing file is below
// dir. A device that is still mounted somewhere is marked to detach itself
// when the last user goes (the kernel's autoclear).
func detachLoopsUnder(dir string) error {
	var errs []error
	for dev, file := range loopBacking() {
		if !under(file, dir) {
			continue
		}
		fd, err := unix.Open(dev, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := unix.IoctlSetInt(fd, unix.LOOP_CLR_FD, 0); err != nil && !errors.Is(err, unix.ENXIO) {
			errs = append(errs, fmt.Errorf("detach %s (%s): %w", dev, file, err))
		}
		unix.Close(fd)
	}
	return errors.Join(errs...)
}

// waitFor polls cond every step until it is true or ctx ends.
func waitFor(ctx context.Context, step time.Duration, cond func() bool) error {
	t := time.NewTicker(step)
	defer t.Stop()
	for {
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// commandWithInput prepares a host command that reads input on stdin.
func commandWithInput(ctx context.Context, input, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(input)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}
