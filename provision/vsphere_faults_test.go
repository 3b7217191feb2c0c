package provision

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// faultyVM replaces the simulator VM's ReconfigVM_Task: the task fails
// with fault, or (fault nil) succeeds without changing anything. A
// reconfigure that only sets or clears mtprep's lock (lock.go) goes
// through: the faults are for what the phases change.
type faultyVM struct {
	*simulator.VirtualMachine
	fault types.BaseMethodFault
}

func onlyLock(spec_ *types.VirtualMachineConfigSpec) bool {
	if len(spec_.ExtraConfig) == 0 || len(spec_.DeviceChange) > 0 || spec_.Flags != nil || spec_.BootOptions != nil {
		return false
	}
	for _, o := range spec_.ExtraConfig {
		if o.GetOptionValue().Key != vmLockKey {
			return false
		}
	}
	return true
}

func (vm *faultyVM) ReconfigVMTask(ctx *simulator.Context, req *types.ReconfigVM_Task) soap.HasFault {
	if onlyLock(&req.Spec) {
		return vm.VirtualMachine.ReconfigVMTask(ctx, req)
	}
	task := simulator.CreateTask(req.This, "reconfigVm", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		return nil, vm.fault
	})
	return &methods.ReconfigVM_TaskBody{Res: &types.ReconfigVM_TaskResponse{Returnval: task.Run(ctx)}}
}

// builtVM runs upload and vm, and returns the Target and the VM's
// reference.
func builtVM(t *testing.T, s *sim) (*Target, types.ManagedObjectReference) {
	t.Helper()
	tg := simTarget(t, s, "", 0, nil)
	if rs, err := Build(context.Background(), tg, vspherePhases(t, "upload,vm")); err != nil {
		t.Fatalf("%v (%s)", err, statuses(rs))
	}
	return tg, types.ManagedObjectReference{Type: "VirtualMachine", Value: tg.Facts.VMMoRef}
}

func readExtra(t *testing.T, s *sim, ref types.ManagedObjectReference) (string, bool, types.VirtualMachinePowerState) {
	t.Helper()
	var m mo.VirtualMachine
	if err := property.DefaultCollector(s.c).RetrieveOne(context.Background(), ref, []string{"config.extraConfig", "config.flags", "runtime.powerState"}, &m); err != nil {
		t.Fatal(err)
	}
	v := ""
	for _, o := range m.Config.ExtraConfig {
		if ov := o.GetOptionValue(); ov.Key == "disk.EnableUUID" {
			v, _ = ov.Value.(string)
		}
	}
	return v, m.Config.Flags.DiskUuidEnabled != nil && *m.Config.Flags.DiskUuidEnabled, m.Runtime.PowerState
}

func TestEnableUUIDFaults(t *testing.T) {
	cases := []struct {
		name   string
		inject func(*sim, types.ManagedObjectReference)
		want   []string
	}{
		{"ReconfigVM_Task refused (simulator fault injection)", func(s *sim, ref types.ManagedObjectReference) {
			s.model.Service.AddFaultRule(&simulator.FaultInjectionRule{
				MethodName: "ReconfigVM_Task", ObjectType: "VirtualMachine", ObjectName: "mt01",
				Probability: 1, FaultType: simulator.FaultTypeInvalidState, Message: "host is in maintenance", Enabled: true,
			})
			// Every reconfigure of the VM fails: the first is the lock's.
		}, []string{"phase enable-uuid", "lock VM mt01", "host is in maintenance", "(InvalidState)"}},
		{"ReconfigVM_Task fails as a task", func(s *sim, ref types.ManagedObjectReference) {
			s.model.Map().Put(&faultyVM{VirtualMachine: s.model.Map().Get(ref).(*simulator.VirtualMachine), fault: &types.RestrictedVersion{}})
		}, []string{"phase enable-uuid", "reconfigure VM mt01", "(RestrictedVersion)", "free edition"}},
		{"the task succeeds but nothing sticks", func(s *sim, ref types.ManagedObjectReference) {
			s.model.Map().Put(&faultyVM{VirtualMachine: s.model.Map().Get(ref).(*simulator.VirtualMachine)})
		}, []string{"phase enable-uuid", "verify", "did not stick", `disk.EnableUUID=""`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSim(t)
			_, ref := builtVM(t, s)
			c.inject(s, ref)
			tg := simTarget(t, s, "", 0, nil)
			_, err := Build(context.Background(), tg, vspherePhases(t, "enable-uuid"))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("not one line: %q", err)
			}
		})
	}
}

