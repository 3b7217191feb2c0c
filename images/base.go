package images

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
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

// MediaID66 is the media id (.discinfo line 1) of the CentOS 6.6 x86_64
// compose: the minimal, netinstall and bin-DVD1/DVD2 ISOs all carry it.
const MediaID66 = "1414159991.958686"

// knownMedia names the composes whose media ids mtprep recognises, so that
// a base whose .treeinfo says 6.6 but whose .discinfo is another release's
// is refused as the contradiction it is. Ids as published for each
// release's x86_64 media (xCAT's table of known discs agrees).
var knownMedia = map[string]string{
	"1362445555.957609": "CentOS 6.4 x86_64",
	"1385726732.061157": "CentOS 6.5 x86_64",
	MediaID66:           "CentOS 6.6 x86_64",
	"1438724467.511049": "CentOS 6.7 x86_64",
	"1463897259.552895": "CentOS 6.8 x86_64",
}

// BaseInfo describes a base ISO.
type BaseInfo struct {
	// OS is the base's family as mtprep names it: FamilyCentOS or
	// FamilyUbuntu (see InspectFamily).
	OS          string
	Family      string // .treeinfo [general] family; Ubuntu: .disk/info's product ("Ubuntu-Server")
	Version     string // .treeinfo [general] version, else the .discinfo release's
	Arch        string // .treeinfo [general] arch, else .discinfo line 3
	VolumeLabel string // primary volume identifier
	SHA256      string // hex
	Size        int64  // bytes
	HasEFI      bool   // the EFI El Torito image is present (CentOS images/efiboot.img, Ubuntu boot/grub/efi.img)

	MediaID string // .discinfo line 1, the compose's media id
	Media   string // what MediaID is known as ("CentOS 6.6 x86_64"), "" when unknown
	Release string // .discinfo line 2 as written ("CentOS 6.6", or "6.6")
	Discs   string // .discinfo line 4, the disc numbers ("1", or "1,2")
	// Kernels are the kernel images in an Ubuntu base's pool/
	// ("4.4.0-62", "4.8.0-36"): what the media can install.
	Kernels []string
	// Warnings are doubts that do not refuse the base (an unknown media
	// id); Remaster logs them.
	Warnings []string

	efiImage string // the El Torito EFI image's path, "" without EFI
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
// error listing every mismatch and every value found, or nil for CentOS
// 6.6 x86_64.
//
// The rule: .treeinfo's [general] family, version and arch decide, and
// .discinfo must agree with them (its release string's version, its arch,
// disc 1 of the set). The media id alone decides nothing: it is the
// compose's timestamp, not a content hash, and a site that respins the 6.6
// media (makestamp.py again) gets a new one, so an unknown id is a
// warning. A known id of another release is refused: the files contradict
// each other. The exact bytes are pinned by the sha256 that is recorded.
func identify(img *isoImage) (*BaseInfo, error) {
	// go-diskfs returns the padded identifier: spaces (mkisofs) or NULs
	// (go-diskfs itself).
	info := &BaseInfo{OS: FamilyCentOS, Size: img.size, VolumeLabel: strings.TrimRight(img.fs.Label(), " \x00")}
	_, byPath, err := img.tree()
	if err != nil {
		return info, err
	}
	if e, ok := byPath[efiImagePath]; ok && e.mode.IsRegular() {
		info.HasEFI, info.efiImage = true, efiImagePath
	}
	var problems []string
	mismatch := func(file, what, got, want string) {
		if !strings.EqualFold(got, want) {
			problems = append(problems, fmt.Sprintf("%s: %s is %q, want %q", file, what, got, want))
		}
	}

	var disc discinfo
	discErr := error(nil)
	b, err := img.readSmall(".discinfo", maxMetaFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		problems = append(problems, ".discinfo: missing")
		discErr = err
	case err != nil:
		return info, err
	default:
		disc = parseDiscinfo(b)
		info.MediaID, info.Release, info.Discs = disc.MediaID, disc.Release, disc.Discs
		info.Media = knownMedia[disc.MediaID]
		switch {
		case disc.Release == "":
			problems = append(problems, ".discinfo: line 2 (release) is empty, want e.g. \"CentOS 6.6\"")
		case disc.Version == "":
			problems = append(problems, fmt.Sprintf(".discinfo: release (line 2) %q has no version number, want e.g. \"CentOS 6.6\"", disc.Release))
		default:
			mismatch(".discinfo", fmt.Sprintf("release (line 2) %q: version", disc.Release), disc.Version, WantVersion)
		}
		mismatch(".discinfo", "arch (line 3)", disc.Arch, WantArch)
		if disc.Discs != "" && !slices.Contains(strings.Split(strings.ReplaceAll(disc.Discs, " ", ""), ","), "1") {
			problems = append(problems, fmt.Sprintf(".discinfo: disc numbers (line 4) are %q: not disc 1, which is the one that boots", disc.Discs))
		}
		want := WantFamily + " " + WantVersion + " " + WantArch
		switch {
		case info.Media != "" && info.Media != want:
			problems = append(problems, fmt.Sprintf(".discinfo: media id (line 1) %s is %s's, want %s's %s", disc.MediaID, info.Media, want, MediaID66))
		case info.Media == "":
			info.Warnings = append(info.Warnings, fmt.Sprintf(".discinfo: media id (line 1) %q is not %s's %s: a respin or remaster; "+
				"accepted because .treeinfo and .discinfo agree (the sha256 recorded pins the exact image)", disc.MediaID, want, MediaID66))
		}
	}

	tree, err := img.readSmall(".treeinfo", maxMetaFile)
	var general map[string]string
	switch {
	case errors.Is(err, fs.ErrNotExist):
		problems = append(problems, ".treeinfo: missing")
	case err != nil:
		return info, err
	default:
		general = parseIni(tree)["general"]
		info.Family, info.Version, info.Arch = general["family"], general["version"], general["arch"]
		mismatch(".treeinfo", "[general] family", general["family"], WantFamily)
		mismatch(".treeinfo", "[general] version", general["version"], WantVersion)
		mismatch(".treeinfo", "[general] arch", general["arch"], WantArch)
	}
	if info.Version == "" {
		info.Version = disc.Version
	}
	if info.Arch == "" {
		info.Arch = disc.Arch
	}
	if len(problems) > 0 {
		found := []string{}
		if discErr == nil && b != nil {
			found = append(found, fmt.Sprintf(".discinfo media id %q%s, release %q (version %q), arch %q, discs %q",
				disc.MediaID, knownAs(info.Media), disc.Release, disc.Version, disc.Arch, disc.Discs))
		}
		if general != nil {
			found = append(found, fmt.Sprintf(".treeinfo family %q, version %q, arch %q, variant %q",
				general["family"], general["version"], general["arch"], general["variant"]))
		}
		found = append(found, fmt.Sprintf("volume id %q", info.VolumeLabel))
		if hint := otherFamily(img); hint != "" {
			problems = append(problems, hint)
		}
		return info, fmt.Errorf("iso: base %s: %s (found: %s) (fix: use CentOS-6.6-x86_64-minimal.iso or CentOS-6.6-x86_64-bin-DVD1.iso, "+
			"or --allow-unknown-base to remaster this one anyway): %w",
			img.path, strings.Join(problems, "; "), strings.Join(found, "; "), ErrUnknownBase)
	}
	return info, nil
}

func knownAs(media string) string {
	if media == "" {
		return " (unknown)"
	}
	return " (" + media + ")"
}

// discinfo is a parsed .discinfo, as anaconda's makestamp.py writes it:
// media id (a timestamp), release string, arch, disc numbers; one a line.
type discinfo struct {
	MediaID, Release, Version, Arch, Discs string
}

// parseDiscinfo reads the four lines of a .discinfo. It never fails: what
// is missing stays empty and identify says so. Version is the release
// string's version (see releaseVersion).
func parseDiscinfo(b []byte) discinfo {
	s := strings.TrimPrefix(string(b), "\uFEFF")
	lines := strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
	line := func(i int) string {
		if i < len(lines) {
			return strings.TrimSpace(lines[i])
		}
		return ""
	}
	d := discinfo{MediaID: line(0), Release: line(1), Arch: line(2), Discs: line(3)}
	d.Version = releaseVersion(d.Release)
	return d
}

// releaseVersion takes the version out of a .discinfo release string.
// pungi has makestamp.py write "<product> <version>" ("CentOS 6.6"); some
// remasters write the version alone ("6.6"), and a product name may have
// several words ("CentOS Linux 6.6"). The version is the last
// space-separated token made only of digits and dots (not starting or
// ending with a dot); "" when there is none.
func releaseVersion(release string) string {
	fields := strings.Fields(release)
	for i := len(fields) - 1; i >= 0; i-- {
		if isVersion(fields[i]) {
			return fields[i]
		}
	}
	return ""
}

func isVersion(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && r != '.' {
			return false
		}
	}
	return true
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

// otherFamily says what a disc that is not CentOS is, when it is one of
// the other families mtprep knows: a UDF (Windows) disc, or Ubuntu media
// (.disk/info). "" otherwise.
func otherFamily(img *isoImage) string {
	if u, err := readUDF(img.f); err == nil {
		return fmt.Sprintf("the disc is a UDF bridge disc (%s, UDF %s, UDF volume id %q, logical volume id %q; the ISO 9660 side holds %s): "+
			"Windows install media, which mtprep attaches untouched (os windows-2016) and never remasters",
			u.NSR, u.Revision, u.VolumeID, u.LogicalVolumeID, namesString(rootNames(img.path)))
	}
	if b, err := img.readSmall(diskInfoPath, maxMetaFile); err == nil {
		return fmt.Sprintf("the disc has %s %q: Ubuntu/Debian install media (os ubuntu-16.04 installs from Ubuntu 16.04 server media)",
			diskInfoPath, strings.TrimSpace(printable(string(b))))
	}
	return ""
}
