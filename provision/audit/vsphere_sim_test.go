package audit_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/centos"
	"github.com/mtprep/mtprep/provision"
	"github.com/mtprep/mtprep/provision/audit"
	"github.com/mtprep/mtprep/provision/spec"
	"github.com/mtprep/mtprep/provision/spec/spectest"
)

// The helpers below are provision's own test helpers (vsphere_test.go),
// trimmed: this test builds its MT through provision's phases.

const testVCPassword = "pass"

// sim is an in-process vCenter (govmomi's simulator) and a client of the
// test's own, for changing the VM behind mtprep's back.
type sim struct {
	model *simulator.Model
	srv   *simulator.Server
	c     *vim25.Client
}

func newSim(t *testing.T) *sim {
	t.Helper()
	m := simulator.VPX()
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	m.Service.TLS = new(tls.Config)
	m.Service.Listen = &url.URL{User: url.UserPassword("user", testVCPassword)}
	srv := m.Service.NewServer()
	t.Cleanup(func() { srv.Close(); m.Remove() })
	c, err := govmomi.NewClient(context.Background(), srv.URL, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Logout(context.Background()) })
	return &sim{model: m, srv: srv, c: c.Client}
}

// simTarget is a Target for mt01 on the simulator, with small random
// files as its media and seed (the vSphere phases only move and attach
// them).
func simTarget(t *testing.T, s *sim) *provision.Target {
	t.Helper()
	sp, err := spec.Parse(filepath.Join(t.TempDir(), "mt01.yaml"), []byte(spectest.Valid))
	if err != nil {
		t.Fatal(err)
	}
	u := *s.srv.URL
	u.User = nil
	sp.VSphere.URL = u.String()
	sp.VSphere.Username = "user"
	sp.VSphere.Password = spec.Secret{Env: "TEST_VC_PASSWORD"}
	sp.VSphere.Insecure = true
	sp.VSphere.Cluster = "DC0_C0"
	iso := filepath.Join(t.TempDir(), "media.iso")
	seed := filepath.Join(t.TempDir(), "mt01-seed.iso")
	for _, f := range []struct {
		path string
		size int
	}{{iso, 1<<20 + 123}, {seed, 64 << 10}} {
		b := make([]byte, f.size)
		_, _ = rand.Read(b)
		if err := os.WriteFile(f.path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := func(k string) (string, bool) {
		if k == "TEST_VC_PASSWORD" {
			return testVCPassword, true
		}
		return "", false
	}
	tg := &provision.Target{
		Spec: sp, OS: centos.OS(), Env: env, Log: slog.New(slog.DiscardHandler),
		Options: provision.BuildOptions{WorkDir: t.TempDir(), InstallTimeout: 30 * 1e9},
	}
	tg.Facts.ISOLocal, tg.Facts.SeedLocal = iso, seed
	t.Cleanup(func() { _ = tg.Close() })
	return tg
}

func vspherePhases(t *testing.T, names string) []provision.Phase {
	t.Helper()
	ps, err := provision.Select(provision.Phases(), names)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func statuses(rs []provision.Result) string {
	var l []string
	for _, r := range rs {
		l = append(l, r.Phase+"="+string(r.Status))
	}
	return strings.Join(l, " ")
}

// TestAuditVSphereOnAnMT builds an MT-shaped VM in the simulator and
// breaks it the ways the lab test does, through vSphere's own API.
func TestAuditVSphereOnAnMT(t *testing.T) {
	ctx := context.Background()
	s := newSim(t)
	tg := simTarget(t, s)
	if rs, err := provision.Build(ctx, tg, vspherePhases(t, "upload,vm,enable-uuid")); err != nil {
		t.Fatalf("%v (%s)", err, statuses(rs))
	}
	tg.Spec.Audit.ProtectedDatastores = []string{"LocalDS_0"}
	f := find.NewFinder(s.c, true)
	dc, err := f.Datacenter(ctx, "DC0")
	if err != nil {
		t.Fatal(err)
	}
	f.SetDatacenter(dc)
	vm, err := f.VirtualMachine(ctx, "mt01")
	if err != nil {
		t.Fatal(err)
	}
	run := func() map[string]audit.Finding {
		t.Helper()
		va, err := audit.VSphere(ctx, []*spec.Spec{tg.Spec}, tg.Env)
		if err != nil {
			t.Fatal(err)
		}
		audit.CheckFindingShape(t, va.Findings)
		out := map[string]audit.Finding{}
		for _, f := range va.Findings {
			out[f.ID] = f
		}
		if d := va.VMDisks["mt01"]; len(d) != 2 || d[0].UUID != tg.Facts.DiskUUIDs["os"] || d[1].UUID != tg.Facts.DiskUUIDs["retention"] {
			t.Errorf("disks %v, facts %v", d, tg.Facts.DiskUUIDs)
		}
		return out
	}
	fails := func(m map[string]audit.Finding) string {
		var out []string
		for _, id := range audit.VSphereCheckIDs() {
			if m[id].Result == audit.Fail {
				out = append(out, id)
			}
		}
		return strings.Join(out, ",")
	}
	// The simulator does not run VMware Tools in a VM it did not boot.
	setTools := func(state string) {
		sctx := s.model.Service.Context
		obj := sctx.Map.Get(vm.Reference()).(*simulator.VirtualMachine)
		sctx.Map.AtomicUpdate(sctx, obj, []types.PropertyChange{{Name: "guest.toolsRunningStatus", Val: state}})
	}
	setTools(string(types.VirtualMachineToolsRunningStatusGuestToolsRunning))
	// vcsim's local datastores say OTHER; the lab's says VMFS, like ESXi's.
	sctx := s.model.Service.Context
	for _, o := range sctx.Map.All("Datastore") {
		ds := o.(*simulator.Datastore)
		sctx.Map.AtomicUpdate(sctx, ds, []types.PropertyChange{{Name: "summary.type", Val: "VMFS"}})
	}
	if got := fails(run()); got != "" {
		t.Fatalf("fresh MT fails %s", got)
	}
	task := func(tk *object.Task, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if err := tk.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	task(vm.CreateSnapshot(ctx, "oops", "", false, false))
	if got := fails(run()); got != audit.CheckSnapshots {
		t.Errorf("with a snapshot: FAIL %s", got)
	}
	task(vm.RemoveAllSnapshot(ctx, nil))
	task(vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{ExtraConfig: []types.BaseOptionValue{&types.OptionValue{Key: "disk.EnableUUID", Value: ""}}}))
	m := run()
	if got := fails(m); got != audit.CheckEnableUUID {
		t.Errorf("EnableUUID removed: FAIL %s", got)
	}
	t.Logf("%s", m[audit.CheckEnableUUID].Reason)
	task(vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{ExtraConfig: []types.BaseOptionValue{&types.OptionValue{Key: "disk.EnableUUID", Value: "TRUE"}}}))
	setTools(string(types.VirtualMachineToolsRunningStatusGuestToolsNotRunning))
	if got := fails(run()); got != audit.CheckTools {
		t.Errorf("tools stopped: FAIL %s", got)
	}
}
