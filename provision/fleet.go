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
	"sync"
	"time"

	"github.com/mtprep/mtprep/internal/progress"
)

// FleetOptions are the choices of one `mtprep fleet` run.
type FleetOptions struct {
	Concurrency int
	Phases      string // as --phases
	Build       BuildOptions
	// StateFile records each host's progress (JSON, written atomically);
	// default <inventory>.state.json.
	StateFile string
	// LogDir holds one log file per host.
	LogDir   string
	Env      LookupEnv
	Log      *slog.Logger
	Progress func(host string) progress.Func
	// OnPhase is told which phase each host is in, for the live display.
	OnPhase func(host, phase string)
}

// HostState is one host's line in the state file and the summary.
type HostState struct {
	Host     string        `json:"host"`
	Phase    string        `json:"phase"`  // the last phase reached
	Status   string        `json:"status"` // running, done, failed, interrupted
	Error    string        `json:"error,omitempty"`
	Duration time.Duration `json:"durationNs"`
	Updated  time.Time     `json:"updated"`
	Results  []Result      `json:"results,omitempty"`
}

// FleetState is the state file.
type FleetState struct {
	Inventory string                `json:"inventory"`
	Hosts     map[string]*HostState `json:"hosts"`
}

// ErrInterrupted ends a host's run when the user stopped the fleet.
var ErrInterrupted = errors.New("interrupted: no new phase started")

// RunFleet builds every MT of the inventory with a pool of Concurrency
// workers (a slow host never holds up the next one). A failing host does
// not stop the others. When ctx ends (Ctrl-C) no new host or phase is
// started; phases already running go on under their own timeouts, the
// state file is written, and RunFleet returns. Re-running continues: each
// phase's check decides what is done.
func RunFleet(ctx context.Context, inv *Inventory, o FleetOptions) ([]*HostState, error) {
	if o.Concurrency < 1 {
		o.Concurrency = 1
	}
	if o.StateFile == "" {
		o.StateFile = inv.File + ".state.json"
	}
	phases, err := Select(Phases(), o.Phases)
	if err != nil {
		return nil, err
	}
	st := &stateWriter{path: o.StateFile, state: FleetState{Inventory: inv.File, Hosts: map[string]*HostState{}}}
	if old, err := ReadFleetState(o.StateFile); err == nil {
		st.state.Hosts = old.Hosts
	}
	jobs := make(chan *Spec)
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
	for _, s := range inv.Specs {
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
	var out []*HostState
	for _, s := range inv.Specs {
		if h, ok := st.state.Hosts[s.Name]; ok {
			out = append(out, h)
		} else {
			out = append(out, &HostState{Host: s.Name, Status: "not started"})
		}
	}
	return out, nil
}

func runHost(ctx context.Context, s *Spec, phases []Phase, o FleetOptions, st *stateWriter) {
	start := time.Now()
	log, closeLog := hostLogger(o, s.Name)
	defer closeLog()
	h := &HostState{Host: s.Name, Status: "running", Updated: start}
	st.set(h)
	opts := o.Build
	if opts.WorkDir == "" {
		opts.WorkDir = filepath.Join(filepath.Dir(o.StateFile), "build", s.Name)
	} else {
		opts.WorkDir = filepath.Join(opts.WorkDir, s.Name)
	}
	t := &Target{Spec: s, Options: opts, Log: log, Env: o.Env}
	if o.Progress != nil {
		t.Progress = o.Progress(s.Name)
	}
	defer t.Close()
	// Phases run on a context that Ctrl-C does not cancel: a remote
	// command is let finish (or time out) rather than cut in half.
	work := context.WithoutCancel(ctx)
	var results []Result
	var runErr error
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
		h.Status, h.Error = "interrupted", runErr.Error()
	case runErr != nil:
		h.Status, h.Error = "failed", runErr.Error()
	default:
		h.Status = "done"
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
		return base.With("mt", host), func() {}
	}
	f, err := os.OpenFile(filepath.Join(o.LogDir, host+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return base.With("mt", host), func() {}
	}
	return slog.New(teeHandler{base.Handler(), slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug})}).With("mt", host), func() { f.Close() }
}

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
}

func (w *stateWriter) set(h *HostState) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := *h
	w.state.Hosts[h.Host] = &c
	_ = w.flushLocked()
}

func (w *stateWriter) flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

func (w *stateWriter) flushLocked() error {
	b, err := json.MarshalIndent(w.state, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(w.path, append(b, '\n'), 0o644)
}

// ReadFleetState reads a state file.
func ReadFleetState(path string) (*FleetState, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s FleetState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if s.Hosts == nil {
		s.Hosts = map[string]*HostState{}
	}
	return &s, nil
}

// WriteFleetSummary prints the end-of-run table: host, phase reached,
// result, time.
func WriteFleetSummary(w io.Writer, hs []*HostState) {
	sorted := append([]*HostState(nil), hs...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Host < sorted[j].Host })
	fmt.Fprintf(w, "%-20s %-12s %-12s %8s  %s\n", "HOST", "PHASE", "RESULT", "TIME", "ERROR")
	for _, h := range sorted {
		fmt.Fprintf(w, "%-20s %-12s %-12s %8s  %s\n", h.Host, h.Phase, h.Status, h.Duration.Round(time.Second), oneLine(h.Error))
	}
}
