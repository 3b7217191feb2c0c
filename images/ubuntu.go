package images

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
)

// Ubuntu media paths (debian-cd's layout of the 16.04 server ISO).
const (
	// diskInfoPath is the disc description debian-cd writes:
	// `Ubuntu-Server 16.04.2 LTS "Xenial Xerus" - Release amd64 (20170215.8)`.
	diskInfoPath       = ".disk/info"
	diskCDTypePath     = ".disk/cd_type"
	ubuntuKernelPath   = "install/vmlinuz"
	ubuntuInitrdPath   = "install/initrd.gz"
	ubuntuReleasePath  = "dists/xenial/Release"
	ubuntuTxtCfgPath   = "isolinux/txt.cfg"
	ubuntuMenuCfgPath  = "isolinux/menu.cfg"
	ubuntuGrubCfgPath  = "boot/grub/grub.cfg"
	ubuntuEFIImagePath = "boot/grub/efi.img"
	ubuntuMD5Path      = "md5sum.txt"
)

// The Ubuntu base mtprep supports: ASR agents 9.10 and later install
// master targets on Ubuntu 16.04 only, from the server media (the
// debian-installer ISO; there is no other for 16.04 server).
const (
	WantUbuntuProduct = "Ubuntu-Server"
	WantUbuntuVersion = "16.04"
	WantUbuntuArch    = "amd64"
)

// ErrNotUbuntu is wrapped by errors about a base that is not Ubuntu
// 16.04.x server amd64. It is also ErrUnknownBase (errors.Is).
var ErrNotUbuntu error = &familyError{"base ISO is not Ubuntu 16.04 server amd64"}

// UbuntuRelease is what a 16.04 point release's server ISO installs:
// the GA kernel (linux-generic, what "Install Ubuntu Server" installs
// when the install has no network), and the HWE kernel of the "with the
// HWE kernel" entry (from 16.04.2). Versions as in the ISO's
// pool/main/l/linux*/linux-image-<version>-generic_*.deb names,
// recalled from the releases' manifests, not read from the ISOs here:
// identifyUbuntu reads the actual ones from the base's pool/ and
// reports those.
//
// ASR (master target, agent 9.10+) supports 4.4 kernels up to
// 4.4.0-81-generic, 4.8 up to 4.8.0-56, 4.10 up to 4.10.0-24: only 16.04,
// 16.04.1 and 16.04.2 media install a supported kernel without updates.
type UbuntuRelease struct {
	Version   string // "16.04.2"
	Date      string // release date
	GAKernel  string // "4.4.0-62"
	HWEKernel string // "4.8.0-36", "" when the media have no HWE entry
}

// UbuntuReleases lists the 16.04 point releases (see UbuntuRelease).
func UbuntuReleases() []UbuntuRelease {
	return []UbuntuRelease{
		{"16.04", "2016-04-21", "4.4.0-21", ""},
		{"16.04.1", "2016-07-21", "4.4.0-31", ""},
		{"16.04.2", "2017-02-16", "4.4.0-62", "4.8.0-36"},
		{"16.04.3", "2017-08-03", "4.4.0-87", "4.10.0-28"},
		{"16.04.4", "2018-03-01", "4.4.0-116", "4.13.0-36"},
		{"16.04.5", "2018-08-02", "4.4.0-131", "4.15.0-29"},
		{"16.04.6", "2019-02-28", "4.4.0-142", "4.15.0-45"},
	}
}

// asrKernelMax is the newest ABI ASR supports for each 16.04 kernel series.
var asrKernelMax = map[string]int{"4.4.0": 81, "4.8.0": 56, "4.10.0": 24}

// diskInfo is a parsed .disk/info line.
type diskInfo struct {
	Raw      string // the line, trimmed
	Product  string // "Ubuntu-Server", "Ubuntu" (desktop), "Kubuntu", ...
	Version  string // "16.04.2"
	LTS      bool
	Codename string // "Xenial Xerus"
	Kind     string // "Release", "Beta 2", "Alpha", ...
	Arch     string // "amd64", "i386"
	Build    string // "20170215.8"
}

