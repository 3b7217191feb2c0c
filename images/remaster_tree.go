package images

// The remaster after the base is read: the plan of the new tree (what is
// copied, replaced and added), TRANS.TBL, the space check, and go-diskfs
// laying out and writing the ISO.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path"
	"sort"
	"sync"
	"time"

	"github.com/diskfs/go-diskfs/filesystem/iso9660"
)

// prepare reads what the remaster changes and plans the tree.
func prepare(img *isoImage, info *BaseInfo, o RemasterOptions) (*treePlan, error) {
	entries, byPath, err := img.tree()
	if err != nil {
		return nil, err
	}
	if e, ok := byPath[isolinuxBinPath]; !ok || !e.mode.IsRegular() {
		return nil, fmt.Errorf("iso: base %s: %s: missing, so the ISO could not boot: %w", img.path, isolinuxBinPath, ErrUnknownBase)
	}
	if o.Family == FamilyUbuntu {
		return prepareUbuntu(img, info, o, entries)
	}
	cfg, err := img.readSmall(isolinuxCfgPath, maxMetaFile)
	if err != nil {
		return nil, fmt.Errorf("iso: base %s: %s: %w: %w", img.path, isolinuxCfgPath, err, ErrUnknownBase)
	}
	arg := o.KickstartArg
	if arg == "" {
		arg = KickstartArg
	}
	newCfg, err := RewriteIsolinuxCfgArg(cfg, o.Timeout, arg)
	if err != nil {
		return nil, fmt.Errorf("%w (in base %s): %w", err, img.path, ErrUnknownBase)
	}
	catalog, err := bootCatalogSector(img.f)
	if err != nil {
		return nil, fmt.Errorf("iso: base %s: %w: %w", img.path, err, ErrUnknownBase)
	}
	now := time.Now()
	if o.Reproducible {
		now = ReproducibleEpoch()
	}
	contents := map[string]fileBytes{isolinuxCfgPath: {data: newCfg, modTime: now}}
	if len(o.Kickstart) > 0 {
		contents[kickstartPath] = fileBytes{data: o.Kickstart, modTime: now}
	} else {
		// Media without a kickstart must not pass on a remastered base's
		// old one: it would be some other MT's.
		kept := make([]isoEntry, 0, len(entries))
		for _, e := range entries {
			if e.path != kickstartPath {
				kept = append(kept, e)
			}
		}
		entries = kept
	}
	entries = dropTransTables(entries)
	return planTree(entries, catalog, contents, bootFiles(info))
}

// transTable is the name mkisofs -T (pungi builds CentOS's media with it)
// gives the table in each directory that maps its ISO 9660 names to the
// long names.
const transTable = "TRANS.TBL"

// dropTransTables leaves the base's TRANS.TBL files out of the new ISO.
// They list the base's ISO 9660 names, which go-diskfs does not keep (it
// makes its own), so kept they would describe names the new ISO does not
// have, and ks.cfg would be missing from the root's. Nothing on the install
// path reads them: ISOLINUX reads ISO 9660 names, anaconda and yum the Rock
// Ridge names the new ISO carries.
func dropTransTables(entries []isoEntry) []isoEntry {
	kept := entries[:0:0]
	for _, e := range entries {
		if e.mode.IsRegular() && path.Base(e.path) == transTable {
			continue
		}
		kept = append(kept, e)
	}
	return kept
}

// checkSpace fails early, before anything is written, when the output's
// file system cannot hold the new ISO and the scratch files.
func checkSpace(dir string, need int64, log *slog.Logger) error {
	free, known, err := freeSpace(dir)
	switch {
	case err != nil:
		return fmt.Errorf("iso: free space in %s: %w", dir, err)
	case !known:
		log.Warn("cannot measure free space; not checked", "dir", dir)
	case free < need:
		return fmt.Errorf("iso: not enough free space in %s: need %d MiB (the new ISO and scratch files), have %d MiB",
			dir, need>>20, free>>20)
	}
	return nil
}

