package vsphere

import (
	"fmt"
	"sort"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

// Disks are the VM's disks in bus order: SCSI controllers by bus number,
// then unit number; disks on other controllers after them.
func Disks(devs object.VirtualDeviceList) []*types.VirtualDisk {
	busOf := func(d *types.VirtualDisk) int32 {
		if c, ok := devs.FindByKey(d.ControllerKey).(types.BaseVirtualSCSIController); ok {
			return c.GetVirtualSCSIController().BusNumber
		}
		return 100 + d.ControllerKey // non-SCSI after SCSI
	}
	var disks []*types.VirtualDisk
	for _, d := range devs.SelectByType((*types.VirtualDisk)(nil)) {
		disks = append(disks, d.(*types.VirtualDisk))
	}
	sort.SliceStable(disks, func(i, j int) bool {
		bi, bj := busOf(disks[i]), busOf(disks[j])
		if bi != bj {
			return bi < bj
		}
		return unit(disks[i].UnitNumber) < unit(disks[j].UnitNumber)
	})
	return disks
}

func unit(p *int32) int32 {
	if p == nil {
		return -1
	}
	return *p
}

// DiskBytes is a disk's capacity.
func DiskBytes(d *types.VirtualDisk) int64 {
	if d.CapacityInBytes > 0 {
		return d.CapacityInBytes
	}
	return d.CapacityInKB << 10
}

// DiskUUID is a disk's vSphere UUID (what the guest sees as its WWID
// with disk.EnableUUID), "" when its backing has none.
func DiskUUID(d *types.VirtualDisk) string {
	switch b := d.Backing.(type) {
	case *types.VirtualDiskFlatVer2BackingInfo:
		return b.Uuid
	case *types.VirtualDiskSparseVer2BackingInfo:
		return b.Uuid
	case *types.VirtualDiskSeSparseBackingInfo:
		return b.Uuid
	case *types.VirtualDiskRawDiskMappingVer1BackingInfo:
		return b.Uuid
	}
	return ""
}

// NewDisk is a new thin disk of bytes on controller c.
func NewDisk(devs object.VirtualDeviceList, c types.BaseVirtualController, bytes int64) *types.VirtualDisk {
	d := devs.CreateDisk(c, types.ManagedObjectReference{}, "")
	d.CapacityInBytes, d.CapacityInKB = bytes, bytes>>10
	return d
}

// NICNetwork is the network a NIC is on, and its name for messages.
func NICNetwork(n types.BaseVirtualEthernetCard) (types.ManagedObjectReference, string) {
	switch b := n.GetVirtualEthernetCard().Backing.(type) {
	case *types.VirtualEthernetCardNetworkBackingInfo:
		if b.Network != nil {
			return *b.Network, b.DeviceName
		}
		return types.ManagedObjectReference{}, b.DeviceName
	case *types.VirtualEthernetCardDistributedVirtualPortBackingInfo:
		return types.ManagedObjectReference{Type: "DistributedVirtualPortgroup", Value: b.Port.PortgroupKey}, "portgroup " + b.Port.PortgroupKey
	case *types.VirtualEthernetCardOpaqueNetworkBackingInfo:
		return types.ManagedObjectReference{Type: "OpaqueNetwork", Value: b.OpaqueNetworkId}, "opaque network " + b.OpaqueNetworkId
	}
	return types.ManagedObjectReference{}, "no network"
}

// EditableNIC copies a NIC's common part back into its concrete type.
func EditableNIC(dev types.BaseVirtualDevice, c *types.VirtualEthernetCard) types.BaseVirtualDevice {
	switch d := dev.(type) {
	case *types.VirtualVmxnet3:
		n := *d
		n.VirtualEthernetCard = *c
		return &n
	case *types.VirtualE1000:
		n := *d
		n.VirtualEthernetCard = *c
		return &n
	case *types.VirtualE1000e:
		n := *d
		n.VirtualEthernetCard = *c
		return &n
	case *types.VirtualVmxnet2:
		n := *d
		n.VirtualEthernetCard = *c
		return &n
	case *types.VirtualPCNet32:
		n := *d
		n.VirtualEthernetCard = *c
		return &n
	}
	return dev
}

// BootDiskThenCD is the boot order: the disk, then the CD-ROM.
func BootDiskThenCD(diskKey int32) *types.VirtualMachineBootOptions {
	return &types.VirtualMachineBootOptions{BootOrder: []types.BaseVirtualMachineBootOptionsBootableDevice{
		&types.VirtualMachineBootOptionsBootableDiskDevice{DeviceKey: diskKey},
		&types.VirtualMachineBootOptionsBootableCdromDevice{},
	}}
}

// BootsDiskThenCD reports whether o boots the disk, then the CD-ROM.
func BootsDiskThenCD(o *types.VirtualMachineBootOptions, diskKey int32) bool {
	if o == nil || len(o.BootOrder) < 2 {
		return false
	}
	d, ok := o.BootOrder[0].(*types.VirtualMachineBootOptionsBootableDiskDevice)
	_, cd := o.BootOrder[1].(*types.VirtualMachineBootOptionsBootableCdromDevice)
	return ok && d.DeviceKey == diskKey && cd
}

// CD-ROM order: "first" and "second" are the order in which a Linux
// installer's kernel names them sr0 and sr1: IDE drives by channel then
// master/slave, i.e. by controller bus number then unit number; other
// CD-ROMs (SATA) after them.

// OrderedCDROMs are the VM's CD-ROMs in the order the guest names them.
func OrderedCDROMs(devs object.VirtualDeviceList) []*types.VirtualCdrom {
	type ranked struct {
		cd               *types.VirtualCdrom
		kind, bus, index int32
	}
	var l []ranked
	for _, d := range devs.SelectByType((*types.VirtualCdrom)(nil)) {
		cd := d.(*types.VirtualCdrom)
		r := ranked{cd: cd, kind: 2, index: cd.Key}
		switch c := devs.FindByKey(cd.ControllerKey).(type) {
		case *types.VirtualIDEController:
			r.kind, r.bus, r.index = 0, c.BusNumber, unit(cd.UnitNumber)
		case types.BaseVirtualSATAController:
			r.kind, r.bus, r.index = 1, c.GetVirtualSATAController().BusNumber, unit(cd.UnitNumber)
		}
		l = append(l, r)
	}
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.kind != b.kind {
			return a.kind < b.kind
		}
		if a.bus != b.bus {
			return a.bus < b.bus
		}
		return a.index < b.index
	})
	out := make([]*types.VirtualCdrom, len(l))
	for i, r := range l {
		out[i] = r.cd
	}
	return out
}

