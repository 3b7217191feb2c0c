package provision

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/provision/spec"
	"github.com/mtprep/mtprep/provision/vsphere"
)

// TestBuildTwice runs the four vSphere phases on a fresh simulator, then a
// second build as a new process would (a new session): every phase is
// done and no vSphere task runs.
func TestBuildTwice(t *testing.T) {
	s := newSim(t)
	addr, port := sshGuest(t)
	ctx := context.Background()

	first := simTarget(t, s, addr, port, nil)
	rs, err := Build(ctx, first, vspherePhases(t, ""))
	if err != nil {
		t.Fatalf("first build: %v (%s)", err, statuses(rs))
	}
	if got := statuses(rs); got != "upload=changed vm=changed enable-uuid=changed install=changed" {
		t.Errorf("first build: %s", got)
	}
	if u := first.Facts.DiskUUIDs; u["os"] == "" || u["retention"] == "" || u["os"] == u["retention"] {
		t.Errorf("disk UUIDs: %v", u)
	}
	if first.Facts.VMMoRef == "" || first.Facts.ESXiHost == "" || !strings.HasPrefix(first.Facts.ISODatastore, "[LocalDS_0] mtprep-iso/") {
		t.Errorf("facts: %+v", first.Facts)
	}
	t.Logf("first build: %d SOAP calls, %d HTTP requests", first.VSphereRoundTrips().SOAP(), first.VSphereRoundTrips().HTTP)

	tasks := s.tasks()
	second := simTarget(t, s, addr, port, nil)
	sameISOs(second, first)
	rs, err = Build(ctx, second, vspherePhases(t, ""))
	if err != nil {
		t.Fatalf("second build: %v (%s)", err, statuses(rs))
	}
	if got := statuses(rs); got != "upload=done vm=done enable-uuid=done install=done" {
		t.Errorf("second build: %s", got)
	}
	for _, r := range rs {
		if len(r.Changes) > 0 {
			t.Errorf("%s: changes on a second build: %v", r.Phase, r.Changes)
		}
	}
	if n := s.tasks() - tasks; n != 0 {
		t.Errorf("the second build ran %d vSphere tasks", n)
	}
	rt := second.VSphereRoundTrips()
	for m := range rt.Calls {
		if strings.HasSuffix(m, "_Task") || m == "ReconfigVM_Task" {
			t.Errorf("the second build called %s", m)
		}
	}
	t.Logf("second build: %d SOAP calls %v, %d HTTP requests", rt.SOAP(), rt.Calls, rt.HTTP)
	if second.Facts.DiskUUIDs["retention"] != first.Facts.DiskUUIDs["retention"] {
		t.Errorf("the second build read other disk UUIDs: %v", second.Facts.DiskUUIDs)
	}
}

