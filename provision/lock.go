package provision

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/provision/internal/vsconfig"
	"github.com/mtprep/mtprep/provision/vsphere"
)

// An MT is prepared by one run at a time (issue 7): two operators, or two
// fleet runs over overlapping inventories, must not reconfigure one VM or
// run ApplyCustomChanges.sh on one guest at once. Each run holds two
// locks per MT, each taken lazily before the first change that needs it
// (a run that changes nothing takes none, so a second build still starts
// no vSphere task) and released when the run ends:
//
//   - on the VM, the ExtraConfig key guestinfo.mtprep.lock = the owner
//     (run id, user@host, pid, time). A guestinfo key, because vSphere
//     takes those while the VM runs. It is set with a ReconfigVM that
//     carries the VM's config.changeVersion as read (vSphere then refuses
//     the change with ConcurrentAccess if anything reconfigured the VM in
//     between: a compare-and-swap) and read back, which also catches a
//     server that does not check changeVersion (vcsim). A VM does not
//     exist before the vm phase creates it: it is created with the lock
//     already in its ExtraConfig. Two runs creating the same VM: vSphere
//     refuses a duplicate name in a folder (DuplicateName) and the loser
//     fails naming the winner's lock; a server that allows the duplicate
//     leaves two, and the newer VM (higher moref) is deleted by its
//     creator, who fails the same way.
//   - in the guest, the directory /root/.mtprep/lock, made with mkdir
//     (atomic) and holding the owner (guestlock.go); on disk, so it
//     survives the agent phase's reboot.
//
// A lock whose run is gone (killed, crashed, its vCenter session lost
// before the release) stays: it is broken only explicitly, with
// --break-lock (BuildOptions.BreakLock), which logs whose lock it broke.

const (
	vmLockKey = "guestinfo.mtprep.lock"
	// createdMarker records that mtprep created the VM (and when).
	createdMarker = "guestinfo.mtprep.created"
)

// LockOwner identifies the run holding an MT's lock.
type LockOwner struct {
	Run   string    // random per run and MT: what makes the lock this run's
	User  string    // user@host
	PID   int       // of the mtprep process
	Since time.Time // when the run started
}

// String is the lock's value: "run=… owner=user@host pid=… since=…".
func (o LockOwner) String() string {
	return fmt.Sprintf("run=%s owner=%s pid=%d since=%s", o.Run, o.User, o.PID, o.Since.UTC().Format(time.RFC3339))
}

// Describe is the owner for a message: "root@ops1 (pid 4242) since
// 2026-05-01T10:00:00Z, 12m ago".
func (o LockOwner) Describe(now time.Time) string {
	d := o.User
	if o.PID != 0 {
		d += fmt.Sprintf(" (pid %d)", o.PID)
	}
	if !o.Since.IsZero() {
		d += fmt.Sprintf(" since %s, %s ago", o.Since.UTC().Format(time.RFC3339), now.Sub(o.Since).Round(time.Second))
	}
	return d + ", run " + o.Run
}

// ParseLockOwner reads a lock's value; fields it does not know are
// ignored, and a value that is not mtprep's becomes the owner's User.
func ParseLockOwner(s string) LockOwner {
	var o LockOwner
	for _, f := range strings.Fields(s) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "run":
			o.Run = v
		case "owner":
			o.User = v
		case "pid":
			o.PID, _ = strconv.Atoi(v)
		case "since":
			o.Since, _ = time.Parse(time.RFC3339, v)
		}
	}
	if o.Run == "" && o.User == "" {
		o.User = strings.TrimSpace(s)
	}
	return o
}

// LockedError is an MT locked by another run.
type LockedError struct {
	MT    string
	Where string // "vSphere (VM mt01, guestinfo.mtprep.lock)", "the guest (/root/.mtprep/lock)"
	Owner LockOwner
	How   string // why this run noticed, when not the plain case
}

