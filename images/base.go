package images

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// The only base mtprep supports: the master target procedure is written
// for CentOS 6.6 x86_64 and the ASR agent for it is RHEL6-64.
const (
	WantFamily  = "CentOS"
	WantVersion = "6.6"
	WantArch    = "x86_64"
)

// ErrUnknownBase is wrapped by errors about a base ISO that is not CentOS
// 6.6 x86_64, or not a readable ISO at all. The CLI maps it to exit code 2.
var ErrUnknownBase = errors.New("base ISO is not CentOS 6.6 x86_64")

// BaseInfo describes a base ISO.
type BaseInfo struct {
	Family      string // .treeinfo [general] family
	Version     string // .discinfo line 2, else .treeinfo [general] version
	Arch        string // .discinfo line 3, else .treeinfo [general] arch
	VolumeLabel string // primary volume identifier
	SHA256      string // hex
	Size        int64  // bytes
	HasEFI      bool   // images/efiboot.img is present
}

// maxMetaFile bounds .discinfo/.treeinfo/isolinux.cfg reads.
const maxMetaFile = 1 << 20

// Inspect reads a base ISO's .discinfo and .treeinfo with go-diskfs and
// hashes the whole image (streamed). When the image is readable but not
// CentOS 6.6 x86_64 it returns the BaseInfo it found together with an error
// wrapping ErrUnknownBase that names the file and the values found.
func Inspect(ctx context.Context, path string) (*BaseInfo, error) {
	img, err := openISO(path)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	info, checkErr := identify(img)
	sum, err := hashFile(ctx, img.f, img.size, nil)
	if err != nil {
		return nil, fmt.Errorf("iso: hash base %s: %w", path, err)
	}
	info.SHA256 = sum
	return info, checkErr
}

// identify fills BaseInfo (without SHA256) and returns an ErrUnknownBase
// error listing every mismatch, or nil for CentOS 6.6 x86_64.
func identify(img *isoImage) (*BaseInfo, error) {
	// go-diskfs returns the padded identifier: spaces (mkisofs) or NULs
	// (go-diskfs itself).
	info := &BaseInfo{Size: img.size, VolumeLabel: strings.TrimRight(img.fs.Label(), " \x00")}
	_, byPath, err := img.tree()
	if err != nil {
		return info, err
	}
	if e, ok := byPath[efiImagePath]; ok && e.mode.IsRegular() {
		info.HasEFI = true
	}
	var problems []string
	mismatch := func(file, what, got, want string) {
		if !strings.EqualFold(got, want) {
			problems = append(problems, fmt.Sprintf("%s: %s is %q, want %q", file, what, got, want))
		}
	}

	disc, err := img.readSmall(".discinfo", maxMetaFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		problems = append(problems, ".discinfo: missing")
	case err != nil:
		return info, err
	default:
		version, arch := parseDiscinfo(disc)
		info.Version, info.Arch = version, arch
		mismatch(".discinfo", "version (line 2)", version, WantVersion)
		mismatch(".discinfo", "arch (line 3)", arch, WantArch)
	}

	tree, err := img.readSmall(".treeinfo", maxMetaFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		problems = append(problems, ".treeinfo: missing")
	case err != nil:
		return info, err
	default:
		general := parseIni(tree)["general"]
		info.Family = general["family"]
		if info.Version == "" {
			info.Version = general["version"]
		}
		if info.Arch == "" {
			info.Arch = general["arch"]
		}
		mismatch(".treeinfo", "[general] family", general["family"], WantFamily)
		mismatch(".treeinfo", "[general] version", general["version"], WantVersion)
		mismatch(".treeinfo", "[general] arch", general["arch"], WantArch)
	}
	if len(problems) > 0 {
		return info, fmt.Errorf("iso: base %s: %s: %w", img.path, strings.Join(problems, "; "), ErrUnknownBase)
	}
	return info, nil
}

// parseDiscinfo returns lines 2 (release) and 3 (arch) of a .discinfo file:
// timestamp, release, arch, disc numbers.
func parseDiscinfo(b []byte) (version, arch string) {
	lines := strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
	if len(lines) > 1 {
		version = strings.TrimSpace(lines[1])
	}
	if len(lines) > 2 {
		arch = strings.TrimSpace(lines[2])
	}
	return version, arch
}

// parseIni parses the .treeinfo INI dialect (Python ConfigParser): sections,
// "key = value" or "key: value", comments with # or ;. Keys are lower-cased.
func parseIni(b []byte) map[string]map[string]string {
	out := map[string]map[string]string{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), maxMetaFile)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "", line[0] == '#', line[0] == ';':
		case line[0] == '[' && strings.HasSuffix(line, "]"):
			section = strings.ToLower(strings.TrimSpace(line[1 : len(line)-1]))
		default:
			i := strings.IndexAny(line, "=:")
			if i < 0 {
				continue
			}
			if out[section] == nil {
				out[section] = map[string]string{}
			}
			out[section][strings.ToLower(strings.TrimSpace(line[:i]))] = strings.TrimSpace(line[i+1:])
		}
	}
	return out
}
