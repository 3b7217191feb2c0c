package lab

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// VCenter is the lab's vSphere: govmomi's simulator (vcsim) with the VPX
// model, served over HTTPS on a real TCP port on 127.0.0.1 so that other
// processes (the CLI, govc-style environment variables) reach it as well as
// in-process tests.
type VCenter struct {
	// URL is the SDK URL with the credentials in it
	// (https://user:pass@127.0.0.1:port/sdk), as GOVC_URL takes it.
	URL      *url.URL
	Username string
	Password string
	// Insecure is always true in practice: the certificate is the simulator's
	// self-signed one. Thumbprint and CertPEM let a test pin it instead.
	Thumbprint string // SHA-1, colon-separated, as vSphere and govc print it
	CertPEM    []byte

	Datacenter   string // DC0
	Datastore    string // LocalDS_0, type VMFS, backed by DatastoreDir
	DatastoreDir string // the real directory behind the datastore
	Network      string // VM Network
	Host         string // inventory path of the standalone ESXi host
	ResourcePool string // inventory path of that host's root pool
	Folder       string // inventory path of the datacenter's VM folder

	Model  *simulator.Model
	Server *simulator.Server

	client *govmomi.Client
	// proofs are the disks' contentIds and the watched disk images
	// (diskproof.go).
	proofs *diskProofs
}

const (
	vcDatacenter = "DC0"
	vcDatastore  = "LocalDS_0"
	vcNetwork    = "VM Network"
	vcHostPath   = "/DC0/host/DC0_H0/DC0_H0"
	vcPoolPath   = "/DC0/host/DC0_H0/Resources"
	vcFolderPath = "/DC0/vm"
	vcUser       = "administrator@vsphere.local"
)

// startVCenter builds the simulator. vcsim normally keeps its datastores in
// a temporary directory of its own; the lab builds the model without them
// and mounts LocalDS_0 on every host from dsDir, so the datastore's files
// live (and are cleaned up) with the rest of the lab.
func startVCenter(ctx context.Context, dsDir string, onVcsimDir func(string)) (*VCenter, error) {
	m := simulator.VPX()
	m.Datastore = 0
	m.Machine = 0
	if err := m.Create(); err != nil {
		return nil, fmt.Errorf("vcsim: %w", err)
	}
	for _, o := range m.Map().OptionManager().Setting {
		if v := o.GetOptionValue(); v.Key == "vcsim.home" {
			onVcsimDir(fmt.Sprint(v.Value))
		}
	}
	pass := randomToken(12)
	m.Service.TLS = new(tls.Config)
	m.Service.Listen = &url.URL{Host: "127.0.0.1:0", User: url.UserPassword(vcUser, pass)}
	proofs := &diskProofs{}
	m.Map().AddHandler(diskUUIDNormaliser{proofs: proofs})
	s := m.Service.NewServer()
	vc := &VCenter{
		proofs:       proofs,
		URL:          s.URL,
		Username:     vcUser,
		Password:     pass,
		Datacenter:   vcDatacenter,
		Datastore:    vcDatastore,
		DatastoreDir: dsDir,
		Network:      vcNetwork,
		Host:         vcHostPath,
		ResourcePool: vcPoolPath,
		Folder:       vcFolderPath,
		Model:        m,
		Server:       s,
	}
	if cert := s.Certificate(); cert != nil {
		vc.Thumbprint = soap.ThumbprintSHA1(cert)
		vc.CertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	}
	c, err := govmomi.NewClient(ctx, s.URL, true)
	if err != nil {
		vc.close()
		return nil, fmt.Errorf("connect to vcsim: %w", err)
	}
	vc.client = c
	if err := vc.addDatastore(ctx); err != nil {
		vc.close()
		return nil, err
	}
	return vc, nil
}

