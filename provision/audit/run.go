package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/spec"
	"github.com/mtprep/mtprep/provision/vsphere"
)

// Default bounds of an audit run.
const (
	DefaultConcurrency    = 8
	DefaultHostTimeout    = 2 * time.Minute
	DefaultVSphereTimeout = 5 * time.Minute
)

// Options are the choices of one audit run.
type Options struct {
	// Concurrency bounds the MTs probed over SSH at once.
	Concurrency int
	// HostTimeout bounds one MT's guest probe (connect + script), so a
	// slow or black-holed MT costs at most this, whatever the others do.
	HostTimeout time.Duration
	// VSphereTimeout bounds one vCenter's part (login, retrieval,
	// queries), which runs alongside the guest probes.
	VSphereTimeout time.Duration
	Env            spec.LookupEnv
	Log            *slog.Logger
	// SkipVSphere audits only the guests (no vCenter reachable).
	SkipVSphere bool
	// OS finds each MT's OS (its probe and shell).
	OS guest.Lookup
}

// Stats are the run's cost, for the benchmark and the debug log.
type Stats struct {
	VSphereRoundTrips int64
	SSHSessions       int
}

// Run checks every MT read-only: the vSphere facts for all of them with
// one retrieval per vCenter, and at the same time one probe script per MT
// over one SSH session, in parallel up to Concurrency. It changes nothing.
// Each vCenter and each MT has its own deadline, so one slow host only
// delays its own findings. A host that cannot be reached gives FAIL for
// reachability and UNKNOWN for its other checks; every MT gets every
// check either way. The error is only the context's, when the run was
// cancelled (the findings are then partial).
func Run(ctx context.Context, specs []*spec.Spec, o Options) ([]Finding, Stats, error) {
	if o.Concurrency < 1 {
		o.Concurrency = DefaultConcurrency
	}
	if o.HostTimeout <= 0 {
		o.HostTimeout = DefaultHostTimeout
	}
	if o.VSphereTimeout <= 0 {
		o.VSphereTimeout = DefaultVSphereTimeout
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	var (
		mu       sync.Mutex
		stats    Stats
		vsByHost = map[string][]Finding{}
		disks    = map[string][]VMDiskInfo{}
		probes   = make([]probeResult, len(specs))
		wg       sync.WaitGroup
	)

	if !o.SkipVSphere {
		for _, g := range vcenterGroups(specs) {
			wg.Go(func() {
				start := time.Now()
				vctx, cancel := context.WithTimeout(ctx, o.VSphereTimeout)
				defer cancel()
				va, err := VSphereFor(vctx, g, o.Env, o.OS)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					if deadlinePassed(vctx) && ctx.Err() == nil {
						err = fmt.Errorf("no answer within %s: %w", o.VSphereTimeout, err)
					}
					o.Log.Warn("vSphere part of the audit failed", "url", vsphere.RedactURL(g[0].VSphere.URL), "err", err)
					for _, s := range g {
						vsByHost[s.Name] = vsphereUnreachable(s.Name, err)
					}
					return
				}
				o.Log.Debug("vSphere audited", "url", vsphere.RedactURL(g[0].VSphere.URL), "mts", len(g), "round_trips", va.RoundTrips, "calls", va.Calls, "took", time.Since(start).Round(time.Millisecond))
				stats.VSphereRoundTrips += va.RoundTrips
				for _, f := range va.Findings {
					vsByHost[f.Host] = append(vsByHost[f.Host], f)
				}
				for n, d := range va.VMDisks {
					disks[n] = d
				}
			})
		}
	}

	sem := make(chan struct{}, o.Concurrency)
	for i, s := range specs {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			probes[i] = probeResult{err: ctx.Err()}
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			probes[i] = probeGuest(ctx, s, o)
			if probes[i].session {
				mu.Lock()
				stats.SSHSessions++
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	// Assemble in the specs' order: the vSphere checks, then the guest's,
	// which compare the retention volume with the VM's disks.
	var out []Finding
	for i, s := range specs {
		out = append(out, vsByHost[s.Name]...)
		if p := probes[i]; p.err != nil {
			out = append(out, UnreachableFindings(s.Name, p.err)...)
		} else {
			out = append(out, p.reach)
			out = append(out, GuestFindings(s, p.probe, GuestContext{VMDisks: disks[s.Name], Release: p.release, Packages: p.packages})...)
		}
	}
	return out, stats, ctx.Err()
}

// vcenterGroups splits specs by vCenter and account, keeping their order:
// one login and one retrieval serve every MT of a group.
func vcenterGroups(specs []*spec.Spec) [][]*spec.Spec {
	idx := map[string]int{}
	var out [][]*spec.Spec
	for _, s := range specs {
		k := s.VSphere.URL + "\x00" + s.VSphere.Username + "\x00" + s.Audit.VCenterAccount
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, nil)
		}
		out[i] = append(out[i], s)
	}
	return out
}