// TestBuildResultByGovmomi checks what the build made with govmomi's own
// property reads, not mtprep's code.
func TestBuildResultByGovmomi(t *testing.T) {
	s := newSim(t)
	addr, port := sshGuest(t)
	ctx := context.Background()
	tg := simTarget(t, s, addr, port, nil)
	if rs, err := Build(ctx, tg, vspherePhases(t, "upload,vm,enable-uuid")); err != nil {
		t.Fatalf("%v (%s)", err, statuses(rs))
	}
	b, _ := os.ReadFile(tg.Facts.ISOLocal)
	sum := sha256.Sum256(b)
	wantISO := "[LocalDS_0] mtprep-iso/" + hex.EncodeToString(sum[:]) + ".iso"

	f := find.NewFinder(s.c, true)
	dc, err := f.Datacenter(ctx, "DC0")
	if err != nil {
		t.Fatal(err)
	}
	f.SetDatacenter(dc)
	vmObj, err := f.VirtualMachine(ctx, "/DC0/vm/mt01")
	if err != nil {
		t.Fatal(err)
	}
	var vm mo.VirtualMachine
	if err := property.DefaultCollector(s.c).RetrieveOne(ctx, vmObj.Reference(), []string{"config", "runtime.powerState"}, &vm); err != nil {
		t.Fatal(err)
	}
	c := vm.Config
	if c.Hardware.NumCPU != 4 || c.Hardware.MemoryMB != 6144 || c.GuestId != "centos64Guest" {
		t.Errorf("hardware: %d vCPU, %d MB, %s", c.Hardware.NumCPU, c.Hardware.MemoryMB, c.GuestId)
	}
	enable := ""
	for _, o := range c.ExtraConfig {
		if ov := o.GetOptionValue(); ov.Key == "disk.EnableUUID" {
			enable, _ = ov.Value.(string)
		}
	}
	if enable != "TRUE" {
		t.Errorf("disk.EnableUUID = %q", enable)
	}
	if c.Flags.DiskUuidEnabled == nil || !*c.Flags.DiskUuidEnabled {
		t.Error("flags.diskUuidEnabled is not true")
	}
	devs := object.VirtualDeviceList(c.Hardware.Device)
	scsi := devs.SelectByType((*types.VirtualSCSIController)(nil))
	if len(scsi) != 1 {
		t.Fatalf("%d SCSI controllers", len(scsi))
	}
	lsi, ok := scsi[0].(*types.VirtualLsiLogicController)
	if !ok {
		t.Fatalf("the SCSI controller is a %T, not LSI Logic", scsi[0])
	}
	var sizes []int64
	var osKey int32
	for _, d := range devs.SelectByType((*types.VirtualDisk)(nil)) {
		d := d.(*types.VirtualDisk)
		if d.ControllerKey != lsi.Key {
			t.Errorf("disk %d is not on the LSI Logic controller", d.Key)
		}
		if b, ok := d.Backing.(*types.VirtualDiskFlatVer2BackingInfo); !ok || b.ThinProvisioned == nil || !*b.ThinProvisioned {
			t.Errorf("disk %d is not thin", d.Key)
		}
		if *d.UnitNumber == 0 {
			osKey = d.Key
		}
		sizes = append(sizes, d.CapacityInKB>>20)
	}
	if len(sizes) != 2 || sizes[0] != 100 || sizes[1] != 1024 {
		t.Errorf("disk sizes (GB): %v, want [100 1024]", sizes)
	}
	// Two CD-ROMs on the first IDE controller: the shared media at unit 0
	// (the installer's sr0), this MT's seed at unit 1 (sr1, where the
	// media's ks=hd:sr1:/ks.cfg looks).
	sb, _ := os.ReadFile(tg.Facts.SeedLocal)
	ssum := sha256.Sum256(sb)
	wantSeed := "[LocalDS_0] mtprep-iso/seeds/mt01-" + hex.EncodeToString(ssum[:]) + ".iso"
	cds := devs.SelectByType((*types.VirtualCdrom)(nil))
	if len(cds) != 2 {
		t.Fatalf("%d CD-ROMs, want 2", len(cds))
	}
	for _, cd := range cds {
		cd := cd.(*types.VirtualCdrom)
		ide, ok := devs.FindByKey(cd.ControllerKey).(*types.VirtualIDEController)
		if !ok || ide.BusNumber != 0 {
			t.Errorf("CD-ROM %d is not on IDE controller 0", cd.Key)
		}
		want := map[int32]string{0: wantISO, 1: wantSeed}[*cd.UnitNumber]
		if b, ok := cd.Backing.(*types.VirtualCdromIsoBackingInfo); !ok || b.FileName != want {
			t.Errorf("CD-ROM at IDE 0:%d holds %#v, want %s", *cd.UnitNumber, cd.Backing, want)
		}
		if cn := cd.Connectable; cn == nil || !cn.StartConnected {
			t.Errorf("the CD-ROM at IDE 0:%d is not connected at power on", *cd.UnitNumber)
		}
	}
	nics := devs.SelectByType((*types.VirtualEthernetCard)(nil))
	if len(nics) != 1 {
		t.Fatalf("%d NICs", len(nics))
	}
	if _, ok := nics[0].(*types.VirtualVmxnet3); !ok {
		t.Errorf("NIC is a %T", nics[0])
	}
	netObj, err := f.Network(ctx, "VM Network")
	if err != nil {
		t.Fatal(err)
	}
	if b, ok := nics[0].GetVirtualDevice().Backing.(*types.VirtualEthernetCardNetworkBackingInfo); !ok || b.Network == nil || *b.Network != netObj.Reference() {
		t.Errorf("NIC backing %#v, want network %v", nics[0].GetVirtualDevice().Backing, netObj.Reference())
	}
	bo := c.BootOptions
	if bo == nil || len(bo.BootOrder) != 2 {
		t.Fatalf("boot order %#v", bo)
	}
	if d, ok := bo.BootOrder[0].(*types.VirtualMachineBootOptionsBootableDiskDevice); !ok || d.DeviceKey != osKey {
		t.Errorf("first boot device %#v, want the OS disk %d", bo.BootOrder[0], osKey)
	}
	if _, ok := bo.BootOrder[1].(*types.VirtualMachineBootOptionsBootableCdromDevice); !ok {
		t.Errorf("second boot device %#v, want the CD-ROM", bo.BootOrder[1])
	}
	// The ISO and its checksum file, read over the datastore's HTTP access.
	ds, err := f.Datastore(ctx, "LocalDS_0")
	if err != nil {
		t.Fatal(err)
	}
	rc, n, err := ds.Download(ctx, "mtprep-iso/"+hex.EncodeToString(sum[:])+".iso", nil)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if n != int64(len(b)) {
		t.Errorf("ISO on the datastore: %d bytes, want %d", n, len(b))
	}
	rc, _, err = ds.Download(ctx, "mtprep-iso/"+hex.EncodeToString(sum[:])+".iso.sha256", nil)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 200)
	k, _ := rc.Read(buf)
	rc.Close()
	if got := string(buf[:k]); got != hex.EncodeToString(sum[:])+"  "+hex.EncodeToString(sum[:])+".iso\n" {
		t.Errorf("checksum file %q", got)
	}
}

