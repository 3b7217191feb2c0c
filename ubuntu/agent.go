package ubuntu

import (
	"context"
	"regexp"
	"strings"

	version "github.com/hashicorp/go-version"

	"github.com/mtprep/mtprep/provision/guest"
	linux "github.com/mtprep/mtprep/scripts/linux"
)

// Agent prepares the UBUNTU-16.04-64 Unified Agent (9.10 and later;
// tarball latestlinuxmobsvc.tar.gz or
// Microsoft-ASR_UA_<version>_UBUNTU-16.04-64_GA_<date>_release.tar.gz):
// unpacked in root's home (not /usr/local, where the ASR docs say an
// unpacked agent fails to install), ApplyCustomChanges.sh run once with
// markers before and after in StateDir, which survive a crash and the
// reboot. The markers are the CentOS MT's, so the audit reads both alike.
type Agent struct{}

// UnpackDir is /root/mtprep/agent.
func (Agent) UnpackDir() string { return WorkDir + "/agent" }

// Read reads the markers.
func (a Agent) Read(ctx context.Context, r guest.Runner) (guest.AgentState, error) {
	out, err := r.Script(ctx, linux.AgentState, nil, StateDir, a.UnpackDir())
	if err != nil {
		return guest.AgentState{}, err
	}
	var st guest.AgentState
	for _, line := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "started":
			st.Started = v
		case "done":
			st.Done = v
		case "reboot-pending":
			st.RebootPending = v
		case "unpacked":
			st.Unpacked = true
		case "running":
			st.Running = v
		}
	}
	return st, nil
}

// Apply unpacks the uploaded tarball and runs ApplyCustomChanges.sh once.
func (a Agent) Apply(ctx context.Context, r guest.Runner, tarball string) error {
	_, err := r.Script(ctx, linux.AgentApply, nil, tarball, a.UnpackDir(), StateDir)
	return err
}

// MarkDone records an interrupted run as done.
func (Agent) MarkDone(ctx context.Context, r guest.Runner) error {
	_, err := r.Script(ctx, linux.AgentMarkDone, nil, StateDir)
	return err
}

// ForgetStart drops the start marker of an interrupted run.
func (Agent) ForgetStart(ctx context.Context, r guest.Runner) error {
	_, err := r.Run(ctx, "rm", "-f", StateDir+"/applycustomchanges.started")
	return err
}

// Rebooted clears the reboot-pending marker.
func (Agent) Rebooted(ctx context.Context, r guest.Runner) error {
	_, err := r.Run(ctx, "rm", "-f", StateDir+"/applycustomchanges.reboot-pending")
	return err
}

// Installed is the version in /usr/local/.vx_version, "" for none.
func (Agent) Installed(ctx context.Context, r guest.Runner) (string, error) {
	out, err := r.Script(ctx, linux.AgentVersion, nil)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0]), nil
}

// MinAgentVersion is the first Unified Agent with an Ubuntu 16.04 build:
// the Ubuntu MT takes 9.10 and later only.
const MinAgentVersion = "9.10"

// AgentTarballRe matches the Ubuntu 16.04 agent's tarball names:
// Microsoft-ASR_UA_9.x.y.z_UBUNTU-16.04-64_GA_<date>_release.tar.gz, or
// the configuration server's latestlinuxmobsvc.tar.gz.
var AgentTarballRe = regexp.MustCompile(`^(latestlinuxmobsvc\.tar\.gz|Microsoft-ASR_UA_([0-9]+\.[0-9]+\.[0-9]+\.[0-9]+)_UBUNTU-16\.04-64_GA_[0-9A-Za-z]+_release\.tar\.gz)$`)

// AgentSupported says whether an agent version may be used on this OS.
func AgentSupported(v string) bool {
	have, err := version.NewVersion(v)
	return err == nil && !have.LessThan(version.Must(version.NewVersion(MinAgentVersion)))
}

// Steps: ApplyCustomChanges.sh exactly once, then the reboot (the guide:
// "shut down, then boot").
func (Agent) Steps() string { return "run ApplyCustomChanges.sh once, then reboot" }
