package provision

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/mtprep/mtprep/internal/progress"
	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/spec"
	"github.com/mtprep/mtprep/provision/vsphere"
)

// Phase is one step of building an MT (DESIGN.md, "The procedure, as
// phases"). Check is read-only and decides what is done; Apply changes
// things; Verify reads back what Apply set and fails when it did not stick.
// A phase whose Check says Done is not applied, so a second build changes
// nothing.
type Phase interface {
	Name() string
	Check(ctx context.Context, t *Target) (Check, error)
	Apply(ctx context.Context, t *Target) error
	Verify(ctx context.Context, t *Target) error
}

// Check is what a phase found.
type Check struct {
	Done bool
	// Changes lists, in the user's terms, what Apply would do
	// ("create VM mt01: 4 vCPU, 6144 MB, ...").
	Changes []string
	// Observed is the current state, for plan output ("disk.EnableUUID=TRUE").
	Observed string
}

// BuildOptions are the choices of a build or plan run.
type BuildOptions struct {
	// AllowPowerOff lets enable-uuid power the VM off when the guest does
	// not shut down through VMware Tools.
	AllowPowerOff bool
	// Fix lets the vm phase reconcile what is safe on an existing VM that
	// differs from the spec.
	Fix bool
	// InstallTimeout bounds the wait for the unattended install
	// (DefaultInstallTimeout when zero).
	InstallTimeout time.Duration
	// ShutdownTimeout bounds the wait for a guest shutdown through VMware
	// Tools before enable-uuid powers the VM off (DefaultShutdownTimeout
	// when zero).
	ShutdownTimeout time.Duration
	// AllowOS lets host preparation run on an OS other than CentOS 6.6.
	AllowOS bool
	// AppliedResolution settles an ApplyCustomChanges.sh run that started
	// and never recorded its end: AppliedMarkDone or AppliedRunAgain.
	AppliedResolution string
	// RebootTimeout bounds the wait for SSH after a reboot.
	RebootTimeout time.Duration
	// FormatWWID is the one way to let the retention phase format a disk
	// that holds data: it must name that disk's WWID.
	FormatWWID string
	// WorkDir holds local artefacts (the MT's seed ISO, its handoff
	// manifest).
	WorkDir string
	// MediaDir holds shared install media, one file per base, for every
	// MT that uses it (<WorkDir>/media when empty; a fleet shares one).
	MediaDir string
	// AllowUnknownBase lets the iso phase remaster a base that is not
	// CentOS 6.6 x86_64.
	AllowUnknownBase bool
	// BreakLock takes the MT's locks (vSphere and guest) even when another
	// run holds them: for a run that died without releasing them. See
	// lock.go.
	BreakLock bool
}

// Target is one MT during a run: its spec, the clients the phases share
// (one vSphere session, one SSH connection) and the facts phases record
// for later ones.
type Target struct {
	Spec *spec.Spec
	// OS is the MT's operating system (cmd/mtprep maps spec.OS to it).
	OS       *guest.OS
	Options  BuildOptions
	Log      *slog.Logger
	Progress progress.Func
	Env      spec.LookupEnv

	// Facts recorded by phases for later phases and the handoff manifest.
	Facts Facts

	// Shared is what the Targets of one fleet run share (one upload of
	// each media file); nil: the Target's own.
	Shared *Shared

	clients clients
	run     runState
}

// clients are the connections one MT's run shares: one vSphere session,
// one SSH connection (every phase reuses them), and what closes them.
type clients struct {
	// closers release the shared clients at the end of the run.
	closers []func() error
	ssh     *guest.Conn
	sshDone []*guest.Conn // every connection of the run, for SSHRoundTrips
	sshErr  error         // a failed dial, remembered while planning
	vs      *vsphere.Session
}

// runState is what the phases of one run learn for each other, typed.
type runState struct {
	// planning is set by Plan: a failed SSH dial is remembered (sshErr)
	// and not tried again by the next guest phase's Check.
	planning bool
	// osRelease is the MT's release line, read once per run (CheckOS).
	osRelease string
	isos      map[string]*localISO // local ISOs' hashes, computed once per run
	// locks are the MT's locks this run holds (lock.go).
	locks locks
	// checked is what a phase's Check read, for its Apply right after
	// (runPhase calls them back to back): saves reading it again.
	checked checked
}

// checked holds, per phase that keeps one, what its Check read; Apply
// takes it (once) with take.
type checked struct {
	vm         *vmCheck
	enableUUID *vsphere.VM
	install    *installState
	upload     map[string]uploadState
}

// take returns *p and clears it: a Check's reading is good for the Apply
// right after it, never for a later one.
func take[T any](p *T) T {
	v := *p
	var zero T
	*p = zero
	return v
}

