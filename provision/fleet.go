package provision

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mtprep/mtprep/internal/files"
	"github.com/mtprep/mtprep/internal/progress"
	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/spec"
)

// FleetOptions are the choices of one `mtprep fleet` run.
type FleetOptions struct {
	Concurrency int
	// OS finds each MT's OS.
	OS     guest.Lookup
	Phases string // as --phases
	// Build applies to every MT. Its WorkDir is the fleet's root: each MT
	// works in WorkDir/<name>, and shared media go to WorkDir/media
	// unless MediaDir is set. Default: build/ beside the state file.
	Build BuildOptions
	// StateFile records each host's progress (JSON, written atomically);
	// default <inventory>.state.json.
	StateFile string
	// LogDir holds one log file per host; none when empty.
	LogDir string
	Env    spec.LookupEnv
	// Log is the run's log; each host's records also go to its file.
	Log      *slog.Logger
	Progress func(host string) progress.Func
	// OnPhase is told which phase each host is in, for the live display,
	// and the host's result ("done", "failed", "interrupted") at its end.
	OnPhase func(host, phase string)
	// Shared is what the hosts share (one remaster and one upload of each
	// media file); RunFleet makes one when nil. The benchmark passes its
	// own to look at it.
	Shared *Shared
	// OnTarget, when set, sees each host's Target before its first phase
	// and after its last (done true), for a caller that wants its facts
	// or its vSphere round trips. It must not keep the Target.
	OnTarget func(t *Target, done bool)
}

// Host statuses in the state file and the summary.
const (
	HostPending     = "pending" // not started in this run or any before
	HostRunning     = "running"
	HostDone        = "done"
	HostFailed      = "failed"
	HostInterrupted = "interrupted"
)

