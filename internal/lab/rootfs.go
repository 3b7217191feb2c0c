package lab

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// overlayMagic is OVERLAYFS_SUPER_MAGIC from statfs(2).
const overlayMagic = 0x794c7630

// rootFS reads and writes files inside a guest's root directory from the
// host without ever leaving it. The guest root is an overlay of the host's
// own root file system, full of absolute symlinks (/usr/sbin/reboot ->
// /bin/systemctl on Debian): a plain os.WriteFile through such a link would
// overwrite the CI host's file. Every path is therefore resolved with
// openat2(RESOLVE_IN_ROOT), which treats the guest root as "/", and the last
// component is handled with *at calls that do not follow symlinks.
type rootFS struct {
	root string
	fd   int
}

// openRootFS opens dir as a guest root. It refuses anything that is not an
// overlay mount: if the lab's overlay failed to mount, the directory below
// it is a plain directory of the host and writing the guest's files there
// would be a silent mistake.
func openRootFS(dir string) (*rootFS, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open guest root %s: %w", dir, err)
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("statfs guest root %s: %w", dir, err)
	}
	if st.Type != overlayMagic {
		unix.Close(fd)
		return nil, fmt.Errorf("guest root %s is not an overlay mount (type %#x): refusing to write into it", dir, st.Type)
	}
	return &rootFS{root: dir, fd: fd}, nil
}

func (r *rootFS) Close() error { return unix.Close(r.fd) }

func clean(p string) string { return strings.TrimPrefix(path.Clean("/"+p), "/") }

// openAt resolves p (a guest path) inside the root and opens it with flags.
func (r *rootFS) openAt(p string, flags uint64, mode uint64) (int, error) {
	name := clean(p)
	if name == "" {
		name = "."
	}
	fd, err := unix.Openat2(r.fd, name, &unix.OpenHow{
		Flags:   flags | unix.O_CLOEXEC,
		Mode:    mode,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return -1, &os.PathError{Op: "openat2", Path: r.root + "/" + name, Err: err}
	}
	return fd, nil
}

// parent opens the directory that holds p, creating it (and its parents)
// when create is set, and returns it with p's last component.
func (r *rootFS) parent(p string, create bool) (int, string, error) {
	name := clean(p)
	if name == "" {
		return -1, "", fmt.Errorf("guest path %q has no last component", p)
	}
	dir, base := path.Split(name)
	if create && dir != "" {
		if err := r.MkdirAll(dir, 0o755); err != nil {
			return -1, "", err
		}
	}
	fd, err := r.openAt(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	return fd, base, err
}

// MkdirAll creates the guest directory p and its missing parents.
func (r *rootFS) MkdirAll(p string, mode os.FileMode) error {
	parts := strings.Split(clean(p), "/")
	cur := ""
	for _, part := range parts {
		if part == "" {
			continue
		}
		next := path.Join(cur, part)
		fd, err := r.openAt(next, unix.O_PATH|unix.O_DIRECTORY, 0)
		if err == nil {
			unix.Close(fd)
			cur = next
			continue
		}
		if !errors.Is(err, unix.ENOENT) {
			return err
		}
		pfd, err := r.openAt(cur, unix.O_PATH|unix.O_DIRECTORY, 0)
		if err != nil {
			return err
		}
		err = unix.Mkdirat(pfd, part, uint32(mode.Perm()))
		unix.Close(pfd)
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return &os.PathError{Op: "mkdir", Path: r.root + "/" + next, Err: err}
		}
		cur = next
	}
	return nil
}

// removeEntry removes name in dirfd whatever it is, directories recursively,
// never following a symlink.
func removeEntry(dirfd int, name string) error {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return unix.Unlinkat(dirfd, name, 0)
	}
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), name)
	names, err := f.Readdirnames(-1)
	if err != nil {
		f.Close()
		return err
	}
	for _, n := range names {
		if err := removeEntry(fd, n); err != nil {
			f.Close()
			return fmt.Errorf("%s/%s: %w", name, n, err)
		}
	}
	f.Close()
	return unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
}

