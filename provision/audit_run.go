package provision

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/mtprep/mtprep/packages"
	"github.com/mtprep/mtprep/scripts"
)

// AuditOptions are the choices of one audit run.
type AuditOptions struct {
	Concurrency int
	// HostTimeout bounds one MT's guest probe (connect + script), so a
	// slow host never holds up the report.
	HostTimeout time.Duration
	Env         LookupEnv
	Log         *slog.Logger
	// SkipVSphere audits only the guests (no vCenter reachable).
	SkipVSphere bool
}

// AuditStats are the run's cost, for the benchmark and --format json.
type AuditStats struct {
	VSphereRoundTrips int64
	SSHSessions       int
}

// Audit checks every MT read-only: the vSphere facts for all of them with
// one retrieval per vCenter, then one probe script per MT over one SSH
// session, in parallel up to Concurrency. It changes nothing. A host that
// cannot be reached gives FAIL for reachability and UNKNOWN for its guest
// checks; the report is complete either way.
func Audit(ctx context.Context, specs []*Spec, o AuditOptions) ([]Finding, AuditStats, error) {
	if o.Concurrency < 1 {
		o.Concurrency = 8
	}
	if o.HostTimeout == 0 {
		o.HostTimeout = 2 * time.Minute
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	var stats AuditStats
	byHost := map[string][]Finding{}
	retention := map[string]string{}
	if !o.SkipVSphere {
		groups := map[string][]*Spec{}
		var order []string
		for _, s := range specs {
			k := s.VSphere.URL + "|" + s.VSphere.Username
			if _, ok := groups[k]; !ok {
				order = append(order, k)
			}
			groups[k] = append(groups[k], s)
		}
		for _, k := range order {
			g := groups[k]
			va, err := AuditVSphere(ctx, g, o.Env)
			if err != nil {
				for _, s := range g {
					byHost[s.Name] = append(byHost[s.Name], Finding{Host: s.Name, ID: "vsphere.reachable", Result: Fail, Reason: err.Error(), Fix: "check vsphere.url, the credentials and the certificate settings"})
				}
				continue
			}
			stats.VSphereRoundTrips += va.RoundTrips
			for _, f := range va.Findings {
				byHost[f.Host] = append(byHost[f.Host], f)
			}
			for n, u := range va.RetentionUUID {
				retention[n] = u
			}
		}
	}

	var mu sync.Mutex
	sem := make(chan struct{}, o.Concurrency)
	var wg sync.WaitGroup
	for _, s := range specs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fs, ok := probeGuest(ctx, s, o, AuditContext{RetentionUUID: retention[s.Name]})
			mu.Lock()
			byHost[s.Name] = append(byHost[s.Name], fs...)
			if ok {
				stats.SSHSessions++
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	var out []Finding
	for _, s := range specs {
		out = append(out, byHost[s.Name]...)
	}
	return out, stats, nil
}

func probeGuest(ctx context.Context, s *Spec, o AuditOptions, ac AuditContext) ([]Finding, bool) {
	ctx, cancel := context.WithTimeout(ctx, o.HostTimeout)
	defer cancel()
	cfg := s.SSHConfig(o.Env, o.Log)
	cfg.DialTimeout = min(o.HostTimeout, 20*time.Second)
	c, err := DialSSH(ctx, cfg)
	if err != nil {
		return UnreachableFindings(s.Name, err), false
	}
	defer c.Close()
	args := append([]string{s.Network.Hostname, s.Retention.Mountpoint, s.ConfigServer.IP, strconv.Itoa(s.ConfigServer.Port)}, packages.Names(packages.Required())...)
	out, err := c.Script(ctx, scripts.AuditProbe, nil, args...)
	if err != nil {
		return UnreachableFindings(s.Name, fmt.Errorf("probe: %w", err)), true
	}
	reach := Finding{Host: s.Name, ID: "guest.reachable", Result: Pass, Reason: fmt.Sprintf("SSH %s@%s (host key %s)", s.SSH.User, s.SSH.Address, fingerprint(c.HostKey()))}
	return append([]Finding{reach}, GuestFindings(s, ParseProbe(string(out)), ac)...), true
}
