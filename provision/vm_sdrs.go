package provision

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
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

// sdrsPod is a datastore cluster holding one of the MT's datastores, and
// what its Storage DRS configuration says about the MT.
type sdrsPod struct {
	ref             types.ManagedObjectReference
	name            string
	datastores      []string // the MT's datastores in it
	enabled         bool     // Storage DRS on for the pod
	defaultBehavior string   // podConfig.defaultVmBehavior: manual | automated
	// override is the MT's VM override; nil: none (the pod's default
	// applies to the MT).
	override *types.StorageDrsVmConfigInfo
}

// sdrsKeepsOut: the override excludes the VM from Storage DRS.
func sdrsKeepsOut(o *types.StorageDrsVmConfigInfo) bool {
	return o != nil && o.Enabled != nil && !*o.Enabled
}

// sdrsAutomation says, in the vSphere Client's words, what Storage DRS
// may do with the VM: "disabled" (the override excludes it), else the
// override's behavior or the pod's default ("manual", "automated"), and
// whether Storage DRS runs at all.
func sdrsAutomation(enabled bool, defaultBehavior string, o *types.StorageDrsVmConfigInfo) string {
	if sdrsKeepsOut(o) {
		return "automation disabled for the VM"
	}
	b, from := defaultBehavior, "the pod's default"
	if o != nil && o.Behavior != "" {
		b, from = o.Behavior, "its override"
	}
	switch b {
	case string(types.StorageDrsPodConfigInfoBehaviorAutomated):
		b = "fully automated"
	case string(types.StorageDrsPodConfigInfoBehaviorManual):
		b = "manual (recommendations that move it when applied)"
	case "":
		b = "not set"
	}
	s := fmt.Sprintf("automation %s (%s)", b, from)
	if !enabled {
		s += "; Storage DRS is off on the pod for now"
	}
	return s
}

// vmOverride is vm's entry in a pod's VM overrides, nil when absent.
func vmOverride(cfg []types.StorageDrsVmConfigInfo, vm types.ManagedObjectReference) *types.StorageDrsVmConfigInfo {
	for i := range cfg {
		if cfg[i].Vm != nil && *cfg[i].Vm == vm {
			return &cfg[i]
		}
	}
	return nil
}

// sdrsPodProps are what one read of a pod needs: not the whole
// podStorageDrsEntry (its recommendations and action history can be
// long), only the configuration.
var sdrsPodProps = []string{"name", "podStorageDrsEntry.storageDrsConfig"}

// readPods reads the datastore clusters of dss (the inventory knows which
// datastores are in one) in one PropertyCollector call, and the VM's
// override in each; vm nil: the VM does not exist yet. No call when no
// datastore is in a pod.
func (s *vsphereSession) readPods(ctx context.Context, inv *inventory, dss []types.ManagedObjectReference, vm *types.ManagedObjectReference) ([]sdrsPod, error) {
	var refs []types.ManagedObjectReference
	members := map[types.ManagedObjectReference][]string{}
	for _, ds := range dss {
		p, ok := inv.dsPods[ds]
		if !ok {
			continue
		}
		if !slices.Contains(refs, p) {
			refs = append(refs, p)
		}
		if n := inv.dsNames[ds]; !slices.Contains(members[p], n) {
			members[p] = append(members[p], n)
		}
	}
	if len(refs) == 0 {
		return nil, nil
	}
	var objs []types.ObjectSpec
	for _, r := range refs {
		objs = append(objs, types.ObjectSpec{Obj: r})
	}
	res, err := methods.RetrieveProperties(ctx, s.c, &types.RetrieveProperties{
		This:    s.c.ServiceContent.PropertyCollector,
		SpecSet: []types.PropertyFilterSpec{{ObjectSet: objs, PropSet: []types.PropertySpec{{Type: "StoragePod", PathSet: sdrsPodProps}}}},
	})
	if err != nil {
		return nil, &VSphereError{Op: "read", Object: "the Storage DRS configuration of datastore cluster " + refs[0].Value, Err: err}
	}
	byRef := map[types.ManagedObjectReference]mo.StoragePod{}
	for _, oc := range res.Returnval {
		var p mo.StoragePod
		if err := mo.LoadObjectContent([]types.ObjectContent{oc}, &p); err != nil {
			return nil, fmt.Errorf("read datastore cluster %s: %w", oc.Obj.Value, err)
		}
		byRef[oc.Obj] = p
	}
	var out []sdrsPod
	for _, r := range refs {
		p, ok := byRef[r]
		if !ok || p.PodStorageDrsEntry == nil {
			return nil, fmt.Errorf("datastore cluster %s (holding %s): its Storage DRS configuration could not be read (does the account have read access to it?)", r.Value, strings.Join(members[r], ", "))
		}
		cfg := p.PodStorageDrsEntry.StorageDrsConfig
		sp := sdrsPod{ref: r, name: p.Name, datastores: members[r], enabled: cfg.PodConfig.Enabled, defaultBehavior: cfg.PodConfig.DefaultVmBehavior}
		if vm != nil {
			sp.override = vmOverride(cfg.VmConfig, *vm)
		}
		out = append(out, sp)
	}
	return out, nil
}