// addDatastore mounts dsDir as LocalDS_0 on every host of DC0 and makes it
// look like VMFS: vcsim's local datastores say "OTHER", and an audit that
// wants a VMFS datastore (NFS is not supported for failback) must see one.
func (vc *VCenter) addDatastore(ctx context.Context) error {
	if err := os.MkdirAll(vc.DatastoreDir, 0o755); err != nil {
		return err
	}
	f := find.NewFinder(vc.client.Client, true)
	dc, err := f.Datacenter(ctx, vc.Datacenter)
	if err != nil {
		return err
	}
	f.SetDatacenter(dc)
	hosts, err := f.HostSystemList(ctx, "*")
	if err != nil {
		return err
	}
	var ref types.ManagedObjectReference
	for _, h := range hosts {
		dss, err := h.ConfigManager().DatastoreSystem(ctx)
		if err != nil {
			return err
		}
		ds, err := dss.CreateLocalDatastore(ctx, vc.Datastore, vc.DatastoreDir)
		if err != nil {
			return fmt.Errorf("create datastore on %s: %w", h.InventoryPath, err)
		}
		// vcsim answers with the datastore's reference only for the first
		// host; for the others it mounts the same one and answers empty.
		if r := ds.Reference(); ref.Value == "" && r.Value != "" {
			ref = r
		}
	}
	sctx := vc.Model.Service.Context
	ds, ok := sctx.Map.Get(ref).(*simulator.Datastore)
	if !ok {
		return fmt.Errorf("datastore %s not in the simulator", ref)
	}
	sctx.WithLock(ds, func() {
		info := ds.Info.GetDatastoreInfo()
		ds.Info = &types.VmfsDatastoreInfo{
			DatastoreInfo:          *info,
			MaxPhysicalRDMFileSize: 64 << 40,
			MaxVirtualRDMFileSize:  62 << 40,
			Vmfs: &types.HostVmfsVolume{
				HostFileSystemVolume: types.HostFileSystemVolume{Type: "VMFS", Name: vc.Datastore, Capacity: ds.Summary.Capacity},
				BlockSizeMb:          1,
				MaxBlocks:            64 << 20,
				MajorVersion:         6,
				Version:              "6.82",
				Uuid:                 "5f1a2b3c-8d7e6f50-4a3b-000c29a1b2c3",
				Extent:               []types.HostScsiDiskPartition{{DiskName: "mpx.vmhba0:C0:T0:L0", Partition: 3}},
				VmfsUpgradable:       false,
				Local:                types.NewBool(true),
				Ssd:                  types.NewBool(true),
			},
		}
		ds.Summary.Type = string(types.HostFileSystemVolumeFileSystemTypeVMFS)
	})
	return nil
}

func (vc *VCenter) close() {
	if vc.client != nil {
		vc.client.Logout(context.Background())
		vc.client = nil
	}
	if vc.Server != nil {
		vc.Server.Close()
		vc.Server = nil
	}
	if vc.Model != nil {
		vc.Model.Remove()
		vc.Model = nil
	}
}

// Client returns the lab's own logged-in govmomi client. Tests that check
// what mtprep did should prefer a client of their own (govmomi.NewClient
// with vc.URL), so they do not share a session with the lab.
func (vc *VCenter) Client() *govmomi.Client { return vc.client }

// diskUUIDNormaliser gives every virtual disk vcsim creates a VMware-shaped
// backing UUID. vcsim derives the UUID from a hash of the file name, which
// gives "a1b2c3d4-..." where ESXi gives "6000C29x-...": the first 7 hex
// digits are the NAA type 6 and VMware's OUI 00:0c:29, and a guest with
// disk.EnableUUID=TRUE sees WWID "3" + those 32 digits, so a WWID of a real
// VMware disk always starts with 36000c29. The handler rewrites any UUID
// not already of that shape (deterministically, from the old value) every
// time vcsim updates a VM; UUIDs given in a create spec in the right shape
// are kept, which is how a test chooses its disks' UUIDs.
//
// It also gives each flat disk its contentId (diskproof.go): one made
// when vcsim first shows the disk, and kept through every later update
// (vcsim never sets one, and a device edit sends the client's copy back).
type diskUUIDNormaliser struct{ proofs *diskProofs }

func (diskUUIDNormaliser) Reference() types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "MtlabDiskUUIDNormaliser", Value: "mtlab-disk-uuid"}
}

// PutObject runs when vcsim registers a new VM, before its devices exist
// (and with the VM locked by another context, so it must not lock it).
func (diskUUIDNormaliser) PutObject(*simulator.Context, mo.Reference) {}

