package windows

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/mtprep/mtprep/provision/guest"
	scripts "github.com/mtprep/mtprep/scripts/windows"
)

// Release reads Win32_OperatingSystem; only Windows Server 2016 (10.0.14393)
// is supported.
type Release struct{}

// WantVersion is Windows Server 2016's version (build 14393).
const WantVersion = "10.0.14393"

// ReleaseJSON is release.ps1's output.
type ReleaseJSON struct {
	Caption     string          `json:"Caption"`
	Version     string          `json:"Version"`
	BuildNumber string          `json:"BuildNumber"`
	ProductType json.RawMessage `json:"ProductType"`
}

// Want names the supported release.
func (Release) Want() string { return "Windows Server 2016 (" + WantVersion + ")" }

// Read reads the release over r.
func (rel Release) Read(ctx context.Context, r guest.Runner) (guest.ReleaseInfo, error) {
	out, err := r.Script(ctx, scripts.Release, nil)
	if err != nil {
		return guest.ReleaseInfo{}, fmt.Errorf("reading the OS release: %w", err)
	}
	return rel.Parse(string(out)), nil
}

var versionRe = regexp.MustCompile(`\b(\d+\.\d+\.\d+)\s*$`)

// Parse judges release.ps1's JSON, or a line "<Caption> <Version>" (the
// probe's os line, packages-state.ps1's release line).
func (Release) Parse(line string) guest.ReleaseInfo {
	line = strings.TrimSpace(line)
	var caption, ver string
	if i := strings.IndexByte(line, '{'); i >= 0 {
		var j ReleaseJSON
		if err := json.Unmarshal([]byte(line[i:]), &j); err == nil {
			caption, ver = strings.TrimSpace(j.Caption), strings.TrimSpace(j.Version)
		}
	} else if m := versionRe.FindStringSubmatch(line); m != nil {
		caption, ver = strings.TrimSpace(strings.TrimSuffix(line, m[1])), m[1]
	} else {
		caption = line
	}
	info := guest.ReleaseInfo{Line: strings.TrimSpace(caption + " " + ver), Version: ver}
	if strings.Contains(caption, "Windows") {
		info.ID = "windows"
	}
	info.Supported = strings.Contains(caption, "Windows Server 2016") && ver == WantVersion
	return info
}