func (e *LockedError) Error() string {
	msg := fmt.Sprintf("MT %s is locked in %s by %s", e.MT, e.Where, e.Owner.Describe(time.Now()))
	if e.How != "" {
		msg += " (" + e.How + ")"
	}
	return msg + ": another mtprep run is preparing it. Wait for it; if that run is gone (killed, crashed), run again with --break-lock"
}

// locks are the MT locks a Target holds.
type locks struct {
	owner    *LockOwner
	vm       *types.ManagedObjectReference
	guest    bool
	guestDir string // the OS lock part's path when empty
	onClose  bool   // release registered with Target.OnClose
}

func (l *locks) vmHeld(ref types.ManagedObjectReference) { l.vm = &ref }

// lockOwner is this Target's identity in locks, made on first use.
func (t *Target) lockOwner() LockOwner {
	if t.run.locks.owner == nil {
		var b [6]byte
		_, _ = rand.Read(b[:])
		name := os.Getenv("USER")
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
		host, _ := os.Hostname()
		t.run.locks.owner = &LockOwner{Run: hex.EncodeToString(b[:]), User: name + "@" + host, PID: os.Getpid(), Since: time.Now().UTC().Truncate(time.Second)}
	}
	return *t.run.locks.owner
}

func (t *Target) ownsLock(value string) bool {
	return value != "" && ParseLockOwner(value).Run == t.lockOwner().Run
}

// beforeApply takes the locks phase p needs before it changes anything:
// the VM lock for every phase that changes the VM or the guest (iso and
// upload change neither), the guest lock for the guest phases (those that
// change the guest over SSH).
func (t *Target) beforeApply(ctx context.Context, p Phase) error {
	if _, media := p.(mediaPhase); media {
		return nil
	}
	_, guest := p.(guestPhase)
	if !guest || t.Spec.VSphere.URL != "" {
		if err := t.lockVM(ctx); err != nil {
			return err
		}
	}
	if guest {
		return t.lockGuest(ctx)
	}
	return nil
}

func (t *Target) registerRelease() {
	if t.run.locks.onClose {
		return
	}
	t.run.locks.onClose = true
	t.OnClose(func() error { return t.ReleaseLocks() })
}

// lockVM takes the VM lock, if the VM exists (the vm phase creates a VM
// with the lock already set).
func (t *Target) lockVM(ctx context.Context) error {
	if t.run.locks.vm != nil {
		return nil
	}
	s, err := t.vsphere(ctx)
	if err != nil {
		return err
	}
	st, err := t.vmFor(ctx)
	if err != nil || st == nil {
		return err
	}
	where := fmt.Sprintf("vSphere (VM %s, %s)", t.Spec.Name, vmLockKey)
	cur := st.Extra(vmLockKey)
	me := t.lockOwner()
	if t.ownsLock(cur) {
		t.run.locks.vmHeld(st.Ref)
		t.registerRelease()
		return nil
	}
	if cur != "" {
		if !t.Options.BreakLock {
			return &LockedError{MT: t.Spec.Name, Where: where, Owner: ParseLockOwner(cur)}
		}
		t.Log.Warn("breaking the MT's vSphere lock (--break-lock)", "mt", t.Spec.Name, "held_by", ParseLockOwner(cur).Describe(time.Now()))
	}
	err = s.SetExtraConfig(ctx, "lock", "VM "+t.Spec.Name, st.Ref, st.MO.Config.ChangeVersion, vmLockKey, me.String())
	if err != nil && !vsphere.IsFault[*types.ConcurrentAccess](err) {
		return err
	}
	// Read back: a ConcurrentAccess, or a server that does not compare
	// changeVersion, leaves whoever wrote last.
	after, rerr := s.ReadVM(ctx, st.Ref)
	if rerr != nil {
		return rerr
	}
	if got := after.Extra(vmLockKey); !t.ownsLock(got) {
		return &LockedError{MT: t.Spec.Name, Where: where, Owner: ParseLockOwner(got), How: "it took the lock at the same moment as this run"}
	}
	t.run.locks.vmHeld(st.Ref)
	t.registerRelease()
	return nil
}