// vsphereUnreachable is the vSphere part of the report when vCenter could
// not be read: FAIL for reachability, UNKNOWN for the rest.
func vsphereUnreachable(host string, err error) []Finding {
	out := []Finding{{Host: host, ID: CheckVSphereReachable, Result: Fail, Reason: oneLine(err.Error()), Fix: "check vsphere.url, the credentials, the certificate settings and that vCenter answers"}}
	for _, id := range checkIDs(vsphereChecks())[1:] {
		out = append(out, Finding{Host: host, ID: id, Result: Unknown, Reason: "vSphere could not be read", Fix: "fix " + CheckVSphereReachable + " first"})
	}
	return out
}

// deadlinePassed says whether ctx ended or its deadline is behind us: a
// net deadline (the SSH handshake's) can fire before the context's timer
// has run on a loaded machine, and the error must still say "timed out".
func deadlinePassed(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl)
}

type probeResult struct {
	probe    Probe
	release  guest.Release
	packages guest.Packages
	reach    Finding
	err      error
	session  bool // an SSH session was opened
}

func probeGuest(ctx context.Context, s *spec.Spec, o Options) probeResult {
	start := time.Now()
	pctx, cancel := context.WithTimeout(ctx, o.HostTimeout)
	defer cancel()
	timedOut := func(err error) error {
		if deadlinePassed(pctx) && ctx.Err() == nil {
			return fmt.Errorf("no answer within %s (--host-timeout): %w", o.HostTimeout, err)
		}
		return err
	}
	osys, ok := lookupOS(o.OS, s.OS)
	if !ok || osys.Shell == nil || osys.Probe == nil {
		return probeResult{err: fmt.Errorf("no probe for os %q", s.OS)}
	}
	cfg := guest.ConfigFor(s, osys.Shell, o.Env, o.Log)
	cfg.DialTimeout = min(o.HostTimeout, 20*time.Second)
	c, err := guest.Dial(pctx, cfg)
	if err != nil {
		o.Log.Warn("MT not reachable", "mt", s.Name, "err", err)
		return probeResult{err: timedOut(err)}
	}
	defer c.Close()
	out, err := osys.Probe.Run(pctx, c, guest.ProbeArgs{Hostname: s.Network.Hostname, Mountpoint: s.Retention.Mountpoint, CSIP: s.ConfigServer.IP, CSPort: s.ConfigServer.Port})
	if err != nil {
		var ce *guest.CommandError
		if errors.As(err, &ce) {
			err = fmt.Errorf("the probe failed on the MT: %w", err)
		}
		o.Log.Warn("probe failed", "mt", s.Name, "err", err)
		return probeResult{err: timedOut(err), session: true}
	}
	o.Log.Debug("MT probed", "mt", s.Name, "took", time.Since(start).Round(time.Millisecond))
	reach := Finding{Host: s.Name, ID: CheckReachable, Result: Pass, Reason: fmt.Sprintf("SSH %s@%s:%d (host key %s)", s.SSH.User, s.SSH.Address, s.SSH.Port, guest.Fingerprint(c.HostKey()))}
	return probeResult{probe: ParseProbe(out), release: osys.Release, packages: osys.Packages, reach: reach, session: true}
}

// lookupOS is l(name), false when there is no lookup.
func lookupOS(l guest.Lookup, name string) (*guest.OS, bool) {
	if l == nil {
		return nil, false
	}
	return l(name)
}