// HostState is one host's line in the state file and the summary.
type HostState struct {
	Host     string        `json:"host"`
	Phase    string        `json:"phase"`  // the last phase reached
	Status   string        `json:"status"` // pending, running, done, failed, interrupted
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"durationNs"`
	Updated  time.Time     `json:"updated"`
	Results  []Result      `json:"results,omitempty"`
}

// Changed lists the phases that changed something in the host's last run.
func (h *HostState) Changed() []string {
	var out []string
	for _, r := range h.Results {
		if r.Status == StatusChanged {
			out = append(out, r.Phase)
		}
	}
	return out
}

// FleetState is the state file.
type FleetState struct {
	Inventory string                `json:"inventory"`
	Phases    string                `json:"phases,omitempty"`
	Updated   time.Time             `json:"updated"`
	Hosts     map[string]*HostState `json:"hosts"`
}

// ErrInterrupted ends a host's run when the user stopped the fleet.
var ErrInterrupted = errors.New("interrupted: no new phase started")

// RunFleet builds every MT of the inventory with a pool of Concurrency
// workers (a slow host never holds up the next one). A failing host does
// not stop the others. When ctx ends (Ctrl-C) no new host or phase is
// started; phases already running go on under their own timeouts, the
// state file is written, and RunFleet returns.
//
// Re-running continues: the state file says where each host stopped,
// and hosts that did not finish are started first; every host's phases
// still run their checks, which decide what is done (a finished host
// only reads, and starts no vSphere task).
func RunFleet(ctx context.Context, inv *spec.Inventory, o FleetOptions) ([]*HostState, error) {
	if o.Concurrency < 1 {
		o.Concurrency = 1
	}
	if o.StateFile == "" {
		o.StateFile = inv.File + ".state.json"
	}
	if o.Build.WorkDir == "" {
		o.Build.WorkDir = filepath.Join(filepath.Dir(o.StateFile), "build")
	}
	if o.Build.MediaDir == "" {
		o.Build.MediaDir = filepath.Join(o.Build.WorkDir, "media")
	}
	if o.Shared == nil {
		o.Shared = NewShared()
	}
	phases, err := Select(Phases(), o.Phases)
	if err != nil {
		return nil, err
	}
	st := &stateWriter{path: o.StateFile, state: FleetState{Inventory: inv.File, Phases: o.Phases, Hosts: map[string]*HostState{}}}
	if old, err := ReadFleetState(o.StateFile); err == nil {
		st.state.Hosts = old.Hosts
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("fleet: %w (remove it to start afresh)", err)
	}
	// Every host is in the state file from the start, so an interrupted
	// run still says which hosts it never reached.
	for _, s := range inv.Specs {
		switch h := st.state.Hosts[s.Name]; {
		case h == nil:
			st.state.Hosts[s.Name] = &HostState{Host: s.Name, Status: HostPending, Updated: time.Now()}
		case h.Status == HostRunning:
			// A run that was killed, not interrupted, left it so.
			h.Status, h.Error = HostInterrupted, "the run that prepared it ended without a word (killed?)"
		}
	}
	if err := st.flush(); err != nil {
		return nil, err
	}

	jobs := make(chan *spec.Spec)
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range jobs {
				runHost(ctx, s, phases, o, st)
			}
		}()
	}
feed:
	for _, s := range resumeOrder(inv.Specs, st.snapshot()) {
		select {
		case jobs <- s:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := st.flush(); err != nil {
		return nil, err
	}
	snap := st.snapshot()
	out := make([]*HostState, 0, len(inv.Specs))
	for _, s := range inv.Specs {
		out = append(out, snap[s.Name])
	}
	return out, nil
}

// resumeOrder puts the hosts that did not finish first (pending,
// interrupted, failed), in inventory order, then the finished ones.
func resumeOrder(specs []*spec.Spec, hs map[string]*HostState) []*spec.Spec {
	out := append([]*spec.Spec(nil), specs...)
	done := func(s *spec.Spec) bool { h := hs[s.Name]; return h != nil && h.Status == HostDone }
	sort.SliceStable(out, func(i, j int) bool { return !done(out[i]) && done(out[j]) })
	return out
}

func runHost(ctx context.Context, s *spec.Spec, phases []Phase, o FleetOptions, st *stateWriter) {
	start := time.Now()
	log, closeLog := hostLogger(o, s.Name)
	defer closeLog()
	h := &HostState{Host: s.Name, Status: HostRunning, Updated: start}
	st.set(h)
	opts := o.Build
	opts.WorkDir = filepath.Join(o.Build.WorkDir, s.Name)
	t := &Target{Spec: s, Options: opts, Log: log, Env: o.Env, Shared: o.Shared}
	t.OS, _ = lookupOS(o.OS, s.OS)
	if o.Progress != nil {
		t.Progress = o.Progress(s.Name)
	}
	defer t.Close()
	// Before Close (deferred calls run last in first out): the locks are
	// released while the Target's sessions are still open.
	defer func() { _ = t.ReleaseLocks() }()
	if o.OnTarget != nil {
		o.OnTarget(t, false)
		defer o.OnTarget(t, true)
	}
	// Phases run on a context that Ctrl-C does not cancel: a remote
	// command is let finish (or time out) rather than cut in half.
	work := context.WithoutCancel(ctx)
	var results []Result
	runErr := Preflight(work, t)
	if runErr != nil {
		for _, q := range phases {
			results = append(results, Result{Phase: q.Name(), Status: StatusSkipped})
		}
		phases = nil
	}
	for i, p := range phases {
		if ctx.Err() != nil {
			runErr = ErrInterrupted
			for _, q := range phases[i:] {
				results = append(results, Result{Phase: q.Name(), Status: StatusSkipped})
			}
			break
		}
		h.Phase = p.Name()
		if o.OnPhase != nil {
			o.OnPhase(s.Name, p.Name())
		}
		st.set(h)
		r, err := runPhase(work, t, p)
		results = append(results, r)
		if err != nil {
			runErr = &PhaseError{Phase: p.Name(), MT: s.Name, Err: err}
			for _, q := range phases[i+1:] {
				results = append(results, Result{Phase: q.Name(), Status: StatusSkipped})
			}
			break
		}
	}
	h.Results, h.Duration, h.Updated = results, time.Since(start), time.Now()
	switch {
	case errors.Is(runErr, ErrInterrupted):
		h.Status, h.Error = HostInterrupted, runErr.Error()
		log.Warn("interrupted: no new phase started", "phase_reached", h.Phase)
	case runErr != nil:
		h.Status, h.Error = HostFailed, runErr.Error()
	default:
		h.Status = HostDone
		log.Info("MT done", "took", h.Duration.Round(time.Millisecond), "changed", h.Changed())
	}
	if o.OnPhase != nil {
		o.OnPhase(s.Name, h.Status)
	}
	st.set(h)
}

// hostLogger writes one log file per host (and to the run's log).
func hostLogger(o FleetOptions, host string) (*slog.Logger, func()) {
	base := o.Log
	if base == nil {
		base = slog.New(slog.DiscardHandler)
	}
	if o.LogDir == "" {
		return base.With("mt", host), func() {}
	}
	if err := os.MkdirAll(o.LogDir, 0o755); err != nil {
		base.Warn("no per-host log file", "mt", host, "err", err)
		return base.With("mt", host), func() {}
	}
	f, err := os.OpenFile(filepath.Join(o.LogDir, host+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		base.Warn("no per-host log file", "mt", host, "err", err)
		return base.With("mt", host), func() {}
	}
	return slog.New(teeHandler{base.Handler(), slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug})}).With("mt", host), func() { f.Close() }
}

// HostLogPath is where RunFleet writes host's log in logDir.
func HostLogPath(logDir, host string) string { return filepath.Join(logDir, host+".log") }

// teeHandler sends records to two handlers.
type teeHandler struct{ a, b slog.Handler }

func (t teeHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return t.a.Enabled(ctx, l) || t.b.Enabled(ctx, l)
}

func (t teeHandler) Handle(ctx context.Context, r slog.Record) error {
	var errs []error
	if t.a.Enabled(ctx, r.Level) {
		errs = append(errs, t.a.Handle(ctx, r.Clone()))
	}
	if t.b.Enabled(ctx, r.Level) {
		errs = append(errs, t.b.Handle(ctx, r))
	}
	return errors.Join(errs...)
}

func (t teeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return teeHandler{t.a.WithAttrs(as), t.b.WithAttrs(as)}
}

func (t teeHandler) WithGroup(n string) slog.Handler {
	return teeHandler{t.a.WithGroup(n), t.b.WithGroup(n)}
}

// stateWriter serialises updates to the state file.
type stateWriter struct {
	mu    sync.Mutex
	path  string
	state FleetState
	err   error // the last write's
}

func (w *stateWriter) set(h *HostState) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := *h
	w.state.Hosts[h.Host] = &c
	// A failed write is retried with the next update and reported by the
	// final flush; a host's work does not stop for it.
	w.err = w.flushLocked()
}

func (w *stateWriter) snapshot() map[string]*HostState {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]*HostState, len(w.state.Hosts))
	for k, v := range w.state.Hosts {
		c := *v
		out[k] = &c
	}
	return out
}

func (w *stateWriter) flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.flushLocked(); err != nil {
		return fmt.Errorf("fleet: writing the state file: %w", err)
	}
	return nil
}

func (w *stateWriter) flushLocked() error {
	w.state.Updated = time.Now()
	b, err := json.MarshalIndent(w.state, "", "  ")
	if err != nil {
		return err
	}
	return files.WriteAtomic(w.path, append(b, '\n'), 0o644)
}

// ReadFleetState reads a state file.
func ReadFleetState(path string) (*FleetState, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s FleetState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	if s.Hosts == nil {
		s.Hosts = map[string]*HostState{}
	}
	return &s, nil
}

// WriteFleetSummary prints the end-of-run table: host, phase reached,
// result, time, what changed or the error.
func WriteFleetSummary(w io.Writer, hs []*HostState) {
	sorted := append([]*HostState(nil), hs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Host < sorted[j].Host })
	count := map[string]int{}
	fmt.Fprintf(w, "%-20s %-12s %-12s %9s  %s\n", "HOST", "PHASE", "RESULT", "TIME", "DETAIL")
	for _, h := range sorted {
		count[h.Status]++
		detail := oneLine(h.Error)
		if detail == "" && h.Status == HostDone {
			if ch := h.Changed(); len(ch) > 0 {
				detail = "changed: " + strings.Join(ch, ",")
			} else {
				detail = "no change"
			}
		}
		fmt.Fprintf(w, "%-20s %-12s %-12s %9s  %s\n", h.Host, h.Phase, h.Status, h.Duration.Round(100*time.Millisecond), detail)
	}
	fmt.Fprintf(w, "%d MTs: %d done, %d failed, %d interrupted, %d not started\n",
		len(sorted), count[HostDone], count[HostFailed], count[HostInterrupted], count[HostPending])
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
