package provision

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// vmPhase finds the MT VM by name in its folder, or creates it: CPUs,
// memory, CentOS 6 64-bit, an LSI Logic SCSI controller (ASR's reprotect
// fails with Paravirtual), thin OS and retention disks, a NIC on the port
// group, a CD-ROM with the uploaded ISO, and boot order disk then CD-ROM
// (a blank disk falls through to the installer; after the kickstart's
// reboot the installed disk boots, not the installer again). An existing
// VM that differs is reported; --fix reconciles what is safe.
type vmPhase struct{}

func (vmPhase) Name() string { return "vm" }

const (
	// GuestID is CentOS 4/5/6 64-bit.
	GuestID = "centos64Guest"
	// NICType is the MT's network card: CentOS 6's kernel has the driver,
	// and replication traffic gains from it over the emulated e1000.
	NICType = "vmxnet3"
)

// vmProps is every VM property the vSphere phases read, fetched in one
// PropertyCollector call.
var vmProps = []string{
	"name", "config.template", "config.guestId", "config.hardware.numCPU", "config.hardware.memoryMB",
	"config.hardware.device", "config.extraConfig", "config.flags", "config.bootOptions",
	"runtime.powerState", "runtime.host", "guest.toolsRunningStatus",
	"datastore",            // its datastore clusters' Storage DRS overrides (vm_sdrs.go)
	"config.changeVersion", // the lock's compare-and-swap (lock.go)
}

// vmState is one read of the VM.
type vmState struct {
	ref     types.ManagedObjectReference
	mo      mo.VirtualMachine
	host    string // ESXi host name
	devices object.VirtualDeviceList
}

func (st *vmState) powerState() types.VirtualMachinePowerState { return st.mo.Runtime.PowerState }

func (st *vmState) extra(key string) string {
	if st.mo.Config == nil {
		return ""
	}
	for _, o := range st.mo.Config.ExtraConfig {
		if ov := o.GetOptionValue(); ov != nil && ov.Key == key {
			s, _ := ov.Value.(string)
			return s
		}
	}
	return ""
}

// readVM reads the VM and its host's name in one PropertyCollector call
// (the host through a traversal of runtime.host).
func (s *vsphereSession) readVM(ctx context.Context, ref types.ManagedObjectReference) (*vmState, error) {
	res, err := methods.RetrieveProperties(ctx, s.c, &types.RetrieveProperties{
		This: s.c.ServiceContent.PropertyCollector,
		SpecSet: []types.PropertyFilterSpec{{
			ObjectSet: []types.ObjectSpec{{
				Obj:       ref,
				SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{Type: "VirtualMachine", Path: "runtime.host"}},
			}},
			PropSet: []types.PropertySpec{
				{Type: "VirtualMachine", PathSet: vmProps},
				{Type: "HostSystem", PathSet: []string{"name"}},
			},
		}},
	})
	if err != nil {
		return nil, &VSphereError{Op: "read", Object: "VM " + ref.Value, Err: err}
	}
	st := &vmState{ref: ref}
	for _, oc := range res.Returnval {
		switch oc.Obj.Type {
		case "VirtualMachine":
			if err := mo.LoadObjectContent([]types.ObjectContent{oc}, &st.mo); err != nil {
				return nil, fmt.Errorf("read VM %s: %w", ref.Value, err)
			}
		case "HostSystem":
			for _, p := range oc.PropSet {
				if p.Name == "name" {
					st.host, _ = p.Val.(string)
				}
			}
		}
	}
	if st.mo.Config == nil {
		return nil, fmt.Errorf("VM %s (%s) has no configuration (is it inaccessible or orphaned?)", st.mo.Name, ref.Value)
	}
	st.devices = object.VirtualDeviceList(st.mo.Config.Hardware.Device)
	return st, nil
}

