package provision

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/provision/audit"
	"github.com/mtprep/mtprep/provision/spec"
	"github.com/mtprep/mtprep/provision/vsphere"
)

// What vcsim (govmomi v0.56.0) models of Storage DRS, found by trying it:
// Folder.CreateStoragePod makes a pod with Storage DRS enabled (and an
// empty defaultVmBehavior); StoragePod.MoveIntoFolder_Task moves a
// datastore into it (its parent becomes the pod, the datacenter and host
// still list it); ConfigureStorageDrsForPod_Task applies podConfigSpec's
// enabled and defaultVmBehavior only: it accepts a vmConfigSpec, succeeds
// and drops it, so podStorageDrsEntry.storageDrsConfig.vmConfig stays
// empty. sdrsSRM adds that part. vcsim never runs Storage DRS itself (no
// recommendations, no migrations), so no test here can show that an
// override stops a Storage vMotion: only that it is set and read back.

// sdrsSRM is vcsim's StorageResourceManager with the VM overrides of
// ConfigureStorageDrsForPod_Task: add (refused when the VM has one), edit
// (refused when it has none; the entry sent replaces the old one), remove
// (removeKey: the VM). modify=false (replace the whole configuration) is
// not modelled and refused, so a caller relying on it shows up.
type sdrsSRM struct {
	*simulator.StorageResourceManager
}

func (m *sdrsSRM) ConfigureStorageDrsForPodTask(ctx *simulator.Context, req *types.ConfigureStorageDrsForPod_Task) soap.HasFault {
	task := simulator.CreateTask(m, "configureStorageDrsForPod", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		pod, ok := ctx.Map.Get(req.Pod).(*simulator.StoragePod)
		if !ok {
			return nil, &types.ManagedObjectNotFound{Obj: req.Pod}
		}
		if !req.Modify {
			return nil, &types.NotSupported{}
		}
		var fault types.BaseMethodFault
		ctx.WithLock(pod, func() {
			cfg := &pod.PodStorageDrsEntry.StorageDrsConfig
			if s := req.Spec.PodConfigSpec; s != nil {
				if s.Enabled != nil {
					cfg.PodConfig.Enabled = *s.Enabled
				}
				if s.DefaultVmBehavior != "" {
					cfg.PodConfig.DefaultVmBehavior = s.DefaultVmBehavior
				}
			}
			for _, vs := range req.Spec.VmConfigSpec {
				if vs.Operation == types.ArrayUpdateOperationRemove {
					key, _ := vs.RemoveKey.(types.ManagedObjectReference)
					i := vmOverrideIndex(cfg.VmConfig, key)
					if i < 0 {
						fault = &types.InvalidArgument{InvalidProperty: "vmConfigSpec.removeKey"}
						return
					}
					cfg.VmConfig = append(cfg.VmConfig[:i], cfg.VmConfig[i+1:]...)
					continue
				}
				if vs.Info == nil || vs.Info.Vm == nil {
					fault = &types.InvalidArgument{InvalidProperty: "vmConfigSpec.info.vm"}
					return
				}
				if ctx.Map.Get(*vs.Info.Vm) == nil {
					fault = &types.ManagedObjectNotFound{Obj: *vs.Info.Vm}
					return
				}
				i := vmOverrideIndex(cfg.VmConfig, *vs.Info.Vm)
				switch {
				case vs.Operation == types.ArrayUpdateOperationAdd && i < 0:
					cfg.VmConfig = append(cfg.VmConfig, *vs.Info)
				case vs.Operation == types.ArrayUpdateOperationEdit && i >= 0:
					cfg.VmConfig[i] = *vs.Info
				default:
					fault = &types.InvalidArgument{InvalidProperty: "vmConfigSpec.operation"}
					return
				}
			}
		})
		return nil, fault
	})
	return &methods.ConfigureStorageDrsForPod_TaskBody{Res: &types.ConfigureStorageDrsForPod_TaskResponse{Returnval: task.Run(ctx)}}
}

func vmOverrideIndex(cfg []types.StorageDrsVmConfigInfo, vm types.ManagedObjectReference) int {
	for i := range cfg {
		if cfg[i].Vm != nil && *cfg[i].Vm == vm {
			return i
		}
	}
	return -1
}

