package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Base families, as guest.BaseMedia.Family names them.
const (
	FamilyCentOS  = "centos"
	FamilyUbuntu  = "ubuntu"
	FamilyWindows = "windows"
)

// WindowsMedia describes Windows Server install media. They are never
// remastered: Setup reads autounattend.xml from the seed CD, so the
// user's ISO is attached as it is.
type WindowsMedia struct {
	Family      string // FamilyWindows
	ISOVolumeID string // the ISO 9660 primary volume descriptor's volume id
	// ISOFiles are the names at the root of the ISO 9660 side (real
	// media: README.TXT alone), nil when go-diskfs cannot list it.
	ISOFiles []string
	UDF      UDFInfo
	// Product is what the volume id says (see windowsVolumeIDs):
	// "Windows Server 2016 or 2019" when it cannot tell them apart.
	Product  string
	SHA256   string // hex
	Size     int64  // bytes
	Warnings []string
}

// windowsVolumeIDs are the volume ids (ISO 9660 and UDF agree on real
// media) of Windows Server media mtprep knows, matched by prefix; the
// rest of the id is the language and the disc type ("EN-US_DV9"). The
// ids are the retail/MSDN DVDs' as reported for
// en_windows_server_2016_x64_dvd_9718492.iso ("SSS_X64FREE_EN-US_DV9")
// and Server 2012 R2 ("IR3_SSS_X64FREE_EN-US_DV9"); not checked here
// against the discs themselves. Server 2019's media carry the same
// "SSS_X64FREE_" id as 2016's: the two cannot be told apart by what is
// readable without UDF (the build is in sources/install.wim), so such a
// disc is accepted as "Windows Server 2016 or 2019" with a warning, never
// as a certain 2016.
var windowsVolumeIDs = []struct {
	prefix, product string
	accept          bool // an MT can be installed from it (windows-2016)
}{
	{"IR3_SSS_X64FREE_", "Windows Server 2012 R2", false},
	{"SSS_X64FREE_", "Windows Server 2016 or 2019", true},
}

// ErrNotWindows is wrapped by InspectWindows errors about a base that is
// not Windows Server 2016 media. It is also ErrUnknownBase (errors.Is).
var ErrNotWindows error = &familyError{"base ISO is not Windows Server 2016 media"}

// familyError is a sentinel of one family's refusals that is also
// ErrUnknownBase, whose text names CentOS: the CLI maps every refused
// base to the same exit code, and a message says the right family.
type familyError struct{ msg string }

func (e *familyError) Error() string        { return e.msg }
func (e *familyError) Is(target error) bool { return target == ErrUnknownBase }

// InspectWindows identifies Windows Server install media by what can be
// read without a UDF driver: the ISO 9660 volume id, the UDF volume
// recognition sequence, anchor, primary and logical volume descriptors
// (see udf.go). It hashes the whole image. A readable image that is not
// Windows Server 2016 (or 2019: see windowsVolumeIDs) gives the
// WindowsMedia found and an error wrapping ErrNotWindows and
// ErrUnknownBase that lists every value found.
func InspectWindows(ctx context.Context, path string) (*WindowsMedia, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("iso: open base: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("iso: base %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("iso: base %s: not a regular file: %w", path, ErrNotWindows)
	}
	m, checkErr := identifyWindows(f, path, st.Size())
	if m == nil {
		return nil, checkErr
	}
	sum, err := hashFile(ctx, f, st.Size(), nil)
	if err != nil {
		return nil, fmt.Errorf("iso: hash base %s: %w", path, err)
	}
	m.SHA256 = sum
	return m, checkErr
}