// ReleaseLocks releases the locks this Target holds (the guest's, then
// the VM's), with a context of its own: it runs when the build ends, also
// after Ctrl-C. A lock another run has taken since (--break-lock) is left
// alone.
func (t *Target) ReleaseLocks() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errs []string
	if t.run.locks.guest {
		if err := t.unlockGuest(ctx); err != nil {
			errs = append(errs, err.Error())
		}
		t.run.locks.guest = false
	}
	if ref := t.run.locks.vm; ref != nil {
		t.run.locks.vm = nil
		if err := t.unlockVM(ctx, *ref); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		err := fmt.Errorf("%s: releasing the MT's locks: %s (a later run needs --break-lock)", t.Spec.Name, strings.Join(errs, "; "))
		t.Log.Warn("lock not released", "mt", t.Spec.Name, "err", err)
		return err
	}
	return nil
}

// unlockVM removes the VM lock if it is still this run's.
func (t *Target) unlockVM(ctx context.Context, ref types.ManagedObjectReference) error {
	s := t.clients.vs
	if s == nil {
		// Closed already (Target.Close runs its closers last in first
		// out): a session of its own, logged out after.
		var err error
		if s, err = vsphere.Connect(ctx, vsconfig.For(t.Spec, t.Env, t.Log)); err != nil {
			return err
		}
		defer func() { _ = s.LogoutContext(ctx) }()
	}
	st, err := s.ReadVM(ctx, ref)
	if err != nil {
		return err
	}
	if cur := st.Extra(vmLockKey); !t.ownsLock(cur) {
		t.Log.Warn("the MT's vSphere lock is no longer this run's; left alone", "mt", t.Spec.Name, "held_by", ParseLockOwner(cur).Describe(time.Now()))
		return nil
	}
	return s.SetExtraConfig(ctx, "unlock", "VM "+t.Spec.Name, ref, "", vmLockKey, "")
}

// checkCreateRace runs right after this run created the VM mine: if
// another VM of the same name is in the folder (a server that allows the
// duplicate), the older one wins and this run deletes its own, new and
// empty, VM and fails.
func (t *Target) checkCreateRace(ctx context.Context, s *vsphere.Session, c *vmCheck, mine types.ManagedObjectReference) error {
	refs, err := s.VMsNamed(ctx, c.inv.Folder, t.Spec.Name)
	if err != nil || len(refs) <= 1 || refs[0] == mine {
		return err
	}
	winner := refs[0]
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := s.Destroy(dctx, "VM "+t.Spec.Name+" ("+mine.Value+", created by this run)", mine); err != nil {
		t.Log.Warn("could not delete the VM this run created alongside another run's; delete it by hand", "vm", mine.Value, "err", err)
	}
	t.Facts.VMMoRef = ""
	return t.lostCreateRace(ctx, s, c, &winner, nil)
}

// lostCreateRace is the error of a run whose VM creation lost to another
// run's: it names the other run from the winner's lock.
func (t *Target) lostCreateRace(ctx context.Context, s *vsphere.Session, c *vmCheck, winner *types.ManagedObjectReference, cause error) error {
	owner := "someone else (no mtprep lock on it)"
	if winner == nil {
		if st, err := t.findVM(ctx); err == nil && st != nil {
			winner = &st.Ref
		}
	}
	if winner != nil {
		if st, err := s.ReadVM(ctx, *winner); err == nil {
			if v := st.Extra(vmLockKey); v != "" {
				owner = "another mtprep run: " + ParseLockOwner(v).Describe(time.Now())
			}
		}
	}
	msg := fmt.Sprintf("create VM %s in %s: a VM of that name was created by %s after this run checked", t.Spec.Name, c.inv.FolderPath, owner)
	if cause != nil {
		msg += " (" + vsphere.FaultText(cause) + ")"
	}
	return fmt.Errorf("%s; this run stopped so that one run prepares the MT. Run again when that run is done", msg)
}
