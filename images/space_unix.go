//go:build linux || darwin || freebsd

package images

import "golang.org/x/sys/unix"

// freeSpace returns the bytes an unprivileged user may still write in the
// file system holding dir.
func freeSpace(dir string) (int64, bool, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, false, err
	}
	return int64(st.Bavail) * int64(st.Bsize), true, nil //nolint:unconvert // field types differ per OS
}