// withSDRSOverrides installs sdrsSRM in the simulator.
func withSDRSOverrides(s *sim) {
	srm := s.model.Map().Get(*s.c.ServiceContent.StorageResourceManager).(*simulator.StorageResourceManager)
	s.model.Map().Put(&sdrsSRM{srm})
}

// podOf puts LocalDS_0 (the MT's datastore) into a new datastore cluster
// POD0 with Storage DRS enabled or not and the default behavior given.
func podOf(t *testing.T, s *sim, enabled bool, behavior types.StorageDrsPodConfigInfoBehavior) *object.StoragePod {
	t.Helper()
	ctx := context.Background()
	f := find.NewFinder(s.c, true)
	dc, err := f.Datacenter(ctx, "DC0")
	if err != nil {
		t.Fatal(err)
	}
	f.SetDatacenter(dc)
	folders, err := dc.Folders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pod, err := folders.DatastoreFolder.CreateStoragePod(ctx, "POD0")
	if err != nil {
		t.Fatal(err)
	}
	ds, err := f.Datastore(ctx, "LocalDS_0")
	if err != nil {
		t.Fatal(err)
	}
	waitTask(t, func() (*object.Task, error) { return pod.MoveInto(ctx, []types.ManagedObjectReference{ds.Reference()}) })
	srm := object.NewStorageResourceManager(s.c)
	waitTask(t, func() (*object.Task, error) {
		return srm.ConfigureStorageDrsForPod(ctx, pod, types.StorageDrsConfigSpec{PodConfigSpec: &types.StorageDrsPodConfigSpec{Enabled: &enabled, DefaultVmBehavior: string(behavior)}}, true)
	})
	return pod
}

func waitTask(t *testing.T, start func() (*object.Task, error)) {
	t.Helper()
	tk, err := start()
	if err != nil {
		t.Fatal(err)
	}
	if err := tk.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// podOverrides reads the pod's VM overrides with the test's own client.
func podOverrides(t *testing.T, s *sim, pod *object.StoragePod) []types.StorageDrsVmConfigInfo {
	t.Helper()
	var p mo.StoragePod
	if err := property.DefaultCollector(s.c).RetrieveOne(context.Background(), pod.Reference(), []string{"podStorageDrsEntry"}, &p); err != nil {
		t.Fatal(err)
	}
	return p.PodStorageDrsEntry.StorageDrsConfig.VmConfig
}

// setOverride replaces the VM's override (nil: removes it) with the
// test's own client.
func setOverride(t *testing.T, s *sim, pod *object.StoragePod, vm types.ManagedObjectReference, info *types.StorageDrsVmConfigInfo) {
	t.Helper()
	srm := object.NewStorageResourceManager(s.c)
	spec_ := types.StorageDrsVmConfigSpec{ArrayUpdateSpec: types.ArrayUpdateSpec{Operation: types.ArrayUpdateOperationRemove, RemoveKey: vm}}
	if info != nil {
		info.Vm = &vm
		spec_ = types.StorageDrsVmConfigSpec{ArrayUpdateSpec: types.ArrayUpdateSpec{Operation: types.ArrayUpdateOperationEdit}, Info: info}
	}
	waitTask(t, func() (*object.Task, error) {
		return srm.ConfigureStorageDrsForPod(context.Background(), pod, types.StorageDrsConfigSpec{VmConfigSpec: []types.StorageDrsVmConfigSpec{spec_}}, true)
	})
}

func planChanges(t *testing.T, tg *Target, phases string) (Result, string) {
	t.Helper()
	rs, err := Plan(context.Background(), tg, vspherePhases(t, phases))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Phase == "vm" {
			return r, strings.Join(r.Changes, "\n")
		}
	}
	t.Fatalf("no vm phase in the plan: %s", statuses(rs))
	return Result{}, ""
}

