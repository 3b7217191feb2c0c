package linux

import (
	"context"
	"fmt"
	"strings"

	"github.com/mtprep/mtprep/provision/guest"
	scripts "github.com/mtprep/mtprep/scripts/linux"
)

// Lock is the guest lock: a directory under StateDir (mkdir is atomic).
type Lock struct{}

// LockDir is where the guest lock lives.
const LockDir = StateDir + "/lock"

// Path is LockDir.
func (Lock) Path() string { return LockDir }

// Take takes the lock at path.
func (Lock) Take(ctx context.Context, r guest.Runner, path, owner, runID string, force bool) (guest.LockResult, error) {
	mode := ""
	if force {
		mode = "break"
	}
	out, err := r.Script(ctx, scripts.GuestLock, nil, owner, runID, mode, path)
	if err != nil {
		return guest.LockResult{}, err
	}
	res := strings.TrimSpace(string(out))
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
	_, err := r.Script(ctx, scripts.GuestUnlock, nil, runID, path)
	return err
}