// TestPlanFresh: plan on a fresh simulator lists the four phases with
// what they would create, and changes nothing.
func TestPlanFresh(t *testing.T) {
	s := newSim(t)
	addr, port := sshGuest(t)
	tg := simTarget(t, s, addr, port, nil)
	vms := len(s.model.Map().All("VirtualMachine"))
	tasks := s.tasks()
	rs, err := Plan(context.Background(), tg, vspherePhases(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ phase, says string }{
		{"upload", "to [LocalDS_0] mtprep-iso/"},
		{"vm", "create VM mt01 in /DC0/vm on LocalDS_0: 4 vCPU, 6144 MB, guest centos64Guest, LSI Logic SCSI, thin OS disk 100 GB + retention disk 1024 GB"},
		{"enable-uuid", "set disk.EnableUUID=TRUE and flags.diskUuidEnabled=true on VM mt01"},
		{"install", "power on VM mt01"},
	}
	if len(rs) != len(want) {
		t.Fatalf("%d results: %s", len(rs), statuses(rs))
	}
	for i, w := range want {
		r := rs[i]
		if r.Phase != w.phase || r.Status != StatusWouldChange || !strings.Contains(strings.Join(r.Changes, "\n"), w.says) {
			t.Errorf("%s: %s %q, want would-change saying %q", r.Phase, r.Status, r.Changes, w.says)
		}
	}
	if vm := strings.Join(rs[1].Changes, "\n"); !strings.Contains(vm, "record the retention disk's provenance (vSphere UUID, contentId, allocated bytes) in the VM's extraConfig mtprep.retention.provenance") {
		t.Errorf("vm: %q does not say it records the retention disk's provenance", vm)
	}
	if len(s.model.Map().All("VirtualMachine")) != vms || s.tasks() != tasks {
		t.Error("plan changed something")
	}
}

// TestExistingVMDiffers: an existing VM with a Paravirtual controller and
// fewer CPUs is reported, not changed; --fix changes the CPUs (powered
// off) and still refuses the controller.
func TestExistingVMDiffers(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	tg := simTarget(t, s, "", 0, nil)
	if rs, err := Build(ctx, tg, vspherePhases(t, "upload,vm")); err != nil {
		t.Fatalf("%v (%s)", err, statuses(rs))
	}
	// Make it differ, with the test's own client: 2 vCPU and a
	// Paravirtual controller in place of the LSI Logic one.
	vm := object.NewVirtualMachine(s.c, types.ManagedObjectReference{Type: "VirtualMachine", Value: tg.Facts.VMMoRef})
	devs, err := vm.Device(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lsi := devs.SelectByType((*types.VirtualLsiLogicController)(nil))[0].(*types.VirtualLsiLogicController)
	pv := &types.ParaVirtualSCSIController{VirtualSCSIController: lsi.VirtualSCSIController}
	task, err := vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{NumCPUs: 2, DeviceChange: []types.BaseVirtualDeviceConfigSpec{
		&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationRemove, Device: lsi},
		&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: pv},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := task.Wait(ctx); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name     string
		fix      bool
		wantErr  []string
		wantCPUs int32
	}{
		{"reported, not changed", false, []string{"2 vCPU, the spec says 4", "pvscsi", "LSI Logic", "--fix"}, 2},
		{"--fix sets the CPUs, not the controller", true, []string{"still differs", "pvscsi", "not changed by mtprep"}, 4},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tg := simTarget(t, s, "", 0, nil)
			tg.Options.Fix = c.fix
			plan, err := Plan(ctx, tg, vspherePhases(t, "vm"))
			if err != nil || plan[0].Status != StatusWouldChange {
				t.Fatalf("plan: %v %+v", err, plan)
			}
			_, err = Build(ctx, tg, vspherePhases(t, "vm"))
			if err == nil {
				t.Fatal("built a VM with a Paravirtual controller")
			}
			for _, w := range c.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			var m mo.VirtualMachine
			if err := property.DefaultCollector(s.c).RetrieveOne(ctx, vm.Reference(), []string{"config.hardware"}, &m); err != nil {
				t.Fatal(err)
			}
			if m.Config.Hardware.NumCPU != c.wantCPUs {
				t.Errorf("%d vCPU, want %d", m.Config.Hardware.NumCPU, c.wantCPUs)
			}
			if len(object.VirtualDeviceList(m.Config.Hardware.Device).SelectByType((*types.ParaVirtualSCSIController)(nil))) != 1 {
				t.Error("mtprep changed the controller")
			}
		})
	}
}

