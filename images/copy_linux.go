package images

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// kernelCopy copies with copy_file_range(2): in-kernel, and on file systems
// that share extents (XFS, Btrfs) without copying at all. It reports
// errNoKernelCopy when the kernel or the file systems (e.g. a base on
// another file system) do not support it.
func kernelCopy(dst *os.File, dstOff int64, src *os.File, srcOff, n int64) (int64, error) {
	m, err := unix.CopyFileRange(int(src.Fd()), &srcOff, int(dst.Fd()), &dstOff, int(n), 0)
	switch {
	case err == nil:
		return int64(m), nil
	case errors.Is(err, unix.EXDEV), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EOPNOTSUPP),
		errors.Is(err, unix.EINVAL), errors.Is(err, unix.EPERM), errors.Is(err, unix.EBADF):
		return 0, errNoKernelCopy
	default:
		return 0, &os.PathError{Op: "copy_file_range", Path: dst.Name(), Err: err}
	}
}

// startWriteback asks the kernel to start writing f[off:off+n) to disk
// now, without waiting, so the fsync before the rename finds most of the
// ISO already written while the hashing went on.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