// CDROMISO is the ISO a CD-ROM holds, or "".
func CDROMISO(c *types.VirtualCdrom) string {
	if b, ok := c.Backing.(*types.VirtualCdromIsoBackingInfo); ok {
		return b.FileName
	}
	return ""
}

// AddCDROMs makes the device changes that add one CD-ROM per ISO, in
// order, in the first free IDE slots (so they come after the existing
// CD-ROMs in the guest's naming). It works on copies: the VM's device
// list is not changed.
func AddCDROMs(devs object.VirtualDeviceList, isos []string) ([]types.BaseVirtualDeviceConfigSpec, error) {
	l := make(object.VirtualDeviceList, 0, len(devs)+len(isos))
	for _, d := range devs {
		if c, ok := d.(*types.VirtualIDEController); ok {
			cc := *c
			cc.Device = append([]int32(nil), c.Device...)
			d = &cc
		}
		l = append(l, d)
	}
	var change []types.BaseVirtualDeviceConfigSpec
	for _, iso := range isos {
		var ide *types.VirtualIDEController
		var ides []*types.VirtualIDEController
		for _, d := range l.SelectByType((*types.VirtualIDEController)(nil)) {
			ides = append(ides, d.(*types.VirtualIDEController))
		}
		sort.Slice(ides, func(i, j int) bool { return ides[i].BusNumber < ides[j].BusNumber })
		for _, c := range ides {
			if len(c.Device) < 2 {
				ide = c
				break
			}
		}
		if ide == nil {
			return nil, fmt.Errorf("no free IDE slot")
		}
		cd, err := l.CreateCdrom(ide)
		if err != nil {
			return nil, err
		}
		l.InsertIso(cd, iso)
		l = append(l, cd)
		change = append(change, &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: cd})
	}
	return change, nil
}
