package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mtprep/mtprep/internal/lab"
	"github.com/mtprep/mtprep/provision"
	"github.com/mtprep/mtprep/provision/audit"
)

// TestBuildUbuntu: the whole `mtprep build` of an Ubuntu 16.04 MT in the
// lab (os: ubuntu-16.04; the Ubuntu base stand-in remastered into shared
// media with the generic preseed, the MT's preseed on its seed; the lab's
// install stand-in applies the preseed to an Ubuntu-flavoured guest; the
// guest phases run against the host's real dpkg and apt on the guest's
// own package database). A second build changes nothing; the audit is
// clean; the kernel packages are held.
func TestBuildUbuntu(t *testing.T) {
	l := lab.StartWith(t, lab.Options{Flavour: lab.FlavourUbuntu})
	g := l.Guests[0]
	w := watch(t, l, g)
	m := newMT(t, l, g, mtOptions{agent: l.UbuntuAgentTarball, thumbprint: true, ubuntu: true})
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	sampler := sampleArgv(ctx, g)
	r1 := m.mtprep(t, ctx, m.buildArgs()...)
	m.checkArgv(t, sampler)
	if r1.code != 0 || !r1.report.OK {
		t.Fatalf("first build failed:\n%s\nwatcher: %v", r1, w.Err())
	}
	for _, p := range r1.report.Phases {
		if p.Status != provision.StatusChanged {
			t.Errorf("first build: phase %s is %s, want changed (%s)", p.Phase, p.Status, p.Error)
		}
	}
	if reps := w.Reports(); len(reps) != 1 {
		t.Errorf("the install stand-in ran %d times, want 1", len(reps))
	}
	h := readHandoff(t, m)
	if out, err := g.Exec(ctx, "findmnt", "-n", "-o", "SOURCE", "/mnt/retention"); err != nil || strings.TrimSpace(string(out)) != "/dev/mapper/"+h.Retention.WWID {
		t.Errorf("/mnt/retention: %q %v", out, err)
	}
	if n, err := countLines(ctx, g, "/var/lib/mtlab/applycustomchanges.count"); err != nil || n != 1 {
		t.Errorf("ApplyCustomChanges.sh ran %d times (%v), want 1", n, err)
	}
	if out, err := g.Exec(ctx, "apt-mark", "showhold"); err != nil || !strings.Contains(string(out), "linux-image-") {
		t.Errorf("kernel packages not held: %q %v", out, err)
	}
	if !strings.HasPrefix(h.AgentVersion, "9.10") {
		t.Errorf("handoff agent version %q, want the 9.10 Ubuntu stand-in", h.AgentVersion)
	}

	tasks := vcsimTasks(l)
	before := guestState(t, ctx, g)
	r2 := m.mtprep(t, ctx, m.buildArgs()...)
	if r2.code != 0 {
		t.Fatalf("second build failed:\n%s", r2)
	}
	for _, p := range r2.report.Phases {
		if p.Status != provision.StatusDone {
			t.Errorf("second build: phase %s is %s, want done", p.Phase, p.Status)
		}
	}
	if n := vcsimTasks(l); n != tasks {
		t.Errorf("second build created %d vSphere tasks", n-tasks)
	}
	if after := guestState(t, ctx, g); after != before {
		t.Errorf("second build changed the guest:\n%s", diff(before, after))
	}

	ar := m.mtprep(t, ctx, "audit", "--spec", m.spec, "--format", "json")
	var rep audit.Report
	if err := json.Unmarshal([]byte(ar.stdout), &rep); err != nil {
		t.Fatalf("audit: %v\n%s", err, ar)
	}
	for _, f := range rep.Findings {
		switch f.Result {
		case audit.Fail:
			t.Errorf("audit FAIL %s: %s (fix: %s)", f.ID, f.Reason, f.Fix)
		case audit.Pass:
		default:
			t.Logf("audit %s %s: %s", f.Result, f.ID, f.Reason)
		}
	}
	for _, r := range []*run{r1, r2, ar} {
		m.checkNoSecret(t, "mtprep's stdout", r.stdout)
		m.checkNoSecret(t, "mtprep's stderr", r.stderr)
	}
}
