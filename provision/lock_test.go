package provision

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/centos"
	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/guest/guesttest"
	"github.com/mtprep/mtprep/provision/spec"
	"github.com/mtprep/mtprep/provision/vsphere"
)

func TestLockOwnerRoundTrip(t *testing.T) {
	o := LockOwner{Run: "a1b2c3", User: "alice@ops2", PID: 4242, Since: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)}
	if got := ParseLockOwner(o.String()); got != o {
		t.Errorf("round trip: %+v, want %+v", got, o)
	}
	if got := ParseLockOwner("someone's own note"); got.User != "someone's own note" || got.Run != "" {
		t.Errorf("foreign value: %+v", got)
	}
	d := o.Describe(o.Since.Add(12 * time.Minute))
	for _, w := range []string{"alice@ops2", "pid 4242", "2026-05-01T10:00:00Z", "12m0s ago", "run a1b2c3"} {
		if !strings.Contains(d, w) {
			t.Errorf("%q does not say %q", d, w)
		}
	}
}

// setLock writes the VM lock with the test's own client, as another run
// (or a dead one) would have left it.
func setLock(t *testing.T, s *sim, ref types.ManagedObjectReference, value string) {
	t.Helper()
	ctx := context.Background()
	task, err := object.NewVirtualMachine(s.c, ref).Reconfigure(ctx, types.VirtualMachineConfigSpec{
		ExtraConfig: []types.BaseOptionValue{&types.OptionValue{Key: vmLockKey, Value: value}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Wait(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestVMLock: a VM locked by another run is refused, naming the owner,
// and left unchanged; --break-lock takes the lock, does the work and
// releases it; a run's own lock never stops it.
func TestVMLock(t *testing.T) {
	other := LockOwner{Run: "0badc0ffee00", User: "alice@ops2", PID: 4242, Since: time.Now().Add(-3 * time.Hour).UTC().Truncate(time.Second)}
	cases := []struct {
		name      string
		breakLock bool
		wantErr   []string // empty: the build succeeds
	}{
		{"held by another run", false, []string{"phase enable-uuid", "MT mt01 is locked in vSphere", "alice@ops2 (pid 4242)", "run 0badc0ffee00", "--break-lock"}},
		{"--break-lock", true, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSim(t)
			_, ref := builtVM(t, s)
			setLock(t, s, ref, other.String())
			tg := simTarget(t, s, "", 0, nil)
			tg.Options.BreakLock = c.breakLock
			_, err := Build(context.Background(), tg, vspherePhases(t, "enable-uuid"))
			enabled, _, _ := readExtra(t, s, ref)
			lock := vmExtra(t, s, ref, vmLockKey)
			if len(c.wantErr) > 0 {
				if err == nil {
					t.Fatal("built a VM another run holds")
				}
				var le *LockedError
				if !errors.As(err, &le) {
					t.Errorf("error %v is not a LockedError", err)
				}
				for _, w := range c.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				if enabled != "" || lock != other.String() {
					t.Errorf("the refused run changed the VM: EnableUUID %q, lock %q", enabled, lock)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if enabled != "TRUE" || lock != "" {
				t.Errorf("after --break-lock: EnableUUID %q, lock %q (want released)", enabled, lock)
			}
		})
	}
}

func vmExtra(t *testing.T, s *sim, ref types.ManagedObjectReference, key string) string {
	t.Helper()
	st, err := vsphere.NewSession(s.c).ReadVM(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	return st.Extra(key)
}

// TestVMLockTakenOnlyToChange: a build that changes nothing takes no
// lock, so it starts no task, and is not stopped by another run's lock.
func TestVMLockTakenOnlyToChange(t *testing.T) {
	s := newSim(t)
	tg, ref := builtVM(t, s)
	if _, err := Build(context.Background(), tg, vspherePhases(t, "enable-uuid")); err != nil {
		t.Fatal(err)
	}
	setLock(t, s, ref, LockOwner{Run: "feedface", User: "bob@ops3", PID: 7}.String())
	tasks := s.tasks()
	again := simTarget(t, s, "", 0, nil)
	sameISOs(again, tg)
	rs, err := Build(context.Background(), again, vspherePhases(t, "upload,vm,enable-uuid"))
	if err != nil || statuses(rs) != "upload=done vm=done enable-uuid=done" {
		t.Fatalf("%v (%s)", err, statuses(rs))
	}
	if n := s.tasks() - tasks; n != 0 {
		t.Errorf("%d tasks", n)
	}
}

// TestCreateRace: two runs both find no VM mt01 and both create it. The
// simulator, unlike vSphere, allows the duplicate name; the second run
// sees two, deletes its own new VM and fails naming the first run. One
// VM mt01 is left, locked by the first run.
func TestCreateRace(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	a := simTarget(t, s, "", 0, nil)
	b := simTarget(t, s, "", 0, nil)
	sameISOs(b, a)
	if _, err := Build(ctx, a, vspherePhases(t, "upload")); err != nil {
		t.Fatal(err)
	}
	for _, tg := range []*Target{a, b} {
		c, err := vmPhase{}.Check(ctx, tg)
		if err != nil || c.Done {
			t.Fatalf("check: %v %+v", err, c)
		}
	}
	if err := (vmPhase{}).Apply(ctx, a); err != nil {
		t.Fatal(err)
	}
	err := vmPhase{}.Apply(ctx, b)
	if err == nil {
		t.Fatal("the second run created a second VM mt01")
	}
	for _, w := range []string{"create VM mt01", "created by another mtprep run", a.lockOwner().User, "run " + a.lockOwner().Run, "this run stopped"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	inv, _ := a.clients.vs.Inventory(ctx)
	refs, err := a.clients.vs.VMsNamed(ctx, inv.Folder, "mt01")
	if err != nil {
		t.Fatal(err)
	}
	if len(refs) != 1 || refs[0].Value != a.Facts.VMMoRef {
		t.Fatalf("VMs named mt01: %v, want only the first run's %s", refs, a.Facts.VMMoRef)
	}
	if got := vmExtra(t, s, refs[0], vmLockKey); !a.ownsLock(got) {
		t.Errorf("the VM's lock is %q, not the first run's", got)
	}
	if err := a.ReleaseLocks(); err != nil {
		t.Fatal(err)
	}
	if got := vmExtra(t, s, refs[0], vmLockKey); got != "" {
		t.Errorf("lock %q after release", got)
	}
}

// TestGuestLock runs the guest lock's scripts over SSH to a real sshd
// (root on this machine, so the lock directory is a temporary one).
func TestGuestLock(t *testing.T) {
	d := guesttest.StartSSHD(t)
	ctx := context.Background()
	kh := filepath.Join(t.TempDir(), "known_hosts")
	if err := guest.RecordHostKey(kh, "127.0.0.1", d.Port, pub(t, d)); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), ".mtprep", "lock")
	target := func(breakLock bool) *Target {
		spec_, err := spec.Parse(filepath.Join(t.TempDir(), "mt01.yaml"), []byte(validSpec))
		if err != nil {
			t.Fatal(err)
		}
		spec_.SSH.Address, spec_.SSH.Port, spec_.SSH.PrivateKey, spec_.SSH.KnownHosts = "127.0.0.1", d.Port, d.UserKey, kh
		tg := &Target{Spec: spec_, OS: centos.OS(), Options: BuildOptions{BreakLock: breakLock}, Log: discardLog(), Env: fleetEnv}
		tg.run.locks.guestDir = dir
		t.Cleanup(func() { _ = tg.Close() })
		return tg
	}
	a, b, c := target(false), target(false), target(true)
	if err := a.lockGuest(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.lockGuest(ctx); err != nil {
		t.Fatalf("a run's own lock: %v", err)
	}
	owner, _ := os.ReadFile(filepath.Join(dir, "owner"))
	if !strings.Contains(string(owner), "run="+a.lockOwner().Run) {
		t.Errorf("owner file %q", owner)
	}
	err := b.lockGuest(ctx)
	var le *LockedError
	if !errors.As(err, &le) || le.Owner.Run != a.lockOwner().Run || !strings.Contains(err.Error(), "the guest ("+dir+")") {
		t.Fatalf("second run: %v", err)
	}
	if err := c.lockGuest(ctx); err != nil {
		t.Fatalf("--break-lock: %v", err)
	}
	// The first run's release leaves the lock it lost alone.
	if err := a.ReleaseLocks(); err != nil {
		t.Fatal(err)
	}
	if owner, _ := os.ReadFile(filepath.Join(dir, "owner")); !strings.Contains(string(owner), "run="+c.lockOwner().Run) {
		t.Errorf("after the first run's release: owner %q", owner)
	}
	if err := c.ReleaseLocks(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the lock directory is still there: %v", err)
	}
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
