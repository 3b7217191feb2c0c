package provision

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/mtprep/mtprep/centos"
	"github.com/mtprep/mtprep/provision/spec"
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

// stubInstall is a stub of the install phase: it installs the MT.
type stubInstall struct{ stubPhase }

func (stubInstall) installsMT() {}

// TestPlanAfterPendingChange: a Check that fails after an earlier phase
// would change something (a guest phase of a VM not installed yet) is
// listed as would-change with the reason; bad input still ends the plan,
// and so does a failing Check with nothing pending.
func TestPlanAfterPendingChange(t *testing.T) {
	unreachable := errors.New("ssh 192.0.2.10:22: i/o timeout")
	bad := &spec.InputError{File: "mt01.yaml", Key: "vsphere.datastore", Problem: "not found"}
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
			tg := &Target{Spec: &spec.Spec{Name: "mt01"}, Log: slog.New(slog.DiscardHandler)}
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

// sshPhase is a guest phase whose Check needs the SSH connection.
type sshPhase struct{ stubPhase }

func (p sshPhase) Check(ctx context.Context, t *Target) (Check, error) {
	if _, err := t.SSH(ctx); err != nil {
		return Check{}, err
	}
	return Check{Done: true}, nil
}

// TestPlanDialsOnce: a plan of an MT that does not answer yet tries SSH
// once, not once per guest phase (each try can wait for the connect
// timeout); a build afterwards dials again.
func TestPlanDialsOnce(t *testing.T) {
	tg, accepted := unreachableMT(t)
	phases := []Phase{stubPhase{name: "vm", c: Check{Changes: []string{"reconfigure"}}}}
	for _, n := range []string{"packages", "agent", "retention", "handoff"} {
		phases = append(phases, sshPhase{stubPhase{name: n}})
	}
	rs, err := Plan(context.Background(), tg, phases)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs[1:] {
		if r.Status != StatusWouldChange {
			t.Errorf("%s: %s, want would-change", r.Phase, r.Status)
		}
	}
	if n := accepted.Load(); n != 1 {
		t.Errorf("plan dialled %d times, want 1", n)
	}
	if _, err := tg.SSH(context.Background()); err == nil {
		t.Fatal("dial succeeded")
	}
	if n := accepted.Load(); n != 2 {
		t.Errorf("after the plan: %d dials, want 2 (outside a plan a failure is not remembered)", n)
	}
}

// unreachableMT is a Target whose SSH address accepts connections and
// closes them (no SSH there), and the count of connections it got.
func unreachableMT(t *testing.T) (*Target, *atomic.Int32) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	accepted := new(atomic.Int32)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close() // no SSH here: the handshake fails
		}
	}()
	s, err := spec.Parse("/specs/mt01.yaml", []byte(validSpec))
	if err != nil {
		t.Fatal(err)
	}
	s.SSH.Address, s.SSH.Port = "127.0.0.1", l.Addr().(*net.TCPAddr).Port
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	blk, err := ssh.MarshalPrivateKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	s.SSH.PrivateKey = filepath.Join(t.TempDir(), "id")
	if err := os.WriteFile(s.SSH.PrivateKey, pem.EncodeToMemory(blk), 0o600); err != nil {
		t.Fatal(err)
	}
	return &Target{Spec: s, OS: centos.OS(), Log: slog.New(slog.DiscardHandler), Env: func(string) (string, bool) { return "", false },
		Options: BuildOptions{WorkDir: t.TempDir()}}, accepted
}

// TestPlanFreshMT: while the install phase is still to run, the guest
// phases say what they will do on the fresh MT and do not try SSH (an
// address that answers may be another system, or the installer).
func TestPlanFreshMT(t *testing.T) {
	tg, accepted := unreachableMT(t)
	phases := []Phase{stubInstall{stubPhase{name: "install", c: Check{Changes: []string{"power on"}}}}, packagesPhase{}, toolsPhase{}, agentPhase{}, retentionPhase{}, handoffPhase{}}
	rs, err := Plan(context.Background(), tg, phases)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs[1:] {
		if r.Status != StatusWouldChange || len(r.Changes) == 0 || !strings.Contains(r.Observed, "install phase installs the MT first") {
			t.Errorf("%s: %+v", r.Phase, r)
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("the plan dialled the MT %d times before its install", n)
	}
}