// finalize lets go-diskfs lay out and write the ISO from the workspace:
// Rock Ridge on, Joliet off (ISOLINUX cannot boot go-diskfs v1.9.4 ISOs
// with Joliet), El Torito BIOS boot like CentOS's own media, plus EFI when
// the base has an EFI image. It deletes the workspace.
func finalize(ctx context.Context, tmp *os.File, ws string, info *BaseInfo) (err error) {
	defer func() {
		// go-diskfs is not ours; a panic must still clean up.
		if r := recover(); r != nil {
			err = fmt.Errorf("iso: write %s: go-diskfs: %v", tmp.Name(), r)
		}
	}()
	out := &outputBackend{ctx: ctx, f: tmp}
	fsys, err := iso9660.Create(out, 0, 0, sectorSize, ws)
	if err != nil {
		return fmt.Errorf("iso: create %s: %w", tmp.Name(), err)
	}
	bios := &iso9660.ElToritoEntry{
		Platform:  iso9660.BIOS,
		Emulation: iso9660.NoEmulation,
		BootFile:  isolinuxBinPath,
		BootTable: true,
	}
	bios.SetLoadSize(4)
	et := &iso9660.ElTorito{BootCatalog: bootCatalogPath, Entries: []*iso9660.ElToritoEntry{bios}}
	if info.HasEFI && info.efiImage != "" {
		et.Entries = append(et.Entries, &iso9660.ElToritoEntry{
			Platform:  iso9660.EFI,
			Emulation: iso9660.NoEmulation,
			BootFile:  info.efiImage,
		})
	}
	err = fsys.Finalize(iso9660.FinalizeOptions{
		RockRidge:        true,
		Joliet:           false,
		ElTorito:         et,
		VolumeIdentifier: info.VolumeLabel,
	})
	// A refused or failed write may hide behind a nil error
	// (outputBackend.writeErr); a cancellation is reported as such.
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if err == nil {
		err = out.writeErr()
	}
	if err != nil {
		return fmt.Errorf("iso: write %s: %w", tmp.Name(), err)
	}
	return nil
}

// placeExtents appends the placeholders' data after the image go-diskfs
// wrote, in base order (so the base is read front to back), points their
// directory records at it, and fixes the volume size. A second goroutine
// hashes the output as it becomes final. It returns the ISO's size and
// sha256. See treePlan for why.
func placeExtents(ctx context.Context, tmp *os.File, img *isoImage, plan *treePlan, c *rangeCopier,
	progress func(string, int64, int64)) (int64, string, error) {
	end, err := volumeSize(tmp)
	if err != nil {
		return 0, "", fmt.Errorf("iso: read back %s: %w", tmp.Name(), err)
	}
	out, err := readLayout(tmp, end)
	if err != nil {
		return 0, "", err
	}
	type job struct {
		from isoEntry
		rec  int64  // directory record of the file in the output
		to   uint32 // new extent
	}
	jobs := make([]job, 0, len(plan.placeholders))
	for _, e := range plan.placeholders {
		if e.size == 0 {
			continue
		}
		n, ok := out[e.path]
		if !ok || n.size != 0 || n.record == 0 {
			return 0, "", fmt.Errorf("iso: read back %s: placeholder %s is missing or not empty", tmp.Name(), e.path)
		}
		jobs = append(jobs, job{from: e, rec: n.record})
	}
	sort.Slice(jobs, func(i, k int) bool { return jobs[i].from.location < jobs[k].from.location })
	next := (end + sectorSize - 1) / sectorSize
	for i := range jobs {
		if next > math.MaxUint32 {
			return 0, "", fmt.Errorf("iso: %s: more than 2^32 sectors", tmp.Name())
		}
		jobs[i].to = uint32(next)
		next += (jobs[i].from.size + sectorSize - 1) / sectorSize
	}
	if next > math.MaxUint32 {
		return 0, "", fmt.Errorf("iso: %s: more than 2^32 sectors", tmp.Name())
	}
	size := next * sectorSize
	// The exact length: go-diskfs may pad past its last extent, and the
	// appended extents are written below.
	if err := tmp.Truncate(size); err != nil {
		return 0, "", fmt.Errorf("iso: write %s: %w", tmp.Name(), err)
	}
	for _, j := range jobs {
		if err := patchRecord(tmp, j.rec, j.to, uint32(j.from.size)); err != nil {
			return 0, "", fmt.Errorf("iso: write %s: record of %s: %w", tmp.Name(), j.from.path, err)
		}
	}
	if err := patchVolumeSize(tmp, uint32(next)); err != nil {
		return 0, "", fmt.Errorf("iso: write %s: %w", tmp.Name(), err)
	}

	hctx, stop := context.WithCancel(ctx)
	hasher := startTrailingHasher(hctx, tmp, size)
	defer func() {
		// On error, stop the hasher and wait: it must not outlive tmp.
		stop()
		_, _ = hasher.wait()
	}()
	hasher.advance(end) // go-diskfs's part is final now
	startWriteback(tmp, 0, end)
	total := plan.placeholderBytes()
	var done int64
	progress(StageCopy, 0, total)
	for _, j := range jobs {
		to := int64(j.to) * sectorSize
		err := c.copyRange(ctx, tmp, to, img.f, int64(j.from.location)*sectorSize, j.from.size,
			func(n int64) { done += n; progress(StageCopy, done, total) })
		if err != nil {
			return 0, "", fmt.Errorf("iso: copy %s from base %s: %w", j.from.path, img.path, err)
		}
		hasher.advance(to + (j.from.size+sectorSize-1)/sectorSize*sectorSize)
		startWriteback(tmp, to, j.from.size)
	}
	hasher.advance(size)
	progress(StageCopy, total, total)
	sum, err := hasher.wait()
	if err != nil {
		return 0, "", fmt.Errorf("iso: hash %s: %w", tmp.Name(), err)
	}
	return size, sum, nil
}

