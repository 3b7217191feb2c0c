package provision

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/session"
	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
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

// vsphereFacts are what one retrieval gives for the whole inventory.
type vsphereFacts struct {
	vms   map[string]mo.VirtualMachine // by name
	uuids map[string][]string          // config.uuid -> VM names (every VM, not only MTs)
	hosts map[types.ManagedObjectReference]mo.HostSystem
	dss   map[types.ManagedObjectReference]mo.Datastore
}

// VSphereAudit is the vSphere half of an audit: findings per MT and the
// retention disk UUIDs the guest half compares with.
type VSphereAudit struct {
	Findings      []Finding
	RetentionUUID map[string]string // MT name -> vSphere UUID of its second disk
	RoundTrips    int64
}

// AuditVSphere checks every MT of specs with ONE PropertyCollector
// retrieval over a container view (VMs, hosts and datastores together),
// not one call per VM, then one privilege query. specs share a vCenter
// (the first spec's connection settings are used).
func AuditVSphere(ctx context.Context, specs []*Spec, env LookupEnv) (*VSphereAudit, error) {
	s, err := connectVSphere(ctx, specs[0], env, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	defer func() { _ = s.logout() }()
	before := s.calls.snapshot()
	facts, err := retrieveFacts(ctx, s.c)
	if err != nil {
		return nil, fmt.Errorf("audit: vSphere inventory: %s", faultText(err))
	}
	missing := missingPrivileges(ctx, s.c, s.dc.Reference())
	out := &VSphereAudit{RetentionUUID: map[string]string{}}
	for _, sp := range specs {
		fs, ret := vsphereFindings(sp, facts, missing)
		out.Findings = append(out.Findings, fs...)
		if ret != "" {
			out.RetentionUUID[sp.Name] = ret
		}
	}
	out.RoundTrips = s.calls.snapshot().Sub(before).SOAP()
	return out, nil
}

func (s *vsphereSession) logout() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return session.NewManager(s.c).Logout(ctx)
}

func retrieveFacts(ctx context.Context, c *vim25.Client) (*vsphereFacts, error) {
	m := view.NewManager(c)
	v, err := m.CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"VirtualMachine", "HostSystem", "Datastore"}, true)
	if err != nil {
		return nil, err
	}
	defer func() { _ = v.Destroy(context.WithoutCancel(ctx)) }()
	req := types.RetrieveProperties{
		This: c.ServiceContent.PropertyCollector,
		SpecSet: []types.PropertyFilterSpec{{
			ObjectSet: []types.ObjectSpec{{
				Obj:       v.Reference(),
				Skip:      types.NewBool(true),
				SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{Type: "ContainerView", Path: "view"}},
			}},
			PropSet: []types.PropertySpec{
				{Type: "VirtualMachine", PathSet: []string{"name", "config.uuid", "config.extraConfig", "config.flags.diskUuidEnabled", "config.hardware.device", "snapshot", "guest.toolsRunningStatus", "runtime.host", "runtime.powerState"}},
				{Type: "HostSystem", PathSet: []string{"name", "datastore", "config.product"}},
				{Type: "Datastore", PathSet: []string{"name", "summary.type"}},
			},
		}},
	}
	res, err := methods.RetrieveProperties(ctx, c, &req)
	if err != nil {
		return nil, err
	}
	f := &vsphereFacts{vms: map[string]mo.VirtualMachine{}, uuids: map[string][]string{}, hosts: map[types.ManagedObjectReference]mo.HostSystem{}, dss: map[types.ManagedObjectReference]mo.Datastore{}}
	for _, oc := range res.Returnval {
		obj, err := mo.ObjectContentToType(oc)
		if err != nil {
			return nil, err
		}
		switch o := obj.(type) {
		case mo.VirtualMachine:
			f.vms[o.Name] = o
			if o.Config != nil && o.Config.Uuid != "" {
				f.uuids[o.Config.Uuid] = append(f.uuids[o.Config.Uuid], o.Name)
			}
		case mo.HostSystem:
			f.hosts[o.Reference()] = o
		case mo.Datastore:
			f.dss[o.Reference()] = o
		}
	}
	return f, nil
}

