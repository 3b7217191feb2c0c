package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/diskfs/go-diskfs/filesystem/iso9660"
)

// SeedLabel is the volume label of seed ISOs.
const SeedLabel = "MTPREP_SEED"

// SeedPath is where a seed ISO holds the kickstart: at its root, as
// SharedKickstartArg names it (and as the lab's install stand-in reads it).
const SeedPath = "/ks.cfg"

// maxSeed bounds a seed's content: a kickstart is a few KiB, and a seed
// travels per MT, so it must stay small (the fleet's bytes moved grow
// with it). A Windows seed carries the Win32-OpenSSH release zip (some
// 4 MB, Windows Server 2016 having no OpenSSH of its own): 16 MiB leave
// room for it and nothing much larger.
const maxSeed = 16 << 20

// SeedFile is one file at the root of a seed ISO.
type SeedFile struct {
	Name string // a plain name at the root ("ks.cfg", "autounattend.xml")
	Data []byte
}

// SeedOptions configures WriteSeed.
type SeedOptions struct {
	Out       string
	Kickstart []byte // written at SeedPath
	// Files are written at the root besides the kickstart (an OS whose
	// seed is not a kickstart gives only Files).
	Files []SeedFile
	// Joliet adds Joliet names: Windows reads a CD's long names from
	// Joliet, never from Rock Ridge. The seed is not booted, so the
	// ISOLINUX trouble with go-diskfs's Joliet does not apply.
	Joliet bool
	Logger *slog.Logger // optional
}

// files is every file the seed holds.
func (o SeedOptions) files() []SeedFile {
	fs := o.Files
	if len(o.Kickstart) > 0 {
		fs = append([]SeedFile{{Name: filepath.Base(SeedPath), Data: o.Kickstart}}, fs...)
	}
	return fs
}

// WriteSeed writes a small ISO 9660 image (Rock Ridge, no Joliet, not
// bootable) holding the kickstart at /ks.cfg: the per-MT half of shared
// install media, attached as the VM's second CD-ROM. Like Remaster it
// writes a temporary file (mode 0600: the kickstart holds the root
// password hash and the MT's private host key), syncs it and renames it
// to o.Out; an error leaves no partial file. The image is reproducible
// (see normalizeImage): the same kickstart gives the same bytes.
func WriteSeed(ctx context.Context, o SeedOptions) (res *Result, err error) {
	files := o.files()
	total := 0
	for _, f := range files {
		total += len(f.Data)
		if f.Name == "" || f.Name != filepath.Base(f.Name) || f.Name == "." || f.Name == ".." {
			return nil, fmt.Errorf("seed: %q is not a plain file name", f.Name)
		}
		if len(f.Data) == 0 {
			return nil, fmt.Errorf("seed: %s is empty", f.Name)
		}
	}
	switch {
	case o.Out == "":
		return nil, errors.New("seed: no output path given")
	case len(files) == 0:
		return nil, errors.New("seed: the kickstart is empty")
	case total > maxSeed:
		return nil, fmt.Errorf("seed: the seed's files have %d bytes; a seed holds at most %d", total, maxSeed)
	}
	dir := filepath.Dir(o.Out)
	// go-diskfs deletes the workspace it is given: a private one.
	scratch, err := os.MkdirTemp(dir, ".mtprep-seed-")
	if err != nil {
		return nil, fmt.Errorf("seed: create scratch directory in %s: %w", dir, err)
	}
	defer os.RemoveAll(scratch)
	ws := filepath.Join(scratch, "tree")
	if err := os.Mkdir(ws, 0o700); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(ws, f.Name), f.Data, 0o600); err != nil {
			return nil, fmt.Errorf("seed: %w", err)
		}
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(o.Out)+".tmp-")
	if err != nil {
		return nil, fmt.Errorf("seed: create temporary output in %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := writeSeedImage(ctx, tmp, ws, o.Joliet); err != nil {
		return nil, err
	}
	end, err := volumeSize(tmp)
	if err != nil {
		return nil, fmt.Errorf("seed: read back %s: %w", tmp.Name(), err)
	}
	if err := normalizeImage(tmp, end, ReproducibleEpoch()); err != nil {
		return nil, err
	}
	// go-diskfs may leave the file longer than the volume; the volume is
	// what counts, and a fixed length keeps the hash reproducible.
	if err := tmp.Truncate(end); err != nil {
		return nil, fmt.Errorf("seed: write %s: %w", tmp.Name(), err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(tmp, 0, end)); err != nil {
		return nil, fmt.Errorf("seed: hash %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return nil, fmt.Errorf("seed: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("seed: write %s: %w", tmp.Name(), err)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp.Name(), o.Out); err != nil {
		return nil, fmt.Errorf("seed: rename %s to %s: %w", tmp.Name(), o.Out, err)
	}
	if o.Logger != nil {
		o.Logger.Debug("seed written", "out", o.Out, "size", end)
	}
	return &Result{Out: o.Out, SHA256: hex.EncodeToString(h.Sum(nil)), Size: end}, nil
}

func writeSeedImage(ctx context.Context, tmp *os.File, ws string, joliet bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("seed: write %s: go-diskfs: %v", tmp.Name(), r)
		}
	}()
	out := &outputBackend{ctx: ctx, f: tmp}
	fsys, err := iso9660.Create(out, 0, 0, sectorSize, ws)
	if err != nil {
		return fmt.Errorf("seed: create %s: %w", tmp.Name(), err)
	}
	// Rock Ridge, as on the install media: the kernel's isofs and
	// anaconda's loader read /ks.cfg by its Rock Ridge name. Joliet only
	// when asked (Windows Setup reads names from it).
	err = fsys.Finalize(iso9660.FinalizeOptions{RockRidge: true, Joliet: joliet, VolumeIdentifier: SeedLabel})
	// A refused or failed write may hide behind a nil error
	// (outputBackend.writeErr); a cancellation is reported as such.
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if err == nil {
		err = out.writeErr()
	}
	if err != nil {
		return fmt.Errorf("seed: write %s: %w", tmp.Name(), err)
	}
	return nil
}

// ReadSeed returns the kickstart a seed ISO holds at /ks.cfg.
func ReadSeed(path string) ([]byte, error) {
	img, err := openISO(path)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	_, byPath, err := img.tree()
	if err != nil {
		return nil, err
	}
	if _, ok := byPath[kickstartPath]; !ok {
		return nil, fmt.Errorf("seed %s: no %s", path, SeedPath)
	}
	return img.readSmall(kickstartPath, maxSeed)
}

// ReadSeedFile returns one file at the root of a seed ISO, by its Rock
// Ridge name.
func ReadSeedFile(path, name string) ([]byte, error) {
	img, err := openISO(path)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	_, byPath, err := img.tree()
	if err != nil {
		return nil, err
	}
	if _, ok := byPath[name]; !ok {
		return nil, fmt.Errorf("seed %s: no /%s", path, name)
	}
	return img.readSmall(name, maxSeed)
}
