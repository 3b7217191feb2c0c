package provision

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/mtprep/mtprep/scripts"
)

// agentPhase uploads the Unified Agent, unpacks it in the user's home and
// runs ApplyCustomChanges.sh exactly once, then reboots (seed: "Run it only
// once. After it runs successfully, reboot the server").
type agentPhase struct{}

func (agentPhase) Name() string { return "agent" }

// Paths on the MT. The home directory, never /usr/local (ASR docs).
const (
	agentUnpackDir = "/root/mtprep/agent"
	agentStateDir  = "/root/.mtprep"
)

// Resolutions of an interrupted ApplyCustomChanges.sh run.
const (
	AppliedMarkDone = "mark-done" // the operator checked: it did its work
	AppliedRunAgain = "run-again" // the operator wants it run a second time
)

type agentState struct {
	started, done, rebootPending string
	unpacked                     bool
}

func readAgentState(ctx context.Context, t *Target) (agentState, error) {
	c, err := t.SSH(ctx)
	if err != nil {
		return agentState{}, err
	}
	out, err := c.Script(ctx, scripts.AgentState, nil, agentStateDir, agentUnpackDir)
	if err != nil {
		return agentState{}, err
	}
	var st agentState
	for _, line := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "started":
			st.started = v
		case "done":
			st.done = v
		case "reboot-pending":
			st.rebootPending = v
		case "unpacked":
			st.unpacked = true
		}
	}
	return st, nil
}

// ErrAppliedUnknown is an ApplyCustomChanges.sh run that started and never
// recorded its end: mtprep cannot know whether it did its work, and will
// not run it a second time without being told.
var ErrAppliedUnknown = errors.New("ApplyCustomChanges.sh started but did not record completion")

func (agentPhase) OnFreshMT(t *Target) []string {
	return []string{
		fmt.Sprintf("upload %s to %s, unpack in %s", filepath.Base(t.Spec.Agent.Tarball), uploadDirText(t.Spec.SSH.User), agentUnpackDir),
		"run ApplyCustomChanges.sh once, then reboot",
	}
}

func (agentPhase) Check(ctx context.Context, t *Target) (Check, error) {
	st, err := readAgentState(ctx, t)
	if err != nil {
		return Check{}, err
	}
	switch {
	case st.done != "" && st.rebootPending == "":
		return Check{Done: true, Observed: "ApplyCustomChanges.sh ran once at " + st.done + "; rebooted since"}, nil
	case st.done != "":
		return Check{Changes: []string{"reboot the MT (ApplyCustomChanges.sh ran at " + st.done + ")"}}, nil
	case st.started != "" && t.Options.AppliedResolution == "":
		return Check{}, fmt.Errorf("%w (started %s, MT %s): check the MT, then re-run with --apply-custom-changes=%s if it did its work, or =%s to run it again", ErrAppliedUnknown, st.started, t.Spec.Name, AppliedMarkDone, AppliedRunAgain)
	}
	return Check{Changes: []string{
		fmt.Sprintf("upload %s to %s, unpack in %s", filepath.Base(t.Spec.Agent.Tarball), uploadDirText(t.Spec.SSH.User), agentUnpackDir),
		"run ApplyCustomChanges.sh once, then reboot",
	}}, nil
}

func (agentPhase) Apply(ctx context.Context, t *Target) error {
	st, err := readAgentState(ctx, t)
	if err != nil {
		return err
	}
	c, err := t.SSH(ctx)
	if err != nil {
		return err
	}
	if st.done == "" {
		if st.started != "" {
			switch t.Options.AppliedResolution {
			case AppliedMarkDone:
				if _, err := c.Script(ctx, "set -e; cp \"$1/applycustomchanges.started\" \"$1/applycustomchanges.done\"; cp \"$1/applycustomchanges.started\" \"$1/applycustomchanges.reboot-pending\"\n", nil, agentStateDir); err != nil {
					return err
				}
				t.Log.Warn("recorded ApplyCustomChanges.sh as done without running it (operator's decision)", "started", st.started)
			case AppliedRunAgain:
				t.Log.Warn("running ApplyCustomChanges.sh a second time (operator's decision)", "first_start", st.started)
				if _, err := c.Run(ctx, "rm", "-f", agentStateDir+"/applycustomchanges.started"); err != nil {
					return err
				}
			default:
				return ErrAppliedUnknown
			}
		}
		if t.Options.AppliedResolution != AppliedMarkDone || st.started == "" {
			info, err := InspectAgent(ctx, t.Spec)
			if err != nil {
				return err
			}
			dir, err := c.UploadDir()
			if err != nil {
				return err
			}
			remote := path.Join(dir, filepath.Base(info.Path))
			if _, err := c.Upload(ctx, info.Path, remote, t.Progress); err != nil {
				return err
			}
			if _, err := c.Script(ctx, scripts.AgentApply, nil, remote, agentUnpackDir, agentStateDir); err != nil {
				return fmt.Errorf("ApplyCustomChanges.sh: %w", err)
			}
			t.Note("agent", fmt.Sprintf("unpacked agent %s (sha256 %s) in %s, ran ApplyCustomChanges.sh once, rebooted", info.Version, info.SHA256, agentUnpackDir))
		}
	}
	timeout := t.Options.RebootTimeout
	if timeout == 0 {
		timeout = 10 * time.Minute
	}
	t.Log.Info("rebooting the MT after ApplyCustomChanges.sh", "timeout", timeout)
	if err := c.Reboot(ctx, timeout); err != nil {
		return err
	}
	if _, err := c.Run(ctx, "rm", "-f", agentStateDir+"/applycustomchanges.reboot-pending"); err != nil {
		return err
	}
	return nil
}

func (agentPhase) Verify(ctx context.Context, t *Target) error {
	st, err := readAgentState(ctx, t)
	if err != nil {
		return err
	}
	if st.done == "" || st.rebootPending != "" || !st.unpacked {
		return fmt.Errorf("agent state after apply: done=%q reboot-pending=%q unpacked=%v", st.done, st.rebootPending, st.unpacked)
	}
	return nil
}

// uploadDirText names the upload directory for a plan, without a
// connection.
func uploadDirText(user string) string {
	if user == "root" || user == "" {
		return rootWorkDir
	}
	return "~" + user + "/mtprep"
}
