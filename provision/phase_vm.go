package provision

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/provision/vsphere"
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

// findVM looks the MT up by name in its folder: one SearchIndex call, then
// one read. nil when absent.
func (t *Target) findVM(ctx context.Context) (*vsphere.VM, error) {
	s, err := t.vsphere(ctx)
	if err != nil {
		return nil, err
	}
	inv, err := s.Inventory(ctx)
	if err != nil {
		return nil, err
	}
	st, err := s.FindVM(ctx, inv, t.Spec.Name)
	if err != nil || st == nil {
		return nil, err
	}
	t.Facts.VMMoRef = st.Ref.Value
	t.Facts.ESXiHost = st.Host
	return st, nil
}

// vmFor returns the MT's VM for the phases after vm: the one the vm phase
// recorded, else looked up by name. nil when absent.
func (t *Target) vmFor(ctx context.Context) (*vsphere.VM, error) {
	s, err := t.vsphere(ctx)
	if err != nil {
		return nil, err
	}
	if t.Facts.VMMoRef != "" {
		st, err := s.ReadVM(ctx, vsphere.VMRef(t.Facts.VMMoRef))
		if err == nil && st.MO.Name == t.Spec.Name {
			t.Facts.ESXiHost = st.Host
			return st, nil
		}
		if err != nil && !vsphere.IsFault[*types.ManagedObjectNotFound](err) {
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
	inv, err := s.Inventory(ctx)
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
		t.recordDatastorePath(a, vsphere.DatastorePath(inv.Datastore.Name(), t.names(a, li.sha256).file))
	}
	return t.Facts.ISODatastore, t.Facts.SeedDatastore, nil
}

func (t *Target) vmWant(ctx context.Context, inv *vsphere.Inventory) (vmWant, error) {
	iso, seed, err := t.wantISOs(ctx)
	if err != nil {
		return vmWant{}, err
	}
	if t.OS == nil || t.OS.VM.GuestID == "" {
		return vmWant{}, fmt.Errorf("no VM profile for os %q", t.Spec.OS)
	}
	folder := t.Spec.VSphere.ISOFolder
	return vmWant{
		vm: t.OS.VM, firmware: t.Spec.VM.Firmware,
		cpus: int32(t.Spec.VM.CPUs), memoryMB: int32(t.Spec.VM.MemoryMB),
		osBytes: int64(t.Spec.VM.OSDiskGB) << 30, retBytes: int64(t.Spec.VM.RetentionDiskGB) << 30,
		network: inv.NetName, netRef: inv.Network.Reference(),
		iso: iso, isoPrefix: vsphere.DatastorePath(inv.Datastore.Name(), folder+"/"),
		seed: seed, seedPrefix: vsphere.DatastorePath(inv.Datastore.Name(), folder+"/seeds/"+t.Spec.Name+"-"),
	}, nil
}

// vmCheck is what the vm phase found.
type vmCheck struct {
	inv   *vsphere.Inventory
	want  vmWant
	st    *vsphere.VM // nil: absent
	diffs []vmDiff
	// pods are the datastore clusters of the MT's datastores; sdrs the
	// ones where it is not kept out of Storage DRS (vm_sdrs.go).
	pods []vsphere.Pod
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
	inv, err := s.Inventory(ctx)
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
		ref = &st.Ref
	}
	if c.pods, err = s.ReadPods(ctx, inv, mtDatastoreRefs(inv, st), ref); err != nil {
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
	t.run.checked.vm = c
	if c.st == nil {
		obs := fmt.Sprintf("no VM named %s in %s", t.Spec.Name, c.inv.FolderPath)
		if len(c.pods) > 0 {
			obs += "; " + c.inv.Datastore.Name() + " is " + describePods(c.pods)
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
	c := take(&t.run.checked.vm)
	if c == nil {
		if c, err = t.checkVM(ctx, false); err != nil {
			return err
		}
	}
	backing, err := s.NICBacking(ctx, c.inv)
	if err != nil {
		return err
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
func (t *Target) applySDRS(ctx context.Context, s *vsphere.Session, c *vmCheck) error {
	if len(c.sdrs) == 0 {
		return nil
	}
	ref := vsphere.VMRef(t.Facts.VMMoRef)
	if c.st != nil {
		ref = c.st.Ref
	} else {
		// Just created: the check ran before the VM existed. vCenter may
		// have given a VM placed on a pod's datastore (bypassing Storage
		// DRS) an override of its own; look again with the VM's id.
		pods, err := s.ReadPods(ctx, c.inv, mtDatastoreRefs(c.inv, nil), &ref)
		if err != nil {
			return err
		}
		if c.sdrs = diffSDRS(t.Spec.Name, &ref, pods); len(c.sdrs) == 0 {
			return nil
		}
	}
	var done []string
	for _, d := range c.sdrs {
		if err := s.ConfigurePodVM(ctx, d.pod, ref, d.vm, d.spec); err != nil {
			return err
		}
		done = append(done, fmt.Sprintf("Storage DRS override in pod %s: %s", d.pod.Name, d.Fix()))
	}
	st, err := s.ReadVM(ctx, ref)
	if err != nil {
		return err
	}
	pods, err := s.ReadPods(ctx, c.inv, mtDatastoreRefs(c.inv, st), &ref)
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
	if c.st == nil || c.st.Extra(createdMarker) == "" || c.st.Extra(installedMarker) != "" {
		return false
	}
	for _, d := range c.diffs {
		if d.apply == nil || !d.late {
			return false
		}
	}
	for _, d := range c.sdrs {
		if d.pod.Override != nil {
			return false
		}
	}
	return len(c.diffs)+len(c.sdrs) > 0
}

// fixVM reconciles what is safe, with --fix, and fails listing what is
// left. Without --fix nothing is changed, except to finish a creation
// (finishesCreation).
func (t *Target) fixVM(ctx context.Context, s *vsphere.Session, c *vmCheck, backing types.BaseVirtualDeviceBackingInfo) error {
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
		if err := s.Reconfigure(ctx, "reconfigure", "VM "+t.Spec.Name, c.st.Ref, spec_); err != nil {
			return err
		}
		st, err := s.ReadVM(ctx, c.st.Ref)
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
		return fmt.Errorf("VM %s is not in %s", t.Spec.Name, c.inv.FolderPath)
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
