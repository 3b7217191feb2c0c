package vsphere

import (
	"context"
	"fmt"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// What vSphere says about a virtual disk's content, for the retention
// disk's provenance (provision/retention_provenance.go decides what it
// proves):
//
//   - the backing's contentId. The API reference: "A content ID indicates
//     the logical contents of the disk backing and its parents. This
//     property is only guaranteed to be up to date if this disk backing is
//     not currently being written to by any virtual machine. The only
//     supported operation is comparing if two content IDs are equal or
//     not." It holds for a VM that is powered off (no VM has the disk
//     open), so a value read right after CreateVM, before the first power
//     on, is exact. For a powered-on VM it may lag the guest's writes
//     (ESXi changes the CID on the first write after the disk is opened,
//     but the API does not promise when vCenter sees it);
//   - for a thin disk, the bytes its extent file holds on the datastore
//     (layoutEx.file[].uniqueSize of the diskExtent file that
//     layoutEx.disk[].chain names). A guest write to a block a thin disk
//     has not allocated yet grows it, also while the VM runs, once vCenter
//     has refreshed the VM's storage information (RefreshStorageInfo,
//     which ReadDiskProofs calls first).

// diskProofProps are read in one PropertyCollector call.
var diskProofProps = []string{"config.hardware.device", "config.extraConfig", "config.changeVersion", "layoutEx", "runtime.powerState"}

// DiskProof is one virtual disk's content proof as vSphere reports it.
type DiskProof struct {
	Key       int32
	UUID      string // backing UUID, "" when the backing has none
	FileName  string // backing file, "[ds] vm/vm_1.vmdk"
	ContentID string // backing contentId, "" when vSphere reports none
	Thin      bool   // thinProvisioned
	// Chain is the number of units in layoutEx.disk[].chain: 1 for a
	// disk without snapshots (each delta disk adds one), 0 when layoutEx
	// has no entry for the disk.
	Chain int
	// Extent is the name of the diskExtent file of a one-unit chain, ""
	// when layoutEx names none (or the chain has delta disks: vCenter and
	// vcsim do not agree on the chain's order); Allocated its uniqueSize
	// (the bytes it holds on the datastore), -1 when unknown.
	Extent    string
	Allocated int64
}

// DiskProofs is one read of a VM's disks' proofs, with what a record of
// them needs around them.
type DiskProofs struct {
	Power         types.VirtualMachinePowerState
	ChangeVersion string
	Disks         []DiskProof
	// LayoutTime is layoutEx.timestamp: when vSphere last collected the
	// file sizes.
	LayoutTime time.Time
	// RefreshErr is set when vSphere refused to refresh the storage
	// information first: the sizes may be stale.
	RefreshErr error
	extra      []types.BaseOptionValue
}

// Extra is the ExtraConfig value of key in the same read, "" when unset.
func (p *DiskProofs) Extra(key string) string {
	for _, o := range p.extra {
		if ov := o.GetOptionValue(); ov != nil && ov.Key == key {
			s, _ := ov.Value.(string)
			return s
		}
	}
	return ""
}

// Disk is the proof of the disk with backing UUID uuid (compared as
// vSphere prints it, case-insensitively), nil when the VM has none.
func (p *DiskProofs) Disk(uuid string) *DiskProof {
	for i := range p.Disks {
		if p.Disks[i].UUID != "" && equalFoldUUID(p.Disks[i].UUID, uuid) {
			return &p.Disks[i]
		}
	}
	return nil
}

func equalFoldUUID(a, b string) bool {
	norm := func(s string) string {
		out := make([]byte, 0, len(s))
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '-' || c == ' ':
				continue
			case 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
			}
			out = append(out, c)
		}
		return string(out)
	}
	return norm(a) == norm(b)
}

// ReadDiskProofs asks vSphere to refresh the VM's storage information
// (layoutEx), then reads the disks, their layout, the ExtraConfig and the
// changeVersion in one PropertyCollector call. obj names the VM in
// errors.
func (s *Session) ReadDiskProofs(ctx context.Context, obj string, ref types.ManagedObjectReference) (*DiskProofs, error) {
	out := &DiskProofs{}
	if _, err := methods.RefreshStorageInfo(ctx, s.Client, &types.RefreshStorageInfo{This: ref}); err != nil {
		if ctx.Err() != nil {
			return nil, &Error{Op: "refresh storage information of", Object: obj, Err: err}
		}
		out.RefreshErr = &Error{Op: "refresh storage information of", Object: obj, Err: err}
	}
	var m mo.VirtualMachine
	if err := s.RetrieveOne(ctx, ref, diskProofProps, &m); err != nil {
		return nil, &Error{Op: "read disks of", Object: obj, Err: err}
	}
	if m.Config == nil {
		return nil, fmt.Errorf("%s has no configuration (is it inaccessible or orphaned?)", obj)
	}
	out.Power, out.ChangeVersion, out.extra = m.Runtime.PowerState, m.Config.ChangeVersion, m.Config.ExtraConfig
	out.Disks = DiskProofsOf(object.VirtualDeviceList(m.Config.Hardware.Device), m.LayoutEx)
	if m.LayoutEx != nil {
		out.LayoutTime = m.LayoutEx.Timestamp
	}
	return out, nil
}

// DiskProofsOf pairs each disk of devs (in Disks order) with its files in
// layout. Pure.
func DiskProofsOf(devs object.VirtualDeviceList, layout *types.VirtualMachineFileLayoutEx) []DiskProof {
	var out []DiskProof
	for _, d := range Disks(devs) {
		p := DiskProof{Key: d.Key, UUID: DiskUUID(d), Allocated: -1}
		switch b := d.Backing.(type) {
		case *types.VirtualDiskFlatVer2BackingInfo:
			p.FileName, p.ContentID, p.Thin = b.FileName, b.ContentId, b.ThinProvisioned != nil && *b.ThinProvisioned
		case *types.VirtualDiskSparseVer2BackingInfo:
			p.FileName, p.ContentID = b.FileName, b.ContentId
		case *types.VirtualDiskSeSparseBackingInfo:
			p.FileName, p.ContentID = b.FileName, b.ContentId
		case *types.VirtualDiskRawDiskMappingVer1BackingInfo:
			p.FileName, p.ContentID = b.FileName, b.ContentId
		}
		if layout != nil {
			for _, dl := range layout.Disk {
				if dl.Key != d.Key {
					continue
				}
				p.Chain = len(dl.Chain)
				if p.Chain != 1 {
					break
				}
				for _, fk := range dl.Chain[0].FileKey {
					for _, f := range layout.File {
						if f.Key == fk && f.Type == string(types.VirtualMachineFileLayoutExFileTypeDiskExtent) {
							p.Extent, p.Allocated = f.Name, f.UniqueSize
						}
					}
				}
			}
		}
		out = append(out, p)
	}
	return out
}

// NewDiskProofs is a read made by hand, for tests of what uses one.
func NewDiskProofs(power types.VirtualMachinePowerState, disks []DiskProof, extra []types.BaseOptionValue) *DiskProofs {
	return &DiskProofs{Power: power, Disks: disks, extra: extra}
}
