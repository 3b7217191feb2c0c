package provision

import (
	"fmt"
	"strings"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/vsphere"
)

// The vm phase's pure half: the VM the spec describes (vmWant), how an
// existing VM differs from it and what --fix may do about each difference
// (diffVM), the new VM's configuration (createSpec) and the plan's words
// for them. It reads govmomi types and calls nothing: the phase
// (phase_vm.go) reads and changes the VM through provision/vsphere.

// vmWant is the VM the spec describes.
type vmWant struct {
	vm         guest.VMProfile // the OS's: guest ID, controller, NIC
	firmware   string          // bios or efi (vm.firmware)
	cpus       int32
	memoryMB   int32
	osBytes    int64
	retBytes   int64
	network    string
	netRef     types.ManagedObjectReference
	iso        string // "[ds] mtprep-iso/<sha>.iso"; "" when unknown
	isoPrefix  string // "[ds] mtprep-iso/": any mtprep media, when iso is unknown
	seed       string // "[ds] mtprep-iso/seeds/mt01-<sha>.iso"; "" when unknown
	seedPrefix string // "[ds] mtprep-iso/seeds/mt01-": any seed of this MT
}

// vmDiff is one way an existing VM differs from the spec.
type vmDiff struct {
	What string // "2 vCPU, the spec says 4"
	// Fix is what --fix does about it; empty when mtprep will not, and
	// Why says what to do instead.
	Fix, Why string
	apply    func(spec_ *types.VirtualMachineConfigSpec)
	// late fixes need the real keys of devices other fixes add (the boot
	// order names the OS disk), so they go in a reconfigure of their own.
	late bool
}

func (d vmDiff) String() string {
	if d.Fix != "" {
		return fmt.Sprintf("%s (--fix: %s)", d.What, d.Fix)
	}
	return fmt.Sprintf("%s (not changed by mtprep: %s)", d.What, d.Why)
}

func gb(b int64) string {
	if b%(1<<30) == 0 {
		return fmt.Sprintf("%d GB", b>>30)
	}
	return fmt.Sprintf("%.1f GB", float64(b)/(1<<30))
}

