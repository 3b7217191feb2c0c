package provision

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/provision/internal/vsconfig"
	"github.com/mtprep/mtprep/provision/spec"
	"github.com/mtprep/mtprep/provision/vsphere"
)

// ReprotectPrivileges are what the vCenter account needs for ASR's
// reprotect and failback (a read-only discovery account lets failover work
// and reprotect fail: "Resolve common failback issues").
func ReprotectPrivileges() []string {
	return []string{
		"Datastore.AllocateSpace", "Datastore.Browse", "Datastore.FileManagement", "Datastore.UpdateVirtualMachineFiles",
		"Network.Assign", "Resource.AssignVMToPool",
		"VirtualMachine.Config.AddExistingDisk", "VirtualMachine.Config.AddNewDisk", "VirtualMachine.Config.RemoveDisk", "VirtualMachine.Config.Settings",
		"VirtualMachine.Interact.PowerOff", "VirtualMachine.Interact.PowerOn",
		"VirtualMachine.Inventory.Create", "VirtualMachine.Inventory.Register", "VirtualMachine.Inventory.Unregister",
		"VirtualMachine.State.CreateSnapshot", "VirtualMachine.State.RemoveSnapshot",
	}
}

// privilegeEntity says which of the MT's objects a reprotect privilege is
// checked on: where vSphere checks it when ASR acts. Datastore privileges
// on the datastores, VirtualMachine.Inventory on the VM's folder (new VMs
// are created there), and so on.
func privilegeEntity(priv string) string {
	switch {
	case strings.HasPrefix(priv, "Datastore."):
		return "Datastore"
	case strings.HasPrefix(priv, "Network."):
		return "Network"
	case strings.HasPrefix(priv, "Resource."):
		return "ResourcePool"
	case strings.HasPrefix(priv, "VirtualMachine.Inventory."):
		return "Folder"
	}
	return "VirtualMachine"
}

// AuditVMProperties are the VirtualMachine properties the audit reads for
// every VM of the inventory, in its one retrieval (exported for the
// benchmark's per-VM baseline).
func AuditVMProperties() []string { return vsphere.AuditVMProperties() }

// vsphereFacts are what the audit's one retrieval gives for the whole
// inventory (provision/vsphere reads them; the findings are judged here).
type vsphereFacts = vsphere.AuditFacts

func newVSphereFacts() *vsphereFacts { return vsphere.NewAuditFacts() }

// VSphereAudit is the vSphere half of an audit: findings per MT and the
// disks the guest half compares the retention volume with.
type VSphereAudit struct {
	Findings []Finding
	VMDisks  map[string][]VMDiskInfo // MT name -> its disks in SCSI order
	// RoundTrips are the SOAP calls after the login: the retrieval, the
	// license query (vCenter), the privilege query, the view's create and
	// destroy. SessionRoundTrips adds the login's (and not the logout).
	RoundTrips        int64
	SessionRoundTrips int64
	Calls             map[string]int64
}

// AuditVSphere checks every MT of specs with ONE PropertyCollector
// retrieval over a container view (VMs, hosts and datastores together,
// plus the session and license manager), not one call per VM; then one
// license-assignment query on vCenter and one privilege query for all
// MTs. specs share a vCenter and account (the first spec's connection
// settings are used).
func AuditVSphere(ctx context.Context, specs []*spec.Spec, env spec.LookupEnv) (*VSphereAudit, error) {
	s, err := vsphere.Login(ctx, vsconfig.For(specs[0], env, slog.New(slog.DiscardHandler)))
	if err != nil {
		return nil, err
	}
	defer func() { _ = s.Logout() }()
	before := s.RoundTrips()
	facts, sess, err := s.RetrieveAuditFacts(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: reading the vSphere inventory: %s", vsphere.FaultText(err))
	}
	names := make([]string, len(specs))
	for i, sp := range specs {
		names[i] = sp.Name
	}
	s.QueryPrivileges(ctx, facts, names, specs[0].Audit.VCenterAccount, ReprotectPrivileges(), sess)
	out := &VSphereAudit{VMDisks: map[string][]VMDiskInfo{}}
	for _, sp := range specs {
		fs, disks := vsphereFindings(sp, facts)
		out.Findings = append(out.Findings, fs...)
		if disks != nil {
			out.VMDisks[sp.Name] = disks
		}
	}
	all := s.RoundTrips()
	rt := all.Sub(before)
	out.RoundTrips, out.SessionRoundTrips, out.Calls = rt.SOAP(), all.SOAP(), rt.Calls
	return out, nil
}