// TestSDRSOverrideBuildTwice: on a datastore in a Storage DRS cluster,
// plan shows the override to add, build adds it (read with govmomi's own
// calls: enabled=false), the cluster's compute DRS is not touched, and a
// second build changes nothing. With Storage DRS off on the pod the
// override is added all the same.
func TestSDRSOverrideBuildTwice(t *testing.T) {
	for _, c := range []struct {
		name    string
		enabled bool
		plan    string
	}{
		{"storage DRS automated", true, "Storage DRS override for mt01 in pod POD0: missing → add (automation disabled)"},
		{"storage DRS off", false, "Storage DRS override for mt01 in pod POD0: missing (Storage DRS is off on the pod now; the override keeps the MT in place when it is turned on) → add (automation disabled)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newSim(t)
			withSDRSOverrides(s)
			pod := podOf(t, s, c.enabled, types.StorageDrsPodConfigInfoBehaviorAutomated)
			ctx := context.Background()

			tg := simTarget(t, s, "", 0, nil)
			tasks := s.tasks()
			r, changes := planChanges(t, tg, "upload,vm")
			if r.Status != StatusWouldChange || !strings.Contains(changes, c.plan) {
				t.Errorf("plan: %s %q, want a line %q", r.Status, changes, c.plan)
			}
			if !strings.Contains(r.Observed, "LocalDS_0 is in datastore cluster POD0") {
				t.Errorf("plan observed %q", r.Observed)
			}
			if s.tasks() != tasks || len(podOverrides(t, s, pod)) != 0 {
				t.Fatal("plan changed something")
			}

			rs, err := Build(ctx, tg, vspherePhases(t, "upload,vm"))
			if err != nil {
				t.Fatalf("%v (%s)", err, statuses(rs))
			}
			ref := types.ManagedObjectReference{Type: "VirtualMachine", Value: tg.Facts.VMMoRef}
			ov := podOverrides(t, s, pod)
			if len(ov) != 1 || ov[0].Vm == nil || *ov[0].Vm != ref || ov[0].Enabled == nil || *ov[0].Enabled {
				t.Fatalf("pod overrides after the build: %+v, want one for %s with enabled=false", ov, ref)
			}
			if n := tg.VSphereRoundTrips().Calls["ConfigureStorageDrsForPod_Task"]; n != 1 {
				t.Errorf("%d ConfigureStorageDrsForPod_Task calls", n)
			}
			// Compute DRS: vMotion alone moves no disk; nothing changes there.
			if n := tg.VSphereRoundTrips().Calls["ReconfigureComputeResource_Task"]; n != 0 {
				t.Errorf("the build reconfigured the cluster %d times", n)
			}
			cl, err := find.NewFinder(s.c, true).ClusterComputeResource(ctx, "/DC0/host/DC0_C0")
			if err != nil {
				t.Fatal(err)
			}
			var mcl mo.ClusterComputeResource
			if err := property.DefaultCollector(s.c).RetrieveOne(ctx, cl.Reference(), []string{"configurationEx"}, &mcl); err != nil {
				t.Fatal(err)
			}
			if cfg := mcl.ConfigurationEx.(*types.ClusterConfigInfoEx); len(cfg.DrsVmConfig) != 0 {
				t.Errorf("compute DRS VM overrides: %+v", cfg.DrsVmConfig)
			}

			second := simTarget(t, s, "", 0, nil)
			sameISOs(second, tg)
			r, changes = planChanges(t, second, "upload,vm")
			if r.Status != StatusDone || changes != "" || !strings.Contains(r.Observed, "POD0 (LocalDS_0): automation disabled for the VM") {
				t.Errorf("second plan: %s %q, observed %q", r.Status, changes, r.Observed)
			}
			tasks = s.tasks()
			rs, err = Build(ctx, second, vspherePhases(t, "upload,vm"))
			if err != nil || statuses(rs) != "upload=done vm=done" {
				t.Fatalf("second build: %v (%s)", err, statuses(rs))
			}
			if s.tasks() != tasks {
				t.Errorf("the second build ran %d tasks", s.tasks()-tasks)
			}
		})
	}
}

