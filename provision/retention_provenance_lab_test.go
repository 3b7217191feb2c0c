package provision

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mtprep/mtprep/internal/lab"
	"github.com/mtprep/mtprep/provision/spec"
	"github.com/mtprep/mtprep/provision/vsphere"
)

// TestProvenanceInLab: in the lab, whose vSphere gives each disk a
// contentId and moves it (and the allocated bytes) whenever the disk's
// image is written: a retention disk the vm phase created is proven; a
// byte written by the guest, or directly on the host, makes it unproven
// and says why; a VM made by hand has no record.
func TestProvenanceInLab(t *testing.T) {
	l := lab.StartWith(t, lab.Options{NoMTVM: true})
	g := l.Guests[0]
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s := &sim{model: l.VC.Model, srv: l.VC.Server}

	// mt01 and mt02, created by the vm phase, their disks presented to
	// the lab's guest.
	newMT := func(name string) (*Target, *lab.Disk) {
		t.Helper()
		tg := simTarget(t, s, "", 0, func(sp *spec.Spec) {
			sp.Name = name
			sp.VSphere.Username = l.VC.Username
			sp.VSphere.Password = spec.Secret{Env: "LAB_VC_PASSWORD"}
			sp.VSphere.Cluster, sp.VSphere.Host = "", l.VC.Host
		})
		tg.Env = func(k string) (string, bool) {
			if k == "LAB_VC_PASSWORD" {
				return l.VC.Password, true
			}
			return "", false
		}
		if rs, err := Build(ctx, tg, vspherePhases(t, "upload,vm")); err != nil {
			t.Fatalf("build %s: %v (%s)", name, err, statuses(rs))
		}
		disks, err := l.PresentDisks(ctx, g, name)
		if err != nil {
			t.Fatal(err)
		}
		if len(disks) != 2 || disks[1].Role != lab.RoleBlank {
			t.Fatalf("%s: disks %+v", name, disks)
		}
		return tg, disks[1]
	}
	check := func(tg *Target, d *lab.Disk, proven bool, why string) {
		t.Helper()
		l.SyncDiskProofs()
		p, err := tg.retentionProvenance(ctx, d.WWID)
		if err != nil {
			t.Fatal(err)
		}
		if p.Proven != proven || !strings.Contains(p.Why, why) {
			t.Errorf("%s: got %+v, want proven=%v saying %q", tg.Spec.Name, p, proven, why)
		}
	}

	mt01, ret01 := newMT("mt01")
	check(mt01, ret01, true, "proven by vSphere: disk "+ret01.UUID)
	// Reading the disk (what the retention phase's checks do) changes
	// nothing.
	if out, err := g.Exec(ctx, "dd", "if="+ret01.Mapper, "of=/dev/null", "bs=1M", "count=8", "iflag=direct"); err != nil {
		t.Fatalf("read: %v: %s", err, out)
	}
	check(mt01, ret01, true, "proven by vSphere")
	// One byte, written by the guest to its /dev/mapper/<wwid>.
	if out, err := g.Exec(ctx, "sh", "-c", fmt.Sprintf("printf x | dd of=%s bs=1 seek=3000000 conv=notrunc,fsync", ret01.Mapper)); err != nil {
		t.Fatalf("guest write: %v: %s", err, out)
	}
	check(mt01, ret01, false, "contentId changed since mtprep created the disk (")
	// and the thin disk's extent grew, also through vcsim's own
	// RefreshStorageInfo.
	vs, err := mt01.vsphere(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := vs.ReadDiskProofs(ctx, "VM mt01", vsphere.VMRef(mt01.Facts.VMMoRef))
	if err != nil {
		t.Fatal(err)
	}
	if d := pr.Disk(ret01.UUID); d == nil || d.Allocated <= 0 || !strings.HasSuffix(d.Extent, "-flat.vmdk") {
		t.Errorf("after the write: %+v", d)
	} else if p := compareProvenance(provenanceRecord{UUID: ret01.UUID, ContentID: d.ContentID, Thin: true}, *d, pr.Power, nil); p.Proven || !strings.Contains(p.Why, "allocated bytes grew since mtprep created the disk (0 → ") {
		t.Errorf("same contentId, grown allocation: %+v", p)
	}

	// One byte, written on the host straight into the disk's image.
	mt02, ret02 := newMT("mt02")
	check(mt02, ret02, true, "proven by vSphere")
	f, err := os.OpenFile(ret02.Image, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{1}, 5<<20); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	check(mt02, ret02, false, "contentId changed since mtprep created the disk (")

	// A VM someone made by hand, its blank disk attached: no record.
	if _, err := l.CreateVM(ctx, lab.VMSpec{Name: "byhand", Disks: []lab.VMDisk{{CapacityKB: 1 << 20}, {CapacityKB: 1 << 20}}}); err != nil {
		t.Fatal(err)
	}
	disks, err := l.PresentDisks(ctx, g, "byhand")
	if err != nil {
		t.Fatal(err)
	}
	byhand := *mt02
	sp := *mt02.Spec
	sp.Name = "byhand"
	byhand.Spec = &sp
	byhand.Facts.VMMoRef = ""
	check(&byhand, disks[1], false, "no provenance record: mtprep did not record creating disk "+disks[1].UUID+" blank")
}
