package provision

import (
	"context"
	"fmt"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/provision/vsphere"
)

// Creating the MT's VM: its configuration from the spec (createSpec, the
// plan's words for it) and the creation through provision/vsphere, with
// the boot order set once the new disk has its key.

// createSpec is the new VM: devices get temporary negative keys; the boot
// order, which needs the disk's real key, is set right after.
func (t *Target) createSpec(w vmWant, ds string, nicBacking types.BaseVirtualDeviceBackingInfo) (types.VirtualMachineConfigSpec, error) {
	var devs object.VirtualDeviceList
	scsi, err := devs.CreateSCSIController(w.vm.Controller)
	if err != nil {
		return types.VirtualMachineConfigSpec{}, err
	}
	devs = append(devs, scsi)
	ide, _ := devs.CreateIDEController()
	devs = append(devs, ide)
	ctl := scsi.(types.BaseVirtualController)
	osd := vsphere.NewDisk(devs, ctl, w.osBytes)
	devs = append(devs, osd)
	ret := vsphere.NewDisk(devs, ctl, w.retBytes)
	devs = append(devs, ret)
	nic, err := devs.CreateEthernetCard(w.vm.NIC, nicBacking)
	if err != nil {
		return types.VirtualMachineConfigSpec{}, err
	}
	devs = append(devs, nic)
	// The media at IDE 0:0 (the guest's sr0), the seed at IDE 0:1 (sr1),
	// where the media's boot argument looks for the kickstart.
	for _, iso := range []string{w.iso, w.seed} {
		cd, err := devs.CreateCdrom(ide.(*types.VirtualIDEController))
		if err != nil {
			return types.VirtualMachineConfigSpec{}, err
		}
		devs = append(devs, devs.InsertIso(cd, iso))
	}
	change, err := devs.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
	if err != nil {
		return types.VirtualMachineConfigSpec{}, err
	}
	var firmware string
	if w.firmware == "efi" {
		firmware = "efi" // bios is vSphere's default: left unset
	}
	return types.VirtualMachineConfigSpec{
		Firmware:     firmware,
		Name:         t.Spec.Name,
		GuestId:      w.vm.GuestID,
		NumCPUs:      w.cpus,
		MemoryMB:     int64(w.memoryMB),
		Annotation:   fmt.Sprintf("Azure Site Recovery master target %s (%s), created by mtprep", t.Spec.Name, t.Spec.Network.Hostname),
		Files:        &types.VirtualMachineFileInfo{VmPathName: "[" + ds + "]"},
		DeviceChange: change,
		// Born locked by this run (lock.go), and marked as mtprep's own.
		ExtraConfig: []types.BaseOptionValue{
			&types.OptionValue{Key: vmLockKey, Value: t.lockOwner().String()},
			&types.OptionValue{Key: createdMarker, Value: time.Now().UTC().Format(time.RFC3339)},
		},
	}, nil
}

func (t *Target) createDescription(w vmWant, inv *vsphere.Inventory) string {
	iso, seed := w.iso, w.seed
	if iso == "" {
		iso = w.isoPrefix + "<sha256>.iso"
	}
	if seed == "" {
		seed = w.seedPrefix + "<sha256>.iso"
	}
	return fmt.Sprintf("create VM %s in %s on %s: %d vCPU, %d MB, guest %s, %s SCSI, thin OS disk %s + retention disk %s, %s NIC on %q, CD-ROMs %s (install media) and %s (seed), boot order disk then CD-ROM; record the retention disk's provenance (vSphere UUID, contentId, allocated bytes) in the VM's extraConfig %s",
		t.Spec.Name, inv.FolderPath, inv.Datastore.Name(), w.cpus, w.memoryMB, w.vm.GuestID, w.vm.ControllerName, gb(w.osBytes), gb(w.retBytes), w.vm.NIC, w.network, iso, seed, provenanceKey)
}

func (t *Target) createVM(ctx context.Context, s *vsphere.Session, c *vmCheck, backing types.BaseVirtualDeviceBackingInfo) error {
	if c.want.iso == "" || c.want.seed == "" {
		return fmt.Errorf("no local install media or seed to attach (%s, %s): run the iso and upload phases first", t.artefacts()[0].local, t.artefacts()[1].local)
	}
	// vSphere creates a VM whose CD-ROM names a missing file without a
	// word (and vcsim too); the install would then boot nothing.
	for _, a := range t.artefacts() {
		li, err := t.localHash(ctx, a.local)
		if err != nil {
			return err
		}
		n := t.names(a, li.sha256)
		on, err := statISO(ctx, s, n)
		if err != nil {
			return err
		}
		if !on.complete(li) {
			return fmt.Errorf("the %s %s is not on the datastore (or incomplete): run the upload phase first", a.role, n.file)
		}
	}
	pl, err := s.Placement(ctx)
	if err != nil {
		return err
	}
	spec_, err := t.createSpec(c.want, c.inv.Datastore.Name(), backing)
	if err != nil {
		return err
	}
	obj := fmt.Sprintf("VM %s in %s", t.Spec.Name, c.inv.FolderPath)
	ref, err := s.CreateVM(ctx, c.inv.Folder, obj, spec_, pl)
	if vsphere.IsFault[*types.DuplicateName](err) {
		// Another run (or someone) created it after this run's check.
		return t.lostCreateRace(ctx, s, c, nil, err)
	}
	if err != nil {
		return err
	}
	t.Facts.VMMoRef = ref.Value
	// vSphere refuses a second VM of one name in a folder; a server that
	// does not (vcsim) leaves two, and the newer one gives way.
	if err := t.checkCreateRace(ctx, s, c, ref); err != nil {
		return err
	}
	t.run.locks.vmHeld(ref)
	st, err := s.ReadVM(ctx, ref)
	if err != nil {
		return err
	}
	t.Facts.ESXiHost = st.Host
	disks := vsphere.Disks(st.Devices)
	if len(disks) == 0 {
		return fmt.Errorf("create %s: the new VM has no disk", obj)
	}
	if err := s.Reconfigure(ctx, "set boot order of", "VM "+t.Spec.Name, ref, types.VirtualMachineConfigSpec{BootOptions: vsphere.BootDiskThenCD(disks[0].Key)}); err != nil {
		return err
	}
	// Now, powered off and never run, the retention disk's contentId is
	// what vSphere guarantees: the proof that it is still blank later.
	if err := t.recordProvenance(ctx, s, ref); err != nil {
		return err
	}
	t.Note("vm", fmt.Sprintf("created %s (%s) on %s", t.Spec.Name, ref.Value, st.Host))
	return nil
}