// TestFixGrowsDisksAndSetsBootOrder: --fix grows a smaller disk, adds a
// missing retention disk and restores the boot order; it never shrinks.
func TestFixGrowsDisksAndSetsBootOrder(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	tg := simTarget(t, s, "", 0, func(sp *spec.Spec) { sp.VM.OSDiskGB, sp.VM.RetentionDiskGB = 120, 50 })
	if rs, err := Build(ctx, tg, vspherePhases(t, "upload,vm")); err != nil {
		t.Fatalf("%v (%s)", err, statuses(rs))
	}
	vm := object.NewVirtualMachine(s.c, types.ManagedObjectReference{Type: "VirtualMachine", Value: tg.Facts.VMMoRef})
	devs, _ := vm.Device(ctx)
	disks := vsphere.Disks(devs)
	task, _ := vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{
		BootOptions: &types.VirtualMachineBootOptions{BootOrder: []types.BaseVirtualMachineBootOptionsBootableDevice{&types.VirtualMachineBootOptionsBootableCdromDevice{}}},
		DeviceChange: []types.BaseVirtualDeviceConfigSpec{&types.VirtualDeviceConfigSpec{
			Operation: types.VirtualDeviceConfigSpecOperationRemove, FileOperation: types.VirtualDeviceConfigSpecFileOperationDestroy, Device: disks[1],
		}},
	})
	if err := task.Wait(ctx); err != nil {
		t.Fatal(err)
	}

	// The spec now wants a bigger OS disk and a smaller retention disk
	// than the first build made; the retention disk is gone.
	fix := simTarget(t, s, "", 0, func(sp *spec.Spec) { sp.VM.OSDiskGB, sp.VM.RetentionDiskGB = 150, 40 })
	sameISOs(fix, tg)
	fix.Options.Fix = true
	if rs, err := Build(ctx, fix, vspherePhases(t, "vm")); err != nil {
		t.Fatalf("%v (%s)", err, statuses(rs))
	}
	devs, _ = vm.Device(ctx)
	disks = vsphere.Disks(devs)
	if len(disks) != 2 || vsphere.DiskBytes(disks[0]) != 150<<30 || vsphere.DiskBytes(disks[1]) != 40<<30 {
		t.Fatalf("disks after --fix: %d", len(disks))
	}
	bo, _ := vm.BootOptions(ctx)
	if !vsphere.BootsDiskThenCD(bo, disks[0].Key) {
		t.Errorf("boot order after --fix: %#v", bo.BootOrder)
	}

	// A spec asking for less than there is: nothing to do, nothing shrunk.
	small := simTarget(t, s, "", 0, func(sp *spec.Spec) { sp.VM.OSDiskGB, sp.VM.RetentionDiskGB = 100, 10 })
	sameISOs(small, tg)
	small.Options.Fix = true
	rs, err := Build(ctx, small, vspherePhases(t, "vm"))
	if err != nil || rs[0].Status != StatusDone {
		t.Fatalf("%v (%s)", err, statuses(rs))
	}
}