// vsphereFindings checks one MT against the retrieved facts, and returns
// the VM's disks for the guest checks. Pure: tested with built facts.
func vsphereFindings(s *spec.Spec, f *vsphereFacts) ([]Finding, []VMDiskInfo) {
	host := s.Name
	var out []Finding
	add := func(id, result, reason, fix string) {
		out = append(out, Finding{Host: host, ID: id, Result: result, Reason: oneLine(reason), Fix: fix})
	}
	add(CheckVSphereReachable, Pass, fmt.Sprintf("%s answered (%s)", vsphere.RedactURL(s.VSphere.URL), apiName(f.APIType)), "")
	vms := f.VMs[s.Name]
	if len(vms) != 1 || vms[0].Config == nil {
		reason, fix := fmt.Sprintf("no VM named %q in the inventory", s.Name), "check name in the spec (it is the VM's name), or build the MT with mtprep build"
		switch {
		case len(vms) > 1:
			var refs []string
			for _, v := range vms {
				refs = append(refs, v.Reference().Value)
			}
			reason, fix = fmt.Sprintf("%d VMs are named %q (%s)", len(vms), s.Name, strings.Join(refs, ", ")), "rename the VMs so that the MT's name is unique in vCenter"
		case len(vms) == 1:
			reason, fix = fmt.Sprintf("VM %q (%s) has no readable configuration (inaccessible?)", s.Name, vms[0].Reference().Value), "check the VM in the vSphere Client: its files and the account's rights on it"
		}
		add(CheckVM, Fail, reason, fix)
		for _, id := range checkIDs(vsphereChecks())[2:] {
			add(id, Unknown, "the MT's VM was not found", "fix "+CheckVM+" first")
		}
		return out, nil
	}
	vm := vms[0]
	add(CheckVM, Pass, fmt.Sprintf("%s (%s, %s)", vm.Name, vm.Reference().Value, vm.Runtime.PowerState), "")

	enable := "unset"
	for _, o := range vm.Config.ExtraConfig {
		if ov := o.GetOptionValue(); strings.EqualFold(ov.Key, "disk.EnableUUID") {
			enable = fmt.Sprint(ov.Value)
		}
	}
	flag := vm.Config.Flags.DiskUuidEnabled != nil && *vm.Config.Flags.DiskUuidEnabled
	if strings.EqualFold(enable, "TRUE") && flag {
		add(CheckEnableUUID, Pass, "disk.EnableUUID=TRUE, flags.diskUuidEnabled=true", "")
	} else {
		add(CheckEnableUUID, Fail, fmt.Sprintf("disk.EnableUUID=%s, flags.diskUuidEnabled=%v: the guest cannot see stable disk WWIDs", enable, flag), "mtprep build --phases enable-uuid (powers the MT off and on)")
	}

	if vm.Snapshot == nil || len(vm.Snapshot.RootSnapshotList) == 0 {
		add(CheckSnapshots, Pass, "no snapshots", "")
	} else {
		n := countSnapshots(vm.Snapshot.RootSnapshotList)
		add(CheckSnapshots, Fail, fmt.Sprintf("%d snapshot(s), e.g. %q: reprotect fails on an MT with snapshots", n, vm.Snapshot.RootSnapshotList[0].Name), "delete all of the MT's snapshots (Snapshots > Delete All)")
	}

	var ctrls []string
	pvscsi, lsi := false, false
	bus := map[int32]int32{} // controller key -> bus number
	type disk struct {
		bus, unit int32
		info      VMDiskInfo
	}
	var disks []disk
	for _, d := range vm.Config.Hardware.Device {
		if c, ok := d.(types.BaseVirtualSCSIController); ok {
			sc := c.GetVirtualSCSIController()
			bus[sc.Key] = sc.BusNumber
		}
	}
	for _, d := range vm.Config.Hardware.Device {
		switch x := d.(type) {
		case *types.ParaVirtualSCSIController:
			pvscsi = true
			ctrls = append(ctrls, "Paravirtual")
		case *types.VirtualLsiLogicController:
			lsi = true
			ctrls = append(ctrls, "LSI Logic")
		case *types.VirtualLsiLogicSASController:
			ctrls = append(ctrls, "LSI Logic SAS")
		case *types.VirtualBusLogicController:
			ctrls = append(ctrls, "BusLogic")
		case *types.VirtualDisk:
			dk := disk{bus: bus[x.ControllerKey], info: VMDiskInfo{Label: fmt.Sprintf("disk key %d", x.Key), UUID: vsphere.DiskUUID(x)}}
			if x.UnitNumber != nil {
				dk.unit = *x.UnitNumber
			}
			if x.DeviceInfo != nil && x.DeviceInfo.GetDescription() != nil && x.DeviceInfo.GetDescription().Label != "" {
				dk.info.Label = x.DeviceInfo.GetDescription().Label
			}
			disks = append(disks, dk)
		}
	}
	slices.SortStableFunc(disks, func(a, b disk) int { return cmp.Or(cmp.Compare(a.bus, b.bus), cmp.Compare(a.unit, b.unit)) })
	switch {
	case pvscsi:
		add(CheckController, Fail, "SCSI controllers: "+strings.Join(ctrls, ", ")+": reprotect fails with Paravirtual", "change the MT's SCSI controller type to LSI Logic Parallel (VM powered off)")
	case lsi:
		add(CheckController, Pass, "SCSI controllers: "+strings.Join(ctrls, ", "), "")
	case len(ctrls) == 0:
		add(CheckController, Fail, "no SCSI controller", "add an LSI Logic Parallel controller for the MT's disks")
	default:
		add(CheckController, Warn, "no LSI Logic Parallel controller (found: "+strings.Join(ctrls, ", ")+")", "the MT procedure uses LSI Logic Parallel; change the controller type (VM powered off)")
	}
	if len(disks) <= maxMTDisks {
		add(CheckDisks, Pass, fmt.Sprintf("%d disks (at most %d)", len(disks), maxMTDisks), "")
	} else {
		add(CheckDisks, Fail, fmt.Sprintf("%d disks: a master target takes at most %d", len(disks), maxMTDisks), "spread the protected VMs over more master targets")
	}

	if vm.Guest != nil && vm.Guest.ToolsRunningStatus == string(types.VirtualMachineToolsRunningStatusGuestToolsRunning) {
		add(CheckTools, Pass, "VMware Tools running", "")
	} else {
		st := "status unknown"
		if vm.Guest != nil && vm.Guest.ToolsRunningStatus != "" {
			st = vm.Guest.ToolsRunningStatus
		}
		add(CheckTools, Fail, "VMware Tools: "+st, "install and start VMware Tools on the MT (vmware-tools or open-vm-tools)")
	}

	h, hostOK := f.Hosts[derefRef(vm.Runtime.Host)]
	if !hostOK {
		for _, id := range []string{CheckLicense, CheckDatastore, CheckProtectedDatastore} {
			add(id, Unknown, "the VM's ESXi host is not visible to this account", "give the account read access to the MT's host")
		}
	} else {
		out = append(out, hostFindings(s, vm, h, f)...)
	}
	out = append(out, sdrsFinding(s, vm, f))

	if others := slices.DeleteFunc(slices.Clone(f.UUIDs[vm.Config.Uuid]), func(n string) bool { return n == vm.Name }); len(others) > 0 {
		slices.Sort(others)
		add(CheckUUIDUnique, Fail, fmt.Sprintf("BIOS UUID %s is shared with %s (cloned from the same template?)", vm.Config.Uuid, strings.Join(others, ", ")), "give the MT a new BIOS UUID (uuid.bios, VM powered off) or build it fresh with mtprep build")
	} else {
		add(CheckUUIDUnique, Pass, "BIOS UUID "+vm.Config.Uuid+" is unique in the inventory", "")
	}

	out = append(out, privilegeFinding(s, vm, f))

	info := make([]VMDiskInfo, len(disks))
	for i, d := range disks {
		info[i] = d.info
	}
	return out, info
}