// sdrsDiff is a datastore cluster where the MT lacks an override that
// keeps it out of Storage DRS, and the change that adds it.
type sdrsDiff struct {
	pod  sdrsPod
	vm   string
	spec types.StorageDrsVmConfigSpec // Info.Vm is set once the VM exists
}

// What is the state found: "Storage DRS override for mt01 in pod POD0:
// missing".
func (d sdrsDiff) What() string {
	state := "missing"
	if d.pod.override != nil {
		state = sdrsAutomation(d.pod.enabled, d.pod.defaultBehavior, d.pod.override)
	}
	off := ""
	if !d.pod.enabled && d.pod.override == nil {
		off = " (Storage DRS is off on the pod now; the override keeps the MT in place when it is turned on)"
	}
	return fmt.Sprintf("Storage DRS override for %s in pod %s: %s%s", d.vm, d.pod.name, state, off)
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
func diffSDRS(name string, vm *types.ManagedObjectReference, pods []sdrsPod) []sdrsDiff {
	var out []sdrsDiff
	for _, p := range pods {
		if sdrsKeepsOut(p.override) {
			continue
		}
		d := sdrsDiff{pod: p, vm: name, spec: types.StorageDrsVmConfigSpec{ArrayUpdateSpec: types.ArrayUpdateSpec{Operation: types.ArrayUpdateOperationAdd}}}
		info := types.StorageDrsVmConfigInfo{Vm: vm}
		if p.override != nil {
			// Edit keeps what the override says besides automation
			// (the disk affinity, rules); the whole entry is sent, so a
			// server that replaces rather than merges keeps them too.
			info = *p.override
			d.spec.Operation = types.ArrayUpdateOperationEdit
		}
		info.Enabled = types.NewBool(false)
		d.spec.Info = &info
		out = append(out, d)
	}
	return out
}

// keepOutOfSDRS applies d for the VM vm: one ConfigureStorageDrsForPod
// task per pod, changing only the MT's entry (modify=true).
func (s *vsphereSession) keepOutOfSDRS(ctx context.Context, vm types.ManagedObjectReference, d sdrsDiff) error {
	vmSpec := d.spec
	info := *vmSpec.Info
	info.Vm = &vm
	vmSpec.Info = &info
	if s.c.ServiceContent.StorageResourceManager == nil {
		return fmt.Errorf("configure Storage DRS of datastore cluster %s for VM %s: this endpoint has no StorageResourceManager (connect to vCenter, which manages datastore clusters)", d.pod.name, d.vm)
	}
	srm := object.NewStorageResourceManager(s.c)
	pod := object.NewStoragePod(s.c, d.pod.ref)
	_, err := s.task(ctx, "configure Storage DRS of", fmt.Sprintf("datastore cluster %s for VM %s", d.pod.name, d.vm), func() (*object.Task, error) {
		return srm.ConfigureStorageDrsForPod(ctx, pod, types.StorageDrsConfigSpec{VmConfigSpec: []types.StorageDrsVmConfigSpec{vmSpec}}, true)
	}, nil)
	return err
}

// mtDatastoreRefs are the datastores whose pods matter for the MT: the
// spec's (where a new VM goes) and every datastore the VM uses.
func mtDatastoreRefs(inv *inventory, st *vmState) []types.ManagedObjectReference {
	out := []types.ManagedObjectReference{inv.datastore.Reference()}
	if st != nil {
		for _, r := range st.mo.Datastore {
			if !slices.Contains(out, r) {
				out = append(out, r)
			}
		}
	}
	return out
}

// describePods is the plan's Observed part for the pods.
func describePods(pods []sdrsPod) string {
	var l []string
	for _, p := range pods {
		l = append(l, fmt.Sprintf("in datastore cluster %s (%s): %s", p.name, strings.Join(p.datastores, ", "), sdrsAutomation(p.enabled, p.defaultBehavior, p.override)))
	}
	return strings.Join(l, "; ")
}
