package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/centos"
	"github.com/mtprep/mtprep/internal/lab"
	"github.com/mtprep/mtprep/provision"
	"github.com/mtprep/mtprep/provision/audit"
	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/spec"
)

// labAudit is one lab with its MT (mtlab-g1) prepared, and what the audit
// tests need around it.
type labAudit struct {
	l    *lab.Lab
	g    *lab.Guest
	vm   *object.VirtualMachine
	dir  string
	spec string // the spec file
	env  spec.LookupEnv
}

const labVCPasswordEnv = "MTLAB_AUDIT_VC_PASSWORD"

// labSpecYAML is the spec of the lab's MT: every value from the lab.
func labSpecYAML(l *lab.Lab, g *lab.Guest, name, address string) string {
	return l.SpecYAML(g, name, address, labVCPasswordEnv)
}

func startLabAudit(t *testing.T) *labAudit {
	t.Helper()
	l := lab.Start(t)
	g := l.Guests[0]
	a := &labAudit{l: l, g: g, dir: t.TempDir()}
	a.env = func(k string) (string, bool) {
		if k == labVCPasswordEnv {
			return l.VC.Password, true
		}
		return "", false
	}
	a.spec = filepath.Join(a.dir, "mt.yaml")
	if err := os.WriteFile(a.spec, []byte(labSpecYAML(l, g, g.VMName, g.Address)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	f := find.NewFinder(l.VC.Client().Client, true)
	dc, err := f.Datacenter(ctx, l.VC.Datacenter)
	if err != nil {
		t.Fatal(err)
	}
	f.SetDatacenter(dc)
	if a.vm, err = f.VirtualMachine(ctx, g.VMName); err != nil {
		t.Fatal(err)
	}
	a.prepare(ctx, t)
	return a
}

// prepare makes mtlab-g1 a prepared MT with mtprep's own guest phases
// (the vSphere half is the lab's VM, already shaped like a built MT). The
// lab's VM reports VMware Tools as its guest runs them: the audit's
// vsphere.tools FAILs until the tools phase has installed and started
// them, and PASSes after.
func (a *labAudit) prepare(ctx context.Context, t *testing.T) {
	t.Helper()
	a.build(ctx, t, "packages")
	toolsResult := func() audit.Finding {
		for _, f := range a.audit(ctx, t, audit.Options{}) {
			if f.ID == audit.CheckTools {
				return f
			}
		}
		t.Fatalf("the audit has no %s finding", audit.CheckTools)
		return audit.Finding{}
	}
	if f := toolsResult(); f.Result != audit.Fail {
		t.Fatalf("before the tools phase: %s %s (%s), want FAIL", f.ID, f.Result, f.Reason)
	} else {
		t.Logf("before the tools phase: %s %s: %s", f.ID, f.Result, f.Reason)
	}
	a.build(ctx, t, "tools,agent,retention,handoff")
	if f := toolsResult(); f.Result != audit.Pass {
		t.Fatalf("after the tools phase: %s %s (%s), want PASS", f.ID, f.Result, f.Reason)
	}
}

// build runs the named phases of mtprep on the lab's MT.
func (a *labAudit) build(ctx context.Context, t *testing.T, names string) {
	t.Helper()
	s, err := spec.Load(a.spec)
	if err != nil {
		t.Fatal(err)
	}
	phases, err := provision.Select(provision.Phases(), names)
	if err != nil {
		t.Fatal(err)
	}
	tg := &provision.Target{
		Spec: s, OS: centos.OS(), Env: a.env, Log: slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Options: provision.BuildOptions{WorkDir: filepath.Join(a.dir, "work"), RebootTimeout: 2 * time.Minute},
	}
	tg.Facts.DiskUUIDs = map[string]string{"os": a.g.DiskByRole(lab.RoleOS).UUID, "retention": a.g.DiskByRole(lab.RoleBlank).UUID}
	rs, err := provision.Build(ctx, tg, phases)
	_ = tg.Close()
	var st []string
	for _, r := range rs {
		st = append(st, r.Phase+"="+string(r.Status))
	}
	if err != nil {
		t.Fatalf("preparing %s with mtprep's phases %s: %v (%s)", a.g.VMName, names, err, strings.Join(st, " "))
	}
	t.Logf("prepared %s with mtprep's phases: %s", a.g.VMName, strings.Join(st, " "))
}

func mustReadFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tWriter sends slog lines to the test log.
type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// audit runs the in-process audit on specs (the lab's MT by default).
func (a *labAudit) audit(ctx context.Context, t *testing.T, o audit.Options, specs ...*spec.Spec) []audit.Finding {
	t.Helper()
	if len(specs) == 0 {
		s, err := spec.Load(a.spec)
		if err != nil {
			t.Fatal(err)
		}
		specs = []*spec.Spec{s}
	}
	o.OS = func(string) (*guest.OS, bool) { return centos.OS(), true }
	o.Env = a.env
	fs, _, err := audit.Run(ctx, specs, o)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// documentedWarns are the WARNs docs/AUDIT.md allows on a prepared MT:
// none in the lab.
var documentedWarns = []string{}

// notPassing lists every finding that is not PASS, as "id=RESULT".
func notPassing(fs []audit.Finding) []string {
	var out []string
	for _, f := range fs {
		if f.Result != audit.Pass && !(f.Result == audit.Warn && slices.Contains(documentedWarns, f.ID)) {
			out = append(out, f.ID+"="+f.Result)
		}
	}
	return out
}

func dump(fs []audit.Finding) string {
	var b strings.Builder
	_ = audit.WriteTable(&b, fs, false)
	return b.String()
}

// TestAuditLab: the MT prepared by mtprep's guest phases audits all PASS;
// then each way of breaking it, one at a time, shows as exactly its FAIL,
// and the MT is whole again after each.
func TestAuditLab(t *testing.T) {
	a := startLabAudit(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	g, l := a.g, a.l

	fs := a.audit(ctx, t, audit.Options{})
	if np := notPassing(fs); len(np) > 0 {
		t.Fatalf("prepared MT: not all PASS: %v\n%s", np, dump(fs))
	}
	if n := len(fs); n != len(audit.Checks()) {
		t.Errorf("%d findings, want one per check (%d)", n, len(audit.Checks()))
	}
	t.Logf("prepared MT:\n%s", dump(fs))

	guestRun := func(args ...string) func(t *testing.T) {
		return func(t *testing.T) {
			if out, err := g.Exec(ctx, args...); err != nil {
				t.Fatalf("%v: %s", err, out)
			}
		}
	}
	reconfigure := func(enable string, flag bool) func(t *testing.T) {
		return func(t *testing.T) {
			tk, err := a.vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{
				ExtraConfig: []types.BaseOptionValue{&types.OptionValue{Key: "disk.EnableUUID", Value: enable}},
				Flags:       &types.VirtualMachineFlagInfo{DiskUuidEnabled: types.NewBool(flag)},
			})
			if err == nil {
				err = tk.Wait(ctx)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	// The simulator's VM object, edited in place: vSphere would need the
	// VM powered off to change a controller's type; the audit only reads.
	switchController := func(pvscsi bool) func(t *testing.T) {
		return func(t *testing.T) {
			sctx := l.VC.Model.Service.Context
			obj := sctx.Map.Get(a.vm.Reference()).(*simulator.VirtualMachine)
			sctx.WithLock(obj, func() {
				devs := obj.Config.Hardware.Device
				for i, d := range devs {
					switch c := d.(type) {
					case *types.VirtualLsiLogicController:
						if pvscsi {
							devs[i] = &types.ParaVirtualSCSIController{VirtualSCSIController: c.VirtualSCSIController}
						}
					case *types.ParaVirtualSCSIController:
						if !pvscsi {
							devs[i] = &types.VirtualLsiLogicController{VirtualSCSIController: c.VirtualSCSIController}
						}
					}
				}
			})
		}
	}
	wgetRPM := "/var/tmp/" + filepath.Base(l.RPMs["wget"])
	cases := []struct {
		name           string
		breakIt, mend  func(t *testing.T)
		fail           string
		unknownAllowed []string // checks that cannot be judged while it is broken
	}{
		{"EnableUUID removed", reconfigure("", false), reconfigure("TRUE", true), audit.CheckEnableUUID, nil},
		{"snapshot", func(t *testing.T) {
			tk, err := a.vm.CreateSnapshot(ctx, "before-patching", "", false, false)
			if err == nil {
				err = tk.Wait(ctx)
			}
			if err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T) {
			tk, err := a.vm.RemoveAllSnapshot(ctx, nil)
			if err == nil {
				err = tk.Wait(ctx)
			}
			if err != nil {
				t.Fatal(err)
			}
		}, audit.CheckSnapshots, nil},
		{"controller Paravirtual", switchController(true), switchController(false), audit.CheckController, nil},
		{"retention unmounted", guestRun("umount", "/mnt/retention"), guestRun("mount", "/mnt/retention"), audit.CheckRetMounted,
			[]string{audit.CheckRetFilesystem, audit.CheckRetFree, audit.CheckRetWWID}},
		{"multipathd stopped", guestRun("service", "multipathd", "stop"), guestRun("service", "multipathd", "start"), audit.CheckMultipathd, nil},
		// vSphere sees the guest's Tools stop (the lab's stand-in watches
		// vmtoolsd): the wait is for that, bounded by the test's context.
		{"VMware Tools stopped", func(t *testing.T) {
			guestRun("service", "vmtoolsd", "stop")(t)
			if _, err := l.WaitTools(ctx, a.vm, false); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T) {
			guestRun("service", "vmtoolsd", "start")(t)
			if _, err := l.WaitTools(ctx, a.vm, true); err != nil {
				t.Fatal(err)
			}
		}, audit.CheckTools, nil},
		{"package removed", guestRun("rpm", "-e", "--nodeps", "wget"), func(t *testing.T) {
			b, err := os.ReadFile(l.RPMs["wget"])
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(g.Path(wgetRPM), b, 0o644); err != nil {
				t.Fatal(err)
			}
			guestRun("rpm", "-i", wgetRPM)(t)
		}, audit.CheckPackages, nil},
		{"configuration server unreachable", func(t *testing.T) {
			if err := l.ConfigServer.Stop(); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T) {
			if err := l.ConfigServer.Start(); err != nil {
				t.Fatal(err)
			}
		}, audit.CheckConfigServer, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.breakIt(t)
			mended := false
			mend := func() {
				if !mended {
					mended = true
					c.mend(t)
				}
			}
			defer mend()
			fs := a.audit(ctx, t, audit.Options{})
			var fails, others []string
			for _, f := range fs {
				switch {
				case f.Result == audit.Fail:
					fails = append(fails, f.ID)
				case f.Result == audit.Unknown && slices.Contains(c.unknownAllowed, f.ID):
				case f.Result != audit.Pass:
					others = append(others, f.ID+"="+f.Result)
				}
			}
			if !slices.Equal(fails, []string{c.fail}) || len(others) > 0 {
				t.Errorf("FAIL %v (want exactly %s), other results %v\n%s", fails, c.fail, others, dump(fs))
			}
			for _, f := range fs {
				if f.ID == c.fail {
					t.Logf("%s %s: %s (fix: %s)", f.ID, f.Result, f.Reason, f.Fix)
				}
			}
			mend()
			if np := notPassing(a.audit(ctx, t, audit.Options{})); len(np) > 0 {
				t.Fatalf("after mending %q the MT is not all PASS: %v", c.name, np)
			}
		})
	}

	t.Run("unreachable host", func(t *testing.T) {
		// A second MT in vCenter whose address nothing answers on: it
		// fails reachability, its guest checks are UNKNOWN, and the good
		// MT beside it is still audited in full.
		if _, err := l.CreateVM(ctx, lab.VMSpec{Name: "mtlab-ghost", PowerOn: true, Guest: g,
			Disks: []lab.VMDisk{{CapacityKB: 1 << 20}, {CapacityKB: 1 << 20}}}); err != nil {
			t.Fatal(err)
		}
		good, err := spec.Load(a.spec)
		if err != nil {
			t.Fatal(err)
		}
		ghostAddr := strings.TrimSuffix(g.Address, ".11") + ".199"
		ghostFile := filepath.Join(a.dir, "ghost.yaml")
		if err := os.WriteFile(ghostFile, []byte(labSpecYAML(l, g, "mtlab-ghost", ghostAddr)), 0o644); err != nil {
			t.Fatal(err)
		}
		ghost, err := spec.Load(ghostFile)
		if err != nil {
			t.Fatal(err)
		}
		ghost.Network.Hostname = "ghost." + lab.Domain
		fs := a.audit(ctx, t, audit.Options{HostTimeout: 10 * time.Second}, ghost, good)
		by := map[string][]audit.Finding{}
		for _, f := range fs {
			by[f.Host] = append(by[f.Host], f)
		}
		if np := notPassing(by[good.Name]); len(np) > 0 || len(by[good.Name]) != len(audit.Checks()) {
			t.Errorf("the good MT beside an unreachable one: %v\n%s", np, dump(by[good.Name]))
		}
		for _, f := range by[ghost.Name] {
			want := audit.Pass
			switch {
			case f.ID == audit.CheckReachable:
				want = audit.Fail
			case strings.HasPrefix(f.ID, "guest."):
				want = audit.Unknown
			}
			if f.Result != want {
				t.Errorf("%s %s: %s, want %s (%s)", ghost.Name, f.ID, f.Result, want, f.Reason)
			}
		}
		if len(by[ghost.Name]) != len(audit.Checks()) {
			t.Errorf("unreachable MT: %d findings, want %d", len(by[ghost.Name]), len(audit.Checks()))
		}
		t.Logf("unreachable MT:\n%s", dump(by[ghost.Name]))
	})

	t.Run("CLI", func(t *testing.T) { a.testCLI(ctx, t) })
}

// testCLI runs the real binary: JSON and JUnit on the good MT (exit 0),
// JSON with the configuration server down (exit 1), bad input (exit 2).
func (a *labAudit) testCLI(ctx context.Context, t *testing.T) {
	bin := filepath.Join(a.dir, "mtprep")
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	build := exec.CommandContext(ctx, goBin, "build", "-o", bin, "./cmd/mtprep")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := func(args ...string) ([]byte, int) {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = append(os.Environ(), labVCPasswordEnv+"="+a.l.VC.Password)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		t.Logf("mtprep %s: exit %d; stderr: %s", strings.Join(args, " "), code, strings.TrimSpace(stderr.String()))
		return stdout.Bytes(), code
	}
	decode := func(b []byte) audit.Report {
		var r audit.Report
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("JSON report: %v\n%s", err, b)
		}
		if r.Schema != audit.Schema || len(r.Findings) != len(audit.Checks()) {
			t.Errorf("JSON report: schema %q, %d findings", r.Schema, len(r.Findings))
		}
		return r
	}

	out, code := run("audit", "--spec", a.spec, "--format", "json")
	if r := decode(out); code != 0 || r.Summary[audit.Fail] != 0 || r.Summary[audit.Pass] != len(audit.Checks()) {
		t.Errorf("good MT: exit %d, summary %v", code, r.Summary)
	}
	out, code = run("audit", "--spec", a.spec, "--format", "junit")
	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
	}
	if err := xml.Unmarshal(out, &suites); err != nil || code != 0 || suites.Failures != 0 || suites.Tests != len(audit.Checks()) {
		t.Errorf("JUnit: exit %d, %+v, %v\n%s", code, suites, err, out)
	}

	if err := a.l.ConfigServer.Stop(); err != nil {
		t.Fatal(err)
	}
	out, code = run("audit", "--spec", a.spec, "--format", "json")
	if err := a.l.ConfigServer.Start(); err != nil {
		t.Fatal(err)
	}
	r := decode(out)
	var fails []string
	for _, f := range r.Findings {
		if f.Result == audit.Fail {
			fails = append(fails, f.ID)
		}
	}
	if code != 1 || !slices.Equal(fails, []string{audit.CheckConfigServer}) {
		t.Errorf("configuration server down: exit %d, FAIL %v", code, fails)
	}

	// The fleet form, with the unreachable MT of the test before beside
	// the good one: exit 1, one failure, its 12 guest checks skipped.
	var inv strings.Builder
	inv.WriteString("defaults:\n")
	for _, line := range strings.Split(strings.TrimSpace(string(mustReadFile(t, a.spec))), "\n") {
		inv.WriteString("  " + line + "\n")
	}
	ghostAddr := strings.TrimSuffix(a.g.Address, ".11") + ".199"
	fmt.Fprintf(&inv, "targets:\n  - name: %s\n  - name: mtlab-ghost\n    network: {hostname: ghost.%s, ip: %s/24}\n    ssh: {address: %s}\n", a.g.VMName, lab.Domain, ghostAddr, ghostAddr)
	invFile := filepath.Join(a.dir, "fleet.yaml")
	if err := os.WriteFile(invFile, []byte(inv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = run("audit", "--inventory", invFile, "--format", "junit", "--host-timeout", "20s")
	var fleet struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Name    string `xml:"name,attr"`
			Skipped int    `xml:"skipped,attr"`
		} `xml:"testsuite"`
	}
	guestChecks := 0
	for _, c := range audit.Checks() {
		if strings.HasPrefix(c.ID, "guest.") {
			guestChecks++
		}
	}
	if err := xml.Unmarshal(out, &fleet); err != nil || code != 1 || fleet.Failures != 1 || fleet.Tests != 2*len(audit.Checks()) ||
		len(fleet.Suites) != 2 || fleet.Suites[1].Skipped != guestChecks-1 {
		t.Errorf("fleet JUnit: exit %d, %+v, %v\n%s", code, fleet, err, out)
	}

	if _, code = run("audit", "--spec", a.spec, "--format", "xml"); code != 2 {
		t.Errorf("--format xml: exit %d, want 2", code)
	}
	bad := filepath.Join(a.dir, "bad.yaml")
	spec_, _ := os.ReadFile(a.spec)
	if err := os.WriteFile(bad, bytes.Replace(spec_, []byte("version: 9.3.0.0"), []byte("version: nine"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, code = run("audit", "--spec", bad); code != 2 {
		t.Errorf("bad spec: exit %d, want 2", code)
	}
}