// hostFindings are the checks on the MT's ESXi host: its license, its
// datastores, and whether it sees the protected VMs' datastores.
func hostFindings(s *spec.Spec, vm mo.VirtualMachine, h mo.HostSystem, f *vsphereFacts) []Finding {
	var out []Finding
	add := func(id, result, reason, fix string) {
		out = append(out, Finding{Host: s.Name, ID: id, Result: result, Reason: oneLine(reason), Fix: fix})
	}
	product := ""
	if h.Config != nil {
		product = strings.TrimSpace(h.Config.Product.FullName)
	}
	key := h.Reference().Value
	if f.APIType == "HostAgent" {
		key = ""
	}
	switch l, ok := f.Licenses[key]; {
	case !ok:
		add(CheckLicense, Unknown, fmt.Sprintf("host %s (%s): its license could not be read", h.Name, product), "check the host's license in the vSphere Client (Configure > Licensing): it must not be the free vSphere Hypervisor")
	case IsFreeESXiLicense(l):
		add(CheckLicense, Fail, fmt.Sprintf("host %s has license %q (edition %s): failback fails on the free ESXi edition", h.Name, l.Name, l.EditionKey), "assign a vSphere license (or evaluation mode) to the host, or move the MT to a licensed host")
	default:
		add(CheckLicense, Pass, fmt.Sprintf("host %s: %s (edition %s)", h.Name, l.Name, l.EditionKey), "")
	}

	// Only datastores the host can use count: an inaccessible one (an
	// unreachable LUN or NFS server) is as good as absent for failback.
	var seen, vmfs []string
	names := map[string]bool{}
	for _, ref := range h.Datastore {
		ds, ok := f.DSs[ref]
		if !ok {
			continue
		}
		if !ds.Summary.Accessible {
			seen = append(seen, ds.Name+" ("+ds.Summary.Type+", inaccessible)")
			continue
		}
		names[ds.Name] = true
		seen = append(seen, ds.Name+" ("+ds.Summary.Type+")")
		if t := strings.ToUpper(ds.Summary.Type); t == "VMFS" || t == "VSAN" {
			vmfs = append(vmfs, ds.Name)
		}
	}
	switch {
	case len(vmfs) > 0:
		add(CheckDatastore, Pass, "VMFS/vSAN datastores on "+h.Name+": "+strings.Join(vmfs, ", "), "")
	case len(seen) == 0:
		add(CheckDatastore, Fail, "host "+h.Name+" has no datastore this account can see", "give the MT's host a VMFS or vSAN datastore")
	default:
		add(CheckDatastore, Fail, "host "+h.Name+" has no accessible VMFS or vSAN datastore ("+strings.Join(seen, ", ")+"): NFS is not supported for failback", "give the MT's host a VMFS or vSAN datastore")
	}

	// The protected VMs' datastores: named in the spec, or those of the
	// named VMs.
	want := slices.Clone(s.Audit.ProtectedDatastores)
	var unknownVMs []string
	for _, n := range s.Audit.ProtectedVMs {
		pv := f.VMs[n]
		if len(pv) == 0 {
			unknownVMs = append(unknownVMs, n)
			continue
		}
		for _, v := range pv {
			for _, ref := range v.Datastore {
				if ds, ok := f.DSs[ref]; ok && !slices.Contains(want, ds.Name) {
					want = append(want, ds.Name)
				}
			}
		}
	}
	var missing []string
	for _, n := range want {
		if !names[n] {
			missing = append(missing, n)
		}
	}
	switch {
	case len(want) == 0 && len(unknownVMs) == 0:
		add(CheckProtectedDatastore, Unknown, "the spec names no datastores or VMs to fail back", "list them under audit.protectedDatastores or audit.protectedVMs")
	case len(missing) > 0:
		add(CheckProtectedDatastore, Fail, fmt.Sprintf("host %s does not see %s (of %s)", h.Name, strings.Join(missing, ", "), strings.Join(want, ", ")), "mount those datastores on the MT's host, or place the MT on a host that sees them")
	case len(unknownVMs) > 0:
		add(CheckProtectedDatastore, Unknown, fmt.Sprintf("no VM named %s in the inventory", strings.Join(unknownVMs, ", ")), "check audit.protectedVMs, or name their datastores in audit.protectedDatastores")
	default:
		add(CheckProtectedDatastore, Pass, fmt.Sprintf("host %s sees %s", h.Name, strings.Join(want, ", ")), "")
	}
	return out
}

