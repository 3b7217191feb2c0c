package provision

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	version "github.com/hashicorp/go-version"

	"github.com/mtprep/mtprep/internal/files"
	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/spec"
)

// AgentInfo is what mtprep knows of the Unified Agent tarball.
type AgentInfo struct {
	Path, SHA256, Version string
}

// agentNameRe finds the version in the names Microsoft gives the tarballs,
// e.g. Microsoft-ASR_UA_9.10.0.0_RHEL6-64_GA_14Jul2017_release.tar.gz.
var agentNameRe = regexp.MustCompile(`_UA_([0-9]+(\.[0-9]+){1,3})_`)

// InspectAgent checks the tarball against agent.sha256 (when given) and
// finds its version: a .vx_version file inside wins over the file name.
func InspectAgent(ctx context.Context, s *spec.Spec) (*AgentInfo, error) {
	p := s.Agent.Tarball
	if p == "" {
		return nil, s.InputError("agent.tarball", "missing", "add `agent: {tarball: ./Microsoft-ASR_UA_…_RHEL6-64_….tar.gz}`")
	}
	sum, _, err := files.SHA256(ctx, p, 0)
	if err != nil {
		return nil, s.InputError("agent.tarball", fmt.Sprintf("cannot read %s: %v", p, spec.PathProblem(err)), "download the RHEL6-64 Unified Agent tarball and point agent.tarball at it")
	}
	if s.Agent.SHA256 != "" && s.Agent.SHA256 != sum {
		return nil, s.InputError("agent.sha256", fmt.Sprintf("%s has sha256 %s, the spec says %s", p, sum, s.Agent.SHA256), "download the tarball again or fix agent.sha256")
	}
	info := &AgentInfo{Path: p, SHA256: sum}
	if v, err := versionInTarball(p); err == nil && v != "" {
		info.Version = v
	} else if m := agentNameRe.FindStringSubmatch(filepath.Base(p)); m != nil {
		info.Version = m[1]
	}
	return info, nil
}

func versionInTarball(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return "", err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		if filepath.Base(h.Name) == ".vx_version" {
			b, err := io.ReadAll(io.LimitReader(tr, 256))
			if err != nil {
				return "", err
			}
			return guest.ParseVxVersion(string(b)), nil
		}
	}
}

// NewInstallForm reports whether the agent takes the newer install form
// (`./install -q -d /usr/local/ASR -r MT -v VmWare` then
// UnifiedAgentConfigurator.sh) rather than CentOS 6.6's
// (`./install -t both -a host -R MasterTarget … -P file`). The 9.x agents
// use the newer form.
func NewInstallForm(agentVersion string) bool {
	v, err := version.NewVersion(agentVersion)
	if err != nil {
		return false
	}
	return v.Segments()[0] >= 9
}
