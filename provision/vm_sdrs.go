package provision

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/provision/vsphere"
)

// Storage DRS and the master target.
//
// ASR: a master target must not be Storage-vMotioned, or failback fails
// (the protected VMs' disks attached to it would move with it). When one
// of the MT's datastores is in a datastore cluster (a StoragePod), the vm
// phase gives the MT a Storage DRS VM override in that pod with
// enabled=false: vSphere's "automation level: Disabled", under which
// vCenter makes no migration or placement recommendation for the VM at
// all (StorageDrsVmConfigInfo.enabled: "If this flag is false, the virtual
// machine is effectively excluded from storage DRS"). behavior=manual
// would not do: it still recommends moves, and applying one moves the
// MT. The override's other fields (intraVmAffinity, disk rules) are left
// as they are.
//
// The override is added also when the pod's Storage DRS is turned off:
// it costs nothing, and turning Storage DRS on later then does not start
// moving the MT (the pod default would apply to it otherwise).
//
// Compute DRS is left alone on purpose: vMotion of the MT to another host
// of its cluster moves no disk, and ASR does not forbid it. Nothing here
// reads or writes the cluster's DRS configuration.
//
// The pods are read and changed through provision/vsphere (ReadPods,
// ConfigurePodVM); what to change is decided here.

// sdrsDiff is a datastore cluster where the MT lacks an override that
// keeps it out of Storage DRS, and the change that adds it.
type sdrsDiff struct {
	pod  vsphere.Pod
	vm   string
	spec types.StorageDrsVmConfigSpec // Info.Vm is set once the VM exists
}

// What is the state found: "Storage DRS override for mt01 in pod POD0:
// missing".
func (d sdrsDiff) What() string {
	state := "missing"
	if d.pod.Override != nil {
		state = vsphere.SDRSAutomation(d.pod.Enabled, d.pod.DefaultBehavior, d.pod.Override)
	}
	off := ""
	if !d.pod.Enabled && d.pod.Override == nil {
		off = " (Storage DRS is off on the pod now; the override keeps the MT in place when it is turned on)"
	}
	return fmt.Sprintf("Storage DRS override for %s in pod %s: %s%s", d.vm, d.pod.Name, state, off)
}

// Fix is what applying it does.
func (d sdrsDiff) Fix() string {
	if d.spec.Operation == types.ArrayUpdateOperationEdit {
		return "edit (automation disabled)"
	}
	return "add (automation disabled)"
}

// String is the plan line: the state, then the change ("missing → add
// (automation disabled)"); withFix: the change needs --fix, written like
// the vm phase's other differences.
func (d sdrsDiff) String(withFix bool) string {
	if withFix {
		return fmt.Sprintf("%s (--fix: %s)", d.What(), d.Fix())
	}
	return d.What() + " → " + d.Fix()
}

// diffSDRS lists the pods where the MT is not kept out of Storage DRS.
// vm nil: the VM is still to be created (every pod needs an add).
func diffSDRS(name string, vm *types.ManagedObjectReference, pods []vsphere.Pod) []sdrsDiff {
	var out []sdrsDiff
	for _, p := range pods {
		if vsphere.SDRSKeepsOut(p.Override) {
			continue
		}
		d := sdrsDiff{pod: p, vm: name, spec: types.StorageDrsVmConfigSpec{ArrayUpdateSpec: types.ArrayUpdateSpec{Operation: types.ArrayUpdateOperationAdd}}}
		info := types.StorageDrsVmConfigInfo{Vm: vm}
		if p.Override != nil {
			// Edit keeps what the override says besides automation
			// (the disk affinity, rules); the whole entry is sent, so a
			// server that replaces rather than merges keeps them too.
			info = *p.Override
			d.spec.Operation = types.ArrayUpdateOperationEdit
		}
		info.Enabled = types.NewBool(false)
		d.spec.Info = &info
		out = append(out, d)
	}
	return out
}

// mtDatastoreRefs are the datastores whose pods matter for the MT: the
// spec's (where a new VM goes) and every datastore the VM uses.
func mtDatastoreRefs(inv *vsphere.Inventory, st *vsphere.VM) []types.ManagedObjectReference {
	out := []types.ManagedObjectReference{inv.Datastore.Reference()}
	if st != nil {
		for _, r := range st.MO.Datastore {
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	return out
}

// describePods is the plan's Observed part for the pods.
func describePods(pods []vsphere.Pod) string {
	var l []string
	for _, p := range pods {
		l = append(l, fmt.Sprintf("in datastore cluster %s (%s): %s", p.Name, strings.Join(p.Datastores, ", "), vsphere.SDRSAutomation(p.Enabled, p.DefaultBehavior, p.Override)))
	}
	return strings.Join(l, "; ")
}
