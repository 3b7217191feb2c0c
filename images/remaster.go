package images

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/diskfs/go-diskfs/filesystem/iso9660"
)

// Progress stages reported by Remaster. The base is hashed while the new
// ISO is written, so "hash" reports interleave with the others.
const (
	StageHash      = "hash"      // sha256 of the base: bytes done/total
	StageWorkspace = "workspace" // scratch tree: files done/total
	StageLayout    = "layout"    // go-diskfs writes directories and boot records: 0/1, 1/1
	StageCopy      = "copy"      // file data from the base: bytes done/total
	StageSync      = "sync"      // waiting for the disk: 0/1, 1/1
)

// RemasterOptions configures Remaster.
type RemasterOptions struct {
	Base, Out string
	// Kickstart is written at /ks.cfg. Shared install media (one ISO for
	// every MT, each MT's kickstart on its own seed ISO) have none: leave
	// it nil and set KickstartArg to where the kickstart is found.
	Kickstart []byte
	// KickstartArg is the kickstart entry's boot argument; KickstartArg
	// (ks=cdrom:/ks.cfg) when empty.
	KickstartArg string
	// Reproducible fixes every timestamp and owner in the image (see
	// normalizeImage), so the same base and options always give the same
	// bytes, and so the same sha256: what shared media need to be
	// uploaded once and found again by every later run.
	Reproducible     bool
	AllowUnknownBase bool          // remaster a base that is not CentOS 6.6 x86_64
	Timeout          time.Duration // isolinux timeout for the kickstart entry; DefaultTimeout if zero
	// Progress, if set, is called with a stage (Stage*) and its progress.
	// Calls never overlap, but may come from different goroutines.
	Progress func(stage string, done, total int64)
	Logger   *slog.Logger // optional
}

// Result describes a written ISO.
type Result struct {
	Base   BaseInfo
	Out    string
	SHA256 string // of Out
	Size   int64  // of Out
}