// TestFixNICAndCDROM: a NIC on another port group (a distributed one
// here) and a CD-ROM holding another ISO are reported; --fix, with the VM
// powered off, moves the NIC and inserts this MT's ISO.
func TestFixNICAndCDROM(t *testing.T) {
	s := newSim(t)
	ctx := context.Background()
	tg, ref := builtVM(t, s)
	vm := object.NewVirtualMachine(s.c, ref)
	f := find.NewFinder(s.c, true)
	dc, _ := f.Datacenter(ctx, "DC0")
	f.SetDatacenter(dc)
	pg, err := f.Network(ctx, "DC0_DVPG0")
	if err != nil {
		t.Fatal(err)
	}
	backing, err := pg.EthernetCardBackingInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	devs, _ := vm.Device(ctx)
	nic := devs.SelectByType((*types.VirtualEthernetCard)(nil))[0]
	nic.GetVirtualDevice().Backing = backing
	cd := vsphere.OrderedCDROMs(devs)[0] // the media's
	devs.InsertIso(cd, "[LocalDS_0] isos/other.iso")
	if err := vm.EditDevice(ctx, nic, cd); err != nil {
		t.Fatal(err)
	}

	report := simTarget(t, s, "", 0, nil)
	sameISOs(report, tg)
	_, err = Build(ctx, report, vspherePhases(t, "vm"))
	if err == nil || !strings.Contains(err.Error(), `not "VM Network"`) || !strings.Contains(err.Error(), "holds [LocalDS_0] isos/other.iso") {
		t.Fatalf("%v", err)
	}

	fix := simTarget(t, s, "", 0, nil)
	sameISOs(fix, tg)
	fix.Options.Fix = true
	if rs, err := Build(ctx, fix, vspherePhases(t, "vm")); err != nil || rs[0].Status != StatusChanged {
		t.Fatalf("--fix: %v (%s)", err, statuses(rs))
	}
	devs, _ = vm.Device(ctx)
	netObj, _ := f.Network(ctx, "VM Network")
	if b, ok := devs.SelectByType((*types.VirtualEthernetCard)(nil))[0].GetVirtualDevice().Backing.(*types.VirtualEthernetCardNetworkBackingInfo); !ok || b.Network == nil || *b.Network != netObj.Reference() {
		t.Errorf("NIC after --fix: %#v", devs.SelectByType((*types.VirtualEthernetCard)(nil))[0].GetVirtualDevice().Backing)
	}
	if got := vsphere.CDROMISO(vsphere.OrderedCDROMs(devs)[0]); got != tg.Facts.ISODatastore {
		t.Errorf("CD-ROM after --fix: %q, want %q", got, tg.Facts.ISODatastore)
	}
}
