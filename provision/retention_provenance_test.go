package provision

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/provision/vsphere"
)

const (
	provUUID  = "6000C298-9daa-42cc-1d24-bc5bb1fb1c2d"
	otherUUID = "6000C291-1111-2222-3333-444455556666"
)

// TestCompareProvenance is the pure decision, case by case: proven only
// for the recorded disk, with the same contentId and no more allocated
// bytes than when mtprep created it.
func TestCompareProvenance(t *testing.T) {
	rec := provenanceRecord{UUID: provUUID, ContentID: "c1", Thin: true, UniqueSize: 0, Time: time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)}
	disk := vsphere.DiskProof{UUID: strings.ToLower(provUUID), ContentID: "c1", Thin: true, Chain: 1, Allocated: 0}
	on := types.VirtualMachinePowerStatePoweredOn
	off := types.VirtualMachinePowerStatePoweredOff
	for _, c := range []struct {
		name    string
		rec     func(*provenanceRecord)
		disk    func(*vsphere.DiskProof)
		power   types.VirtualMachinePowerState
		refresh error
		proven  bool
		why     string
	}{
		{name: "as created, running", power: on, proven: true, why: "proven by vSphere: disk " + strings.ToLower(provUUID) + " created blank by mtprep at 2026-05-01T10:00:00Z, contentId c1 unchanged, 0 bytes allocated (0 when created)"},
		{name: "as created, allocation shrank", disk: func(d *vsphere.DiskProof) { d.Allocated = 0 }, rec: func(r *provenanceRecord) { r.UniqueSize = 4096 }, power: on, proven: true, why: "0 bytes allocated (4096 when created)"},
		{name: "another disk's record", rec: func(r *provenanceRecord) { r.UUID = otherUUID }, power: on, why: "no provenance record for this disk: the record is for disk " + otherUUID},
		{name: "contentId moved", disk: func(d *vsphere.DiskProof) { d.ContentID = "c2" }, power: on, why: "contentId changed since mtprep created the disk (c1 → c2)"},
		{name: "no contentId now", disk: func(d *vsphere.DiskProof) { d.ContentID = "" }, power: on, why: "vSphere reports no contentId for the disk"},
		{name: "no contentId at creation", rec: func(r *provenanceRecord) { r.ContentID = "" }, power: on, why: "vSphere reported no contentId for the disk when mtprep created it"},
		{name: "allocation grew", disk: func(d *vsphere.DiskProof) { d.Allocated = 1 << 20 }, power: on, why: "allocated bytes grew since mtprep created the disk (0 → 1048576 bytes in layoutEx)"},
		{name: "no layoutEx now", disk: func(d *vsphere.DiskProof) { d.Allocated = -1 }, power: on, why: "vSphere reports no allocated size (layoutEx uniqueSize) for the disk"},
		{name: "no layoutEx at creation", rec: func(r *provenanceRecord) { r.UniqueSize = -1 }, power: on, why: "vSphere reported no allocated size (layoutEx) for the disk when mtprep created it"},
		{name: "refresh refused", refresh: errors.New("NoPermission"), power: on, why: "vSphere did not refresh the disk's allocated size (NoPermission)"},
		{name: "snapshot", disk: func(d *vsphere.DiskProof) { d.Chain = 2 }, power: on, why: "the disk has 1 delta disks (snapshots)"},
		{name: "inflated", disk: func(d *vsphere.DiskProof) { d.Thin = false }, power: on, why: "the disk is no longer thin"},
		{name: "thick, running", rec: func(r *provenanceRecord) { r.Thin = false }, disk: func(d *vsphere.DiskProof) { d.Thin = false }, power: on, why: "the disk is thick and the VM is poweredOn"},
		{name: "thick, powered off", rec: func(r *provenanceRecord) { r.Thin = false }, disk: func(d *vsphere.DiskProof) { d.Thin = false }, power: off, proven: true, why: "VM powered off"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, d := rec, disk
			if c.rec != nil {
				c.rec(&r)
			}
			if c.disk != nil {
				c.disk(&d)
			}
			p := compareProvenance(r, d, c.power, c.refresh)
			if p.Proven != c.proven || !strings.Contains(p.Why, c.why) {
				t.Errorf("got %+v, want proven=%v saying %q", p, c.proven, c.why)
			}
		})
	}
}

// TestJudgeProvenanceRecord: the record itself, as read from the VM.
func TestJudgeProvenanceRecord(t *testing.T) {
	wwid := vsphere.WWIDFromDiskUUID(provUUID)
	good, _ := json.Marshal(provenanceRecord{UUID: provUUID, ContentID: "c1", Thin: true})
	proofs := func(extra string) *vsphere.DiskProofs {
		return testDiskProofs(t, extra, []vsphere.DiskProof{{UUID: provUUID, ContentID: "c1", Thin: true, Chain: 1, Allocated: 0}})
	}
	for _, c := range []struct {
		name, extra, wwid string
		proven            bool
		why               string
	}{
		{"recorded", string(good), wwid, true, "proven by vSphere"},
		{"no record", "", wwid, false, "no provenance record: mtprep did not record creating disk " + provUUID + " blank"},
		{"garbage", "{not json", wwid, false, "no provenance record: mtprep.retention.provenance on the VM is not a record mtprep can read"},
		{"no such disk", string(good), vsphere.WWIDFromDiskUUID(otherUUID), false, "no provenance record: the VM has no disk with WWID " + vsphere.WWIDFromDiskUUID(otherUUID)},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := judgeProvenance(proofs(c.extra), c.wwid)
			if p.Proven != c.proven || !strings.Contains(p.Why, c.why) {
				t.Errorf("got %+v, want proven=%v saying %q", p, c.proven, c.why)
			}
		})
	}
}