func TestEnableUUIDPoweredOn(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	_, ref := builtVM(t, s)
	vm := object.NewVirtualMachine(s.c, ref)
	task, _ := vm.PowerOn(ctx)
	if err := task.Wait(ctx); err != nil {
		t.Fatal(err)
	}

	refused := simTarget(t, s, "", 0, nil)
	_, err := Build(ctx, refused, vspherePhases(t, "enable-uuid"))
	if err == nil || !strings.Contains(err.Error(), "is poweredOn") || !strings.Contains(err.Error(), "--allow-power-off") {
		t.Fatalf("without --allow-power-off: %v", err)
	}
	if v, flag, ps := readExtra(t, s, ref); v != "" || flag || ps != types.VirtualMachinePowerStatePoweredOn {
		t.Fatalf("refused, yet changed: %q %v %s", v, flag, ps)
	}

	allowed := simTarget(t, s, "", 0, nil)
	allowed.Options.AllowPowerOff = true
	rs, err := Build(ctx, allowed, vspherePhases(t, "enable-uuid"))
	if err != nil || rs[0].Status != StatusChanged {
		t.Fatalf("with --allow-power-off: %v %s", err, statuses(rs))
	}
	if v, flag, ps := readExtra(t, s, ref); v != "TRUE" || !flag || ps != types.VirtualMachinePowerStatePoweredOn {
		t.Errorf("after --allow-power-off: disk.EnableUUID=%q flag=%v %s (want TRUE, true, powered on again)", v, flag, ps)
	}
	if !strings.Contains(allowed.Facts.PhaseNotes["enable-uuid"], "powered on again") {
		t.Errorf("note: %q", allowed.Facts.PhaseNotes["enable-uuid"])
	}
}

// failUploads makes datastore PUTs under mtprep-iso/ fail while the flag
// is set: the handler reads part of the body, writes it where it was sent
// (as an interrupted transfer leaves it) and answers 500.
func failUploads(s *sim) *atomic.Bool {
	var fail atomic.Bool
	fail.Store(true)
	dir := s.model.Map().Any("Datastore").(*simulator.Datastore).Summary.Url
	s.model.Service.ServeMux.HandleFunc("/folder/mtprep-iso/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut || !fail.Load() {
			s.model.Service.ServeDatastore(w, r)
			return
		}
		part, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
		p := filepath.Join(dir, strings.TrimPrefix(r.URL.Path, "/folder/"))
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		_ = os.WriteFile(p, part, 0o644)
		http.Error(w, "disk full", http.StatusInternalServerError)
	})
	return &fail
}

func TestUploadFails(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	fail := failUploads(s)
	tg := simTarget(t, s, "", 0, nil)

	rs, err := Build(ctx, tg, vspherePhases(t, "upload,vm"))
	if err == nil {
		t.Fatal("the upload succeeded")
	}
	if got := statuses(rs); got != "upload=failed vm=skipped" {
		t.Errorf("statuses %s", got)
	}
	for _, w := range []string{"phase upload", "upload [LocalDS_0] mtprep-iso/."} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	// Nothing under the final name, and the partial temporary file is
	// deleted.
	b, _ := os.ReadFile(tg.Facts.ISOLocal)
	sum := sha256.Sum256(b)
	name := hex.EncodeToString(sum[:]) + ".iso"
	dir := filepath.Join(s.model.Map().Any("Datastore").(*simulator.Datastore).Summary.Url, "mtprep-iso")
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		t.Errorf("left on the datastore: %s", e.Name())
	}

	// A partial file under the final name (a copy made by hand, or an
	// older tool's) is not taken for the ISO: a later build replaces it.
	if err := os.WriteFile(filepath.Join(dir, name), b[:1000], 0o644); err != nil {
		t.Fatal(err)
	}
	fail.Store(false)
	again := simTarget(t, s, "", 0, nil)
	sameISOs(again, tg)
	plan, err := Plan(ctx, again, vspherePhases(t, "upload"))
	if err != nil || plan[0].Status != StatusWouldChange || !strings.Contains(plan[0].Observed, "has 1000 bytes") {
		t.Fatalf("plan over a partial file: %v %+v", err, plan)
	}
	if rs, err := Build(ctx, again, vspherePhases(t, "upload")); err != nil || rs[0].Status != StatusChanged {
		t.Fatalf("upload over a partial file: %v %s", err, statuses(rs))
	}
	if got, _ := os.ReadFile(filepath.Join(dir, name)); len(got) != len(b) {
		t.Errorf("the ISO on the datastore has %d bytes, want %d", len(got), len(b))
	}
	entries, _ = os.ReadDir(dir)
	if len(entries) != 3 {
		for _, e := range entries {
			t.Log(e.Name())
		}
		t.Errorf("%d files in mtprep-iso, want the ISO, its .sha256 and seeds/", len(entries))
	}
	seeds, _ := os.ReadDir(filepath.Join(dir, "seeds"))
	if len(seeds) != 2 || !strings.HasPrefix(seeds[0].Name(), "mt01-") {
		t.Errorf("seeds/ holds %v, want mt01's seed and its .sha256", seeds)
	}
}
