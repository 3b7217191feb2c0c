package packages

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// SumsFile is the bundle's manifest, in sha256sum's format, so the MT can
// check it with its own `sha256sum -c`.
const SumsFile = "SHA256SUMS"

// rpmFileRe is name-version-release.arch.rpm, with no path.
var rpmFileRe = regexp.MustCompile(`^([A-Za-z0-9._+-]+)-([A-Za-z0-9._+~]+)-([A-Za-z0-9._+~]+)\.(x86_64|noarch|i686)\.rpm$`)

// RPMFile is one RPM in a bundle, named as rpm names its files.
type RPMFile struct {
	File, Name, Version, Release, Arch, SHA256 string
}

// ParseRPMFileName splits name-version-release.arch.rpm.
func ParseRPMFileName(file string) (RPMFile, error) {
	m := rpmFileRe.FindStringSubmatch(file)
	if m == nil {
		return RPMFile{}, fmt.Errorf("%q is not an RPM file name (name-version-release.arch.rpm)", file)
	}
	return RPMFile{File: file, Name: m[1], Version: m[2], Release: m[3], Arch: m[4]}, nil
}

// WriteBundle packs every .rpm in dir into an uncompressed tar at out
// (RPMs are compressed already) with SHA256SUMS first, and checks that the
// RPMs cover the Required manifest. The tar is written to a temporary file
// and renamed, so a failed run leaves nothing.
func WriteBundle(ctx context.Context, dir, out string) ([]RPMFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	var rpms []RPMFile
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".rpm") {
			continue
		}
		r, err := ParseRPMFileName(e.Name())
		if err != nil {
			return nil, fmt.Errorf("bundle: %s: %w", dir, err)
		}
		if r.SHA256, err = hashFile(ctx, filepath.Join(dir, e.Name())); err != nil {
			return nil, fmt.Errorf("bundle: %w", err)
		}
		rpms = append(rpms, r)
	}
	if err := Covers(rpms); err != nil {
		return nil, fmt.Errorf("bundle: %s: %w", dir, err)
	}
	sort.Slice(rpms, func(i, j int) bool { return rpms[i].File < rpms[j].File })
	files := make([][2]string, len(rpms))
	for i, r := range rpms {
		files[i] = [2]string{r.SHA256, r.File}
	}
	if err := writeBundleTar(ctx, dir, out, files); err != nil {
		return nil, err
	}
	return rpms, nil
}

func addFile(ctx context.Context, tw *tar.Writer, path, name string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: fi.Size(), Format: tar.FormatUSTAR}); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

func hashFile(ctx context.Context, path string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Covers checks that rpms hold every Required package at its minimum.
func Covers(rpms []RPMFile) error {
	have := Installed{}
	for _, r := range rpms {
		have[r.Name] = r.Version + "-" + r.Release
	}
	miss := Missing(Required(), have)
	if len(miss) == 0 {
		return nil
	}
	var names []string
	for n, why := range miss {
		names = append(names, n+" ("+why+")")
	}
	sort.Strings(names)
	return fmt.Errorf("the RPMs do not cover the manifest: %s", strings.Join(names, ", "))
}

// ReadBundle reads a bundle's manifest and checks the tar: SHA256SUMS
// first, only RPM files with plain names, each listed once with the hash
// its bytes have, and the manifest covered. It streams; nothing is
// extracted.
func ReadBundle(ctx context.Context, path string) ([]RPMFile, error) {
	rpms, err := readBundle(ctx, path, func(hdr *tar.Header, r io.Reader) (RPMFile, string, error) {
		rpm, err := ParseRPMFileName(hdr.Name)
		if err != nil {
			return RPMFile{}, "", errUnexpected
		}
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			return RPMFile{}, "", err
		}
		rpm.SHA256 = hex.EncodeToString(h.Sum(nil))
		return rpm, rpm.SHA256, nil
	})
	if err != nil {
		return nil, err
	}
	if err := Covers(rpms); err != nil {
		return nil, fmt.Errorf("bundle %s: %w", path, err)
	}
	return rpms, nil
}

// errUnexpected: an entry that the bundle's format does not allow.
var errUnexpected = errors.New("unexpected entry")

// readBundle walks the bundle format every OS shares: SHA256SUMS first,
// then regular files, each read by entry (which returns what it read and
// the file's sha256) and each listed once in SHA256SUMS with that hash.
func readBundle[T any](ctx context.Context, path string, entry func(hdr *tar.Header, r io.Reader) (T, string, error)) ([]T, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", path, err)
	}
	defer f.Close()
	tr := tar.NewReader(bufio.NewReaderSize(f, 1<<20))
	want, err := readSums(tr, path)
	if err != nil {
		return nil, err
	}
	var out []T
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("bundle %s: %w", path, err)
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("bundle %s: unexpected entry %q", path, hdr.Name)
		}
		v, sum, err := entry(hdr, tr)
		switch {
		case errors.Is(err, errUnexpected):
			return nil, fmt.Errorf("bundle %s: unexpected entry %q", path, hdr.Name)
		case err != nil:
			return nil, fmt.Errorf("bundle %s: %s: %w", path, hdr.Name, err)
		}
		if want[hdr.Name] != sum {
			return nil, fmt.Errorf("bundle %s: %s has sha256 %s, %s says %q", path, hdr.Name, sum, SumsFile, want[hdr.Name])
		}
		delete(want, hdr.Name)
		out = append(out, v)
	}
	if len(want) > 0 {
		return nil, fmt.Errorf("bundle %s: %d files listed in %s are missing", path, len(want), SumsFile)
	}
	return out, nil
}

// readSums reads a bundle's first entry, SHA256SUMS (sha256sum's format),
// into file name → sha256: every bundle format starts with it.
func readSums(tr *tar.Reader, path string) (map[string]string, error) {
	hdr, err := tr.Next()
	if err != nil || hdr.Name != SumsFile {
		return nil, fmt.Errorf("bundle %s: the first entry must be %s", path, SumsFile)
	}
	sums, err := io.ReadAll(io.LimitReader(tr, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", path, err)
	}
	out := map[string]string{}
	for i, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok || len(sum) != 64 {
			return nil, fmt.Errorf("bundle %s: %s line %d is not `<sha256>  <file>`", path, SumsFile, i+1)
		}
		out[name] = sum
	}
	return out, nil
}

// writeBundleTar writes the bundle format every OS shares: an uncompressed
// tar at out with SHA256SUMS (sha256sum's format) first, then each file of
// dir ({sha256, name}, in order). It writes a temporary file and renames
// it, so a failed run leaves nothing.
func writeBundleTar(ctx context.Context, dir, out string, files [][2]string) error {
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp*")
	if err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	w := bufio.NewWriterSize(tmp, 1<<20)
	tw := tar.NewWriter(w)
	var sums strings.Builder
	for _, f := range files {
		fmt.Fprintf(&sums, "%s  %s\n", f[0], f[1])
	}
	if err := tw.WriteHeader(&tar.Header{Name: SumsFile, Mode: 0o644, Size: int64(sums.Len()), Format: tar.FormatUSTAR}); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	if _, err := io.WriteString(tw, sums.String()); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	for _, f := range files {
		if err := addFile(ctx, tw, filepath.Join(dir, f[1]), f[1]); err != nil {
			return fmt.Errorf("bundle: %w", err)
		}
	}
	for _, step := range []func() error{tw.Close, w.Flush, tmp.Close} {
		if err := step(); err != nil {
			return fmt.Errorf("bundle: %w", err)
		}
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("bundle: %w", err)
	}
	return nil
}