// parseDiskInfo reads debian-cd's one-line disc description:
//
//	<product> <version> [LTS] "<codename>" - <kind> <arch> (<build>)
//
// It never fails: what is missing stays empty and the caller says so.
func parseDiskInfo(b []byte) diskInfo {
	s := strings.TrimPrefix(string(b), "\uFEFF")
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(printable(s))
	d := diskInfo{Raw: s}
	head, tail, _ := strings.Cut(s, " - ")
	if i := strings.IndexByte(head, '"'); i >= 0 {
		if j := strings.IndexByte(head[i+1:], '"'); j >= 0 {
			d.Codename = strings.TrimSpace(head[i+1 : i+1+j])
		}
		head = head[:i]
	}
	fields := strings.Fields(head)
	for i, f := range fields {
		if isVersion(f) && d.Version == "" {
			d.Product = strings.Join(fields[:i], " ")
			d.Version = f
			for _, g := range fields[i+1:] {
				if g == "LTS" {
					d.LTS = true
				}
			}
			break
		}
	}
	if d.Version == "" {
		d.Product = strings.Join(fields, " ")
	}
	tail = strings.TrimSpace(tail)
	if i := strings.LastIndexByte(tail, '('); i >= 0 && strings.HasSuffix(tail, ")") {
		d.Build = strings.TrimSpace(tail[i+1 : len(tail)-1])
		tail = strings.TrimSpace(tail[:i])
	}
	if tf := strings.Fields(tail); len(tf) > 0 {
		d.Arch = tf[len(tf)-1]
		d.Kind = strings.Join(tf[:len(tf)-1], " ")
	}
	return d
}

// kernelDeb matches a kernel image package in pool/:
// linux-image-4.4.0-62-generic_4.4.0-62.83_amd64.deb.
var kernelDeb = regexp.MustCompile(`^linux-image-(\d+\.\d+\.\d+-\d+)-generic_[^_]+_amd64\.deb$`)

// InspectUbuntu is Inspect for Ubuntu 16.04 server media: it reads
// .disk/info and checks the installer's tree (install/vmlinuz,
// install/initrd.gz, dists/xenial/Release, isolinux/txt.cfg), and hashes
// the image. A readable image that is not Ubuntu 16.04.x server amd64
// gives the BaseInfo found and an error wrapping ErrNotUbuntu and
// ErrUnknownBase that lists every value found.
func InspectUbuntu(ctx context.Context, path string) (*BaseInfo, error) {
	return inspectFamily(ctx, path, FamilyUbuntu)
}

// InspectFamily is Inspect (FamilyCentOS, or ""), InspectUbuntu
// (FamilyUbuntu); Windows media are described by InspectWindows instead.
func InspectFamily(ctx context.Context, path, family string) (*BaseInfo, error) {
	return inspectFamily(ctx, path, family)
}

func inspectFamily(ctx context.Context, path, family string) (*BaseInfo, error) {
	if err := checkFamily(family); err != nil {
		return nil, err
	}
	img, err := openISO(path)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	info, checkErr := identifyFamily(img, family)
	sum, err := hashFile(ctx, img.f, img.size, nil)
	if err != nil {
		return nil, fmt.Errorf("iso: hash base %s: %w", path, err)
	}
	info.SHA256 = sum
	return info, checkErr
}

func checkFamily(family string) error {
	switch family {
	case "", FamilyCentOS, FamilyUbuntu:
		return nil
	case FamilyWindows:
		return errors.New("iso: Windows media are never remastered; use InspectWindows")
	}
	return fmt.Errorf("iso: unknown base family %q (want %q or %q)", family, FamilyCentOS, FamilyUbuntu)
}

func identifyFamily(img *isoImage, family string) (*BaseInfo, error) {
	if family == FamilyUbuntu {
		return identifyUbuntu(img)
	}
	return identify(img)
}