func (diskUUIDNormaliser) RemoveObject(*simulator.Context, types.ManagedObjectReference) {}

func (h diskUUIDNormaliser) UpdateObject(_ *simulator.Context, obj mo.Reference, _ []types.PropertyChange) {
	vm, ok := obj.(*mo.VirtualMachine)
	if !ok {
		return
	}
	// No locking here: Update runs in the goroutine that changed the VM and
	// holds its lock, possibly through another context (TaskManager's), so
	// taking the lock again would deadlock. The UUID is written only when
	// it is not already of ESXi's shape, i.e. once per disk.
	if vm.Config == nil {
		return
	}
	for _, d := range vm.Config.Hardware.Device {
		disk, ok := d.(*types.VirtualDisk)
		if !ok {
			continue
		}
		switch b := disk.Backing.(type) {
		case *types.VirtualDiskFlatVer2BackingInfo:
			if u := vmwareDiskUUID(b.Uuid); u != b.Uuid {
				b.Uuid = u
			}
			if c := h.proofs.contentID(b.Uuid); c != b.ContentId {
				b.ContentId = c
			}
		case *types.VirtualDiskSparseVer2BackingInfo:
			if u := vmwareDiskUUID(b.Uuid); u != b.Uuid {
				b.Uuid = u
			}
		case *types.VirtualDiskSeSparseBackingInfo:
			if u := vmwareDiskUUID(b.Uuid); u != b.Uuid {
				b.Uuid = u
			}
		}
	}
}

// vmwareDiskUUID returns u if it already has ESXi's shape, and otherwise a
// UUID of that shape derived from u.
func vmwareDiskUUID(u string) string {
	if u == "" || strings.HasPrefix(strings.ToUpper(u), "6000C29") {
		return u
	}
	h := sha256.Sum256([]byte(u))
	return formatDiskUUID(hex.EncodeToString(h[:])[:25])
}

// NewDiskUUID returns a fresh random vSphere disk UUID of ESXi's shape
// (6000C29x-xxxx-xxxx-xxxx-xxxxxxxxxxxx), for VMs a test creates with
// chosen disk UUIDs.
func NewDiskUUID() string {
	b := make([]byte, 13)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return formatDiskUUID(hex.EncodeToString(b)[:25])
}