func identifyWindows(f *os.File, path string, size int64) (*WindowsMedia, error) {
	m := &WindowsMedia{Family: FamilyWindows, Size: size}
	vid, err := isoVolumeID(f)
	if err != nil {
		return nil, fmt.Errorf("iso: base %s: not an ISO 9660 image (%v): %w", path, err, ErrNotWindows)
	}
	m.ISOVolumeID = vid
	m.ISOFiles = rootNames(path)
	udf, udfErr := readUDF(f)
	if udf != nil {
		m.UDF = *udf
	}
	found := func() string {
		s := []string{fmt.Sprintf("ISO volume id %q", m.ISOVolumeID), "ISO 9660 root " + namesString(m.ISOFiles)}
		if udfErr == nil || m.UDF.NSR != "" {
			s = append(s, fmt.Sprintf("UDF recognition sequence %s", vrsString(m.UDF.VRS)))
		}
		if udfErr == nil {
			s = append(s, fmt.Sprintf("UDF volume id %q, logical volume id %q, domain %q, revision %q, implementation %q",
				m.UDF.VolumeID, m.UDF.LogicalVolumeID, m.UDF.Domain, m.UDF.Revision, m.UDF.Implementation))
		}
		return strings.Join(s, "; ")
	}
	refuse := func(why string) error {
		return fmt.Errorf("iso: base %s: not Windows Server 2016 media: %s (found: %s)%s: %w",
			path, why, found(), looksLike(m.ISOFiles), ErrNotWindows)
	}
	if udfErr != nil {
		return m, refuse(udfErr.Error())
	}
	if m.UDF.Domain != udfDomainOSTA {
		return m, refuse(fmt.Sprintf("the UDF logical volume's domain is %q, want %q", m.UDF.Domain, udfDomainOSTA))
	}
	id := m.ISOVolumeID
	if id == "" {
		id = m.UDF.VolumeID
	}
	var accept bool
	for _, k := range windowsVolumeIDs {
		if strings.HasPrefix(strings.ToUpper(id), k.prefix) {
			m.Product, accept = k.product, k.accept
			break
		}
	}
	switch {
	case m.Product == "":
		return m, refuse(fmt.Sprintf("volume id %q is not one of Windows Server's known ids (%s)", id, knownWindowsIDs()))
	case !accept:
		return m, refuse(fmt.Sprintf("volume id %q is %s's; the master target needs Windows Server 2016", id, m.Product))
	}
	if strings.Contains(m.Product, " or ") {
		m.Warnings = append(m.Warnings, fmt.Sprintf("volume id %q is carried by both Windows Server 2016 and 2019 media: "+
			"taken as %s; only the disc's sources/install.wim (UDF, unread) tells which, and the sha256 recorded pins the image", id, m.Product))
	}
	if m.UDF.VolumeID != "" && m.ISOVolumeID != "" && !strings.EqualFold(m.UDF.VolumeID, m.ISOVolumeID) {
		m.Warnings = append(m.Warnings, fmt.Sprintf("the UDF volume id %q differs from the ISO 9660 one %q (Microsoft's media carry the same id in both)",
			m.UDF.VolumeID, m.ISOVolumeID))
	}
	if len(m.ISOFiles) > 1 {
		m.Warnings = append(m.Warnings, fmt.Sprintf("the ISO 9660 side holds %s, where Microsoft's media hold only README.TXT: a rebuilt disc?",
			namesString(m.ISOFiles)))
	}
	return m, nil
}

// isoVolumeID reads the volume identifier (bytes 40-71) of the ISO 9660
// primary volume descriptor at sector 16.
func isoVolumeID(r io.ReaderAt) (string, error) {
	vd := make([]byte, sectorSize)
	if _, err := r.ReadAt(vd, 16*sectorSize); err != nil {
		return "", fmt.Errorf("read sector 16: %w", err)
	}
	if vd[0] != 1 || string(vd[1:6]) != "CD001" {
		return "", errors.New("no primary volume descriptor at sector 16")
	}
	return printable(strings.TrimRight(string(vd[40:72]), " \x00")), nil
}

// rootNames lists the root of an image's ISO 9660 side (Rock Ridge names
// where there are), sorted; nil when it cannot be read.
func rootNames(path string) []string {
	img, err := openISO(path)
	if err != nil {
		return nil
	}
	defer img.Close()
	entries, _, err := img.tree()
	if err != nil {
		return nil
	}
	names := []string{}
	for _, e := range entries {
		if !strings.Contains(e.path, "/") {
			n := e.path
			if e.mode.IsDir() {
				n += "/"
			}
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

func namesString(names []string) string {
	switch {
	case names == nil:
		return "unreadable"
	case len(names) == 0:
		return "empty"
	case len(names) > 12:
		return strings.Join(names[:12], " ") + fmt.Sprintf(" ... (%d in all)", len(names))
	}
	return strings.Join(names, " ")
}

// looksLike names what a disc that is not the family asked for seems to
// be, from its root's names: " (it looks like CentOS/RHEL media: it has
// .discinfo)".
func looksLike(root []string) string {
	has := func(n string) bool {
		for _, r := range root {
			if r == n {
				return true
			}
		}
		return false
	}
	switch {
	case has(".discinfo") || has(".treeinfo"):
		return " (it looks like CentOS/RHEL install media: it has .discinfo or .treeinfo)"
	case has(".disk/"):
		return " (it looks like Ubuntu/Debian install media: it has .disk/)"
	}
	return ""
}

func knownWindowsIDs() string {
	var s []string
	for _, k := range windowsVolumeIDs {
		s = append(s, k.prefix+"* ("+k.product+")")
	}
	return strings.Join(s, ", ")
}