// Facts are what phases learn and later phases need.
type Facts struct {
	ISOLocal      string            `json:"isoLocal,omitempty"`          // the shared install media
	ISODatastore  string            `json:"isoDatastorePath,omitempty"`  // "[LocalDS_0] mtprep-iso/<sha>.iso"
	SeedLocal     string            `json:"seedLocal,omitempty"`         // the MT's seed ISO (its kickstart)
	SeedDatastore string            `json:"seedDatastorePath,omitempty"` // "[LocalDS_0] mtprep-iso/seeds/mt01-<sha>.iso"
	VMMoRef       string            `json:"vmMoRef,omitempty"`
	ESXiHost      string            `json:"esxiHost,omitempty"`
	DiskUUIDs     map[string]string `json:"diskUUIDs,omitempty"` // role ("os", "retention") -> vSphere UUID
	PhaseNotes    map[string]string `json:"phases,omitempty"`    // phase -> what it did
	// RetentionScan is the full read of the retention disk this run did
	// right before formatting it (nil: none this run).
	RetentionScan *RetentionScanRecord `json:"retentionScan,omitempty"`
}

// OnClose registers a release function run by Close, last in first out.
func (t *Target) OnClose(f func() error) { t.clients.closers = append(t.clients.closers, f) }

// Close releases what the phases opened.
func (t *Target) Close() error {
	var errs []error
	for i := len(t.clients.closers) - 1; i >= 0; i-- {
		errs = append(errs, t.clients.closers[i]())
	}
	t.clients.closers = nil
	return errors.Join(errs...)
}

// Note records what a phase did, for the handoff manifest.
func (t *Target) Note(phase, what string) {
	if t.Facts.PhaseNotes == nil {
		t.Facts.PhaseNotes = map[string]string{}
	}
	t.Facts.PhaseNotes[phase] = what
}

// Status of a phase in a run.
type Status string

const (
	StatusDone        Status = "done"         // already true; nothing changed
	StatusChanged     Status = "changed"      // applied and verified
	StatusWouldChange Status = "would-change" // plan: Apply would run
	StatusFailed      Status = "failed"
	StatusSkipped     Status = "skipped" // not reached after a failure
	// StatusNotApplicable is a phase with nothing to do on this OS (no
	// ApplyCustomChanges.sh on Windows): neither done nor changed.
	StatusNotApplicable Status = "n/a"
)

// Result is one phase's outcome, for the summary and --format json.
type Result struct {
	Phase    string        `json:"phase"`
	Status   Status        `json:"status"`
	Changes  []string      `json:"changes,omitempty"`
	Observed string        `json:"observed,omitempty"`
	Duration time.Duration `json:"durationNs"`
	Error    string        `json:"error,omitempty"`
}

// PhaseError names the phase and the MT an error belongs to.
type PhaseError struct {
	Phase, MT string
	Err       error
}

func (e *PhaseError) Error() string { return fmt.Sprintf("%s: phase %s: %v", e.MT, e.Phase, e.Err) }
func (e *PhaseError) Unwrap() error { return e.Err }

// Select returns the phases named in names (comma-separated, as given to
// --phases), in the registry's order; empty means all. Unknown names are
// an error listing the known ones.
func Select(all []Phase, names string) ([]Phase, error) {
	if strings.TrimSpace(names) == "" {
		return all, nil
	}
	known := make([]string, len(all))
	for i, p := range all {
		known[i] = p.Name()
	}
	want := map[string]bool{}
	for _, n := range strings.Split(names, ",") {
		n = strings.TrimSpace(n)
		if !slices.Contains(known, n) {
			return nil, fmt.Errorf("unknown phase %q: phases are %s", n, strings.Join(known, ","))
		}
		want[n] = true
	}
	var out []Phase
	for _, p := range all {
		if want[p.Name()] {
			out = append(out, p)
		}
	}
	return out, nil
}

