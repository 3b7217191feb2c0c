package centos

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	version "github.com/hashicorp/go-version"

	"github.com/mtprep/mtprep/provision/guest"
	scripts "github.com/mtprep/mtprep/scripts/centos"
)

// Release reads /etc/centos-release; only CentOS 6.6 is supported (ASR's
// Linux MT procedure before agent 9.10).
type Release struct{}

var releaseRe = regexp.MustCompile(`^(CentOS|Red Hat Enterprise Linux Server|Red Hat Enterprise Linux)( Linux)? release ([0-9]+(\.[0-9]+)*)`)

// Want names the supported release.
func (Release) Want() string { return "CentOS 6.6" }

// Read reads the release line over r.
func (rel Release) Read(ctx context.Context, r guest.Runner) (guest.ReleaseInfo, error) {
	out, err := r.Script(ctx, scripts.Release, nil)
	if err != nil {
		return guest.ReleaseInfo{}, fmt.Errorf("reading the OS release: %w", err)
	}
	line := strings.TrimSpace(string(out))
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = strings.TrimSpace(line[:i])
	}
	return rel.Parse(line), nil
}

// Parse judges a release line: "CentOS release 6.6 (Final)" is supported.
func (Release) Parse(line string) guest.ReleaseInfo {
	line = strings.TrimSpace(line)
	info := guest.ReleaseInfo{Line: line}
	m := releaseRe.FindStringSubmatch(line)
	if m == nil {
		return info
	}
	info.ID, info.Version = "rhel", m[3]
	if m[1] == "CentOS" {
		info.ID = "centos"
	}
	v, err := version.NewVersion(info.Version)
	info.Supported = info.ID == "centos" && err == nil && v.Equal(version.Must(version.NewVersion("6.6")))
	return info
}