// identifyUbuntu fills BaseInfo for Ubuntu media: Family is .disk/info's
// product ("Ubuntu-Server"), Version its version ("16.04.2"), Arch its
// arch, Release the whole line, MediaID the build ("20170215.8"),
// Kernels the pool's kernel images.
func identifyUbuntu(img *isoImage) (*BaseInfo, error) {
	info := &BaseInfo{OS: FamilyUbuntu, Size: img.size, VolumeLabel: strings.TrimRight(img.fs.Label(), " \x00")}
	entries, byPath, err := img.tree()
	if err != nil {
		return info, err
	}
	if e, ok := byPath[ubuntuEFIImagePath]; ok && e.mode.IsRegular() {
		info.HasEFI, info.efiImage = true, ubuntuEFIImagePath
	}
	for _, e := range entries {
		if m := kernelDeb.FindStringSubmatch(path.Base(e.path)); m != nil && strings.HasPrefix(e.path, "pool/") {
			info.Kernels = append(info.Kernels, m[1])
		}
	}
	sort.Strings(info.Kernels)
	var problems []string
	var d diskInfo
	b, err := img.readSmall(diskInfoPath, maxMetaFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		problems = append(problems, diskInfoPath+": missing")
	case err != nil:
		return info, err
	default:
		d = parseDiskInfo(b)
		info.Family, info.Version, info.Arch, info.Release, info.MediaID = d.Product, d.Version, d.Arch, d.Raw, d.Build
		if d.Product != WantUbuntuProduct {
			what := "want " + WantUbuntuProduct + " (the server install media)"
			if strings.HasPrefix(d.Product, "Ubuntu") {
				what += "; desktop and live media have no debian-installer to preseed"
			}
			problems = append(problems, fmt.Sprintf("%s: product is %q, %s", diskInfoPath, d.Product, what))
		}
		if d.Version != WantUbuntuVersion && !strings.HasPrefix(d.Version, WantUbuntuVersion+".") {
			problems = append(problems, fmt.Sprintf("%s: version is %q, want %s or a %s.x point release", diskInfoPath, d.Version, WantUbuntuVersion, WantUbuntuVersion))
		}
		if d.Arch != WantUbuntuArch {
			problems = append(problems, fmt.Sprintf("%s: arch is %q, want %q", diskInfoPath, d.Arch, WantUbuntuArch))
		}
		if d.Kind != "Release" {
			info.Warnings = append(info.Warnings, fmt.Sprintf("%s: %q is not a final release (%q)", diskInfoPath, d.Raw, d.Kind))
		}
	}
	for _, p := range []string{ubuntuKernelPath, ubuntuInitrdPath, ubuntuReleasePath, isolinuxBinPath, isolinuxCfgPath, ubuntuTxtCfgPath} {
		if e, ok := byPath[p]; !ok || !e.mode.IsRegular() {
			problems = append(problems, p+": missing")
		}
	}
	if ct, err := img.readSmall(diskCDTypePath, maxMetaFile); err == nil {
		if t := strings.TrimSpace(printable(string(ct))); t != "full_cd/single" {
			info.Warnings = append(info.Warnings, fmt.Sprintf("%s is %q, not the server ISO's full_cd/single", diskCDTypePath, t))
		}
	}
	if len(problems) == 0 {
		info.Warnings = append(info.Warnings, ubuntuKernelDoubts(d.Version, info.Kernels)...)
	}
	if len(problems) > 0 {
		found := []string{}
		if d.Raw != "" || b != nil {
			found = append(found, fmt.Sprintf("%s %q (product %q, version %q, arch %q, kind %q, build %q)",
				diskInfoPath, d.Raw, d.Product, d.Version, d.Arch, d.Kind, d.Build))
		}
		found = append(found, fmt.Sprintf("volume id %q", info.VolumeLabel))
		if len(info.Kernels) > 0 {
			found = append(found, "pool kernels "+strings.Join(info.Kernels, " "))
		}
		if u, err := readUDF(img.f); err == nil {
			problems = append(problems, fmt.Sprintf("the disc is a UDF bridge disc (UDF volume id %q): Windows install media", u.VolumeID))
		} else if root := rootNames(img.path); b == nil && looksLike(root) != "" {
			found = append(found, "root "+namesString(root))
			problems = append(problems, strings.TrimSpace(strings.Trim(looksLike(root), " ()")))
		}
		return info, fmt.Errorf("iso: base %s: %s (found: %s) (fix: use ubuntu-16.04.2-server-amd64.iso, or --allow-unknown-base to remaster this one anyway): %w",
			img.path, strings.Join(problems, "; "), strings.Join(found, "; "), ErrNotUbuntu)
	}
	return info, nil
}

// ubuntuKernelDoubts warns when the kernels the media install are past
// what ASR supports, or differ from what UbuntuReleases expects.
func ubuntuKernelDoubts(version string, kernels []string) []string {
	var w []string
	if len(kernels) == 0 {
		return []string{"no linux-image-*-generic package in pool/: cannot tell which kernel the media install"}
	}
	for _, k := range kernels {
		series, abi, ok := strings.Cut(k, "-")
		max, known := asrKernelMax[series]
		n := 0
		_, err := fmt.Sscanf(abi, "%d", &n)
		switch {
		case !ok || err != nil:
			w = append(w, fmt.Sprintf("kernel %q in pool/: unreadable version", k))
		case !known:
			w = append(w, fmt.Sprintf("kernel %s-generic in pool/: ASR supports no %s kernel (only 4.4 up to 4.4.0-81, 4.8 up to 4.8.0-56, 4.10 up to 4.10.0-24)", k, series))
		case n > max:
			w = append(w, fmt.Sprintf("kernel %s-generic in pool/ is newer than ASR supports (%s-%d-generic): install an older kernel or use 16.04.2 media", k, series, max))
		}
	}
	for _, r := range UbuntuReleases() {
		if r.Version == version {
			want := []string{r.GAKernel}
			if r.HWEKernel != "" {
				want = append(want, r.HWEKernel)
			}
			sort.Strings(want)
			if strings.Join(want, " ") != strings.Join(kernels, " ") {
				w = append(w, fmt.Sprintf("pool/ holds kernels %s; %s's media are known to hold %s", strings.Join(kernels, " "), version, strings.Join(want, " ")))
			}
		}
	}
	return w
}