// Plan runs every phase's Check and nothing else. Once a phase would
// change something, a later phase whose Check fails (the guest phases of a
// VM not installed yet cannot reach it) is listed as would-change with the
// reason rather than ending the plan; bad input still does.
func Plan(ctx context.Context, t *Target, phases []Phase) ([]Result, error) {
	t.run.planning = true
	defer func() { t.run.planning, t.clients.sshErr = false, nil }()
	if err := Preflight(ctx, t); err != nil {
		return nil, err
	}
	var out []Result
	pending, installing := false, false
	for _, p := range phases {
		start := time.Now()
		// The MT is not installed yet: its guest phases cannot be checked
		// (no SSH, or another system answering there); say what they will
		// do on a fresh MT instead of an SSH error.
		if why := notOn(p, t); why != "" {
			out = append(out, Result{Phase: p.Name(), Status: StatusNotApplicable, Observed: why})
			continue
		}
		if gp, ok := p.(guestPhase); ok && installing {
			out = append(out, Result{Phase: p.Name(), Status: StatusWouldChange, Changes: gp.OnFreshMT(t),
				Observed: "not checked: the install phase installs the MT first"})
			continue
		}
		c, err := p.Check(ctx, t)
		r := Result{Phase: p.Name(), Changes: c.Changes, Observed: c.Observed, Duration: time.Since(start)}
		var ie *spec.InputError
		var ies spec.InputErrors
		switch {
		case err != nil && pending && ctx.Err() == nil && !errors.As(err, &ie) && !errors.As(err, &ies):
			r.Status = StatusWouldChange
			r.Observed = "not checked until the phases above have run: " + err.Error()
		case err != nil:
			r.Status, r.Error = StatusFailed, err.Error()
			out = append(out, r)
			return out, &PhaseError{Phase: p.Name(), MT: t.Spec.Name, Err: err}
		case c.Done:
			r.Status = StatusDone
		default:
			r.Status = StatusWouldChange
			pending = true
			_, isInstall := p.(installsMT)
			installing = installing || isInstall
		}
		out = append(out, r)
	}
	return out, nil
}

// Preflight refuses, before any phase runs and whatever phases are
// selected, what ASR would not accept at the end: today the agent rules
// (agent_rules.go). Its errors are the user's input (exit 2).
func Preflight(ctx context.Context, t *Target) error {
	if err := t.checkAgentRules(ctx); err != nil {
		return fmt.Errorf("%s: before any phase: %w", t.Spec.Name, err)
	}
	return nil
}

// osPhase is a phase that some OS has no part for; NotOn says why it does
// not apply to t's OS ("" when it does).
type osPhase interface {
	NotOn(t *Target) string
}

func notOn(p Phase, t *Target) string {
	if op, ok := p.(osPhase); ok && t.OS != nil {
		return op.NotOn(t)
	}
	return ""
}

// guestPhase is a phase that works on the installed MT over SSH; what it
// does on a freshly installed MT is known without looking.
type guestPhase interface {
	OnFreshMT(t *Target) []string
}

// Build runs check → apply → verify for each phase in order and stops at
// the first failure; the phases after it are reported as skipped. It
// releases the MT's locks (lock.go) before it returns.
func Build(ctx context.Context, t *Target, phases []Phase) ([]Result, error) {
	// The locks end with the build, not with the Target: a caller may
	// keep the Target (its facts) and let another run build the MT next.
	defer func() { _ = t.ReleaseLocks() }()
	if err := Preflight(ctx, t); err != nil {
		return nil, err
	}
	var out []Result
	for i, p := range phases {
		r, err := runPhase(ctx, t, p)
		out = append(out, r)
		if err != nil {
			for _, q := range phases[i+1:] {
				out = append(out, Result{Phase: q.Name(), Status: StatusSkipped})
			}
			return out, &PhaseError{Phase: p.Name(), MT: t.Spec.Name, Err: err}
		}
	}
	return out, nil
}

func runPhase(ctx context.Context, t *Target, p Phase) (Result, error) {
	start := time.Now()
	log := t.Log.With("mt", t.Spec.Name, "phase", p.Name())
	r := Result{Phase: p.Name()}
	fail := func(err error) (Result, error) {
		r.Status, r.Error, r.Duration = StatusFailed, err.Error(), time.Since(start)
		log.Error("phase failed", "err", err)
		return r, err
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if why := notOn(p, t); why != "" {
		r.Status, r.Observed = StatusNotApplicable, why
		log.Info("not on this OS", "why", why)
		return r, nil
	}
	c, err := p.Check(ctx, t)
	if err != nil {
		return fail(fmt.Errorf("check: %w", err))
	}
	r.Observed = c.Observed
	if c.Done {
		r.Status, r.Duration = StatusDone, time.Since(start)
		log.Info("already done, no change", "observed", c.Observed)
		return r, nil
	}
	r.Changes = c.Changes
	for _, ch := range c.Changes {
		log.Info("applying", "change", ch)
	}
	// Only a phase that changes something takes the MT's locks (lock.go).
	if err := t.beforeApply(ctx, p); err != nil {
		return fail(err)
	}
	if err := p.Apply(ctx, t); err != nil {
		return fail(err)
	}
	if err := p.Verify(ctx, t); err != nil {
		return fail(fmt.Errorf("verify: %w", err))
	}
	r.Status, r.Duration = StatusChanged, time.Since(start)
	log.Info("changed and verified", "took", r.Duration.Round(time.Millisecond))
	return r, nil
}

// installsMT marks the phase that installs the OS on the MT: until it has
// run, a plan does not try the guest phases (there is no MT to ask).
type installsMT interface{ installsMT() }

// mediaPhase marks the phases that make and upload the install media:
// they change neither the VM nor the guest, so they take no MT lock.
type mediaPhase interface{ makesMedia() }