// findVM looks the MT up by name in its folder: one SearchIndex call, then
// one read. nil when absent.
func (t *Target) findVM(ctx context.Context) (*vmState, error) {
	s, err := t.vsphere(ctx)
	if err != nil {
		return nil, err
	}
	inv, err := s.inventory(ctx)
	if err != nil {
		return nil, err
	}
	si := object.NewSearchIndex(s.c)
	ref, err := si.FindChild(ctx, inv.folder, t.Spec.Name)
	if err != nil {
		return nil, &VSphereError{Op: "find", Object: fmt.Sprintf("VM %s in %s", t.Spec.Name, inv.folderDsp), Err: err}
	}
	if ref == nil {
		return nil, nil
	}
	if ref.Reference().Type != "VirtualMachine" {
		return nil, fmt.Errorf("%s/%s is a %s, not a VM: rename it or change the MT's name", inv.folderDsp, t.Spec.Name, ref.Reference().Type)
	}
	st, err := s.readVM(ctx, ref.Reference())
	if err != nil {
		return nil, err
	}
	if st.mo.Config.Template {
		return nil, fmt.Errorf("%s/%s is a template, not a VM", inv.folderDsp, t.Spec.Name)
	}
	t.Facts.VMMoRef = ref.Reference().Value
	t.Facts.ESXiHost = st.host
	return st, nil
}

// vmFor returns the MT's VM for the phases after vm: the one the vm phase
// recorded, else looked up by name. nil when absent.
func (t *Target) vmFor(ctx context.Context) (*vmState, error) {
	s, err := t.vsphere(ctx)
	if err != nil {
		return nil, err
	}
	if t.Facts.VMMoRef != "" {
		st, err := s.readVM(ctx, types.ManagedObjectReference{Type: "VirtualMachine", Value: t.Facts.VMMoRef})
		if err == nil && st.mo.Name == t.Spec.Name {
			t.Facts.ESXiHost = st.host
			return st, nil
		}
		if err != nil && !isFault[*types.ManagedObjectNotFound](err) {
			return nil, err
		}
	}
	return t.findVM(ctx)
}

// wantISOs are the datastore paths of the MT's install media and seed,
// "" for one whose local file does not exist yet to name it.
func (t *Target) wantISOs(ctx context.Context) (media, seed string, err error) {
	if t.Facts.ISODatastore != "" && t.Facts.SeedDatastore != "" {
		return t.Facts.ISODatastore, t.Facts.SeedDatastore, nil
	}
	s, err := t.vsphere(ctx)
	if err != nil {
		return "", "", err
	}
	inv, err := s.inventory(ctx)
	if err != nil {
		return "", "", err
	}
	for _, a := range t.artefacts() {
		li, err := t.localHash(ctx, a.local)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return "", "", err
		}
		t.recordDatastorePath(a, dsPath(inv.datastore.Name(), t.names(a, li.sha256).file))
	}
	return t.Facts.ISODatastore, t.Facts.SeedDatastore, nil
}

