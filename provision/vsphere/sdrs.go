package vsphere

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

// Pod is a datastore cluster (StoragePod) holding some of a VM's
// datastores, and what its Storage DRS configuration says about the VM.
type Pod struct {
	Ref             types.ManagedObjectReference
	Name            string
	Datastores      []string // the VM's datastores in it
	Enabled         bool     // Storage DRS on for the pod
	DefaultBehavior string   // podConfig.defaultVmBehavior: manual | automated
	// Override is the VM's override; nil: none (the pod's default
	// applies to it).
	Override *types.StorageDrsVmConfigInfo
}

// SDRSKeepsOut: the override excludes the VM from Storage DRS
// (enabled=false: "automation level: Disabled").
func SDRSKeepsOut(o *types.StorageDrsVmConfigInfo) bool {
	return o != nil && o.Enabled != nil && !*o.Enabled
}

// SDRSAutomation says, in the vSphere Client's words, what Storage DRS
// may do with the VM: "disabled" (the override excludes it), else the
// override's behavior or the pod's default ("manual", "automated"), and
// whether Storage DRS runs at all.
func SDRSAutomation(enabled bool, defaultBehavior string, o *types.StorageDrsVmConfigInfo) string {
	if SDRSKeepsOut(o) {
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

// VMOverride is vm's entry in a pod's VM overrides, nil when absent.
func VMOverride(cfg []types.StorageDrsVmConfigInfo, vm types.ManagedObjectReference) *types.StorageDrsVmConfigInfo {
	for i := range cfg {
		if cfg[i].Vm != nil && *cfg[i].Vm == vm {
			return &cfg[i]
		}
	}
	return nil
}

// PodProps are what one read of a pod needs: not the whole
// podStorageDrsEntry (its recommendations and action history can be
// long), only the configuration.
func PodProps() []string { return []string{"name", "podStorageDrsEntry.storageDrsConfig"} }

// ReadPods reads the datastore clusters of dss (the inventory knows which
// datastores are in one) in one PropertyCollector call, and the VM's
// override in each; vm nil: the VM does not exist yet. No call when no
// datastore is in a pod.
func (s *Session) ReadPods(ctx context.Context, inv *Inventory, dss []types.ManagedObjectReference, vm *types.ManagedObjectReference) ([]Pod, error) {
	var refs []types.ManagedObjectReference
	members := map[types.ManagedObjectReference][]string{}
	for _, ds := range dss {
		p, ok := inv.DSPods[ds]
		if !ok {
			continue
		}
		if !slices.Contains(refs, p) {
			refs = append(refs, p)
		}
		if n := inv.DSNames[ds]; !slices.Contains(members[p], n) {
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
	res, err := methods.RetrieveProperties(ctx, s.Client, &types.RetrieveProperties{
		This:    s.Client.ServiceContent.PropertyCollector,
		SpecSet: []types.PropertyFilterSpec{{ObjectSet: objs, PropSet: []types.PropertySpec{{Type: "StoragePod", PathSet: PodProps()}}}},
	})
	if err != nil {
		return nil, &Error{Op: "read", Object: "the Storage DRS configuration of datastore cluster " + refs[0].Value, Err: err}
	}
	byRef := map[types.ManagedObjectReference]mo.StoragePod{}
	for _, oc := range res.Returnval {
		var p mo.StoragePod
		if err := mo.LoadObjectContent([]types.ObjectContent{oc}, &p); err != nil {
			return nil, fmt.Errorf("read datastore cluster %s: %w", oc.Obj.Value, err)
		}
		byRef[oc.Obj] = p
	}
	var out []Pod
	for _, r := range refs {
		p, ok := byRef[r]
		if !ok || p.PodStorageDrsEntry == nil {
			return nil, fmt.Errorf("datastore cluster %s (holding %s): its Storage DRS configuration could not be read (does the account have read access to it?)", r.Value, strings.Join(members[r], ", "))
		}
		cfg := p.PodStorageDrsEntry.StorageDrsConfig
		sp := Pod{Ref: r, Name: p.Name, Datastores: members[r], Enabled: cfg.PodConfig.Enabled, DefaultBehavior: cfg.PodConfig.DefaultVmBehavior}
		if vm != nil {
			sp.Override = VMOverride(cfg.VmConfig, *vm)
		}
		out = append(out, sp)
	}
	return out, nil
}

// ConfigurePodVM applies one VM override change to pod for the VM vm
// (named vmName in errors): one ConfigureStorageDrsForPod task, changing
// only that VM's entry (modify=true).
func (s *Session) ConfigurePodVM(ctx context.Context, pod Pod, vm types.ManagedObjectReference, vmName string, change types.StorageDrsVmConfigSpec) error {
	info := *change.Info
	info.Vm = &vm
	change.Info = &info
	if s.Client.ServiceContent.StorageResourceManager == nil {
		return fmt.Errorf("configure Storage DRS of datastore cluster %s for VM %s: this endpoint has no StorageResourceManager (connect to vCenter, which manages datastore clusters)", pod.Name, vmName)
	}
	srm := object.NewStorageResourceManager(s.Client)
	sp := object.NewStoragePod(s.Client, pod.Ref)
	_, err := s.Task(ctx, "configure Storage DRS of", fmt.Sprintf("datastore cluster %s for VM %s", pod.Name, vmName), func() (*object.Task, error) {
		return srm.ConfigureStorageDrsForPod(ctx, sp, types.StorageDrsConfigSpec{VmConfigSpec: []types.StorageDrsVmConfigSpec{change}}, true)
	}, nil)
	return err
}
