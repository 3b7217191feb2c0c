package provision

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// isoPhase writes the MT's kickstart ISO locally (DESIGN.md, phase iso).
// The ISO embeds a random salt and a fresh host key, so it is not rebuilt
// byte for byte; Check instead trusts a previous ISO whose sidecar records
// the same inputs and whose size still matches.
type isoPhase struct{}

func (isoPhase) Name() string { return "iso" }

func isoPath(t *Target) string {
	return filepath.Join(t.Options.WorkDir, t.Spec.Name+".iso")
}

func (isoPhase) Check(_ context.Context, t *Target) (Check, error) {
	out := isoPath(t)
	t.Facts.ISOLocal = out
	want := []string{fmt.Sprintf("write %s from %s with this MT's kickstart and a new SSH host key", out, t.Spec.ISO.Base)}
	r, err := ReadISOResult(out)
	if err != nil {
		return Check{Changes: want, Observed: "no ISO"}, nil
	}
	fi, err := os.Stat(out)
	if err != nil || fi.Size() != r.Size {
		return Check{Changes: want, Observed: "ISO missing or truncated"}, nil
	}
	if r.Inputs != t.Spec.isoInputs(t.Spec.ISO.Base) {
		return Check{Changes: want, Observed: "ISO was written for other spec values or another base"}, nil
	}
	return Check{Done: true, Observed: fmt.Sprintf("%s (sha256 %s, host key %s)", out, r.SHA256[:12], r.HostKeyFingerprint)}, nil
}

func (isoPhase) Apply(ctx context.Context, t *Target) error {
	if err := os.MkdirAll(t.Options.WorkDir, 0o755); err != nil {
		return fmt.Errorf("work dir: %w", err)
	}
	r, err := t.Spec.WriteISO(ctx, ISOOptions{Out: isoPath(t), Env: t.Env, Progress: t.Progress})
	if err != nil {
		return err
	}
	t.Note("iso", fmt.Sprintf("wrote %s (sha256 %s) from base sha256 %s", r.Out, r.SHA256, r.BaseSHA256))
	return nil
}

func (isoPhase) Verify(ctx context.Context, t *Target) error {
	c, err := isoPhase{}.Check(ctx, t)
	if err != nil {
		return err
	}
	if !c.Done {
		return fmt.Errorf("%s: %s", isoPath(t), c.Observed)
	}
	return nil
}
