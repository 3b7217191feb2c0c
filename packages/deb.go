package packages

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
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
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// DebFile is one Debian binary package (.deb) in a bundle, as its control
// file names it.
type DebFile struct {
	File, Package, Version, Arch, SHA256 string
}

// debNameRe is a Debian package name (Policy 5.6.1).
var debNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)

// debVersionRe is [epoch:]upstream[-revision] (Policy 5.6.12).
var debVersionRe = regexp.MustCompile(`^([0-9]+:)?[0-9][A-Za-z0-9.+~:-]*$`)

// arMagic starts every ar archive; each member has a 60-byte header.
const arMagic = "!<arch>\n"

// ReadDeb reads the control file of the .deb at path: Package, Version and
// Architecture. A .deb is an ar archive (debian-binary, control.tar.*,
// data.tar.*); control.tar may be uncompressed, gzip, xz or zstd.
func ReadDeb(path string) (DebFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return DebFile{}, err
	}
	defer f.Close()
	control, err := debControl(bufio.NewReader(f))
	if err != nil {
		return DebFile{}, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	fields := ParseControl(control)
	d := DebFile{File: filepath.Base(path), Package: fields["Package"], Version: fields["Version"], Arch: fields["Architecture"]}
	if !debNameRe.MatchString(d.Package) || !debVersionRe.MatchString(d.Version) || d.Arch == "" {
		return DebFile{}, fmt.Errorf("%s: control file has no valid Package, Version and Architecture", d.File)
	}
	return d, nil
}