// missingPrivileges asks once which reprotect privileges the session's
// account lacks on the datacenter; nil when the query itself fails.
func missingPrivileges(ctx context.Context, c *vim25.Client, dc types.ManagedObjectReference) []string {
	if c.ServiceContent.AuthorizationManager == nil {
		return nil
	}
	var sm mo.SessionManager
	if err := mo.RetrieveProperties(ctx, c, c.ServiceContent.PropertyCollector, *c.ServiceContent.SessionManager, &sm); err != nil || sm.CurrentSession == nil {
		return nil
	}
	privs := ReprotectPrivileges()
	am := object.NewAuthorizationManager(c)
	has, err := am.HasPrivilegeOnEntity(ctx, dc, sm.CurrentSession.Key, privs)
	if err != nil || len(has) != len(privs) {
		return nil
	}
	var out []string
	for i, ok := range has {
		if !ok {
			out = append(out, privs[i])
		}
	}
	if out == nil {
		out = []string{}
	}
	return out
}

// vsphereFindings checks one MT against the retrieved facts. Pure.
func vsphereFindings(s *Spec, f *vsphereFacts, missingPrivs []string) ([]Finding, string) {
	host := s.Name
	var out []Finding
	add := func(id, result, reason, fix string) {
		out = append(out, Finding{Host: host, ID: id, Result: result, Reason: reason, Fix: fix})
	}
	vm, ok := f.vms[s.Name]
	if !ok || vm.Config == nil {
		add("vsphere.vm", Fail, fmt.Sprintf("no VM named %q in vCenter", s.Name), "check name in the spec, or build it with mtprep build")
		for _, id := range []string{"vsphere.enableuuid", "vsphere.snapshots", "vsphere.controller", "vsphere.disks", "vsphere.tools", "vsphere.license", "vsphere.datastore", "vsphere.uuid-unique"} {
			add(id, Unknown, "the VM was not found", "")
		}
		return out, ""
	}
	add("vsphere.vm", Pass, fmt.Sprintf("%s (%s, %s)", vm.Name, vm.Reference().Value, vm.Runtime.PowerState), "")

	enable := ""
	for _, o := range vm.Config.ExtraConfig {
		if ov := o.GetOptionValue(); strings.EqualFold(ov.Key, "disk.EnableUUID") {
			enable = fmt.Sprint(ov.Value)
		}
	}
	flag := vm.Config.Flags.DiskUuidEnabled != nil && *vm.Config.Flags.DiskUuidEnabled
	if strings.EqualFold(enable, "TRUE") && flag {
		add("vsphere.enableuuid", Pass, "disk.EnableUUID=TRUE, flags.diskUuidEnabled=true", "")
	} else {
		add("vsphere.enableuuid", Fail, fmt.Sprintf("disk.EnableUUID=%q, flags.diskUuidEnabled=%v: the guest cannot see consistent disk UUIDs", enable, flag), "mtprep build --phases enable-uuid (the VM must be powered off)")
	}

	if vm.Snapshot == nil || len(vm.Snapshot.RootSnapshotList) == 0 {
		add("vsphere.snapshots", Pass, "no snapshots", "")
	} else {
		add("vsphere.snapshots", Fail, fmt.Sprintf("%d snapshot tree(s), e.g. %q: reprotect fails with snapshots", len(vm.Snapshot.RootSnapshotList), vm.Snapshot.RootSnapshotList[0].Name), "delete the MT's snapshots")
	}

	var ctrls []string
	disks, pvscsi, lsi := 0, false, false
	var diskUUIDs []string
	for _, d := range vm.Config.Hardware.Device {
		switch x := d.(type) {
		case *types.ParaVirtualSCSIController:
			pvscsi = true
			ctrls = append(ctrls, "ParaVirtual")
		case *types.VirtualLsiLogicController:
			lsi = true
			ctrls = append(ctrls, "LSI Logic")
		case *types.VirtualLsiLogicSASController:
			ctrls = append(ctrls, "LSI Logic SAS")
		case *types.VirtualBusLogicController:
			ctrls = append(ctrls, "BusLogic")
		case *types.VirtualDisk:
			disks++
			if b, ok := x.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
				diskUUIDs = append(diskUUIDs, b.Uuid)
			} else {
				diskUUIDs = append(diskUUIDs, "")
			}
		}
	}
	switch {
	case pvscsi:
		add("vsphere.controller", Fail, "SCSI controllers: "+strings.Join(ctrls, ", ")+": ASR reprotect fails with Paravirtual", "use an LSI Logic controller for the MT's disks")
	case lsi:
		add("vsphere.controller", Pass, "SCSI controllers: "+strings.Join(ctrls, ", "), "")
	default:
		add("vsphere.controller", Warn, "no LSI Logic controller (found: "+strings.Join(ctrls, ", ")+")", "the MT procedure uses LSI Logic")
	}
	if disks <= 60 {
		add("vsphere.disks", Pass, fmt.Sprintf("%d disks (at most 60)", disks), "")
	} else {
		add("vsphere.disks", Fail, fmt.Sprintf("%d disks: a master target takes at most 60", disks), "spread the protected VMs over more master targets")
	}

	if vm.Guest != nil && vm.Guest.ToolsRunningStatus == string(types.VirtualMachineToolsRunningStatusGuestToolsRunning) {
		add("vsphere.tools", Pass, "VMware Tools running", "")
	} else {
		st := "unknown"
		if vm.Guest != nil {
			st = vm.Guest.ToolsRunningStatus
		}
		add("vsphere.tools", Fail, "VMware Tools: "+st, "install and start VMware Tools (open-vm-tools) on the MT")
	}

	h, ok := f.hosts[derefRef(vm.Runtime.Host)]
	switch {
	case !ok:
		add("vsphere.license", Unknown, "the VM's ESXi host is not visible", "")
		add("vsphere.datastore", Unknown, "the VM's ESXi host is not visible", "")
	default:
		name := ""
		if h.Config != nil {
			name = h.Config.Product.LicenseProductName + " " + h.Config.Product.Version
		}
		if strings.Contains(strings.ToLower(name), "hypervisor") || strings.Contains(strings.ToLower(name), "esxbasic") {
			add("vsphere.license", Fail, fmt.Sprintf("host %s runs %s: failback fails on a free ESXi edition", h.Name, name), "assign a vSphere (or evaluation) license to the host")
		} else {
			add("vsphere.license", Pass, fmt.Sprintf("host %s: %s", h.Name, strings.TrimSpace(name)), "")
		}
		var types_, vmfs []string
		for _, ref := range h.Datastore {
			if ds, ok := f.dss[ref]; ok {
				types_ = append(types_, ds.Name+" ("+ds.Summary.Type+")")
				if t := strings.ToUpper(ds.Summary.Type); t == "VMFS" || t == "VSAN" {
					vmfs = append(vmfs, ds.Name)
				}
			}
		}
		if len(vmfs) > 0 {
			add("vsphere.datastore", Pass, "VMFS/vSAN datastores on "+h.Name+": "+strings.Join(vmfs, ", "), "")
		} else {
			add("vsphere.datastore", Fail, "host "+h.Name+" has no VMFS or vSAN datastore ("+strings.Join(types_, ", ")+"): NFS is not supported for failback", "give the MT's host a VMFS or vSAN datastore")
		}
	}

	if others := slices.DeleteFunc(slices.Clone(f.uuids[vm.Config.Uuid]), func(n string) bool { return n == vm.Name }); len(others) > 0 {
		add("vsphere.uuid-unique", Fail, fmt.Sprintf("BIOS UUID %s is shared with %s (cloned from the same template?)", vm.Config.Uuid, strings.Join(others, ", ")), "give the MT a new BIOS UUID (uuid.bios) or build it fresh with mtprep build")
	} else {
		add("vsphere.uuid-unique", Pass, "BIOS UUID "+vm.Config.Uuid+" is unique", "")
	}

	switch {
	case missingPrivs == nil:
		add("vsphere.privileges", Unknown, "the account's privileges could not be queried", "")
	case len(missingPrivs) == 0:
		add("vsphere.privileges", Pass, fmt.Sprintf("the account has the %d privileges reprotect needs", len(ReprotectPrivileges())), "")
	default:
		add("vsphere.privileges", Fail, "the account lacks "+strings.Join(missingPrivs, ", ")+": reprotect fails (datastores not discovered)", "give the ASR vCenter account a role with these privileges")
	}

	ret := ""
	if len(diskUUIDs) >= 2 {
		ret = diskUUIDs[1]
	}
	return out, ret
}

func derefRef(r *types.ManagedObjectReference) types.ManagedObjectReference {
	if r == nil {
		return types.ManagedObjectReference{}
	}
	return *r
}
