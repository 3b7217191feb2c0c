package images

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Paths inside the ISO that the remaster reads, writes or boots.
const (
	isolinuxCfgPath = "isolinux/isolinux.cfg"
	isolinuxBinPath = "isolinux/isolinux.bin"
	bootCatalogPath = "isolinux/boot.cat"
	efiImagePath    = "images/efiboot.img"
	kickstartPath   = "ks.cfg"
)

// treePlan says how each base entry reaches the new ISO.
//
// go-diskfs builds an ISO from a workspace directory and copies every file
// from there, 2 KiB per read and write. Copying a 450 MB tree into the
// workspace and then again into the ISO would move every byte twice, with
// half a million system calls. Instead, each base file becomes an empty
// placeholder in the workspace, with its name, mode and time, so go-diskfs
// writes its directory record, Rock Ridge fields and all. Afterwards
// placeExtents appends the file data after go-diskfs's image, copying each
// base extent once (in the kernel with copy_file_range where possible), and
// sets the extent location and length in the file's directory record.
//
// Real bytes are only needed in the workspace for what go-diskfs reads:
// the El Torito boot images (it checksums isolinux.bin for the boot info
// table and sizes the EFI entry) and the files the remaster changes.
type treePlan struct {
	dirs         []isoEntry
	symlinks     []isoEntry
	placeholders []isoEntry           // empty in the workspace; data appended by placeExtents
	copies       []isoEntry           // copied into the workspace
	contents     map[string]fileBytes // written into the workspace as given
	copyBytes    int64                // bytes of copies and contents
}

type fileBytes struct {
	data    []byte
	modTime time.Time
}

// planTree classifies the base entries. catalog is the sector of the base's
// boot catalog file, which is replaced by a new one.
func planTree(entries []isoEntry, catalog uint32, contents map[string]fileBytes, bootFiles []string) (*treePlan, error) {
	p := &treePlan{contents: contents}
	for _, d := range contents {
		p.copyBytes += int64(len(d.data))
	}
	boot := map[string]bool{}
	for _, b := range bootFiles {
		boot[b] = true
	}
	for _, e := range entries {
		if !fs.ValidPath(e.path) {
			return nil, fmt.Errorf("iso: base entry %q: invalid path: %w", e.path, ErrUnknownBase)
		}
		switch {
		case e.mode.IsDir():
			p.dirs = append(p.dirs, e)
		case e.mode&fs.ModeSymlink != 0:
			p.symlinks = append(p.symlinks, e)
		case !e.mode.IsRegular():
			return nil, fmt.Errorf("iso: base entry %s: unsupported file type %s: %w", e.path, e.mode.Type(), ErrUnknownBase)
		case e.path == bootCatalogPath, catalog != 0 && e.location == catalog && e.size > 0:
			// The old boot catalog; Finalize writes a new one.
		case contents[e.path].data != nil:
			// Replaced (isolinux.cfg) or superseded (an old ks.cfg).
		case boot[e.path]:
			p.copies = append(p.copies, e)
			p.copyBytes += e.size
		default:
			p.placeholders = append(p.placeholders, e)
		}
	}
	return p, nil
}

// populate creates the workspace tree under root. Symlinks are made last,
// so that no file is ever created through one (a hostile base could name a
// symlink and a directory alike).
func (p *treePlan) populate(ctx context.Context, root string, img *isoImage, c *rangeCopier) error {
	local := func(rel string) string { return filepath.Join(root, filepath.FromSlash(rel)) }
	for _, d := range p.dirs {
		// Owner rwx stays on so the workspace can be filled and removed.
		if err := os.Mkdir(local(d.path), d.mode.Perm()|0o700); err != nil {
			return fmt.Errorf("iso: workspace: %w", err)
		}
	}
	create := func(rel string, perm fs.FileMode) (*os.File, error) {
		if err := os.MkdirAll(filepath.Dir(local(rel)), 0o755); err != nil {
			return nil, fmt.Errorf("iso: workspace: %w", err)
		}
		// O_EXCL: duplicate names in a base are an error, not an overwrite.
		f, err := os.OpenFile(local(rel), os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm|0o600)
		if err != nil {
			return nil, fmt.Errorf("iso: workspace: %w", err)
		}
		return f, nil
	}
	finish := func(f *os.File, e isoEntry, err error) error {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("iso: workspace: %w", cerr)
		}
		if err == nil && !e.modTime.IsZero() {
			err = os.Chtimes(f.Name(), e.modTime, e.modTime)
		}
		return err
	}
	for _, e := range p.placeholders {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := create(e.path, e.mode.Perm())
		if err != nil {
			return err
		}
		if err := finish(f, e, nil); err != nil {
			return err
		}
	}
	for _, e := range p.copies {
		f, err := create(e.path, e.mode.Perm())
		if err != nil {
			return err
		}
		err = c.copyRange(ctx, f, 0, img.f, int64(e.location)*sectorSize, e.size, nil)
		if err != nil {
			err = fmt.Errorf("iso: copy %s from base %s: %w", e.path, img.path, err)
		}
		if err := finish(f, e, err); err != nil {
			return err
		}
	}
	for rel, d := range p.contents {
		f, err := create(rel, 0o644)
		if err != nil {
			return err
		}
		if _, err = f.Write(d.data); err != nil {
			err = fmt.Errorf("iso: workspace: write %s: %w", rel, err)
		}
		if err := finish(f, isoEntry{modTime: d.modTime}, err); err != nil {
			return err
		}
	}
	for _, e := range p.symlinks {
		if err := os.Symlink(e.target, local(e.path)); err != nil {
			return fmt.Errorf("iso: workspace: %w", err)
		}
	}
	// Directory times last: adding entries changed them. Deepest first.
	for i := len(p.dirs) - 1; i >= 0; i-- {
		d := p.dirs[i]
		if d.modTime.IsZero() {
			continue
		}
		if err := os.Chtimes(local(d.path), d.modTime, d.modTime); err != nil {
			return fmt.Errorf("iso: workspace: %w", err)
		}
	}
	return nil
}

// placeholderBytes is the data the extent copy will move.
func (p *treePlan) placeholderBytes() int64 {
	var n int64
	for _, e := range p.placeholders {
		n += e.size
	}
	return n
}