// TestSDRSOverrideDrift: an existing MT whose override is missing or
// lets Storage DRS move it is drift like the vm phase's other
// differences: reported and not changed without --fix, fixed with it
// (keeping the override's other settings). An MT mtprep created whose
// run stopped before the override was added is finished without --fix.
func TestSDRSOverrideDrift(t *testing.T) {
	cases := []struct {
		name      string
		installed bool // the MT was installed (no longer mtprep's creation in progress)
		override  *types.StorageDrsVmConfigInfo
		// without --fix: "" means the build finishes it
		refused string
	}{
		{name: "missing on an installed MT", installed: true, refused: "Storage DRS override for mt01 in pod POD0: missing (--fix: add (automation disabled))"},
		{name: "automated override", installed: true, override: &types.StorageDrsVmConfigInfo{Enabled: types.NewBool(true), Behavior: string(types.StorageDrsPodConfigInfoBehaviorAutomated), IntraVmAffinity: types.NewBool(false)},
			refused: "Storage DRS override for mt01 in pod POD0: automation fully automated (its override) (--fix: edit (automation disabled))"},
		{name: "manual override", installed: true, override: &types.StorageDrsVmConfigInfo{Enabled: types.NewBool(true), Behavior: string(types.StorageDrsPodConfigInfoBehaviorManual)},
			refused: "automation manual (recommendations that move it when applied) (its override) (--fix: edit (automation disabled))"},
		{name: "automated override on a fresh MT is still --fix", override: &types.StorageDrsVmConfigInfo{Enabled: types.NewBool(true)},
			refused: "automation fully automated (the pod's default) (--fix: edit"},
		{name: "missing on a fresh MT: finishing the creation"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSim(t)
			withSDRSOverrides(s)
			pod := podOf(t, s, true, types.StorageDrsPodConfigInfoBehaviorAutomated)
			tg, ref := builtVM(t, s)
			ctx := context.Background()
			if c.installed {
				waitTask(t, func() (*object.Task, error) {
					return object.NewVirtualMachine(s.c, ref).Reconfigure(ctx, types.VirtualMachineConfigSpec{ExtraConfig: []types.BaseOptionValue{&types.OptionValue{Key: installedMarker, Value: "test"}}})
				})
			}
			setOverride(t, s, pod, ref, c.override)

			run := func(fix bool) ([]Result, error) {
				b := simTarget(t, s, "", 0, nil)
				sameISOs(b, tg)
				b.Options.Fix = fix
				return Build(ctx, b, vspherePhases(t, "vm"))
			}
			rs, err := run(false)
			if c.refused == "" {
				if err != nil || statuses(rs) != "vm=changed" {
					t.Fatalf("finishing the creation: %v (%s)", err, statuses(rs))
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), c.refused) || !strings.Contains(err.Error(), "Run with --fix") {
					t.Fatalf("without --fix: %v, want it to say %q", err, c.refused)
				}
				ov := podOverrides(t, s, pod)
				if (c.override == nil) != (len(ov) == 0) || (len(ov) == 1 && *ov[0].Enabled != *c.override.Enabled) {
					t.Fatalf("changed without --fix: %+v", ov)
				}
				if rs, err = run(true); err != nil || statuses(rs) != "vm=changed" {
					t.Fatalf("--fix: %v (%s)", err, statuses(rs))
				}
			}
			ov := podOverrides(t, s, pod)
			if len(ov) != 1 || ov[0].Enabled == nil || *ov[0].Enabled {
				t.Fatalf("overrides after the build: %+v", ov)
			}
			if c.override != nil && (ov[0].Behavior != c.override.Behavior || (c.override.IntraVmAffinity != nil && (ov[0].IntraVmAffinity == nil || *ov[0].IntraVmAffinity != *c.override.IntraVmAffinity))) {
				t.Errorf("the edit lost the override's other settings: %+v, was %+v", ov[0], *c.override)
			}
			if rs, err := run(false); err != nil || statuses(rs) != "vm=done" {
				t.Errorf("after the fix: %v (%s)", err, statuses(rs))
			}
		})
	}
}