// RemoveAll removes the guest path p (a file, a symlink or a whole tree). In
// an overlay this leaves a whiteout, so the host's file stays untouched.
func (r *rootFS) RemoveAll(p string) error {
	dfd, base, err := r.parent(p, false)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	defer unix.Close(dfd)
	if err := removeEntry(dfd, base); err != nil {
		return fmt.Errorf("remove %s%s: %w", r.root, path.Clean("/"+p), err)
	}
	return nil
}

// WriteFile replaces the guest file p with data. The old entry is removed
// first (not opened), so a symlink there is replaced, not followed.
func (r *rootFS) WriteFile(p string, data []byte, mode os.FileMode) error {
	dfd, base, err := r.parent(p, true)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	if err := removeEntry(dfd, base); err != nil {
		return err
	}
	fd, err := unix.Openat(dfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, uint32(mode.Perm()))
	if err != nil {
		return &os.PathError{Op: "create", Path: r.root + path.Clean("/"+p), Err: err}
	}
	f := os.NewFile(uintptr(fd), p)
	_, werr := f.Write(data)
	// The umask may have cleared bits the guest needs (0755 scripts).
	cerr := f.Chmod(mode.Perm())
	if err := f.Close(); werr == nil && cerr == nil {
		werr = err
	}
	if werr != nil {
		return werr
	}
	return cerr
}

// AppendFile appends data to the guest file p, creating it with mode.
func (r *rootFS) AppendFile(p string, data []byte, mode os.FileMode) error {
	fd, err := r.openAt(p, unix.O_WRONLY|unix.O_APPEND|unix.O_CREAT|unix.O_NOFOLLOW, uint64(mode.Perm()))
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), p)
	_, werr := f.Write(data)
	if err := f.Close(); werr == nil {
		werr = err
	}
	return werr
}

// ReadFile reads the guest file p.
func (r *rootFS) ReadFile(p string) ([]byte, error) {
	fd, err := r.openAt(p, unix.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	return io.ReadAll(f)
}

// Exists reports whether the guest path p exists (without following a
// final symlink).
func (r *rootFS) Exists(p string) bool {
	dfd, base, err := r.parent(p, false)
	if err != nil {
		return false
	}
	defer unix.Close(dfd)
	var st unix.Stat_t
	return unix.Fstatat(dfd, base, &st, unix.AT_SYMLINK_NOFOLLOW) == nil
}

// Symlink makes the guest path p a symlink to target (replacing p).
func (r *rootFS) Symlink(target, p string) error {
	dfd, base, err := r.parent(p, true)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	if err := removeEntry(dfd, base); err != nil {
		return err
	}
	if err := unix.Symlinkat(target, dfd, base); err != nil {
		return &os.PathError{Op: "symlink", Path: r.root + path.Clean("/"+p), Err: err}
	}
	return nil
}

// Mknod makes the guest path p a device node (replacing p).
func (r *rootFS) Mknod(p string, mode uint32, dev uint64) error {
	dfd, base, err := r.parent(p, true)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	if err := removeEntry(dfd, base); err != nil {
		return err
	}
	if err := unix.Mknodat(dfd, base, mode, int(dev)); err != nil {
		return &os.PathError{Op: "mknod", Path: r.root + path.Clean("/"+p), Err: err}
	}
	// mknod honours the umask; the guest expects the exact mode.
	if err := unix.Fchmodat(dfd, base, mode&0o7777, 0); err != nil {
		return err
	}
	return nil
}

// Chown sets the owner of the guest path p without following a symlink.
func (r *rootFS) Chown(p string, uid, gid int) error {
	dfd, base, err := r.parent(p, false)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	return unix.Fchownat(dfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
}

// Chmod sets the mode of the guest directory or regular file p; mode is
// taken as raw permission bits (0o1777 sets the sticky bit).
func (r *rootFS) Chmod(p string, mode os.FileMode) error {
	fd, err := r.openAt(p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Fchmod(fd, uint32(mode)&0o7777)
}
