package audit

import (
	"fmt"
	"strings"

	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/provision/spec"
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