// formatDiskUUID lays out "6000C29" + 25 hex digits as ESXi prints it:
// 6000C298-9daa-42cc-1d24-bc5bb1fb1c2d.
func formatDiskUUID(rest25 string) string {
	s := "6000C29" + strings.ToLower(rest25)
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

// wwidFromDiskUUID maps a vSphere disk UUID to the WWID a Linux guest with
// disk.EnableUUID=TRUE sees: "3" (NAA designator) + the 32 hex digits,
// lower case. provision/vsphere.WWIDFromDiskUUID is the canonical copy; the lab
// keeps its own because provision's tests import the lab (an import of
// provision here would be a cycle). lab_test checks that both agree.
func wwidFromDiskUUID(uuid string) string {
	h := strings.ToLower(strings.NewReplacer("-", "", " ", "").Replace(uuid))
	if len(h) != 32 {
		return ""
	}
	if _, err := hex.DecodeString(h); err != nil {
		return ""
	}
	return "3" + h
}

// VMSpec describes a VM for CreateVM: by default what an MT looks like
// (CentOS 6 64-bit, 4 vCPU, 6 GB, LSI Logic, disk.EnableUUID=TRUE).
type VMSpec struct {
	Name     string
	CPUs     int32
	MemoryMB int64
	GuestID  string // default centos64Guest
	// Controller is the SCSI controller type: lsilogic (default), pvscsi,
	// buslogic, lsilogic-sas.
	Controller string
	Disks      []VMDisk
	// NoEnableUUID leaves disk.EnableUUID unset (an MT that misses it).
	NoEnableUUID bool
	PowerOn      bool
	// Guest, when set, couples the VM's VMware Tools to this lab guest
	// (SetToolsGuest): they report running while it runs the Tools
	// stand-in.
	Guest *Guest
}

// VMDisk is one disk of a VMSpec.
type VMDisk struct {
	// UUID is the backing UUID; empty lets vSphere choose one. vcsim keeps
	// a UUID given here (checked in lab_test).
	UUID       string
	CapacityKB int64
}

// CreateVM creates a VM in the lab's vCenter, in DC0's VM folder on the
// standalone host, with its disks on LocalDS_0 and a NIC on VM Network,
// and returns it.
func (l *Lab) CreateVM(ctx context.Context, spec VMSpec) (*object.VirtualMachine, error) {
	vc := l.VC
	c := vc.client.Client
	f := find.NewFinder(c, true)
	dc, err := f.Datacenter(ctx, vc.Datacenter)
	if err != nil {
		return nil, err
	}
	f.SetDatacenter(dc)
	folder, err := f.Folder(ctx, vc.Folder)
	if err != nil {
		return nil, err
	}
	pool, err := f.ResourcePool(ctx, vc.ResourcePool)
	if err != nil {
		return nil, err
	}
	host, err := f.HostSystem(ctx, vc.Host)
	if err != nil {
		return nil, err
	}
	ds, err := f.Datastore(ctx, vc.Datastore)
	if err != nil {
		return nil, err
	}
	netw, err := f.Network(ctx, vc.Network)
	if err != nil {
		return nil, err
	}
	backing, err := netw.EthernetCardBackingInfo(ctx)
	if err != nil {
		return nil, err
	}
	if spec.CPUs == 0 {
		spec.CPUs = 4
	}
	if spec.MemoryMB == 0 {
		spec.MemoryMB = 6144
	}
	if spec.GuestID == "" {
		spec.GuestID = string(types.VirtualMachineGuestOsIdentifierCentos64Guest)
	}
	if spec.Controller == "" {
		spec.Controller = "lsilogic"
	}
	var devs object.VirtualDeviceList
	scsi, err := devs.CreateSCSIController(spec.Controller)
	if err != nil {
		return nil, err
	}
	devs = append(devs, scsi)
	ide, err := devs.CreateIDEController()
	if err != nil {
		return nil, err
	}
	devs = append(devs, ide)
	cd, err := devs.CreateCdrom(ide.(*types.VirtualIDEController))
	if err != nil {
		return nil, err
	}
	devs = append(devs, cd)
	nic, err := devs.CreateEthernetCard("vmxnet3", backing)
	if err != nil {
		return nil, err
	}
	devs = append(devs, nic)
	ctrl := scsi.(types.BaseVirtualController)
	for i, d := range spec.Disks {
		disk := devs.CreateDisk(ctrl, ds.Reference(), fmt.Sprintf("[%s] %s/%s_%d.vmdk", vc.Datastore, spec.Name, spec.Name, i))
		unit := int32(i)
		if unit >= 7 { // unit 7 is the controller's own
			unit++
		}
		disk.UnitNumber = &unit
		disk.CapacityInKB = d.CapacityKB
		disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo).Uuid = d.UUID
		disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo).ThinProvisioned = types.NewBool(true)
		devs = append(devs, disk)
	}
	changes, err := devs.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
	if err != nil {
		return nil, err
	}
	cfg := types.VirtualMachineConfigSpec{
		Name:         spec.Name,
		GuestId:      spec.GuestID,
		NumCPUs:      spec.CPUs,
		MemoryMB:     spec.MemoryMB,
		Files:        &types.VirtualMachineFileInfo{VmPathName: fmt.Sprintf("[%s]", vc.Datastore)},
		DeviceChange: changes,
	}
	if !spec.NoEnableUUID {
		cfg.ExtraConfig = []types.BaseOptionValue{&types.OptionValue{Key: "disk.EnableUUID", Value: "TRUE"}}
		cfg.Flags = &types.VirtualMachineFlagInfo{DiskUuidEnabled: types.NewBool(true)}
	}
	task, err := folder.CreateVM(ctx, cfg, pool, host)
	if err != nil {
		return nil, err
	}
	info, err := task.WaitForResult(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("create VM %s: %w", spec.Name, err)
	}
	vm := object.NewVirtualMachine(c, info.Result.(types.ManagedObjectReference))
	vm.InventoryPath = vc.Folder + "/" + spec.Name
	if spec.PowerOn {
		t, err := vm.PowerOn(ctx)
		if err != nil {
			return nil, err
		}
		if _, err := t.WaitForResult(ctx, nil); err != nil {
			return nil, fmt.Errorf("power on %s: %w", spec.Name, err)
		}
	}
	if spec.Guest != nil {
		if err := l.SetToolsGuest(vm, spec.Guest); err != nil {
			return nil, err
		}
	}
	return vm, nil
}