// vmWant is the VM the spec describes.
type vmWant struct {
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

func (t *Target) vmWant(ctx context.Context, inv *inventory) (vmWant, error) {
	iso, seed, err := t.wantISOs(ctx)
	if err != nil {
		return vmWant{}, err
	}
	folder := t.Spec.VSphere.ISOFolder
	return vmWant{
		cpus: int32(t.Spec.VM.CPUs), memoryMB: int32(t.Spec.VM.MemoryMB),
		osBytes: int64(t.Spec.VM.OSDiskGB) << 30, retBytes: int64(t.Spec.VM.RetentionDiskGB) << 30,
		network: inv.netName, netRef: inv.network.Reference(),
		iso: iso, isoPrefix: dsPath(inv.datastore.Name(), folder+"/"),
		seed: seed, seedPrefix: dsPath(inv.datastore.Name(), folder+"/seeds/"+t.Spec.Name+"-"),
	}, nil
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

// vmDisks are the VM's disks in bus order: [0] is the OS disk, [1] the
// retention disk.
func vmDisks(devs object.VirtualDeviceList) []*types.VirtualDisk {
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

func diskBytes(d *types.VirtualDisk) int64 {
	if d.CapacityInBytes > 0 {
		return d.CapacityInBytes
	}
	return d.CapacityInKB << 10
}

func gb(b int64) string {
	if b%(1<<30) == 0 {
		return fmt.Sprintf("%d GB", b>>30)
	}
	return fmt.Sprintf("%.1f GB", float64(b)/(1<<30))
}

// cdromISO is the ISO a CD-ROM holds, or "".
func cdromISO(c *types.VirtualCdrom) string {
	if b, ok := c.Backing.(*types.VirtualCdromIsoBackingInfo); ok {
		return b.FileName
	}
	return ""
}

func nicNetwork(n types.BaseVirtualEthernetCard) (types.ManagedObjectReference, string) {
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

// diffVM lists how the VM differs from want, and what --fix may do. Safe
// means no data and no boot at risk: CPU, memory and guest id while
// powered off, growing disks, adding a missing disk, NIC or CD-ROM,
// inserting the ISO, the boot order. Never shrinking a disk, never the
// controller type of a VM with disks.
func diffVM(st *vmState, w vmWant, nicBacking types.BaseVirtualDeviceBackingInfo) []vmDiff {
	var out []vmDiff
	hw := st.mo.Config.Hardware
	off := st.powerState() == types.VirtualMachinePowerStatePoweredOff
	whenOff := func(d vmDiff, fix string, apply func(*types.VirtualMachineConfigSpec)) vmDiff {
		if off {
			d.Fix, d.apply = fix, apply
		} else {
			d.Why = fmt.Sprintf("the VM is %s; this changes only while it is powered off (shut it down, then run with --fix)", st.powerState())
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
	if g := st.mo.Config.GuestId; g != GuestID {
		out = append(out, whenOff(vmDiff{What: fmt.Sprintf("guest OS %s, the MT runs CentOS 6 64-bit (%s)", g, GuestID)},
			"set guest OS "+GuestID, func(s *types.VirtualMachineConfigSpec) { s.GuestId = GuestID }))
	}

	devs := st.devices
	var lsi *types.VirtualLsiLogicController
	for _, c := range devs.SelectByType((*types.VirtualSCSIController)(nil)) {
		if l, ok := c.(*types.VirtualLsiLogicController); ok {
			if lsi == nil {
				lsi = l
			}
			continue
		}
		out = append(out, vmDiff{
			What: fmt.Sprintf("SCSI controller %d is %s; ASR's reprotect needs LSI Logic (it fails with Paravirtual)", c.(types.BaseVirtualSCSIController).GetVirtualSCSIController().BusNumber, devs.Type(c)),
			Why:  "changing the controller of a VM with disks can leave the guest unbootable; with the VM powered off change it to LSI Logic Parallel in Edit Settings (the guest needs the mptspi driver, which CentOS 6 has)",
		})
	}
	disks := vmDisks(devs)
	for _, d := range disks {
		if _, ok := devs.FindByKey(d.ControllerKey).(types.BaseVirtualSCSIController); !ok {
			out = append(out, vmDiff{What: fmt.Sprintf("disk %s is not on a SCSI controller", devs.Name(d)), Why: "ASR needs the MT's disks on an LSI Logic SCSI controller; move it by hand"})
		}
	}
	if lsi == nil && len(devs.SelectByType((*types.VirtualSCSIController)(nil))) == 0 {
		out = append(out, vmDiff{What: "no SCSI controller", Why: "add an LSI Logic Parallel controller by hand (with the VM powered off)"})
	}
	wantDisk := func(role string, i int, want int64) {
		switch {
		case i >= len(disks) && lsi == nil:
			out = append(out, vmDiff{What: fmt.Sprintf("no %s disk", role), Why: "there is no LSI Logic controller to add it to"})
		case i >= len(disks):
			out = append(out, vmDiff{What: fmt.Sprintf("no %s disk", role), Fix: fmt.Sprintf("add a thin %s disk of %s", role, gb(want)),
				apply: func(s *types.VirtualMachineConfigSpec) {
					d := newDisk(devs, lsi, want)
					s.DeviceChange = append(s.DeviceChange, &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, FileOperation: types.VirtualDeviceConfigSpecFileOperationCreate, Device: d})
				}})
		case diskBytes(disks[i]) < want:
			d := disks[i]
			out = append(out, vmDiff{What: fmt.Sprintf("%s disk is %s, the spec says %s", role, gb(diskBytes(d)), gb(want)), Fix: "grow it to " + gb(want),
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
		if ref, _ := nicNetwork(n.(types.BaseVirtualEthernetCard)); ref == w.netRef {
			onNet = true
		}
	}
	switch {
	case onNet:
	case len(nics) == 0:
		out = append(out, vmDiff{What: "no network card", Fix: fmt.Sprintf("add a %s NIC on %q", NICType, w.network),
			apply: func(s *types.VirtualMachineConfigSpec) {
				n, _ := devs.CreateEthernetCard(NICType, nicBacking)
				s.DeviceChange = append(s.DeviceChange, &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: n})
			}})
	default:
		first := nics[0].(types.BaseVirtualEthernetCard)
		_, name := nicNetwork(first)
		out = append(out, whenOff(vmDiff{What: fmt.Sprintf("network card %s is on %s, not %q", devs.Name(nics[0]), name, w.network)},
			fmt.Sprintf("move it to %q", w.network), func(s *types.VirtualMachineConfigSpec) {
				n := first.GetVirtualEthernetCard()
				nc := *n
				nc.Backing = nicBacking
				s.DeviceChange = append(s.DeviceChange, &types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: editableNIC(nics[0], &nc)})
			}))
	}

	cds := orderedCDROMs(devs)
	if st.extra(installedMarker) == "" {
		// Once installed, the install phase ejected both on purpose.
		out = append(out, diffCDROMs(st, cds, w)...)
	}

	if len(disks) > 0 && len(cds) > 0 && !bootsDiskThenCD(st.mo.Config.BootOptions, disks[0].Key) {
		out = append(out, vmDiff{What: "boot order is not OS disk then CD-ROM (after the install the VM would boot the installer again, or not find it)", Fix: "set boot order: OS disk, CD-ROM",
			apply: func(s *types.VirtualMachineConfigSpec) { s.BootOptions = bootDiskThenCD(disks[0].Key) }, late: true})
	}
	return out
}

// editableNIC copies a NIC's common part back into its concrete type.
func editableNIC(dev types.BaseVirtualDevice, c *types.VirtualEthernetCard) types.BaseVirtualDevice {
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

func bootDiskThenCD(diskKey int32) *types.VirtualMachineBootOptions {
	return &types.VirtualMachineBootOptions{BootOrder: []types.BaseVirtualMachineBootOptionsBootableDevice{
		&types.VirtualMachineBootOptionsBootableDiskDevice{DeviceKey: diskKey},
		&types.VirtualMachineBootOptionsBootableCdromDevice{},
	}}
}

func bootsDiskThenCD(o *types.VirtualMachineBootOptions, diskKey int32) bool {
	if o == nil || len(o.BootOrder) < 2 {
		return false
	}
	d, ok := o.BootOrder[0].(*types.VirtualMachineBootOptionsBootableDiskDevice)
	_, cd := o.BootOrder[1].(*types.VirtualMachineBootOptionsBootableCdromDevice)
	return ok && d.DeviceKey == diskKey && cd
}

func newDisk(devs object.VirtualDeviceList, c types.BaseVirtualController, bytes int64) *types.VirtualDisk {
	d := devs.CreateDisk(c, types.ManagedObjectReference{}, "")
	d.CapacityInBytes, d.CapacityInKB = bytes, bytes>>10
	return d
}

// createSpec is the new VM: devices get temporary negative keys; the boot
// order, which needs the disk's real key, is set right after.
func (t *Target) createSpec(w vmWant, ds string, nicBacking types.BaseVirtualDeviceBackingInfo) (types.VirtualMachineConfigSpec, error) {
	var devs object.VirtualDeviceList
	scsi, err := devs.CreateSCSIController("lsilogic")
	if err != nil {
		return types.VirtualMachineConfigSpec{}, err
	}
	devs = append(devs, scsi)
	ide, _ := devs.CreateIDEController()
	devs = append(devs, ide)
	ctl := scsi.(types.BaseVirtualController)
	osd := newDisk(devs, ctl, w.osBytes)
	devs = append(devs, osd)
	ret := newDisk(devs, ctl, w.retBytes)
	devs = append(devs, ret)
	nic, err := devs.CreateEthernetCard(NICType, nicBacking)
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
	return types.VirtualMachineConfigSpec{
		Name:         t.Spec.Name,
		GuestId:      GuestID,
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

func (t *Target) createDescription(w vmWant, inv *inventory) string {
	iso, seed := w.iso, w.seed
	if iso == "" {
		iso = w.isoPrefix + "<sha256>.iso"
	}
	if seed == "" {
		seed = w.seedPrefix + "<sha256>.iso"
	}
	return fmt.Sprintf("create VM %s in %s on %s: %d vCPU, %d MB, guest %s, LSI Logic SCSI, thin OS disk %s + retention disk %s, %s NIC on %q, CD-ROMs %s (install media) and %s (seed), boot order disk then CD-ROM",
		t.Spec.Name, inv.folderDsp, inv.datastore.Name(), w.cpus, w.memoryMB, GuestID, gb(w.osBytes), gb(w.retBytes), NICType, w.network, iso, seed)
}

func describeVM(st *vmState) string {
	devs := st.devices
	var parts []string
	hw := st.mo.Config.Hardware
	parts = append(parts, fmt.Sprintf("%d vCPU, %d MB", hw.NumCPU, hw.MemoryMB))
	for _, c := range devs.SelectByType((*types.VirtualSCSIController)(nil)) {
		parts = append(parts, devs.Type(c))
	}
	var ds []string
	for _, d := range vmDisks(devs) {
		ds = append(ds, gb(diskBytes(d)))
	}
	if len(ds) > 0 {
		parts = append(parts, "disks "+strings.Join(ds, " + "))
	}
	for _, n := range devs.SelectByType((*types.VirtualEthernetCard)(nil)) {
		_, name := nicNetwork(n.(types.BaseVirtualEthernetCard))
		parts = append(parts, "NIC on "+name)
	}
	for _, c := range devs.SelectByType((*types.VirtualCdrom)(nil)) {
		if iso := cdromISO(c.(*types.VirtualCdrom)); iso != "" {
			parts = append(parts, "CD-ROM "+iso)
		} else {
			parts = append(parts, "CD-ROM empty")
		}
	}
	parts = append(parts, string(st.powerState()))
	if st.host != "" {
		parts = append(parts, "on "+st.host)
	}
	return fmt.Sprintf("VM %s (%s): %s", st.mo.Name, st.ref.Value, strings.Join(parts, ", "))
}

// vmCheck is what the vm phase found.
type vmCheck struct {
	inv   *inventory
	want  vmWant
	st    *vmState // nil: absent
	diffs []vmDiff
	// pods are the datastore clusters of the MT's datastores; sdrs the
	// ones where it is not kept out of Storage DRS (vm_sdrs.go).
	pods []sdrsPod
	sdrs []sdrsDiff
}

// sdrsLines are the plan lines for the Storage DRS overrides to add.
func (c *vmCheck) sdrsLines(withFix bool) []string {
	var l []string
	for _, d := range c.sdrs {
		l = append(l, d.String(withFix))
	}
	return l
}

// checkVM reads the VM and diffs it against the spec. byRef reads the VM
// the vm phase recorded (Verify) rather than looking it up by name.
func (t *Target) checkVM(ctx context.Context, byRef bool) (*vmCheck, error) {
	s, err := t.vsphere(ctx)
	if err != nil {
		return nil, err
	}
	inv, err := s.inventory(ctx)
	if err != nil {
		return nil, err
	}
	w, err := t.vmWant(ctx, inv)
	if err != nil {
		return nil, err
	}
	find := t.findVM
	if byRef {
		find = t.vmFor
	}
	st, err := find(ctx)
	if err != nil {
		return nil, err
	}
	c := &vmCheck{inv: inv, want: w, st: st}
	var ref *types.ManagedObjectReference
	if st != nil {
		// The NIC backing is only needed to fix a NIC; building it for a
		// DVS port group costs calls, so diffVM gets a placeholder that
		// Apply replaces.
		c.diffs = diffVM(st, w, nil)
		ref = &st.ref
	}
	if c.pods, err = s.readPods(ctx, inv, mtDatastoreRefs(inv, st), ref); err != nil {
		return nil, err
	}
	c.sdrs = diffSDRS(t.Spec.Name, ref, c.pods)
	return c, nil
}

// observed is the plan's Observed line for an existing VM.
func (c *vmCheck) observed() string {
	if len(c.pods) == 0 {
		return describeVM(c.st)
	}
	return describeVM(c.st) + "; " + describePods(c.pods)
}

func (vmPhase) Check(ctx context.Context, t *Target) (Check, error) {
	c, err := t.checkVM(ctx, false)
	if err != nil {
		return Check{}, err
	}
	t.keep("vm", c)
	if c.st == nil {
		obs := fmt.Sprintf("no VM named %s in %s", t.Spec.Name, c.inv.folderDsp)
		if len(c.pods) > 0 {
			obs += "; " + c.inv.datastore.Name() + " is " + describePods(c.pods)
		}
		return Check{Changes: append([]string{t.createDescription(c.want, c.inv)}, c.sdrsLines(false)...), Observed: obs}, nil
	}
	if len(c.diffs) == 0 && len(c.sdrs) == 0 {
		return Check{Done: true, Observed: c.observed()}, nil
	}
	var ch []string
	for _, d := range c.diffs {
		ch = append(ch, d.String())
	}
	ch = append(ch, c.sdrsLines(!finishesCreation(c))...)
	return Check{Changes: ch, Observed: c.observed()}, nil
}

func (vmPhase) Apply(ctx context.Context, t *Target) error {
	s, err := t.vsphere(ctx)
	if err != nil {
		return err
	}
	c, ok := t.take("vm").(*vmCheck)
	if !ok {
		if c, err = t.checkVM(ctx, false); err != nil {
			return err
		}
	}
	backing, err := c.inv.network.EthernetCardBackingInfo(ctx)
	if err != nil {
		return &VSphereError{Op: "read", Object: fmt.Sprintf("network %q", c.want.network), Err: err}
	}
	if c.st == nil {
		if err := t.createVM(ctx, s, c, backing); err != nil {
			return err
		}
		// Part of creating the MT: no --fix needed.
		return t.applySDRS(ctx, s, c)
	}
	return t.fixVM(ctx, s, c, backing)
}

// applySDRS adds (or edits) the MT's Storage DRS override in each pod
// that lacks one keeping it out, then reads the pods back.
func (t *Target) applySDRS(ctx context.Context, s *vsphereSession, c *vmCheck) error {
	if len(c.sdrs) == 0 {
		return nil
	}
	ref := types.ManagedObjectReference{Type: "VirtualMachine", Value: t.Facts.VMMoRef}
	if c.st != nil {
		ref = c.st.ref
	} else {
		// Just created: the check ran before the VM existed. vCenter may
		// have given a VM placed on a pod's datastore (bypassing Storage
		// DRS) an override of its own; look again with the VM's id.
		pods, err := s.readPods(ctx, c.inv, mtDatastoreRefs(c.inv, nil), &ref)
		if err != nil {
			return err
		}
		if c.sdrs = diffSDRS(t.Spec.Name, &ref, pods); len(c.sdrs) == 0 {
			return nil
		}
	}
	var done []string
	for _, d := range c.sdrs {
		if err := s.keepOutOfSDRS(ctx, ref, d); err != nil {
			return err
		}
		done = append(done, fmt.Sprintf("Storage DRS override in pod %s: %s", d.pod.name, d.Fix()))
	}
	st, err := s.readVM(ctx, ref)
	if err != nil {
		return err
	}
	pods, err := s.readPods(ctx, c.inv, mtDatastoreRefs(c.inv, st), &ref)
	if err != nil {
		return err
	}
	if left := diffSDRS(t.Spec.Name, &ref, pods); len(left) > 0 {
		return fmt.Errorf("VM %s: %s after the change (vCenter did not keep the override)", t.Spec.Name, left[0].What())
	}
	note := strings.Join(done, ", ")
	if prev := t.Facts.PhaseNotes["vm"]; prev != "" {
		note = prev + "; " + note // after "created ..." or "fixed: ..."
	}
	t.Note("vm", note)
	return nil
}

func (t *Target) createVM(ctx context.Context, s *vsphereSession, c *vmCheck, backing types.BaseVirtualDeviceBackingInfo) error {
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
		on, err := s.statISO(ctx, n)
		if err != nil {
			return err
		}
		if !on.complete(li) {
			return fmt.Errorf("the %s %s is not on the datastore (or incomplete): run the upload phase first", a.role, n.file)
		}
	}
	pl, err := s.placementFor(ctx)
	if err != nil {
		return err
	}
	spec_, err := t.createSpec(c.want, c.inv.datastore.Name(), backing)
	if err != nil {
		return err
	}
	obj := fmt.Sprintf("VM %s in %s", t.Spec.Name, c.inv.folderDsp)
	info, err := s.task(ctx, "create", obj, func() (*object.Task, error) {
		return c.inv.folder.CreateVM(ctx, spec_, pl.pool, pl.host)
	}, nil)
	if isFault[*types.DuplicateName](err) {
		// Another run (or someone) created it after this run's check.
		return t.lostCreateRace(ctx, s, c, nil, err)
	}
	if err != nil {
		return err
	}
	ref, ok := info.Result.(types.ManagedObjectReference)
	if !ok {
		return fmt.Errorf("create %s: the task returned no VM", obj)
	}
	t.Facts.VMMoRef = ref.Value
	// vSphere refuses a second VM of one name in a folder; a server that
	// does not (vcsim) leaves two, and the newer one gives way.
	if err := t.checkCreateRace(ctx, s, c, ref); err != nil {
		return err
	}
	t.locks.vmHeld(ref)
	st, err := s.readVM(ctx, ref)
	if err != nil {
		return err
	}
	t.Facts.ESXiHost = st.host
	disks := vmDisks(st.devices)
	if len(disks) == 0 {
		return fmt.Errorf("create %s: the new VM has no disk", obj)
	}
	if _, err := s.task(ctx, "set boot order of", "VM "+t.Spec.Name, func() (*object.Task, error) {
		return object.NewVirtualMachine(s.c, ref).Reconfigure(ctx, types.VirtualMachineConfigSpec{BootOptions: bootDiskThenCD(disks[0].Key)})
	}, nil); err != nil {
		return err
	}
	t.Note("vm", fmt.Sprintf("created %s (%s) on %s", t.Spec.Name, ref.Value, st.host))
	return nil
}

// finishesCreation: the VM is one mtprep created and never installed, and
// all that differs is the boot order, which creation sets in a second
// step (it needs the new disk's key). A run that stopped between the two
// steps is finished without --fix: that is mtprep completing its own
// work, not changing a VM someone else made.
//
// The Storage DRS override creation adds after the VM exists counts the
// same way, when it is missing (an override someone set to automated is
// theirs: --fix).
func finishesCreation(c *vmCheck) bool {
	if c.st == nil || c.st.extra(createdMarker) == "" || c.st.extra(installedMarker) != "" {
		return false
	}
	for _, d := range c.diffs {
		if d.apply == nil || !d.late {
			return false
		}
	}
	for _, d := range c.sdrs {
		if d.pod.override != nil {
			return false
		}
	}
	return len(c.diffs)+len(c.sdrs) > 0
}

// fixVM reconciles what is safe, with --fix, and fails listing what is
// left. Without --fix nothing is changed, except to finish a creation
// (finishesCreation).
func (t *Target) fixVM(ctx context.Context, s *vsphereSession, c *vmCheck, backing types.BaseVirtualDeviceBackingInfo) error {
	list := func(ds []vmDiff) string {
		var l []string
		for _, d := range ds {
			l = append(l, d.String())
		}
		return strings.Join(l, "; ")
	}
	if !t.Options.Fix && !finishesCreation(c) {
		var l []string
		for _, d := range c.diffs {
			l = append(l, d.String())
		}
		l = append(l, c.sdrsLines(true)...)
		return fmt.Errorf("VM %s differs from the spec and was not changed: %s. Run with --fix to reconcile what is safe", t.Spec.Name, strings.Join(l, "; "))
	}
	var fixed []string
	// Up to two reconfigures: devices first, then what needs their real
	// keys (the boot order).
	for pass := 0; pass < 2; pass++ {
		var now, late []vmDiff
		for _, d := range diffVM(c.st, c.want, backing) {
			switch {
			case d.apply == nil:
			case d.late:
				late = append(late, d)
			default:
				now = append(now, d)
			}
		}
		if len(now) == 0 {
			now = late
		}
		if len(now) == 0 {
			break
		}
		var spec_ types.VirtualMachineConfigSpec
		for _, d := range now {
			d.apply(&spec_)
			fixed = append(fixed, d.Fix)
		}
		if _, err := s.task(ctx, "reconfigure", "VM "+t.Spec.Name, func() (*object.Task, error) {
			return object.NewVirtualMachine(s.c, c.st.ref).Reconfigure(ctx, spec_)
		}, nil); err != nil {
			return err
		}
		st, err := s.readVM(ctx, c.st.ref)
		if err != nil {
			return err
		}
		c.st = st
	}
	if len(fixed) > 0 {
		t.Note("vm", "fixed: "+strings.Join(fixed, ", "))
	}
	// Safe whatever the power state: the override only stops vCenter
	// from moving the MT's files.
	if err := t.applySDRS(ctx, s, c); err != nil {
		return err
	}
	if left := diffVM(c.st, c.want, backing); len(left) > 0 {
		return fmt.Errorf("VM %s still differs from the spec after --fix: %s", t.Spec.Name, list(left))
	}
	return nil
}

func (vmPhase) Verify(ctx context.Context, t *Target) error {
	c, err := t.checkVM(ctx, true)
	if err != nil {
		return err
	}
	if c.st == nil {
		return fmt.Errorf("VM %s is not in %s", t.Spec.Name, c.inv.folderDsp)
	}
	if len(c.diffs) > 0 || len(c.sdrs) > 0 {
		var l []string
		for _, d := range c.diffs {
			l = append(l, d.What)
		}
		for _, d := range c.sdrs {
			l = append(l, d.What())
		}
		return fmt.Errorf("VM %s: %s", t.Spec.Name, strings.Join(l, "; "))
	}
	return nil
}