// Remaster writes o.Out: the base ISO plus /ks.cfg, with an isolinux
// entry "ks" that boots the base's default kernel with ks=cdrom:/ks.cfg and
// is the default after o.Timeout (see RewriteIsolinuxCfg). For shared
// install media, o.Kickstart is nil, o.KickstartArg is
// SharedKickstartArg and o.Reproducible is set: no MT's data is in the
// image, and its bytes depend only on the base and the options.
//
// The base must be CentOS 6.6 x86_64 unless o.AllowUnknownBase; errors
// about the base wrap ErrUnknownBase. The base is read once for its sha256
// and once for the copy, both streamed; memory use does not grow with its
// size.
//
// Disk use, next to o.Out: the new ISO (about the base's size) and a
// private scratch directory with the boot images. The ISO is written to a
// temporary file (".<name>.tmp-*", mode 0600: the kickstart carries
// secrets), synced, and renamed to o.Out; on error or cancellation the
// temporary file and the scratch directory are removed and an existing
// o.Out is left as it was.
func Remaster(ctx context.Context, o RemasterOptions) (res *Result, err error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	if err := o.validate(); err != nil {
		return nil, err
	}
	img, err := openISO(o.Base)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	if err := notSameFile(img.f, o.Out); err != nil {
		return nil, err
	}
	info, err := identify(img)
	if err != nil {
		if !o.AllowUnknownBase || !errors.Is(err, ErrUnknownBase) {
			return nil, err
		}
		log.Warn("remastering an unknown base, as allowed", "base", o.Base, "reason", err.Error())
	}
	log.Info("base identified", "base", o.Base, "family", info.Family, "version", info.Version,
		"arch", info.Arch, "media_id", info.MediaID, "release", info.Release, "discs", info.Discs,
		"label", info.VolumeLabel, "size", info.Size, "efi", info.HasEFI)
	for _, w := range info.Warnings {
		log.Warn("base accepted with a doubt", "base", o.Base, "doubt", w)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	progress := serialize(o.Progress)

	// The base is hashed alongside the remaster: on two or more cores
	// the checksum then costs (almost) no wall time.
	var (
		baseSum    string
		baseErr    error
		baseHashed = make(chan struct{})
	)
	go func() {
		defer close(baseHashed)
		baseSum, baseErr = hashFile(ctx, img.f, img.size, func(done int64) { progress(StageHash, done, img.size) })
	}()
	defer func() {
		if err != nil {
			cancel()
		}
		<-baseHashed // never leave the reader running on a closed file
	}()

	plan, err := prepare(img, info, o)
	if err != nil {
		return nil, err
	}
	outDir := filepath.Dir(o.Out)
	if err := checkSpace(outDir, info.Size+plan.copyBytes+16<<20, log); err != nil {
		return nil, err
	}

	// The scratch directory is private (0700) and ours alone: go-diskfs
	// deletes the workspace it is given, so it never sees the user's files.
	scratch, err := os.MkdirTemp(outDir, ".mtprep-scratch-")
	if err != nil {
		return nil, fmt.Errorf("iso: create scratch directory in %s: %w", outDir, err)
	}
	defer os.RemoveAll(scratch)
	ws := filepath.Join(scratch, "tree")
	if err := os.Mkdir(ws, 0o700); err != nil {
		return nil, fmt.Errorf("iso: create workspace: %w", err)
	}
	copier := &rangeCopier{}
	nfiles := int64(len(plan.placeholders) + len(plan.copies) + len(plan.contents))
	progress(StageWorkspace, 0, nfiles)
	if err := plan.populate(ctx, ws, img, copier); err != nil {
		return nil, err
	}
	progress(StageWorkspace, nfiles, nfiles)

	tmp, err := os.CreateTemp(outDir, "."+filepath.Base(o.Out)+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("iso: create temporary output in %s: %w", outDir, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	progress(StageLayout, 0, 1)
	if err := finalize(ctx, tmp, ws, info); err != nil {
		return nil, err
	}
	if o.Reproducible {
		end, err := volumeSize(tmp)
		if err != nil {
			return nil, fmt.Errorf("iso: read back %s: %w", tmp.Name(), err)
		}
		if err := normalizeImage(tmp, end, ReproducibleEpoch()); err != nil {
			return nil, err
		}
	}
	progress(StageLayout, 1, 1)
	log.Debug("layout written", "tmp", tmp.Name(), "elapsed", time.Since(start))

	size, outSum, err := placeExtents(ctx, tmp, img, plan, copier, progress)
	if err != nil {
		return nil, err
	}
	<-baseHashed
	if baseErr != nil {
		return nil, fmt.Errorf("iso: hash base %s: %w", o.Base, baseErr)
	}
	info.SHA256 = baseSum

	// On disk before the rename, so that after a crash Out is the old
	// file or the whole new one, never a renamed but unwritten one.
	progress(StageSync, 0, 1)
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("iso: write %s: %w", tmp.Name(), err)
	}
	progress(StageSync, 1, 1)
	// The file stays 0600 as CreateTemp made it: the kickstart holds the
	// root password hash and the MT's private SSH host key.
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("iso: write %s: %w", tmp.Name(), err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp.Name(), o.Out); err != nil {
		return nil, fmt.Errorf("iso: rename %s to %s: %w", tmp.Name(), o.Out, err)
	}
	syncDir(outDir, log)
	log.Info("iso written", "out", o.Out, "size", size, "sha256", outSum,
		"base_sha256", info.SHA256, "elapsed", time.Since(start))
	return &Result{Base: *info, Out: o.Out, SHA256: outSum, Size: size}, nil
}

func (o *RemasterOptions) validate() error {
	switch {
	case o.Base == "":
		return errors.New("iso: no base ISO given")
	case o.Out == "":
		return errors.New("iso: no output path given")
	case len(o.Kickstart) == 0 && (o.KickstartArg == "" || o.KickstartArg == KickstartArg):
		return errors.New("iso: the kickstart is empty")
	case o.Timeout < 0 || o.Timeout > maxTimeout:
		return fmt.Errorf("iso: isolinux timeout %s is outside 0..%s", o.Timeout, maxTimeout)
	}
	if fi, err := os.Stat(o.Out); err == nil && fi.IsDir() {
		return fmt.Errorf("iso: output %s is a directory", o.Out)
	}
	if fi, err := os.Stat(filepath.Dir(o.Out)); err != nil {
		return fmt.Errorf("iso: output directory: %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("iso: output directory %s is not a directory", filepath.Dir(o.Out))
	}
	return nil
}

// notSameFile refuses to write over the base itself.
func notSameFile(base *os.File, out string) error {
	bfi, err := base.Stat()
	if err != nil {
		return fmt.Errorf("iso: stat base: %w", err)
	}
	if ofi, err := os.Stat(out); err == nil && os.SameFile(bfi, ofi) {
		return fmt.Errorf("iso: output %s is the base ISO itself", out)
	}
	return nil
}

// prepare reads what the remaster changes and plans the tree.
func prepare(img *isoImage, info *BaseInfo, o RemasterOptions) (*treePlan, error) {
	entries, byPath, err := img.tree()
	if err != nil {
		return nil, err
	}
	if e, ok := byPath[isolinuxBinPath]; !ok || !e.mode.IsRegular() {
		return nil, fmt.Errorf("iso: base %s: %s: missing, so the ISO could not boot: %w", img.path, isolinuxBinPath, ErrUnknownBase)
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
	boot := []string{isolinuxBinPath}
	if info.HasEFI {
		boot = append(boot, efiImagePath)
	}
	return planTree(entries, catalog, contents, boot)
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
	fsys, err := iso9660.Create(&outputBackend{ctx: ctx, f: tmp}, 0, 0, sectorSize, ws)
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
	if info.HasEFI {
		et.Entries = append(et.Entries, &iso9660.ElToritoEntry{
			Platform:  iso9660.EFI,
			Emulation: iso9660.NoEmulation,
			BootFile:  efiImagePath,
		})
	}
	err = fsys.Finalize(iso9660.FinalizeOptions{
		RockRidge:        true,
		Joliet:           false,
		ElTorito:         et,
		VolumeIdentifier: info.VolumeLabel,
	})
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
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