// sdrsFinding: Storage DRS must not be able to move the MT (ASR: a
// storage-vMotioned MT breaks failback). PASS when none of its datastores
// is in a datastore cluster, or its override in each has automation
// disabled; WARN otherwise, also for manual mode (applying a
// recommendation moves it) and for a pod with Storage DRS off (turning it
// on would).
func sdrsFinding(s *spec.Spec, vm mo.VirtualMachine, f *vsphereFacts) Finding {
	fd := Finding{Host: s.Name, ID: CheckSDRS}
	var kept, moves, unknown, plain []string
	seen := map[types.ManagedObjectReference]bool{}
	for _, ref := range vm.Datastore {
		ds, ok := f.DSs[ref]
		if !ok {
			unknown = append(unknown, "datastore "+ref.Value+" is not visible to this account")
			continue
		}
		if ds.Parent == nil || ds.Parent.Type != "StoragePod" {
			plain = append(plain, ds.Name)
			continue
		}
		if seen[*ds.Parent] {
			continue
		}
		seen[*ds.Parent] = true
		pod, ok := f.Pods[*ds.Parent]
		if !ok || pod.PodStorageDrsEntry == nil {
			unknown = append(unknown, fmt.Sprintf("%s is in datastore cluster %s, whose Storage DRS configuration could not be read", ds.Name, ds.Parent.Value))
			continue
		}
		cfg := pod.PodStorageDrsEntry.StorageDrsConfig
		o := vsphere.VMOverride(cfg.VmConfig, vm.Reference())
		line := fmt.Sprintf("%s in datastore cluster %s: %s", ds.Name, pod.Name, vsphere.SDRSAutomation(cfg.PodConfig.Enabled, cfg.PodConfig.DefaultVmBehavior, o))
		if vsphere.SDRSKeepsOut(o) {
			kept = append(kept, line)
		} else {
			moves = append(moves, line)
		}
	}
	switch {
	case len(moves) > 0:
		fd.Result, fd.Reason = Warn, strings.Join(moves, "; ")+": Storage DRS may storage-vMotion the MT, and failback fails when the disks attached to it move"
		fd.Fix = "mtprep build --phases vm --fix (adds a Storage DRS VM override with automation disabled), or in the vSphere Client: the datastore cluster > Configure > VM Overrides > Add " + vm.Name + ", Storage DRS automation level Disabled"
	case len(unknown) > 0:
		fd.Result, fd.Reason, fd.Fix = Unknown, strings.Join(unknown, "; "), "give the account read access to the MT's datastores and their datastore cluster"
	case len(kept) > 0:
		fd.Result, fd.Reason = Pass, strings.Join(kept, "; ")
	default:
		fd.Result, fd.Reason = Pass, "no datastore of the MT is in a datastore cluster ("+strings.Join(plain, ", ")+")"
	}
	return fd
}