// patchRecord sets the extent of the ISO 9660 directory record at off:
// location (bytes 2-9) and data length (10-17), each both-endian. The
// record must still describe an empty file, as go-diskfs wrote it.
func patchRecord(f *os.File, off int64, location, length uint32) error {
	b := make([]byte, 18)
	if _, err := f.ReadAt(b, off); err != nil {
		return err
	}
	if int(b[0]) < 34 || binary.LittleEndian.Uint32(b[10:14]) != 0 {
		return errors.New("not the empty file's directory record")
	}
	binary.LittleEndian.PutUint32(b[2:6], location)
	binary.BigEndian.PutUint32(b[6:10], location)
	binary.LittleEndian.PutUint32(b[10:14], length)
	binary.BigEndian.PutUint32(b[14:18], length)
	_, err := f.WriteAt(b[2:18], off+2)
	return err
}

// patchVolumeSize sets the volume space size (sectors) of the primary
// volume descriptor, both-endian at bytes 80-87.
func patchVolumeSize(f *os.File, sectors uint32) error {
	b := make([]byte, 8)
	binary.LittleEndian.PutUint32(b[0:4], sectors)
	binary.BigEndian.PutUint32(b[4:8], sectors)
	_, err := f.WriteAt(b, 16*sectorSize+80)
	return err
}

// readLayout maps each file of the written ISO to its extent.
func readLayout(f *os.File, size int64) (map[string]isoEntry, error) {
	fsys, err := readISO9660(f, size)
	if err != nil {
		return nil, fmt.Errorf("iso: read back %s: %w", f.Name(), err)
	}
	_, out, err := (&isoImage{path: f.Name(), f: f, fs: fsys, size: size}).tree()
	return out, err
}

// serialize makes progress callbacks safe to call from several goroutines.
func serialize(f func(string, int64, int64)) func(string, int64, int64) {
	if f == nil {
		return func(string, int64, int64) {}
	}
	var mu sync.Mutex
	return func(stage string, done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		f(stage, done, total)
	}
}

// syncDir makes the rename durable. A failure only weakens crash safety,
// so it is logged, not returned.
func syncDir(dir string, log *slog.Logger) {
	d, err := os.Open(dir)
	if err == nil {
		err = d.Sync()
		d.Close()
	}
	if err != nil {
		log.Debug("cannot sync directory", "dir", dir, "err", err)
	}
}

