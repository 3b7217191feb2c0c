package images

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/iso9660"
)

const sectorSize = 2048

// isoImage is an ISO 9660 image opened read-only with go-diskfs. f is also
// used directly for extent copies and hashing: ISO 9660 files are
// contiguous, so a file is (location, size) in the image.
type isoImage struct {
	path string
	f    *os.File
	fs   *iso9660.FileSystem
	size int64

	entries []isoEntry          // see tree
	byPath  map[string]isoEntry // see tree
}

// isoEntry is one file, directory or symlink of an image's tree.
type isoEntry struct {
	path     string // slash-separated, relative to the root, Rock Ridge names
	mode     fs.FileMode
	modTime  time.Time
	size     int64
	location uint32 // first sector of the file's extent
	record   int64  // byte offset of its directory record in the image
	target   string // symlink target
}

// openISO opens path read-only. go-diskfs panics on some malformed images
// (no primary volume descriptor, for one); that becomes an error here, since
// the image is user input.
func openISO(path string) (img *isoImage, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("iso: open base: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("iso: base %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("iso: base %s: not a regular file: %w", path, ErrUnknownBase)
	}
	fsys, err := readISO9660(f, st.Size())
	if err != nil {
		hint := ""
		if u, uerr := readUDF(f); uerr == nil {
			hint = fmt.Sprintf("; it is a UDF disc (%s, UDF %s, volume id %q): Windows install media?", u.NSR, u.Revision, u.VolumeID)
		}
		return nil, fmt.Errorf("iso: base %s: not a readable ISO 9660 image (%v)%s: %w", path, err, hint, ErrUnknownBase)
	}
	return &isoImage{path: path, f: f, fs: fsys, size: st.Size()}, nil
}

func readISO9660(f *os.File, size int64) (fsys *iso9660.FileSystem, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("malformed image: %v", r)
		}
	}()
	return iso9660.Read(file.New(f, true), size, 0, sectorSize)
}

func (img *isoImage) Close() error { return img.f.Close() }

// tree lists every entry of the image except the root, parents before
// children, and indexes them by path. It is read once and cached.
func (img *isoImage) tree() ([]isoEntry, map[string]isoEntry, error) {
	if img.entries == nil {
		es, err := img.walk()
		if err != nil {
			return nil, nil, err
		}
		img.entries = es
		img.byPath = make(map[string]isoEntry, len(es))
		for _, e := range es {
			img.byPath[e.path] = e
		}
	}
	return img.entries, img.byPath, nil
}

// walk reads the tree breadth first with go-diskfs, taking names from
// dirRecordNames (see rrname.go), and recovers from go-diskfs panics on
// malformed directories.
func (img *isoImage) walk() (entries []isoEntry, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("iso: %s: malformed directory tree: %v: %w", img.path, r, ErrUnknownBase)
		}
	}()
	bad := func(p string, format string, args ...any) error {
		return fmt.Errorf("iso: %s in %s: %s: %w", p, img.path, fmt.Sprintf(format, args...), ErrUnknownBase)
	}
	rootLoc, rootSize, skip, err := suspSkip(img.f)
	if err != nil {
		return nil, bad("/", "%v", err)
	}
	type dir struct {
		path      string
		loc, size uint32
	}
	queue := []dir{{".", rootLoc, rootSize}}
	seen := map[uint32]bool{rootLoc: true}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		names, err := dirRecordNames(img.f, d.loc, d.size, skip)
		if err != nil {
			return nil, bad(d.path, "%v", err)
		}
		des, err := img.fs.ReadDir(d.path)
		if err != nil {
			return nil, bad(d.path, "%v", err)
		}
		if len(des) != len(names) {
			return nil, bad(d.path, "go-diskfs lists %d entries, the directory has %d", len(des), len(names))
		}
		for i, de := range des {
			fi, err := de.Info()
			if err != nil {
				return nil, bad(d.path, "%v", err)
			}
			st, ok := fi.Sys().(*iso9660.StatT)
			if !ok || st.Location != names[i].location {
				return nil, bad(d.path, "entry %d (%s) does not match its directory record", i, names[i].name)
			}
			name := names[i].name
			if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
				return nil, bad(d.path, "invalid name %q", name)
			}
			e := isoEntry{path: path.Join(d.path, name), modTime: fi.ModTime(), size: fi.Size(),
				location: st.Location, record: names[i].offset}
			switch {
			case fi.IsDir():
				e.mode = fs.ModeDir | fi.Mode().Perm()
				if seen[e.location] {
					return nil, bad(e.path, "directory loop")
				}
				seen[e.location] = true
				queue = append(queue, dir{e.path, e.location, uint32(e.size)})
				e.size = 0
			case fi.Mode()&fs.ModeSymlink != 0:
				e.mode = fs.ModeSymlink | fi.Mode().Perm()
				e.target, e.size = st.LinkTarget, 0
			default:
				e.mode = fi.Mode().Perm()
				if end := int64(e.location)*sectorSize + e.size; end > img.size {
					return nil, bad(e.path, "extent ends at byte %d, past the end of the image (%d)", end, img.size)
				}
			}
			entries = append(entries, e)
		}
	}
	return entries, nil
}

