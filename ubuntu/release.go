package ubuntu

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/mtprep/mtprep/provision/guest"
	scripts "github.com/mtprep/mtprep/scripts/ubuntu"
)

// Release reads /etc/os-release, `lsb_release -ds` and `uname -r`: only
// Ubuntu 16.04 with a kernel on ASR's list is supported.
type Release struct{}

// KernelSeries is one kernel series ASR's Ubuntu 16.04 support lists,
// with the newest ABI it supports (4.4.0-81-generic: series 4.4.0, ABI
// 81).
type KernelSeries struct {
	Series string // "4.4.0"
	MaxABI int
}

// String is the newest supported kernel of the series.
func (k KernelSeries) String() string { return fmt.Sprintf("%s-%d-generic", k.Series, k.MaxABI) }

// SupportedKernels is ASR's list for the Ubuntu 16.04 MT (agent 9.10 and
// later): 4.4 up to 4.4.0-81-generic, 4.8 up to 4.8.0-56-generic, 4.10 up
// to 4.10.0-24-generic.
func SupportedKernels() []KernelSeries {
	return []KernelSeries{{"4.4.0", 81}, {"4.8.0", 56}, {"4.10.0", 24}}
}

func kernelList() string {
	var s []string
	for _, k := range SupportedKernels() {
		s = append(s, strings.TrimSuffix(k.Series, ".0")+" up to "+k.String())
	}
	return strings.Join(s, ", ")
}

var kernelRe = regexp.MustCompile(`^([0-9]+\.[0-9]+\.[0-9]+)-([0-9]+)-([a-z0-9]+)$`)

// KernelSupported says whether uname -r's kernel is on ASR's list and, if
// not, why (naming the list).
func KernelSupported(kernel string) (bool, string) {
	m := kernelRe.FindStringSubmatch(kernel)
	if m == nil {
		return false, fmt.Sprintf("kernel %q is not an Ubuntu kernel release; ASR supports %s", kernel, kernelList())
	}
	abi, _ := strconv.Atoi(m[2])
	if m[3] != "generic" {
		return false, fmt.Sprintf("kernel %s is not a -generic kernel; ASR supports %s", kernel, kernelList())
	}
	for _, k := range SupportedKernels() {
		if k.Series == m[1] {
			if abi <= k.MaxABI {
				return true, ""
			}
			return false, fmt.Sprintf("kernel %s is newer than %s, the newest of its series ASR supports (%s)", kernel, k, kernelList())
		}
	}
	return false, fmt.Sprintf("kernel %s is not of a series ASR supports (%s)", kernel, kernelList())
}

// Want names the supported release.
func (Release) Want() string {
	return "Ubuntu 16.04 with a kernel ASR supports (" + kernelList() + ")"
}

// Read reads the release over r.
func (rel Release) Read(ctx context.Context, r guest.Runner) (guest.ReleaseInfo, error) {
	out, err := r.Script(ctx, scripts.Release, nil)
	if err != nil {
		return guest.ReleaseInfo{}, fmt.Errorf("reading the OS release: %w", err)
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return rel.Parse(line), nil
}

var prettyRe = regexp.MustCompile(`^Ubuntu ([0-9]+\.[0-9]+)(\.[0-9]+)?( LTS)?`)

// Parse judges a release line: release.sh's "ubuntu 16.04|Ubuntu 16.04.2
// LTS|4.4.0-62-generic", or a probe's os value, the bare "Ubuntu 16.04.2
// LTS" (then the kernel is not judged: the probe reports it apart). Line
// is the description and the kernel, with why the kernel is refused.
func (Release) Parse(line string) guest.ReleaseInfo {
	line = strings.TrimSpace(line)
	info := guest.ReleaseInfo{Line: line}
	f := strings.Split(line, "|")
	if len(f) != 3 {
		m := prettyRe.FindStringSubmatch(line)
		if m == nil {
			return info
		}
		info.ID, info.Version = "ubuntu", m[1]
		info.Supported = m[1] == "16.04"
		return info
	}
	id, ver, _ := strings.Cut(strings.TrimSpace(f[0]), " ")
	desc, kernel := strings.TrimSpace(f[1]), strings.TrimSpace(f[2])
	if desc == "" {
		desc = id + " " + ver
	}
	info.ID, info.Version = id, ver
	info.Line = desc + ", kernel " + kernel
	if id != "ubuntu" || ver != "16.04" {
		return info
	}
	ok, why := KernelSupported(kernel)
	if !ok {
		info.Line += " (" + why + ")"
	}
	info.Supported = ok
	return info
}