// bootFiles are the El Torito images, which go-diskfs reads.
func bootFiles(info *BaseInfo) []string {
	boot := []string{isolinuxBinPath}
	if info.HasEFI && info.efiImage != "" {
		boot = append(boot, info.efiImage)
	}
	return boot
}

// prepareUbuntu plans an Ubuntu remaster: isolinux.cfg and txt.cfg
// rewritten (RewriteUbuntuBoot), grub.cfg too when there is one
// (RewriteUbuntuGrub), the preseed added, md5sum.txt brought up to date.
// Shared media must not pass on a remastered base's MT preseed: it would
// be some other MT's.
func prepareUbuntu(img *isoImage, info *BaseInfo, o RemasterOptions, entries []isoEntry) (*treePlan, error) {
	read := func(p string) ([]byte, error) {
		b, err := img.readSmall(p, maxMetaFile)
		if err != nil {
			return nil, fmt.Errorf("iso: base %s: %s: %w: %w", img.path, p, err, ErrUnknownBase)
		}
		return b, nil
	}
	isoCfg, err := read(isolinuxCfgPath)
	if err != nil {
		return nil, err
	}
	txt, err := read(ubuntuTxtCfgPath)
	if err != nil {
		return nil, err
	}
	// txt.cfg only counts when the menu reads it: isolinux.cfg includes
	// menu.cfg, which includes txt.cfg (or isolinux.cfg includes it).
	reached := cfgIncludes(isoCfg, "txt.cfg")
	if !reached && cfgIncludes(isoCfg, "menu.cfg") {
		if menu, err := img.readSmall(ubuntuMenuCfgPath, maxMetaFile); err == nil {
			reached = cfgIncludes(menu, "txt.cfg")
		}
	}
	if !reached {
		return nil, fmt.Errorf("iso: base %s: isolinux.cfg does not include txt.cfg (directly or through menu.cfg): %w: %w",
			img.path, ErrIsolinuxCfg, ErrUnknownBase)
	}
	args, preseedPath, preseed := UbuntuSharedBootArgs, UbuntuSharedPreseedPath, []byte(GenericPreseed)
	if o.Preseed != nil {
		args, preseedPath, preseed = UbuntuBootArgs, UbuntuPreseedPath, o.Preseed
	}
	newIso, newTxt, err := RewriteUbuntuBoot(isoCfg, txt, o.Timeout, args)
	if err != nil {
		return nil, fmt.Errorf("%w (in base %s): %w", err, img.path, ErrUnknownBase)
	}
	changed := map[string][]byte{isolinuxCfgPath: newIso, ubuntuTxtCfgPath: newTxt, preseedPath: preseed}
	if grub, err := img.readSmall(ubuntuGrubCfgPath, maxMetaFile); err == nil {
		newGrub, err := RewriteUbuntuGrub(grub, o.Timeout, args)
		if err != nil {
			return nil, fmt.Errorf("%w (in base %s): %w", err, img.path, ErrUnknownBase)
		}
		changed[ubuntuGrubCfgPath] = newGrub
	}
	dropped := map[string]bool{}
	if o.Preseed == nil {
		dropped[UbuntuPreseedPath] = true
	}
	kept := make([]isoEntry, 0, len(entries))
	for _, e := range entries {
		if !dropped[e.path] {
			kept = append(kept, e)
		}
	}
	if sums, err := img.readSmall(ubuntuMD5Path, 16<<20); err == nil {
		// After the others: md5sum.txt does not list itself.
		changed[ubuntuMD5Path] = updateMD5Sums(sums, changed, dropped)
	}
	catalog, err := bootCatalogSector(img.f)
	if err != nil {
		return nil, fmt.Errorf("iso: base %s: %w: %w", img.path, err, ErrUnknownBase)
	}
	now := time.Now()
	if o.Reproducible {
		now = ReproducibleEpoch()
	}
	contents := map[string]fileBytes{}
	for p, b := range changed {
		contents[p] = fileBytes{data: b, modTime: now}
	}
	return planTree(dropTransTables(kept), catalog, contents, bootFiles(info))
}
