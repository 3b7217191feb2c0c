package windows

import (
	"context"
	"strings"

	"github.com/mtprep/mtprep/provision/guest"
	scripts "github.com/mtprep/mtprep/scripts/windows"
)

// Agent prepares the Unified Agent for Windows: the uploaded package is
// extracted once under WorkDir (markers before and after in StateDir).
// Windows has no ApplyCustomChanges.sh, so the markers record the unpack
// and nothing asks for a reboot.
type Agent struct{}

// UnpackDir is C:\ProgramData\mtprep\work\agent.
func (Agent) UnpackDir() string { return WorkDir + `\agent` }

// Read reads the markers.
func (a Agent) Read(ctx context.Context, r guest.Runner) (guest.AgentState, error) {
	out, err := r.Script(ctx, scripts.AgentState, nil, StateDir, a.UnpackDir())
	if err != nil {
		return guest.AgentState{}, err
	}
	return ParseAgentState(string(out)), nil
}

// ParseAgentState reads agent-state.ps1's lines.
func ParseAgentState(out string) guest.AgentState {
	var st guest.AgentState
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
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
	return st
}

// Apply extracts the uploaded package (a path Upload wrote, forward
// slashes or SFTP form) into UnpackDir.
func (a Agent) Apply(ctx context.Context, r guest.Runner, tarball string) error {
	_, err := r.Script(ctx, scripts.AgentApply, nil, WinPath(tarball), a.UnpackDir(), StateDir)
	return err
}

// MarkDone records an interrupted unpack as done.
func (Agent) MarkDone(ctx context.Context, r guest.Runner) error {
	_, err := r.Script(ctx, scripts.AgentMarkDone, nil, StateDir)
	return err
}

// ForgetStart drops the start marker of an interrupted unpack.
func (Agent) ForgetStart(ctx context.Context, r guest.Runner) error {
	_, err := r.Script(ctx, scripts.AgentForget, nil, StateDir, "started")
	return err
}

// Rebooted clears the reboot-pending marker (agent-install.ps1 writes it
// on the installer's 3010).
func (Agent) Rebooted(ctx context.Context, r guest.Runner) error {
	_, err := r.Script(ctx, scripts.AgentForget, nil, StateDir, "reboot-pending")
	return err
}

// Installed is the installed agent's version, "" for none.
func (Agent) Installed(ctx context.Context, r guest.Runner) (string, error) {
	out, err := r.Script(ctx, scripts.AgentVersion, nil)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0]), nil
}

// Steps: the Unified Setup's extraction; Windows has no
// ApplyCustomChanges.sh, and the install itself is the handoff's.
func (Agent) Steps() string {
	return "extract the Unified Setup (UnifiedAgent.exe), no ApplyCustomChanges.sh on Windows; reboot"
}
