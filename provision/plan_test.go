package provision

import (
	"context"
	"errors"
	"log/slog"
	"testing"
)

// stubPhase is a phase whose Check returns what it is given.
type stubPhase struct {
	name string
	c    Check
	err  error
}

func (p stubPhase) Name() string                                  { return p.name }
func (p stubPhase) Check(context.Context, *Target) (Check, error) { return p.c, p.err }
func (p stubPhase) Apply(context.Context, *Target) error          { return nil }
func (p stubPhase) Verify(context.Context, *Target) error         { return nil }

// TestPlanAfterPendingChange: a Check that fails after an earlier phase
// would change something (a guest phase of a VM not installed yet) is
// listed as would-change with the reason; bad input still ends the plan,
// and so does a failing Check with nothing pending.
func TestPlanAfterPendingChange(t *testing.T) {
	unreachable := errors.New("ssh 192.0.2.10:22: i/o timeout")
	bad := &InputError{File: "mt01.yaml", Key: "vsphere.datastore", Problem: "not found"}
	cases := []struct {
		name    string
		phases  []Phase
		wantErr bool
		last    Status
	}{
		{"unreachable after a pending change", []Phase{stubPhase{name: "install", c: Check{Changes: []string{"power on"}}}, stubPhase{name: "packages", err: unreachable}}, false, StatusWouldChange},
		{"bad input after a pending change", []Phase{stubPhase{name: "install", c: Check{Changes: []string{"power on"}}}, stubPhase{name: "vm", err: bad}}, true, StatusFailed},
		{"unreachable with nothing pending", []Phase{stubPhase{name: "install", c: Check{Done: true}}, stubPhase{name: "packages", err: unreachable}}, true, StatusFailed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tg := &Target{Spec: &Spec{Name: "mt01"}, Log: slog.New(slog.DiscardHandler)}
			rs, err := Plan(context.Background(), tg, c.phases)
			if (err != nil) != c.wantErr {
				t.Fatalf("err %v, want error %v", err, c.wantErr)
			}
			last := rs[len(rs)-1]
			if last.Status != c.last {
				t.Errorf("%s: %s, want %s (%+v)", last.Phase, last.Status, c.last, last)
			}
			if last.Status == StatusWouldChange && last.Observed != "not checked until the phases above have run: "+unreachable.Error() {
				t.Errorf("observed %q", last.Observed)
			}
		})
	}
}