// debControl returns the control file of a .deb read from r.
func debControl(r io.Reader) ([]byte, error) {
	magic := make([]byte, len(arMagic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != arMagic {
		return nil, errors.New("not a .deb (no ar archive header)")
	}
	hdr := make([]byte, 60)
	for {
		if _, err := io.ReadFull(r, hdr); err != nil {
			return nil, errors.New("not a .deb: no control.tar member")
		}
		if string(hdr[58:60]) != "`\n" {
			return nil, errors.New("not a .deb: bad ar member header")
		}
		name := strings.TrimRight(strings.TrimSpace(string(hdr[0:16])), "/")
		size, err := strconv.ParseInt(strings.TrimSpace(string(hdr[48:58])), 10, 64)
		if err != nil || size < 0 {
			return nil, errors.New("not a .deb: bad ar member size")
		}
		body := io.LimitReader(r, size)
		if strings.HasPrefix(name, "control.tar") {
			return controlFromTar(name, body)
		}
		if _, err := io.Copy(io.Discard, body); err != nil {
			return nil, err
		}
		if size%2 == 1 { // members are 2-byte aligned
			if _, err := io.CopyN(io.Discard, r, 1); err != nil {
				return nil, err
			}
		}
	}
}

func controlFromTar(name string, r io.Reader) ([]byte, error) {
	var tr io.Reader
	switch name {
	case "control.tar":
		tr = r
	case "control.tar.gz":
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		defer z.Close()
		tr = z
	case "control.tar.xz":
		z, err := xz.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		tr = z
	case "control.tar.zst":
		z, err := zstd.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		defer z.Close()
		tr = z
	default:
		return nil, fmt.Errorf("unknown control member %s", name)
	}
	t := tar.NewReader(tr)
	for {
		h, err := t.Next()
		if err != nil {
			return nil, fmt.Errorf("%s has no control file", name)
		}
		if path := strings.TrimPrefix(h.Name, "./"); path == "control" && h.Typeflag == tar.TypeReg {
			return io.ReadAll(io.LimitReader(t, 1<<20))
		}
	}
}

// ParseControl reads a Debian control paragraph (RFC 822 style, with
// continuation lines); it keeps the first paragraph's fields.
func ParseControl(b []byte) map[string]string {
	out := map[string]string{}
	last := ""
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" {
			if len(out) > 0 {
				break
			}
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if last != "" {
				out[last] += "\n" + line
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		last = strings.TrimSpace(k)
		out[last] = strings.TrimSpace(v)
	}
	return out
}

// ParseDpkgQuery reads `dpkg-query -W -f='${Package} ${Version}
// ${Status}\n'` output, keeping the packages whose status is "install ok
// installed" (a package removed but not purged is not installed). Lines
// of only "NAME VERSION" are taken as installed.
func ParseDpkgQuery(out string) Installed {
	m := Installed{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 2:
		case len(f) == 5 && f[2] == "install" && f[3] == "ok" && f[4] == "installed":
		default:
			continue
		}
		if old, ok := m[f[0]]; ok {
			if c, err := CompareDeb(f[1], old); err != nil || c <= 0 {
				continue
			}
		}
		m[f[0]] = f[1]
	}
	return m
}

// MissingDeb is Missing with Debian version ordering.
func MissingDeb(want []Package, have Installed) map[string]string {
	out := map[string]string{}
	for _, p := range want {
		v, ok := have[p.Name]
		if !ok {
			out[p.Name] = "not installed"
			continue
		}
		c, err := CompareDeb(v, p.Min)
		if err != nil {
			out[p.Name] = err.Error()
		} else if c < 0 {
			out[p.Name] = fmt.Sprintf("%s is older than %s", v, p.Min)
		}
	}
	return out
}

// CoversDeb checks that debs hold every package of want at its minimum.
func CoversDeb(debs []DebFile, want []Package) error {
	have := Installed{}
	for _, d := range debs {
		if old, ok := have[d.Package]; ok {
			if c, err := CompareDeb(d.Version, old); err != nil || c <= 0 {
				continue
			}
		}
		have[d.Package] = d.Version
	}
	miss := MissingDeb(want, have)
	if len(miss) == 0 {
		return nil
	}
	var names []string
	for n, why := range miss {
		names = append(names, n+" ("+why+")")
	}
	sort.Strings(names)
	return fmt.Errorf("the .debs do not cover the manifest: %s", strings.Join(names, ", "))
}

// debFileRe is a plain .deb file name (no path).
var debFileRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+~%-]*\.deb$`)

// WriteDebBundle packs every .deb in dir into an uncompressed tar at out,
// SHA256SUMS first, the same format as the RPM bundle (WriteBundle), and
// checks that the .debs cover want (the OS's manifest). Each .deb's
// package, version and architecture come from its control file, not its
// name. The tar is written to a temporary file and renamed.
func WriteDebBundle(ctx context.Context, dir, out string, want []Package) ([]DebFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	var debs []DebFile
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".deb") {
			continue
		}
		if !debFileRe.MatchString(e.Name()) {
			return nil, fmt.Errorf("bundle: %s: %q is not a plain .deb file name", dir, e.Name())
		}
		p := filepath.Join(dir, e.Name())
		d, err := ReadDeb(p)
		if err != nil {
			return nil, fmt.Errorf("bundle: %w", err)
		}
		if d.SHA256, err = hashFile(ctx, p); err != nil {
			return nil, fmt.Errorf("bundle: %w", err)
		}
		debs = append(debs, d)
	}
	if err := CoversDeb(debs, want); err != nil {
		return nil, fmt.Errorf("bundle: %s: %w", dir, err)
	}
	sort.Slice(debs, func(i, j int) bool { return debs[i].File < debs[j].File })
	files := make([][2]string, len(debs))
	for i, d := range debs {
		files[i] = [2]string{d.SHA256, d.File}
	}
	if err := writeBundleTar(ctx, dir, out, files); err != nil {
		return nil, err
	}
	return debs, nil
}

// ReadDebBundle reads a .deb bundle's manifest and checks the tar:
// SHA256SUMS first, only .deb files with plain names, each listed once
// with the hash its bytes have, each a .deb whose control file is read,
// and want covered. Nothing is extracted to disk.
func ReadDebBundle(ctx context.Context, path string, want []Package) ([]DebFile, error) {
	debs, err := readBundle(ctx, path, func(hdr *tar.Header, r io.Reader) (DebFile, string, error) {
		if !debFileRe.MatchString(hdr.Name) {
			return DebFile{}, "", errUnexpected
		}
		// The control member comes first in a .deb: keep the head for it
		// while hashing the whole.
		h := sha256.New()
		var head bytes.Buffer
		if _, err := io.Copy(h, io.TeeReader(io.LimitReader(r, 4<<20), &head)); err != nil {
			return DebFile{}, "", err
		}
		if _, err := io.Copy(h, r); err != nil {
			return DebFile{}, "", err
		}
		control, err := debControl(&head)
		if err != nil {
			return DebFile{}, "", err
		}
		fields := ParseControl(control)
		d := DebFile{File: hdr.Name, Package: fields["Package"], Version: fields["Version"], Arch: fields["Architecture"], SHA256: hex.EncodeToString(h.Sum(nil))}
		if !debNameRe.MatchString(d.Package) || !debVersionRe.MatchString(d.Version) {
			return DebFile{}, "", errors.New("control file has no valid Package and Version")
		}
		return d, d.SHA256, nil
	})
	if err != nil {
		return nil, err
	}
	if err := CoversDeb(debs, want); err != nil {
		return nil, fmt.Errorf("bundle %s: %w", path, err)
	}
	return debs, nil
}
