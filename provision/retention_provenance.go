package provision

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/provision/vsphere"
)

// Provenance is vSphere's proof, or its absence, that nothing has written
// to the retention disk since mtprep created it blank (issue 13). Only a
// proven disk may be formatted without a full read of every byte.
type Provenance struct {
	Proven bool
	// Why says which rule applies, in the user's terms: the proof that
	// holds, or why there is none ("no record: the disk was not created
	// by mtprep", "contentId changed since creation").
	Why string
}

// provenanceKey is the VM's ExtraConfig key of the record. Not a
// guestinfo.* key: the guest can set those itself (VMware Tools'
// info-set), so a record there could be forged from inside the MT; this
// one only the vSphere API sets.
const provenanceKey = "mtprep.retention.provenance"

// provenanceRecord is what the vm phase records when it creates the
// retention disk, as JSON in provenanceKey:
//
//	{"uuid":"6000C29…","contentId":"…","thin":true,"uniqueSize":0,
//	 "extent":"[LocalDS_0] mt01/mt01_1-flat.vmdk","time":"…","mtprep":"…"}
//
// It is read while the new VM is powered off and has never run, the
// moment at which vSphere guarantees the contentId (vsphere/diskproof.go).
type provenanceRecord struct {
	UUID      string `json:"uuid"`
	ContentID string `json:"contentId"`
	Thin      bool   `json:"thin"`
	// UniqueSize is the extent's allocated bytes (layoutEx), -1 when
	// vSphere reported none.
	UniqueSize int64     `json:"uniqueSize"`
	Extent     string    `json:"extent,omitempty"`
	Time       time.Time `json:"time"`
	Mtprep     string    `json:"mtprep"`
}

// mtprepVersion is the module version and VCS revision of this binary.
func mtprepVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}