// privilegeFinding judges each reprotect privilege on the MT's objects of
// the type vSphere checks it on.
func privilegeFinding(s *spec.Spec, vm mo.VirtualMachine, f *vsphereFacts) Finding {
	fd := Finding{Host: s.Name, ID: CheckPrivileges}
	if f.Privs == nil {
		fd.Result, fd.Reason, fd.Fix = Unknown, "the account's privileges could not be queried: "+f.PrivErr, "check in the vSphere Client that ASR's account has the reprotect privileges (docs/AUDIT.md)"
		return fd
	}
	byType := map[string][]types.ManagedObjectReference{"VirtualMachine": {vm.Reference()}}
	if vm.Parent != nil {
		byType["Folder"] = []types.ManagedObjectReference{*vm.Parent}
	}
	if vm.ResourcePool != nil {
		byType["ResourcePool"] = []types.ManagedObjectReference{*vm.ResourcePool}
	}
	byType["Network"] = vm.Network
	byType["Datastore"] = f.MTDatastores(vm)
	missing := map[string][]string{} // privilege -> objects lacking it
	checked := 0
	for _, p := range ReprotectPrivileges() {
		for _, ref := range byType[privilegeEntity(p)] {
			granted, ok := f.Privs[ref][p]
			if !ok {
				continue
			}
			checked++
			if !granted {
				missing[p] = append(missing[p], refName(ref, f))
			}
		}
	}
	switch {
	case checked == 0:
		fd.Result, fd.Reason, fd.Fix = Unknown, "vSphere answered nothing about the MT's objects", "check the account's role in the vSphere Client"
	case len(missing) == 0:
		fd.Result, fd.Reason = Pass, fmt.Sprintf("%s has the %d reprotect privileges on the MT's VM, folder, pool, networks and datastores", f.PrivUser, len(ReprotectPrivileges()))
	default:
		var parts []string
		for _, p := range ReprotectPrivileges() {
			if objs := missing[p]; len(objs) > 0 {
				parts = append(parts, p+" on "+strings.Join(objs, ", "))
			}
		}
		fd.Result, fd.Reason = Fail, f.PrivUser+" lacks "+strings.Join(parts, "; ")+": reprotect fails (a read-only discovery account is not enough)"
		fd.Fix = "give ASR's vCenter account a role with these privileges, propagated to these objects"
	}
	return fd
}

func refName(ref types.ManagedObjectReference, f *vsphereFacts) string {
	if ds, ok := f.DSs[ref]; ok {
		return ds.Name
	}
	return ref.Type + ":" + ref.Value
}

func countSnapshots(l []types.VirtualMachineSnapshotTree) int {
	n := 0
	for _, t := range l {
		n += 1 + countSnapshots(t.ChildSnapshotList)
	}
	return n
}

func apiName(t string) string {
	if t == "HostAgent" {
		return "ESXi"
	}
	return "vCenter"
}

func derefRef(r *types.ManagedObjectReference) types.ManagedObjectReference {
	if r == nil {
		return types.ManagedObjectReference{}
	}
	return *r
}