// diffVM lists how the VM differs from want, and what --fix may do. Safe
// means no data and no boot at risk: CPU, memory and guest id while
// powered off, growing disks, adding a missing disk, NIC or CD-ROM,
// inserting the ISO, the boot order. Never shrinking a disk, never the
// controller type of a VM with disks.
func diffVM(st *vsphere.VM, w vmWant, nicBacking types.BaseVirtualDeviceBackingInfo) []vmDiff {
	var out []vmDiff
	hw := st.MO.Config.Hardware
	off := st.PowerState() == types.VirtualMachinePowerStatePoweredOff
	whenOff := func(d vmDiff, fix string, apply func(*types.VirtualMachineConfigSpec)) vmDiff {
		if off {
			d.Fix, d.apply = fix, apply
		} else {
			d.Why = fmt.Sprintf("the VM is %s; this changes only while it is powered off (shut it down, then run with --fix)", st.PowerState())
		}
		return d
	}
	if hw.NumCPU != w.cpus {
		out = append(out, whenOff(vmDiff{What: fmt.Sprintf("%d vCPU, the spec says %d", hw.NumCPU, w.cpus)},
			fmt.Sprintf("set %d vCPU", w.cpus), func(s *types.VirtualMachineConfigSpec) { s.NumCPUs = w.cpus }))
	}
	if hw.MemoryMB != w.memoryMB {
		out = append(out, whenOff(vmDiff{What: fmt.Sprintf("%d MB memory, the spec says %d MB", hw.MemoryMB, w.memoryMB)},
			fmt.Sprintf("set %d MB", w.memoryMB), func(s *types.VirtualMachineConfigSpec) { s.MemoryMB = int64(w.memoryMB) }))
	}
	if f := st.MO.Config.Firmware; w.firmware == "efi" && f != "efi" || w.firmware == "bios" && f == "efi" {
		out = append(out, vmDiff{What: fmt.Sprintf("firmware %s, the spec says %s", orBIOS(f), w.firmware),
			Why: "the installed OS boots with the firmware it was installed for: delete the VM and build it again, or set vm.firmware to " + orBIOS(f)})
	}
	if g, want := st.MO.Config.GuestId, w.vm.GuestID; g != want {
		out = append(out, whenOff(vmDiff{What: fmt.Sprintf("guest OS %s, the MT runs %s (%s)", g, w.vm.GuestName, want)},
			"set guest OS "+want, func(s *types.VirtualMachineConfigSpec) { s.GuestId = want }))
	}

	devs := st.Devices
	var lsi types.BaseVirtualController
	for _, c := range devs.SelectByType((*types.VirtualSCSIController)(nil)) {
		if devs.Type(c) == w.vm.Controller {
			if lsi == nil {
				lsi = c.(types.BaseVirtualController)
			}
			continue
		}
		out = append(out, vmDiff{
			What: fmt.Sprintf("SCSI controller %d is %s; ASR's reprotect needs %s (it fails with Paravirtual)", c.(types.BaseVirtualSCSIController).GetVirtualSCSIController().BusNumber, devs.Type(c), w.vm.ControllerName),
			Why:  "changing the controller of a VM with disks can leave the guest unbootable; " + w.vm.ControllerHint,
		})
	}
	disks := vsphere.Disks(devs)
	for _, d := range disks {
		if _, ok := devs.FindByKey(d.ControllerKey).(types.BaseVirtualSCSIController); !ok {
			out = append(out, vmDiff{What: fmt.Sprintf("disk %s is not on a SCSI controller", devs.Name(d)), Why: "ASR needs the MT's disks on an " + w.vm.ControllerName + " SCSI controller; move it by hand"})
		}
	}
	if lsi == nil && len(devs.SelectByType((*types.VirtualSCSIController)(nil))) == 0 {
		out = append(out, vmDiff{What: "no SCSI controller", Why: "add an " + w.vm.ControllerName + " controller by hand (with the VM powered off)"})
	}
	wantDisk := func(role string, i int, want int64) {
		switch {
		case i >= len(disks) && lsi == nil:
			out = append(out, vmDiff{What: fmt.Sprintf("no %s disk", role), Why: "there is no " + w.vm.ControllerName + " controller to add it to"})
		case i >= len(disks):
			out = append(out, vmDiff{What: fmt.Sprintf("no %s disk", role), Fix: fmt.Sprintf("add a thin %s disk of %s", role, gb(want)),
				apply: func(s *types.VirtualMachineConfigSpec) {
					d := vsphere.NewDisk(devs, lsi, want)
					s.DeviceChange = append(s.DeviceChange, &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, FileOperation: types.VirtualDeviceConfigSpecFileOperationCreate, Device: d})
				}})
		case vsphere.DiskBytes(disks[i]) < want:
			d := disks[i]
			out = append(out, vmDiff{What: fmt.Sprintf("%s disk is %s, the spec says %s", role, gb(vsphere.DiskBytes(d)), gb(want)), Fix: "grow it to " + gb(want),
				apply: func(s *types.VirtualMachineConfigSpec) {
					nd := *d
					nd.CapacityInBytes, nd.CapacityInKB = want, want>>10
					s.DeviceChange = append(s.DeviceChange, &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: &nd})
				}})
		}
	}
	wantDisk("OS", 0, w.osBytes)
	wantDisk("retention", 1, w.retBytes)

	nics := devs.SelectByType((*types.VirtualEthernetCard)(nil))
	onNet := false
	for _, n := range nics {
		if ref, _ := vsphere.NICNetwork(n.(types.BaseVirtualEthernetCard)); ref == w.netRef {
			onNet = true
		}
	}
	switch {
	case onNet:
	case len(nics) == 0:
		out = append(out, vmDiff{What: "no network card", Fix: fmt.Sprintf("add a %s NIC on %q", w.vm.NIC, w.network),
			apply: func(s *types.VirtualMachineConfigSpec) {
				n, _ := devs.CreateEthernetCard(w.vm.NIC, nicBacking)
				s.DeviceChange = append(s.DeviceChange, &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: n})
			}})
	default:
		first := nics[0].(types.BaseVirtualEthernetCard)
		_, name := vsphere.NICNetwork(first)
		out = append(out, whenOff(vmDiff{What: fmt.Sprintf("network card %s is on %s, not %q", devs.Name(nics[0]), name, w.network)},
			fmt.Sprintf("move it to %q", w.network), func(s *types.VirtualMachineConfigSpec) {
				n := first.GetVirtualEthernetCard()
				nc := *n
				nc.Backing = nicBacking
				s.DeviceChange = append(s.DeviceChange, &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: vsphere.EditableNIC(nics[0], &nc)})
			}))
	}

	cds := vsphere.OrderedCDROMs(devs)
	if st.Extra(installedMarker) == "" {
		// Once installed, the install phase ejected both on purpose.
		out = append(out, diffCDROMs(st, cds, w)...)
	}

	if len(disks) > 0 && len(cds) > 0 && !vsphere.BootsDiskThenCD(st.MO.Config.BootOptions, disks[0].Key) {
		out = append(out, vmDiff{What: "boot order is not OS disk then CD-ROM (after the install the VM would boot the installer again, or not find it)", Fix: "set boot order: OS disk, CD-ROM",
			apply: func(s *types.VirtualMachineConfigSpec) { s.BootOptions = vsphere.BootDiskThenCD(disks[0].Key) }, late: true})
	}
	return out
}

func describeVM(st *vsphere.VM) string {
	devs := st.Devices
	var parts []string
	hw := st.MO.Config.Hardware
	parts = append(parts, fmt.Sprintf("%d vCPU, %d MB", hw.NumCPU, hw.MemoryMB))
	for _, c := range devs.SelectByType((*types.VirtualSCSIController)(nil)) {
		parts = append(parts, devs.Type(c))
	}
	var ds []string
	for _, d := range vsphere.Disks(devs) {
		ds = append(ds, gb(vsphere.DiskBytes(d)))
	}
	if len(ds) > 0 {
		parts = append(parts, "disks "+strings.Join(ds, " + "))
	}
	for _, n := range devs.SelectByType((*types.VirtualEthernetCard)(nil)) {
		_, name := vsphere.NICNetwork(n.(types.BaseVirtualEthernetCard))
		parts = append(parts, "NIC on "+name)
	}
	for _, c := range devs.SelectByType((*types.VirtualCdrom)(nil)) {
		if iso := vsphere.CDROMISO(c.(*types.VirtualCdrom)); iso != "" {
			parts = append(parts, "CD-ROM "+iso)
		} else {
			parts = append(parts, "CD-ROM empty")
		}
	}
	parts = append(parts, string(st.PowerState()))
	if st.Host != "" {
		parts = append(parts, "on "+st.Host)
	}
	return fmt.Sprintf("VM %s (%s): %s", st.MO.Name, st.Ref.Value, strings.Join(parts, ", "))
}

// orBIOS names a VM's firmware; vSphere leaves it empty for BIOS.
func orBIOS(f string) string {
	if f == "" {
		return "bios"
	}
	return f
}
