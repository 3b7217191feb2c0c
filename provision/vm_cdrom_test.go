package provision

import (
	"context"
	"strings"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/provision/vsphere"
)

// TestFixAddsSeedCDROM: a VM made before seeds existed (one CD-ROM, with
// the MT's own ISO in it) is reported; --fix inserts the shared media in
// that CD-ROM and adds the seed's at IDE 0:1, where the guest names it
// sr1.
func TestFixAddsSeedCDROM(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	tg, ref := builtVM(t, s)
	vm := object.NewVirtualMachine(s.c, ref)
	devs, _ := vm.Device(ctx)
	cds := vsphere.OrderedCDROMs(devs)
	devs.InsertIso(cds[0], "[LocalDS_0] mtprep-iso/0000old-single.iso")
	if err := vm.EditDevice(ctx, cds[0]); err != nil {
		t.Fatal(err)
	}
	if err := vm.RemoveDevice(ctx, false, cds[1]); err != nil {
		t.Fatal(err)
	}

	report := simTarget(t, s, "", 0, nil)
	sameISOs(report, tg)
	_, err := Build(ctx, report, vspherePhases(t, "vm"))
	if err == nil {
		t.Fatal("a VM without a seed CD-ROM passed")
	}
	for _, w := range []string{"the first CD-ROM holds [LocalDS_0] mtprep-iso/0000old-single.iso, not the install media", "no CD-ROM for the seed", "--fix"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}

	fix := simTarget(t, s, "", 0, nil)
	sameISOs(fix, tg)
	fix.Options.Fix = true
	if rs, err := Build(ctx, fix, vspherePhases(t, "vm")); err != nil || rs[0].Status != StatusChanged {
		t.Fatalf("--fix: %v (%s)", err, statuses(rs))
	}
	devs, _ = vm.Device(ctx)
	cds = vsphere.OrderedCDROMs(devs)
	if len(cds) != 2 {
		t.Fatalf("%d CD-ROMs after --fix", len(cds))
	}
	for i, want := range []string{tg.Facts.ISODatastore, tg.Facts.SeedDatastore} {
		ide, _ := devs.FindByKey(cds[i].ControllerKey).(*types.VirtualIDEController)
		if got := vsphere.CDROMISO(cds[i]); got != want || ide == nil || ide.BusNumber != 0 || *cds[i].UnitNumber != int32(i) {
			t.Errorf("CD-ROM %d: %s at unit %d, want %s at IDE 0:%d", i, got, *cds[i].UnitNumber, want, i)
		}
	}
}

// TestFinishCreation: a run that created its VM and stopped before the
// second step (the boot order) is finished by the next run without
// --fix; a VM mtprep did not create is not touched without --fix.
func TestFinishCreation(t *testing.T) {
	cases := []struct {
		name    string
		created bool
		wantErr bool
	}{
		{"created by mtprep", true, false},
		{"someone else's VM", false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newSim(t)
			ctx := context.Background()
			tg, ref := builtVM(t, s)
			vm := object.NewVirtualMachine(s.c, ref)
			spec_ := types.VirtualMachineConfigSpec{BootOptions: &types.VirtualMachineBootOptions{BootOrder: []types.BaseVirtualMachineBootOptionsBootableDevice{}}}
			if !c.created {
				spec_.ExtraConfig = []types.BaseOptionValue{&types.OptionValue{Key: createdMarker, Value: ""}}
			}
			task, err := vm.Reconfigure(ctx, spec_)
			if err != nil {
				t.Fatal(err)
			}
			if err := task.Wait(ctx); err != nil {
				t.Fatal(err)
			}
			again := simTarget(t, s, "", 0, nil)
			sameISOs(again, tg)
			rs, err := Build(ctx, again, vspherePhases(t, "vm"))
			if c.wantErr {
				if err == nil || !strings.Contains(err.Error(), "boot order") || !strings.Contains(err.Error(), "--fix") {
					t.Fatalf("%v (%s)", err, statuses(rs))
				}
				return
			}
			if err != nil || rs[0].Status != StatusChanged {
				t.Fatalf("%v (%s)", err, statuses(rs))
			}
			devs, _ := vm.Device(ctx)
			bo, _ := vm.BootOptions(ctx)
			if !vsphere.BootsDiskThenCD(bo, vsphere.Disks(devs)[0].Key) {
				t.Errorf("boot order %#v", bo.BootOrder)
			}
		})
	}
}
