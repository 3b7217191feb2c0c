package linux

import (
	"context"
	"strings"

	"github.com/mtprep/mtprep/provision/guest"
	scripts "github.com/mtprep/mtprep/scripts/linux"
)

// Agent prepares the Linux Unified Agent (RHEL6-64 on CentOS, UBUNTU-16.04-64
// on Ubuntu): unpacked in root's home (not
// /usr/local, where the ASR docs say an unpacked agent fails to install),
// ApplyCustomChanges.sh run once with markers before and after in
// StateDir, which survive a crash and the reboot.
type Agent struct{}

// UnpackDir is /root/mtprep/agent.
func (Agent) UnpackDir() string { return WorkDir + "/agent" }

// Read reads the markers.
func (a Agent) Read(ctx context.Context, r guest.Runner) (guest.AgentState, error) {
	out, err := r.Script(ctx, scripts.AgentState, nil, StateDir, a.UnpackDir())
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
	_, err := r.Script(ctx, scripts.AgentApply, nil, tarball, a.UnpackDir(), StateDir)
	return err
}

// MarkDone records an interrupted run as done.
func (Agent) MarkDone(ctx context.Context, r guest.Runner) error {
	_, err := r.Script(ctx, scripts.AgentMarkDone, nil, StateDir)
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
	out, err := r.Script(ctx, scripts.AgentVersion, nil)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0]), nil
}

// Steps: ApplyCustomChanges.sh exactly once (the seed), then the reboot.
func (Agent) Steps() string { return "run ApplyCustomChanges.sh once, then reboot" }