// readSmall reads a file of the image that must be small (a config file),
// refusing anything over max bytes so a hostile image cannot exhaust
// memory. A missing file is fs.ErrNotExist.
func (img *isoImage) readSmall(p string, max int64) ([]byte, error) {
	_, byPath, err := img.tree()
	if err != nil {
		return nil, err
	}
	e, ok := byPath[p]
	switch {
	case !ok:
		return nil, fs.ErrNotExist
	case !e.mode.IsRegular():
		return nil, fmt.Errorf("iso: %s in %s is not a regular file", p, img.path)
	case e.size > max:
		return nil, fmt.Errorf("iso: %s in %s is %d bytes, more than the %d expected", p, img.path, e.size, max)
	}
	b := make([]byte, e.size)
	if _, err := img.f.ReadAt(b, int64(e.location)*sectorSize); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("iso: read %s in %s: %w", p, img.path, err)
	}
	return b, nil
}

// bootCatalogSector returns the sector of the image's El Torito boot
// catalog, or 0 when it has none. The base's catalog (CentOS:
// isolinux/boot.cat) is a file in its tree; the remaster writes a new one,
// so the old one must not be copied.
func bootCatalogSector(f io.ReaderAt) (uint32, error) {
	vd := make([]byte, sectorSize)
	for s := int64(16); s < 16+64; s++ {
		if _, err := f.ReadAt(vd, s*sectorSize); err != nil {
			return 0, fmt.Errorf("read volume descriptor %d: %w", s, err)
		}
		if string(vd[1:6]) != "CD001" {
			return 0, fmt.Errorf("volume descriptor %d: bad identifier", s)
		}
		switch vd[0] {
		case 255: // set terminator
			return 0, nil
		case 0: // boot record
			if string(vd[7:30]) == "EL TORITO SPECIFICATION" {
				return binary.LittleEndian.Uint32(vd[71:75]), nil
			}
		}
	}
	return 0, nil
}

// volumeSize returns the size in bytes that the primary volume descriptor
// records (volume space size times logical block size).
func volumeSize(f io.ReaderAt) (int64, error) {
	vd := make([]byte, sectorSize)
	if _, err := f.ReadAt(vd, 16*sectorSize); err != nil {
		return 0, err
	}
	if vd[0] != 1 || string(vd[1:6]) != "CD001" {
		return 0, errors.New("no primary volume descriptor at sector 16")
	}
	blocks := binary.LittleEndian.Uint32(vd[80:84])
	bs := binary.LittleEndian.Uint16(vd[128:130])
	return int64(blocks) * int64(bs), nil
}
