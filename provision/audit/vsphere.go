package audit

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/internal/vsconfig"
	"github.com/mtprep/mtprep/provision/spec"
	"github.com/mtprep/mtprep/provision/vsphere"
)

// VMProperties are the VirtualMachine properties the audit reads for
// every VM of the inventory, in its one retrieval (exported for the
// benchmark's per-VM baseline).
func VMProperties() []string { return vsphere.AuditVMProperties() }

// vsphereFacts are what the audit's one retrieval gives for the whole
// inventory (provision/vsphere reads them; the findings are judged here).
type vsphereFacts = vsphere.AuditFacts

func newVSphereFacts() *vsphereFacts { return vsphere.NewAuditFacts() }

// VSphereResult is the vSphere half of an audit: findings per MT and the
// disks the guest half compares the retention volume with.
type VSphereResult struct {
	Findings []Finding
	VMDisks  map[string][]VMDiskInfo // MT name -> its disks in SCSI order
	// RoundTrips are the SOAP calls after the login: the retrieval, the
	// license query (vCenter), the privilege query, the view's create and
	// destroy. SessionRoundTrips adds the login's (and not the logout).
	RoundTrips        int64
	SessionRoundTrips int64
	Calls             map[string]int64
}

// VSphere checks every MT of specs with ONE PropertyCollector
// retrieval over a container view (VMs, hosts and datastores together,
// plus the session and license manager), not one call per VM; then one
// license-assignment query on vCenter and one privilege query for all
// MTs. specs share a vCenter and account (the first spec's connection
// settings are used).
func VSphere(ctx context.Context, specs []*spec.Spec, env spec.LookupEnv) (*VSphereResult, error) {
	return VSphereFor(ctx, specs, env, nil)
}

// VSphereFor is VSphere with each MT's OS (lookup, nil for CentOS 6.6's
// profile): the SCSI controller is judged against the OS's VM profile.
func VSphereFor(ctx context.Context, specs []*spec.Spec, env spec.LookupEnv, lookup guest.Lookup) (*VSphereResult, error) {
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
	out := &VSphereResult{VMDisks: map[string][]VMDiskInfo{}}
	for _, sp := range specs {
		var prof *guest.VMProfile
		if o, ok := lookupOS(lookup, sp.OS); ok {
			prof = &o.VM
		}
		fs, disks := vsphereFindings(sp, facts, prof)
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
func vsphereFindings(s *spec.Spec, f *vsphereFacts, prof *guest.VMProfile) ([]Finding, []VMDiskInfo) {
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
	// The controller the MT's OS wants: LSI Logic Parallel (CentOS,
	// Ubuntu), LSI Logic SAS (Windows); never Paravirtual.
	wantSAS := prof != nil && prof.Controller == "lsilogic-sas"
	wantName := "LSI Logic Parallel"
	if wantSAS {
		wantName = "LSI Logic SAS"
	}
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
			lsi = lsi || !wantSAS
			ctrls = append(ctrls, "LSI Logic")
		case *types.VirtualLsiLogicSASController:
			lsi = lsi || wantSAS
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
		add(CheckController, Fail, "SCSI controllers: "+strings.Join(ctrls, ", ")+": reprotect fails with Paravirtual", "change the MT's SCSI controller type to "+wantName+" (VM powered off)")
	case lsi:
		add(CheckController, Pass, "SCSI controllers: "+strings.Join(ctrls, ", "), "")
	case len(ctrls) == 0:
		add(CheckController, Fail, "no SCSI controller", "add an "+wantName+" controller for the MT's disks")
	default:
		add(CheckController, Warn, "no "+wantName+" controller (found: "+strings.Join(ctrls, ", ")+")", "the MT procedure uses "+wantName+"; change the controller type (VM powered off)")
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
