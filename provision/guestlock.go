package provision

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mtprep/mtprep/provision/guest"
)

// GuestLockDir is the guest's lock (lock.go): a directory, because mkdir
// is atomic on every file system and needs no flock(1) on the MT (util-
// linux-ng 2.17 has it, but a lock held by a process would die with the
// SSH session and the agent phase's reboot; the directory does not).
const GuestLockDir = "/root/.mtprep/lock"

// guestLockScript takes the lock $4: $1 the owner line, $2 this run's id,
// $3 "break" to take it from another run. It prints "taken", "broke
// <owner line>" or "held <owner line>".
const guestLockScript = `set -u
d=$4
mkdir -p "${d%/*}" && chmod 700 "${d%/*}"
if mkdir "$d" 2>/dev/null; then
	printf '%s\n' "$1" > "$d/owner"
	echo taken
	exit 0
fi
cur=$(cat "$d/owner" 2>/dev/null || true)
case " $cur " in
*" run=$2 "*) echo taken; exit 0 ;;
esac
if [ "$3" = break ]; then
	printf '%s\n' "$1" > "$d/owner"
	echo "broke $cur"
	exit 0
fi
echo "held $cur"
`

// guestUnlockScript releases the lock $2 if it is still this run's ($1).
const guestUnlockScript = `set -u
d=$2
cur=$(cat "$d/owner" 2>/dev/null || true)
case " $cur " in
*" run=$1 "*) rm -rf "$d" ;;
esac
`

// lockGuest takes the guest lock over the Target's SSH connection.
func (t *Target) lockGuest(ctx context.Context) error {
	if t.locks.guest {
		return nil
	}
	c, err := t.SSH(ctx)
	if err != nil {
		return err
	}
	me := t.lockOwner()
	mode := ""
	if t.Options.BreakLock {
		mode = "break"
	}
	dir := t.guestLockPath()
	out, err := c.Script(ctx, guestLockScript, nil, me.String(), me.Run, mode, dir)
	if err != nil {
		return fmt.Errorf("taking the guest lock %s: %w", dir, err)
	}
	res := strings.TrimSpace(string(out))
	switch {
	case res == "taken":
	case strings.HasPrefix(res, "broke"):
		t.Log.Warn("broke the MT's guest lock (--break-lock)", "mt", t.Spec.Name, "held_by", ParseLockOwner(strings.TrimPrefix(res, "broke")).Describe(time.Now()))
	case strings.HasPrefix(res, "held"):
		return &LockedError{MT: t.Spec.Name, Where: "the guest (" + dir + ")", Owner: ParseLockOwner(strings.TrimPrefix(res, "held"))}
	default:
		return fmt.Errorf("taking the guest lock %s: unexpected answer %q", dir, res)
	}
	t.locks.guest = true
	t.registerRelease()
	return nil
}

// unlockGuest releases the guest lock if it is still this run's. The
// connection may be gone (a reboot that did not come back): the error
// says so, and a later run needs --break-lock.
func (t *Target) unlockGuest(ctx context.Context) error {
	c := t.ssh
	if c == nil {
		// Closed already (Target.Close runs its closers last in first
		// out): a connection of its own, not the Target's.
		var err error
		if c, err = guest.Dial(ctx, SSHConfigFor(t.Spec, t.OS.Shell, t.Env, t.Log)); err != nil {
			return fmt.Errorf("releasing the guest lock %s: %w", t.guestLockPath(), err)
		}
		defer c.Close()
	}
	if _, err := c.Script(ctx, guestUnlockScript, nil, t.lockOwner().Run, t.guestLockPath()); err != nil {
		return fmt.Errorf("releasing the guest lock %s: %w", t.guestLockPath(), err)
	}
	return nil
}

// guestLockPath is GuestLockDir; tests, whose "guest" is this machine,
// put it elsewhere.
func (t *Target) guestLockPath() string {
	if t.locks.guestDir != "" {
		return t.locks.guestDir
	}
	return GuestLockDir
}