// TestSDRSOverrideReadBack: a vCenter that accepts the change and does
// not keep it (vcsim as it is: it drops vmConfigSpec) fails the build
// naming the pod, rather than reporting the MT as kept out.
func TestSDRSOverrideReadBack(t *testing.T) {
	s := newSim(t) // no sdrsSRM
	podOf(t, s, true, types.StorageDrsPodConfigInfoBehaviorAutomated)
	tg := simTarget(t, s, "", 0, nil)
	_, err := Build(context.Background(), tg, vspherePhases(t, "upload,vm"))
	if err == nil || !strings.Contains(err.Error(), "Storage DRS override for mt01 in pod POD0: missing") || !strings.Contains(err.Error(), "did not keep") {
		t.Fatalf("%v", err)
	}
}

// TestSDRSAutomation: the words plan and audit use for what Storage DRS
// may do with the MT.
func TestSDRSAutomation(t *testing.T) {
	f, tr := types.NewBool(false), types.NewBool(true)
	cases := []struct {
		enabled  bool
		behavior string
		o        *types.StorageDrsVmConfigInfo
		want     string
		out      bool
	}{
		{true, "automated", nil, "automation fully automated (the pod's default)", false},
		{true, "manual", nil, "automation manual (recommendations that move it when applied) (the pod's default)", false},
		{false, "automated", nil, "automation fully automated (the pod's default); Storage DRS is off on the pod for now", false},
		{true, "automated", &types.StorageDrsVmConfigInfo{Enabled: f}, "automation disabled for the VM", true},
		{true, "automated", &types.StorageDrsVmConfigInfo{Enabled: f, Behavior: "automated"}, "automation disabled for the VM", true},
		{true, "automated", &types.StorageDrsVmConfigInfo{Enabled: tr, Behavior: "manual"}, "automation manual (recommendations that move it when applied) (its override)", false},
		// enabled unset: the API's default is true.
		{true, "manual", &types.StorageDrsVmConfigInfo{}, "automation manual (recommendations that move it when applied) (the pod's default)", false},
		{true, "", nil, "automation not set (the pod's default)", false},
	}
	for _, c := range cases {
		if got := vsphere.SDRSAutomation(c.enabled, c.behavior, c.o); got != c.want || vsphere.SDRSKeepsOut(c.o) != c.out {
			t.Errorf("%v %q %+v: %q %v, want %q %v", c.enabled, c.behavior, c.o, got, vsphere.SDRSKeepsOut(c.o), c.want, c.out)
		}
	}
}

// TestAuditSDRS: vsphere.sdrs on the simulator, in the audit's one
// retrieval: PASS on a plain datastore; WARN once the datastore is put
// in a Storage DRS cluster, naming the fix; PASS after that fix.
func TestAuditSDRS(t *testing.T) {
	ctx := context.Background()
	s := newSim(t)
	withSDRSOverrides(s)
	tg := simTarget(t, s, "", 0, nil)
	if rs, err := Build(ctx, tg, vspherePhases(t, "upload,vm")); err != nil {
		t.Fatalf("%v (%s)", err, statuses(rs))
	}
	auditSDRS := func() (audit.Finding, int64) {
		t.Helper()
		va, err := audit.VSphere(ctx, []*spec.Spec{tg.Spec}, tg.Env)
		if err != nil {
			t.Fatal(err)
		}
		checkAuditFindingShape(t, va.Findings)
		for _, f := range va.Findings {
			if f.ID == audit.CheckSDRS {
				return f, va.RoundTrips
			}
		}
		t.Fatalf("no %s finding", audit.CheckSDRS)
		return audit.Finding{}, 0
	}
	f, plain := auditSDRS()
	if f.Result != audit.Pass || f.Reason != "no datastore of the MT is in a datastore cluster (LocalDS_0)" {
		t.Errorf("plain datastore: %+v", f)
	}

	podOf(t, s, true, types.StorageDrsPodConfigInfoBehaviorAutomated)
	f, trips := auditSDRS()
	if f.Result != audit.Warn || !strings.Contains(f.Reason, "LocalDS_0 in datastore cluster POD0: automation fully automated (the pod's default)") || !strings.Contains(f.Fix, "mtprep build --phases vm --fix") {
		t.Errorf("in an automated pod: %+v", f)
	}
	if trips != plain {
		t.Errorf("the pod cost round trips: %d, %d without", trips, plain)
	}

	fix := simTarget(t, s, "", 0, nil)
	sameISOs(fix, tg)
	fix.Options.Fix = true
	if rs, err := Build(ctx, fix, vspherePhases(t, "vm")); err != nil || statuses(rs) != "vm=changed" {
		t.Fatalf("the fix: %v (%s)", err, statuses(rs))
	}
	if f, _ := auditSDRS(); f.Result != audit.Pass || f.Reason != "LocalDS_0 in datastore cluster POD0: automation disabled for the VM" {
		t.Errorf("after the fix: %+v", f)
	}
}