// recordProvenance records on the VM it just created what proves its
// retention disk (the second disk) blank: the disk's UUID, its contentId
// and, thin, its allocated bytes, set with the VM's changeVersion and
// read back. A VM that is not powered off is not recorded (its contentId
// is not guaranteed): the retention phase then reads the disk in full.
func (t *Target) recordProvenance(ctx context.Context, s *vsphere.Session, ref types.ManagedObjectReference) error {
	obj := "VM " + t.Spec.Name
	p, err := s.ReadDiskProofs(ctx, obj, ref)
	if err != nil {
		return err
	}
	if len(p.Disks) < 2 || p.Disks[1].UUID == "" {
		return fmt.Errorf("%s: the new VM has no second disk with a UUID to record as the retention disk", obj)
	}
	if p.Power != types.VirtualMachinePowerStatePoweredOff {
		t.Log.Warn("the new VM is not powered off: its retention disk's contentId is not guaranteed, no provenance recorded (the retention phase will read the disk in full)", "mt", t.Spec.Name, "power", p.Power)
		return nil
	}
	d := p.Disks[1]
	rec := provenanceRecord{UUID: d.UUID, ContentID: d.ContentID, Thin: d.Thin, UniqueSize: d.Allocated, Extent: d.Extent, Time: time.Now().UTC().Truncate(time.Second), Mtprep: mtprepVersion()}
	if p.RefreshErr != nil {
		rec.UniqueSize = -1 // possibly stale: no proof
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	err = s.SetExtraConfig(ctx, "record retention disk provenance on", obj, ref, p.ChangeVersion, provenanceKey, string(b))
	if err != nil && !vsphere.IsFault[*types.ConcurrentAccess](err) {
		return err
	}
	after, rerr := s.ReadVM(ctx, ref)
	if rerr != nil {
		return rerr
	}
	if got := after.Extra(provenanceKey); got != string(b) {
		why := "another value is there"
		if err != nil {
			why = vsphere.FaultText(err)
		}
		return fmt.Errorf("%s: the retention disk's provenance record %s did not stick (%s): the VM was changed right after this run created it", obj, provenanceKey, why)
	}
	return nil
}

// retentionProvenance reads the proof for the retention disk: the record
// and the disk's current contentId and allocated bytes, in one property
// retrieval after a storage refresh.
func (t *Target) retentionProvenance(ctx context.Context, wwid string) (Provenance, error) {
	s, err := t.vsphere(ctx)
	if err != nil {
		return Provenance{}, err
	}
	ref := vsphere.VMRef(t.Facts.VMMoRef)
	if t.Facts.VMMoRef == "" {
		st, err := t.vmFor(ctx)
		if err != nil {
			return Provenance{}, err
		}
		if st == nil {
			return Provenance{Why: fmt.Sprintf("no provenance record: VM %s not found", t.Spec.Name)}, nil
		}
		ref = st.Ref
	}
	p, err := s.ReadDiskProofs(ctx, "VM "+t.Spec.Name, ref)
	if vsphere.IsFault[*types.ManagedObjectNotFound](err) && t.Facts.VMMoRef != "" {
		// The recorded VM is gone: look the MT up by name.
		t.Facts.VMMoRef = ""
		return t.retentionProvenance(ctx, wwid)
	}
	if err != nil {
		return Provenance{}, err
	}
	return judgeProvenance(p, wwid), nil
}

// judgeProvenance decides from one read whether the disk with WWID wwid
// is proven blank. Pure; when in doubt, not proven.
func judgeProvenance(p *vsphere.DiskProofs, wwid string) Provenance {
	var disk *vsphere.DiskProof
	for i := range p.Disks {
		if vsphere.WWIDFromDiskUUID(p.Disks[i].UUID) == wwid {
			disk = &p.Disks[i]
		}
	}
	if disk == nil {
		return Provenance{Why: fmt.Sprintf("no provenance record: the VM has no disk with WWID %s", wwid)}
	}
	raw := p.Extra(provenanceKey)
	if raw == "" {
		return Provenance{Why: fmt.Sprintf("no provenance record: mtprep did not record creating disk %s blank (attached by hand, reused, or created before mtprep recorded provenance)", disk.UUID)}
	}
	var rec provenanceRecord
	if err := json.Unmarshal([]byte(raw), &rec); err != nil || rec.UUID == "" {
		return Provenance{Why: fmt.Sprintf("no provenance record: %s on the VM is not a record mtprep can read", provenanceKey)}
	}
	return compareProvenance(rec, *disk, p.Power, p.RefreshErr)
}

// compareProvenance compares the record with the disk as vSphere reports
// it now. Pure.
func compareProvenance(rec provenanceRecord, d vsphere.DiskProof, power types.VirtualMachinePowerState, refreshErr error) Provenance {
	no := func(f string, a ...any) Provenance { return Provenance{Why: fmt.Sprintf(f, a...)} }
	switch {
	case !equalUUID(rec.UUID, d.UUID):
		return no("no provenance record for this disk: the record is for disk %s, this disk is %s (replaced or reused)", rec.UUID, d.UUID)
	case rec.ContentID == "":
		return no("vSphere reported no contentId for the disk when mtprep created it")
	case d.ContentID == "":
		return no("vSphere reports no contentId for the disk")
	case d.ContentID != rec.ContentID:
		return no("contentId changed since mtprep created the disk (%s → %s)", rec.ContentID, d.ContentID)
	case d.Chain > 1:
		return no("the disk has %d delta disks (snapshots) since mtprep created it", d.Chain-1)
	case rec.Thin && !d.Thin:
		return no("the disk is no longer thin (inflated since mtprep created it)")
	case !rec.Thin:
		// A thick disk has no allocation to watch: the contentId alone,
		// which vSphere guarantees only while no VM writes to the disk.
		if power != types.VirtualMachinePowerStatePoweredOff {
			return no("the disk is thick and the VM is %s: vSphere guarantees its contentId only while no VM writes to the disk", power)
		}
		return Provenance{Proven: true, Why: fmt.Sprintf("proven by vSphere: disk %s created by mtprep at %s, contentId %s unchanged, VM powered off", d.UUID, rec.Time.Format(time.RFC3339), d.ContentID)}
	case refreshErr != nil:
		return no("vSphere did not refresh the disk's allocated size (%v)", refreshErr)
	case rec.UniqueSize < 0:
		return no("vSphere reported no allocated size (layoutEx) for the disk when mtprep created it")
	case d.Allocated < 0:
		return no("vSphere reports no allocated size (layoutEx uniqueSize) for the disk")
	case d.Allocated > rec.UniqueSize:
		return no("allocated bytes grew since mtprep created the disk (%d → %d bytes in layoutEx)", rec.UniqueSize, d.Allocated)
	}
	// While the VM runs, its contentId may lag the guest's writes (the
	// API guarantees it only for a disk no VM writes to); the allocation
	// of a thin disk does not: a write to a block the fresh disk has not
	// allocated grows it. What is left: a write into one of the few
	// blocks allocated at creation (uniqueSize > 0) that vCenter has not
	// yet shown as a new contentId.
	return Provenance{Proven: true, Why: fmt.Sprintf("proven by vSphere: disk %s created blank by mtprep at %s, contentId %s unchanged, %d bytes allocated (%d when created)", d.UUID, rec.Time.Format(time.RFC3339), d.ContentID, d.Allocated, rec.UniqueSize)}
}

func equalUUID(a, b string) bool {
	return a != "" && vsphere.WWIDFromDiskUUID(a) != "" && vsphere.WWIDFromDiskUUID(a) == vsphere.WWIDFromDiskUUID(b)
}
