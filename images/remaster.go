package images

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"
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
	// Family is the base's family: FamilyCentOS (or "") or FamilyUbuntu.
	// Windows media are never remastered.
	Family string
	// Preseed (Ubuntu) is the MT's preseed for single-ISO media, written
	// at UbuntuPreseedPath and booted with UbuntuBootArgs. Shared Ubuntu
	// media leave it nil: they carry GenericPreseed at
	// UbuntuSharedPreseedPath, booted with UbuntuSharedBootArgs, which
	// loads the MT's preseed from its seed CD (UbuntuSeedPreseed).
	Preseed []byte
	// Kickstart is written at /ks.cfg. Shared install media (one ISO for
	// every MT, each MT's kickstart on its own seed ISO) have none: leave
	// it nil and set KickstartArg to where the kickstart is found.
	Kickstart []byte
	// KickstartArg is the kickstart entry's boot argument; KickstartArg
	// (ks=cdrom:/ks.cfg) when empty. CentOS only.
	KickstartArg string
	// Reproducible fixes every timestamp and owner in the image (see
	// normalizeImage), so the same base and options always give the same
	// bytes, and so the same sha256: what shared media need to be
	// uploaded once and found again by every later run.
	Reproducible     bool
	AllowUnknownBase bool          // remaster a base that is not CentOS 6.6 x86_64 (Ubuntu: 16.04.x server amd64)
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
	info, err := identifyFamily(img, o.Family)
	if err != nil {
		if !o.AllowUnknownBase || !errors.Is(err, ErrUnknownBase) {
			return nil, err
		}
		log.Warn("remastering an unknown base, as allowed", "base", o.Base, "reason", err.Error())
	}
	log.Info("base identified", "base", o.Base, "os", info.OS, "family", info.Family, "version", info.Version,
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
	if end, err := volumeSize(tmp); err != nil {
		return nil, fmt.Errorf("iso: read back %s: %w", tmp.Name(), err)
	} else if n, err := fixDotDirNames(tmp, end); err != nil {
		return nil, fmt.Errorf("iso: fix directory names in %s: %w", tmp.Name(), err)
	} else if n > 0 {
		log.Debug("dot directories given ISO 9660 names", "records", n)
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
	if err := checkFamily(o.Family); err != nil {
		return err
	}
	ubuntu := o.Family == FamilyUbuntu
	switch {
	case o.Base == "":
		return errors.New("iso: no base ISO given")
	case o.Out == "":
		return errors.New("iso: no output path given")
	case ubuntu && (len(o.Kickstart) > 0 || o.KickstartArg != ""):
		return errors.New("iso: Ubuntu media take a preseed (Preseed), not a kickstart")
	case !ubuntu && o.Preseed != nil:
		return errors.New("iso: CentOS media take a kickstart, not a preseed")
	case ubuntu && o.Preseed != nil && len(o.Preseed) == 0:
		return errors.New("iso: the preseed is empty")
	case !ubuntu && len(o.Kickstart) == 0 && (o.KickstartArg == "" || o.KickstartArg == KickstartArg):
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
