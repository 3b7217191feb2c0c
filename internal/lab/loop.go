package lab

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// loopDev is a loop device the lab attached and keeps open.
//
// It is attached with LO_FLAGS_AUTOCLEAR and the lab holds its file
// descriptor for the device's whole life. If the lab process dies, however
// it dies, the descriptor closes; once the guest (whose mounts are the other
// users) is gone too, the kernel detaches the device by itself. So even a
// kill -9 does not leave loop devices behind; Down and Cleanup detach them
// explicitly as well.
type loopDev struct {
	Path    string // /dev/loopN
	Backing string
	Major   uint32
	Minor   uint32
	f       *os.File
}

func attachLoop(backing string) (*loopDev, error) {
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/loop-control: %w", err)
	}
	defer ctl.Close()
	bf, err := os.OpenFile(backing, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer bf.Close()
	// Another process may take the free device between GET_FREE and
	// CONFIGURE; the kernel then answers EBUSY and we ask again.
	for try := 0; try < 20; try++ {
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return nil, fmt.Errorf("LOOP_CTL_GET_FREE: %w", err)
		}
		path := fmt.Sprintf("/dev/loop%d", n)
		var f *os.File
		// devtmpfs creates the node asynchronously for a new device.
		for i := 0; i < 50; i++ {
			f, err = os.OpenFile(path, os.O_RDWR, 0)
			if !errors.Is(err, os.ErrNotExist) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err != nil {
			return nil, err
		}
		cfg := unix.LoopConfig{Fd: uint32(bf.Fd())}
		cfg.Info.Flags = unix.LO_FLAGS_AUTOCLEAR
		copy(cfg.Info.File_name[:], backing)
		if err := unix.IoctlLoopConfigure(int(f.Fd()), &cfg); err != nil {
			f.Close()
			if errors.Is(err, unix.EBUSY) {
				continue
			}
			return nil, fmt.Errorf("LOOP_CONFIGURE %s on %s: %w", backing, path, err)
		}
		var st unix.Stat_t
		if err := unix.Fstat(int(f.Fd()), &st); err != nil {
			unix.IoctlSetInt(int(f.Fd()), unix.LOOP_CLR_FD, 0)
			f.Close()
			return nil, err
		}
		return &loopDev{Path: path, Backing: backing, Major: unix.Major(st.Rdev), Minor: unix.Minor(st.Rdev), f: f}, nil
	}
	return nil, fmt.Errorf("no free loop device for %s", backing)
}

// detach asks the kernel to release the device (now, or when its last user
// closes it) and drops the lab's descriptor.
func (d *loopDev) detach() error {
	if d.f == nil {
		return nil
	}
	err := unix.IoctlSetInt(int(d.f.Fd()), unix.LOOP_CLR_FD, 0)
	if errors.Is(err, unix.ENXIO) {
		err = nil
	}
	cerr := d.f.Close()
	d.f = nil
	return errors.Join(err, cerr)
}