// testDiskProofs builds a read as vsphere.ReadDiskProofs returns it.
func testDiskProofs(t *testing.T, extra string, disks []vsphere.DiskProof) *vsphere.DiskProofs {
	t.Helper()
	p := vsphere.NewDiskProofs(types.VirtualMachinePowerStatePoweredOn, disks, []types.BaseOptionValue{&types.OptionValue{Key: provenanceKey, Value: extra}})
	return p
}

// contentIDs gives every flat disk of the simulator a contentId, as a
// vSphere does and vcsim does not; bump gives one a new one.
type contentIDs struct{ m map[string]string }

func (contentIDs) Reference() types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "TestContentIDs", Value: "test-content-ids"}
}
func (contentIDs) PutObject(*simulator.Context, mo.Reference)                    {}
func (contentIDs) RemoveObject(*simulator.Context, types.ManagedObjectReference) {}
func (h contentIDs) UpdateObject(_ *simulator.Context, obj mo.Reference, _ []types.PropertyChange) {
	vm, ok := obj.(*mo.VirtualMachine)
	if !ok || vm.Config == nil {
		return
	}
	for _, d := range vm.Config.Hardware.Device {
		if disk, ok := d.(*types.VirtualDisk); ok {
			if b, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
				if h.m[b.Uuid] == "" {
					h.m[b.Uuid] = "cid-" + b.Uuid[:8]
				}
				b.ContentId = h.m[b.Uuid]
			}
		}
	}
}

// TestProvenanceOnSimulator: the vm phase records the retention disk's
// provenance; vcsim reports no contentId, so it is not proven; with
// contentIds it is, until the record or the disk changes.
func TestProvenanceOnSimulator(t *testing.T) {
	ctx := context.Background()
	t.Run("vcsim reports no contentId", func(t *testing.T) {
		s := newSim(t)
		tg := simTarget(t, s, "", 0, nil)
		if rs, err := Build(ctx, tg, vspherePhases(t, "upload,vm")); err != nil {
			t.Fatalf("%v (%s)", err, statuses(rs))
		}
		ref := vsphere.VMRef(tg.Facts.VMMoRef)
		var rec provenanceRecord
		if err := json.Unmarshal([]byte(vmExtra(t, s, ref, provenanceKey)), &rec); err != nil {
			t.Fatalf("record: %v", err)
		}
		st, err := vsphere.NewSession(s.c).ReadVM(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		ret := vsphere.DiskUUID(vsphere.Disks(st.Devices)[1])
		if rec.UUID != ret || !rec.Thin || rec.UniqueSize != 0 || rec.ContentID != "" || rec.Mtprep == "" || rec.Time.IsZero() {
			t.Errorf("record %+v for retention disk %s", rec, ret)
		}
		p, err := tg.retentionProvenance(ctx, vsphere.WWIDFromDiskUUID(ret))
		if err != nil {
			t.Fatal(err)
		}
		if p.Proven || p.Why != "vSphere reported no contentId for the disk when mtprep created it" {
			t.Errorf("%+v", p)
		}
	})

	t.Run("with contentIds", func(t *testing.T) {
		s := newSim(t)
		ids := contentIDs{m: map[string]string{}}
		s.model.Map().AddHandler(ids)
		tg := simTarget(t, s, "", 0, nil)
		if rs, err := Build(ctx, tg, vspherePhases(t, "upload,vm")); err != nil {
			t.Fatalf("%v (%s)", err, statuses(rs))
		}
		ref := vsphere.VMRef(tg.Facts.VMMoRef)
		vs := vsphere.NewSession(s.c)
		st, err := vs.ReadVM(ctx, ref)
		if err != nil {
			t.Fatal(err)
		}
		disks := vsphere.Disks(st.Devices)
		osd, ret := vsphere.DiskUUID(disks[0]), vsphere.DiskUUID(disks[1])
		wwid := vsphere.WWIDFromDiskUUID(ret)
		check := func(proven bool, why string) {
			t.Helper()
			p, err := tg.retentionProvenance(ctx, wwid)
			if err != nil {
				t.Fatal(err)
			}
			if p.Proven != proven || !strings.Contains(p.Why, why) {
				t.Errorf("got %+v, want proven=%v saying %q", p, proven, why)
			}
		}
		check(true, "proven by vSphere: disk "+ret+" created blank by mtprep")
		// The OS disk has no record of its own.
		if p, _ := tg.retentionProvenance(ctx, vsphere.WWIDFromDiskUUID(osd)); p.Proven || !strings.Contains(p.Why, "no provenance record for this disk") {
			t.Errorf("OS disk: %+v", p)
		}
		// A record for another disk (the VM's disk was replaced).
		good := vmExtra(t, s, ref, provenanceKey)
		set := func(v string) {
			t.Helper()
			if err := vs.SetExtraConfig(ctx, "set", "VM mt01", ref, "", provenanceKey, v); err != nil {
				t.Fatal(err)
			}
		}
		set(strings.Replace(good, ret, otherUUID, 1))
		check(false, "no provenance record for this disk: the record is for disk "+otherUUID+", this disk is "+ret)
		set("")
		check(false, "no provenance record: mtprep did not record creating disk")
		set(good)
		check(true, "proven")
		// The disk was written: vSphere shows a new contentId.
		ids.m[ret] = "cid-written"
		set(good) // any update of the VM applies it
		check(false, "contentId changed since mtprep created the disk (cid-"+ret[:8]+" → cid-written)")
	})
}