// checkAuditFindingShape is provision/audit's own shape check: every
// finding has a catalogued id, a known result, a one-line reason, and a
// fix unless it passed.
func checkAuditFindingShape(t *testing.T, fs []audit.Finding) {
	t.Helper()
	var ids []string
	for _, c := range audit.Checks() {
		ids = append(ids, c.ID)
	}
	for _, f := range fs {
		if !slices.Contains(ids, f.ID) {
			t.Errorf("%s: id not in audit.Checks", f.ID)
		}
		if !slices.Contains([]string{audit.Pass, audit.Warn, audit.Fail, audit.Unknown}, f.Result) {
			t.Errorf("%s: result %q", f.ID, f.Result)
		}
		if f.Reason == "" || strings.ContainsAny(f.Reason, "\n\r") {
			t.Errorf("%s: reason %q is not one line", f.ID, f.Reason)
		}
		if f.Result != audit.Pass && f.Fix == "" {
			t.Errorf("%s is %s with no fix", f.ID, f.Result)
		}
	}
}

// vcOverride stands in for a vCenter that gives a VM created directly on
// a pod's datastore (bypassing Storage DRS placement) an override of its
// own, as the vSphere Client's "Disable Storage DRS for this virtual
// machine" does. Whether the API's CreateVM_Task does so on a real
// vCenter is not known here; the vm phase must cope either way.
type vcOverride struct{ pod *simulator.StoragePod }

func (h vcOverride) Reference() types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "mtprepTestHandler", Value: "vc-override"}
}

func (h vcOverride) PutObject(ctx *simulator.Context, obj mo.Reference) {
	vm, ok := obj.(*simulator.VirtualMachine)
	if !ok {
		return
	}
	ref := vm.Reference()
	ctx.WithLock(h.pod, func() {
		c := &h.pod.PodStorageDrsEntry.StorageDrsConfig
		c.VmConfig = append(c.VmConfig, types.StorageDrsVmConfigInfo{Vm: &ref, Enabled: types.NewBool(false)})
	})
}

func (vcOverride) UpdateObject(*simulator.Context, mo.Reference, []types.PropertyChange) {}
func (vcOverride) RemoveObject(*simulator.Context, types.ManagedObjectReference)         {}

// TestSDRSOverrideByVCenter: when vCenter already kept the new VM out of
// Storage DRS, the vm phase sees it after creating the VM and adds
// nothing (an add would fail on the existing entry).
func TestSDRSOverrideByVCenter(t *testing.T) {
	s := newSim(t)
	withSDRSOverrides(s)
	pod := podOf(t, s, true, types.StorageDrsPodConfigInfoBehaviorAutomated)
	s.model.Map().AddHandler(vcOverride{pod: s.model.Map().Get(pod.Reference()).(*simulator.StoragePod)})
	tg := simTarget(t, s, "", 0, nil)
	if rs, err := Build(context.Background(), tg, vspherePhases(t, "upload,vm")); err != nil || statuses(rs) != "upload=changed vm=changed" {
		t.Fatalf("%v (%s)", err, statuses(rs))
	}
	if n := tg.VSphereRoundTrips().Calls["ConfigureStorageDrsForPod_Task"]; n != 0 {
		t.Errorf("%d ConfigureStorageDrsForPod_Task calls", n)
	}
	if ov := podOverrides(t, s, pod); len(ov) != 1 || *ov[0].Enabled {
		t.Errorf("overrides: %+v", ov)
	}
}
