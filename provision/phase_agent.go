package provision

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/mtprep/mtprep/internal/files"
	"github.com/mtprep/mtprep/provision/guest"
)

// agentPhase uploads the Unified Agent, unpacks it in the user's home and
// runs ApplyCustomChanges.sh exactly once, then reboots (seed: "Run it only
// once. After it runs successfully, reboot the server").
type agentPhase struct{}

func (agentPhase) Name() string { return "agent" }

// Resolutions of an interrupted ApplyCustomChanges.sh run.
const (
	AppliedMarkDone = "mark-done" // the operator checked: it did its work
	AppliedRunAgain = "run-again" // the operator wants it run a second time
)

func readAgentState(ctx context.Context, t *Target) (guest.AgentState, error) {
	if t.OS == nil || t.OS.Agent == nil {
		return guest.AgentState{}, fmt.Errorf("no agent part for os %q", t.Spec.OS)
	}
	c, err := t.SSH(ctx)
	if err != nil {
		return guest.AgentState{}, err
	}
	return t.OS.Agent.Read(ctx, c)
}

// ErrAppliedUnknown is an ApplyCustomChanges.sh run that started and never
// recorded its end: mtprep cannot know whether it did its work, and will
// not run it a second time without being told.
var ErrAppliedUnknown = errors.New("ApplyCustomChanges.sh started but did not record completion")

// ErrAppliedRunning is ApplyCustomChanges.sh still running on the MT with
// no end recorded: the run that started it is gone (killed, its
// connection lost) and the script goes on. Nobody can decide whether it
// did its work (--apply-custom-changes) before it ends.
var ErrAppliedRunning = errors.New("ApplyCustomChanges.sh is still running on the MT")

// stillRunning is the refusal while an unrecorded ApplyCustomChanges.sh
// run goes on.
func stillRunning(t *Target, st guest.AgentState) error {
	if st.Done == "" && st.Started != "" && st.Running != "" {
		return fmt.Errorf("%w (pid %s, started %s, MT %s) from a run that is gone: wait for it to end, then run again", ErrAppliedRunning, st.Running, st.Started, t.Spec.Name)
	}
	return nil
}

func (agentPhase) OnFreshMT(t *Target) []string {
	return []string{
		fmt.Sprintf("upload %s to %s, unpack in %s", filepath.Base(t.Spec.Agent.Tarball), uploadDirText(t), t.OS.Agent.UnpackDir()),
		t.OS.Agent.Steps(),
	}
}

func (agentPhase) Check(ctx context.Context, t *Target) (Check, error) {
	st, err := readAgentState(ctx, t)
	if err != nil {
		return Check{}, err
	}
	if err := stillRunning(t, st); err != nil {
		return Check{}, err
	}
	switch {
	case st.Done != "" && st.RebootPending == "":
		return Check{Done: true, Observed: "ApplyCustomChanges.sh ran once at " + st.Done + "; rebooted since"}, nil
	case st.Done != "":
		return Check{Changes: []string{"reboot the MT (ApplyCustomChanges.sh ran at " + st.Done + ")"}}, nil
	case st.Started != "" && t.Options.AppliedResolution == "":
		return Check{}, fmt.Errorf("%w (started %s, MT %s): check the MT, then re-run with --apply-custom-changes=%s if it did its work, or =%s to run it again", ErrAppliedUnknown, st.Started, t.Spec.Name, AppliedMarkDone, AppliedRunAgain)
	}
	return Check{Changes: []string{
		fmt.Sprintf("upload %s to %s, unpack in %s", filepath.Base(t.Spec.Agent.Tarball), uploadDirText(t), t.OS.Agent.UnpackDir()),
		t.OS.Agent.Steps(),
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
	if err := stillRunning(t, st); err != nil {
		return err
	}
	if st.Done == "" {
		if st.Started != "" {
			switch t.Options.AppliedResolution {
			case AppliedMarkDone:
				if err := t.OS.Agent.MarkDone(ctx, c); err != nil {
					return err
				}
				t.Log.Warn("recorded ApplyCustomChanges.sh as done without running it (operator's decision)", "started", st.Started)
			case AppliedRunAgain:
				t.Log.Warn("running ApplyCustomChanges.sh a second time (operator's decision)", "first_start", st.Started)
				if err := t.OS.Agent.ForgetStart(ctx, c); err != nil {
					return err
				}
			default:
				return ErrAppliedUnknown
			}
		}
		if t.Options.AppliedResolution != AppliedMarkDone || st.Started == "" {
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
			if err := t.OS.Agent.Apply(ctx, c, remote); err != nil {
				return fmt.Errorf("ApplyCustomChanges.sh: %w", err)
			}
			t.Note("agent", fmt.Sprintf("unpacked agent %s (sha256 %s) in %s, ran ApplyCustomChanges.sh once, rebooted", info.Version, info.SHA256, t.OS.Agent.UnpackDir()))
		}
	}
	timeout := t.rebootTimeout()
	t.Log.Info("rebooting the MT after ApplyCustomChanges.sh", "timeout", timeout)
	if err := os.MkdirAll(filepath.Dir(t.rebootMarker()), 0o755); err != nil {
		return fmt.Errorf("recording the reboot: %w", err)
	}
	if err := files.WriteAtomic(t.rebootMarker(), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		return fmt.Errorf("recording the reboot: %w", err)
	}
	if err := c.Reboot(ctx, timeout); err != nil {
		return err
	}
	if err := t.OS.Agent.Rebooted(ctx, c); err != nil {
		return err
	}
	_ = os.Remove(t.rebootMarker())
	return nil
}

func (agentPhase) Verify(ctx context.Context, t *Target) error {
	st, err := readAgentState(ctx, t)
	if err != nil {
		return err
	}
	if st.Done == "" || st.RebootPending != "" || !st.Unpacked {
		return fmt.Errorf("agent state after apply: done=%q reboot-pending=%q unpacked=%v", st.Done, st.RebootPending, st.Unpacked)
	}
	return nil
}

// uploadDirText names the upload directory for a plan, without a
// connection: what the OS's Shell says for the spec's user.
func uploadDirText(t *Target) string {
	dir, err := t.OS.Shell.WorkDir(t.Spec.SSH.User, func() (string, error) { return "~" + t.Spec.SSH.User, nil })
	if err != nil {
		return "~" + t.Spec.SSH.User + "/mtprep"
	}
	return dir
}

// NotOn: an OS whose agent needs no preparation (no ApplyCustomChanges.sh
// on Windows) installs it in the handoff phase.
func (agentPhase) NotOn(t *Target) string {
	if t.OS.Agent == nil {
		return fmt.Sprintf("os %s has no agent preparation (ApplyCustomChanges.sh is Linux's); the handoff phase installs the agent", t.Spec.OS)
	}
	return ""
}
