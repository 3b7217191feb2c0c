package provision

import (
	"context"
	"sync"
)

// Shared is what the Targets of one run share: a fleet's workers must not
// all remaster one base or upload one media file at the same moment (the
// bytes moved would grow with the fleet again). RunFleet makes one; a
// Target without one (mtprep build) gets its own.
type Shared struct {
	mu    sync.Mutex
	locks map[string]chan struct{}
}

// NewShared returns an empty Shared.
func NewShared() *Shared { return &Shared{locks: map[string]chan struct{}{}} }

// lock takes the keyed lock and returns its release, or nil when ctx
// ended first. Work under one key runs one at a time; each holder checks
// again what the previous one did.
func (s *Shared) lock(ctx context.Context, key string) func() {
	s.mu.Lock()
	ch, ok := s.locks[key]
	if !ok {
		ch = make(chan struct{}, 1)
		s.locks[key] = ch
	}
	s.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }
	case <-ctx.Done():
		return nil
	}
}

// sharedState is the run's Shared, or the Target's own.
func (t *Target) sharedState() *Shared {
	if t.Shared == nil {
		t.Shared = NewShared()
	}
	return t.Shared
}
