package provision

import (
	"context"
	"fmt"
	"time"

	"github.com/mtprep/mtprep/provision/guest"
)

// lockGuest takes the guest lock (the OS's Lock part: on CentOS a
// directory under /root/.mtprep, which survives the SSH session and the
// agent phase's reboot) over the Target's SSH connection.
func (t *Target) lockGuest(ctx context.Context) error {
	if t.run.locks.guest {
		return nil
	}
	if t.OS == nil || t.OS.Lock == nil {
		return fmt.Errorf("no guest lock for os %q", t.Spec.OS)
	}
	c, err := t.SSH(ctx)
	if err != nil {
		return err
	}
	me := t.lockOwner()
	dir := t.guestLockPath()
	res, err := t.OS.Lock.Take(ctx, c, dir, me.String(), me.Run, t.Options.BreakLock)
	if err != nil {
		return fmt.Errorf("taking the guest lock %s: %w", dir, err)
	}
	switch {
	case !res.Taken:
		return &LockedError{MT: t.Spec.Name, Where: "the guest (" + dir + ")", Owner: ParseLockOwner(res.Held)}
	case res.Broke != "":
		t.Log.Warn("broke the MT's guest lock (--break-lock)", "mt", t.Spec.Name, "held_by", ParseLockOwner(res.Broke).Describe(time.Now()))
	}
	t.run.locks.guest = true
	t.registerRelease()
	return nil
}

// unlockGuest releases the guest lock if it is still this run's. The
// connection may be gone (a reboot that did not come back): the error
// says so, and a later run needs --break-lock.
func (t *Target) unlockGuest(ctx context.Context) error {
	c := t.clients.ssh
	if c == nil {
		// Closed already (Target.Close runs its closers last in first
		// out): a connection of its own, not the Target's.
		var err error
		if c, err = guest.Dial(ctx, guest.ConfigFor(t.Spec, t.OS.Shell, t.Env, t.Log)); err != nil {
			return fmt.Errorf("releasing the guest lock %s: %w", t.guestLockPath(), err)
		}
		defer c.Close()
	}
	if err := t.OS.Lock.Release(ctx, c, t.guestLockPath(), t.lockOwner().Run); err != nil {
		return fmt.Errorf("releasing the guest lock %s: %w", t.guestLockPath(), err)
	}
	return nil
}

// guestLockPath is the OS's lock path; tests, whose "guest" is this
// machine, put it elsewhere.
func (t *Target) guestLockPath() string {
	if t.run.locks.guestDir != "" {
		return t.run.locks.guestDir
	}
	return t.OS.Lock.Path()
}
