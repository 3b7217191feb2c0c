package windows

import (
	"context"
	"fmt"
	"strings"

	"github.com/mtprep/mtprep/provision/guest"
	scripts "github.com/mtprep/mtprep/scripts/windows"
)

// Lock is the guest lock: a file in StateDir created with CreateNew,
// which fails atomically when it exists.
type Lock struct{}

// LockPath is where the guest lock lives.
const LockPath = StateDir + `\lock`

// Path is LockPath.
func (Lock) Path() string { return LockPath }

// Take takes the lock at path.
func (Lock) Take(ctx context.Context, r guest.Runner, path, owner, runID string, force bool) (guest.LockResult, error) {
	mode := ""
	if force {
		mode = "break"
	}
	out, err := r.Script(ctx, scripts.GuestLock, nil, owner, runID, mode, WinPath(path))
	if err != nil {
		return guest.LockResult{}, err
	}
	return ParseLock(string(out))
}

// ParseLock reads guest-lock.ps1's answer.
func ParseLock(out string) (guest.LockResult, error) {
	res := strings.TrimSpace(out)
	switch {
	case res == "taken":
		return guest.LockResult{Taken: true}, nil
	case strings.HasPrefix(res, "broke"):
		return guest.LockResult{Taken: true, Broke: strings.TrimSpace(strings.TrimPrefix(res, "broke"))}, nil
	case strings.HasPrefix(res, "held"):
		return guest.LockResult{Held: strings.TrimSpace(strings.TrimPrefix(res, "held"))}, nil
	}
	return guest.LockResult{}, fmt.Errorf("unexpected answer %q", res)
}

// Release drops the lock if it is still runID's.
func (Lock) Release(ctx context.Context, r guest.Runner, path, runID string) error {
	_, err := r.Script(ctx, scripts.GuestUnlock, nil, runID, WinPath(path))
	return err
}