// SetToolsGuest couples VMware Tools of vm to the lab guest g: vm
// reports Tools running, with g's address and host name, only while g
// runs the Tools stand-in (the open-vm-tools test RPM's vmtoolsd, which
// the tools phase installs and starts), and not running otherwise
// (tools.go). A test that wants Tools running installs and starts them in
// g, with mtprep's tools phase or by hand.
func (l *Lab) SetToolsGuest(vm *object.VirtualMachine, g *Guest) error {
	return l.bindTools(vm.Reference(), g, g.Hostname)
}

// vmDisk is a virtual disk as the lab reads it from vSphere.
type vmDisk struct {
	Key        int32
	Label      string
	UUID       string
	CapacityKB int64
	Bus        int32
	Unit       int32
	VM         types.ManagedObjectReference
	FileName   string // the backing's descriptor, "[LocalDS_0] mt01/mt01_1.vmdk"
}

// readVMDisks reads the VM's virtual disks and their backing UUIDs with
// govmomi, in SCSI order (bus, unit), which is the order Linux names them.
func (l *Lab) readVMDisks(ctx context.Context, vmName string) ([]vmDisk, error) {
	f := find.NewFinder(l.VC.client.Client, true)
	dc, err := f.Datacenter(ctx, l.VC.Datacenter)
	if err != nil {
		return nil, err
	}
	f.SetDatacenter(dc)
	vm, err := f.VirtualMachine(ctx, vmName)
	if err != nil {
		return nil, err
	}
	devs, err := vm.Device(ctx)
	if err != nil {
		return nil, err
	}
	var out []vmDisk
	for _, d := range devs.SelectByType((*types.VirtualDisk)(nil)) {
		disk := d.(*types.VirtualDisk)
		var uuid string
		switch b := disk.Backing.(type) {
		case *types.VirtualDiskFlatVer2BackingInfo:
			uuid = b.Uuid
		case *types.VirtualDiskSparseVer2BackingInfo:
			uuid = b.Uuid
		case *types.VirtualDiskSeSparseBackingInfo:
			uuid = b.Uuid
		case *types.VirtualDiskRawDiskMappingVer1BackingInfo:
			uuid = b.Uuid
		}
		if uuid == "" {
			return nil, fmt.Errorf("VM %s: disk %q has no backing UUID", vmName, devs.Name(d))
		}
		// vcsim leaves DeviceInfo empty on disks from a create spec.
		label := fmt.Sprintf("Hard disk %d", len(out)+1)
		if desc := disk.DeviceInfo.GetDescription(); desc != nil && desc.Label != "" {
			label = desc.Label
		}
		vd := vmDisk{Key: disk.Key, Label: label, UUID: uuid, CapacityKB: disk.CapacityInKB, VM: vm.Reference()}
		if fb, ok := disk.Backing.(types.BaseVirtualDeviceFileBackingInfo); ok {
			vd.FileName = fb.GetVirtualDeviceFileBackingInfo().FileName
		}
		if disk.CapacityInBytes > 0 {
			vd.CapacityKB = disk.CapacityInBytes / 1024
		}
		if disk.UnitNumber != nil {
			vd.Unit = *disk.UnitNumber
		}
		if c, ok := devs.FindByKey(disk.ControllerKey).(types.BaseVirtualSCSIController); ok {
			vd.Bus = c.GetVirtualSCSIController().BusNumber
		}
		out = append(out, vd)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Bus != out[j].Bus {
			return out[i].Bus < out[j].Bus
		}
		return out[i].Unit < out[j].Unit
	})
	return out, nil
}
