package vsphere

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// vmProps is every VM property the vSphere phases read, fetched in one
// PropertyCollector call.
var vmProps = []string{
	"name", "config.template", "config.guestId", "config.hardware.numCPU", "config.hardware.memoryMB",
	"config.hardware.device", "config.extraConfig", "config.flags", "config.bootOptions",
	"runtime.powerState", "runtime.host", "guest.toolsRunningStatus",
	"datastore",            // its datastore clusters' Storage DRS overrides (sdrs.go)
	"config.changeVersion", // the lock's compare-and-swap
}

// VM is one read of a VM.
type VM struct {
	Ref     types.ManagedObjectReference
	MO      mo.VirtualMachine
	Host    string // ESXi host name
	Devices object.VirtualDeviceList
}

// PowerState is the VM's power state as read.
func (v *VM) PowerState() types.VirtualMachinePowerState { return v.MO.Runtime.PowerState }

// Extra is the ExtraConfig value of key, "" when unset.
func (v *VM) Extra(key string) string {
	if v.MO.Config == nil {
		return ""
	}
	for _, o := range v.MO.Config.ExtraConfig {
		if ov := o.GetOptionValue(); ov != nil && ov.Key == key {
			s, _ := ov.Value.(string)
			return s
		}
	}
	return ""
}

// VMRef is the reference of the VM with MoRef value id.
func VMRef(id string) types.ManagedObjectReference {
	return types.ManagedObjectReference{Type: "VirtualMachine", Value: id}
}

// ReadVM reads the VM and its host's name in one PropertyCollector call
// (the host through a traversal of runtime.host).
func (s *Session) ReadVM(ctx context.Context, ref types.ManagedObjectReference) (*VM, error) {
	res, err := methods.RetrieveProperties(ctx, s.Client, &types.RetrieveProperties{
		This: s.Client.ServiceContent.PropertyCollector,
		SpecSet: []types.PropertyFilterSpec{{
			ObjectSet: []types.ObjectSpec{{
				Obj:       ref,
				SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{Type: "VirtualMachine", Path: "runtime.host"}},
			}},
			PropSet: []types.PropertySpec{
				{Type: "VirtualMachine", PathSet: vmProps},
				{Type: "HostSystem", PathSet: []string{"name"}},
			},
		}},
	})
	if err != nil {
		return nil, &Error{Op: "read", Object: "VM " + ref.Value, Err: err}
	}
	st := &VM{Ref: ref}
	for _, oc := range res.Returnval {
		switch oc.Obj.Type {
		case "VirtualMachine":
			if err := mo.LoadObjectContent([]types.ObjectContent{oc}, &st.MO); err != nil {
				return nil, fmt.Errorf("read VM %s: %w", ref.Value, err)
			}
		case "HostSystem":
			for _, p := range oc.PropSet {
				if p.Name == "name" {
					st.Host, _ = p.Val.(string)
				}
			}
		}
	}
	if st.MO.Config == nil {
		return nil, fmt.Errorf("VM %s (%s) has no configuration (is it inaccessible or orphaned?)", st.MO.Name, ref.Value)
	}
	st.Devices = object.VirtualDeviceList(st.MO.Config.Hardware.Device)
	return st, nil
}

// FindVM looks a VM up by name in the inventory's folder: one SearchIndex
// call, then one read. nil when absent; an error when the name is
// something else (a folder, a template).
func (s *Session) FindVM(ctx context.Context, inv *Inventory, name string) (*VM, error) {
	ref, err := object.NewSearchIndex(s.Client).FindChild(ctx, inv.Folder, name)
	if err != nil {
		return nil, &Error{Op: "find", Object: fmt.Sprintf("VM %s in %s", name, inv.FolderPath), Err: err}
	}
	if ref == nil {
		return nil, nil
	}
	if ref.Reference().Type != "VirtualMachine" {
		return nil, fmt.Errorf("%s/%s is a %s, not a VM: rename it or change the MT's name", inv.FolderPath, name, ref.Reference().Type)
	}
	st, err := s.ReadVM(ctx, ref.Reference())
	if err != nil {
		return nil, err
	}
	if st.MO.Config.Template {
		return nil, fmt.Errorf("%s/%s is a template, not a VM", inv.FolderPath, name)
	}
	return st, nil
}

// VMsNamed are the VMs called name directly in folder, oldest first.
func (s *Session) VMsNamed(ctx context.Context, folder *object.Folder, name string) ([]types.ManagedObjectReference, error) {
	res, err := methods.RetrieveProperties(ctx, s.Client, &types.RetrieveProperties{
		This: s.Client.ServiceContent.PropertyCollector,
		SpecSet: []types.PropertyFilterSpec{{
			ObjectSet: []types.ObjectSpec{{
				Obj:       folder.Reference(),
				Skip:      types.NewBool(true),
				SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{Type: "Folder", Path: "childEntity"}},
			}},
			PropSet: []types.PropertySpec{{Type: "VirtualMachine", PathSet: []string{"name"}}},
		}},
	})
	if err != nil {
		return nil, &Error{Op: "list", Object: "VMs named " + name, Err: err}
	}
	var out []types.ManagedObjectReference
	for _, oc := range res.Returnval {
		for _, p := range oc.PropSet {
			if n, _ := p.Val.(string); p.Name == "name" && n == name {
				out = append(out, oc.Obj)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return MorefLess(out[i].Value, out[j].Value) })
	return out, nil
}

// MorefLess orders "vm-9" before "vm-10": vSphere numbers objects as it
// creates them, so the lower is the older.
func MorefLess(a, b string) bool {
	na, ea := strconv.Atoi(a[strings.LastIndex(a, "-")+1:])
	nb, eb := strconv.Atoi(b[strings.LastIndex(b, "-")+1:])
	if ea == nil && eb == nil && na != nb {
		return na < nb
	}
	return a < b
}

// CreateVM creates a VM from spec in folder, placed by pl; obj names it
// in errors ("VM mt01 in /DC0/vm").
func (s *Session) CreateVM(ctx context.Context, folder *object.Folder, obj string, spec types.VirtualMachineConfigSpec, pl *Placement) (types.ManagedObjectReference, error) {
	info, err := s.Task(ctx, "create", obj, func() (*object.Task, error) {
		return folder.CreateVM(ctx, spec, pl.Pool, pl.Host)
	}, nil)
	if err != nil {
		return types.ManagedObjectReference{}, err
	}
	ref, ok := info.Result.(types.ManagedObjectReference)
	if !ok {
		return types.ManagedObjectReference{}, fmt.Errorf("create %s: the task returned no VM", obj)
	}
	return ref, nil
}

// Reconfigure applies spec to the VM ref in one task; op and obj name it
// in errors ("reconfigure", "VM mt01").
func (s *Session) Reconfigure(ctx context.Context, op, obj string, ref types.ManagedObjectReference, spec types.VirtualMachineConfigSpec) error {
	vm := object.NewVirtualMachine(s.Client, ref)
	_, err := s.Task(ctx, op, obj, func() (*object.Task, error) { return vm.Reconfigure(ctx, spec) }, nil)
	return err
}

// SetExtraConfig sets one ExtraConfig key (a guestinfo key can be set
// while the VM runs). A non-empty changeVersion makes it a
// compare-and-swap: vSphere refuses the change with ConcurrentAccess if
// the VM was reconfigured since that version was read.
func (s *Session) SetExtraConfig(ctx context.Context, op, obj string, ref types.ManagedObjectReference, changeVersion, key, value string) error {
	return s.Reconfigure(ctx, op, obj, ref, types.VirtualMachineConfigSpec{
		ChangeVersion: changeVersion,
		ExtraConfig:   []types.BaseOptionValue{&types.OptionValue{Key: key, Value: value}},
	})
}

// PowerOn powers the VM on.
func (s *Session) PowerOn(ctx context.Context, obj string, ref types.ManagedObjectReference) error {
	vm := object.NewVirtualMachine(s.Client, ref)
	_, err := s.Task(ctx, "power on", obj, func() (*object.Task, error) { return vm.PowerOn(ctx) }, nil)
	return err
}

// Destroy deletes the VM and its files.
func (s *Session) Destroy(ctx context.Context, obj string, ref types.ManagedObjectReference) error {
	vm := object.NewVirtualMachine(s.Client, ref)
	_, err := s.Task(ctx, "delete", obj, func() (*object.Task, error) { return vm.Destroy(ctx) }, nil)
	return err
}

// ReadPowerState reads only the VM's power state.
func (s *Session) ReadPowerState(ctx context.Context, obj string, ref types.ManagedObjectReference) (types.VirtualMachinePowerState, error) {
	var m mo.VirtualMachine
	if err := s.RetrieveOne(ctx, ref, []string{"runtime.powerState"}, &m); err != nil {
		return "", &Error{Op: "read", Object: obj, Err: err}
	}
	return m.Runtime.PowerState, nil
}

// NICBacking is the backing of a network card on the inventory's
// network.
func (s *Session) NICBacking(ctx context.Context, inv *Inventory) (types.BaseVirtualDeviceBackingInfo, error) {
	b, err := inv.Network.EthernetCardBackingInfo(ctx)
	if err != nil {
		return nil, &Error{Op: "read", Object: fmt.Sprintf("network %q", inv.NetName), Err: err}
	}
	return b, nil
}

// Tools is vSphere's view of a VM's VMware Tools.
type Tools struct {
	Power                                      types.VirtualMachinePowerState
	RunningStatus, VersionStatus, ToolsVersion string
	// InstallerMounted: the host's Tools installer is in the VM's CD-ROM
	// (runtime.toolsInstallerMounted).
	InstallerMounted bool
}

// ReadTools reads the VM's power state and Tools status.
func (s *Session) ReadTools(ctx context.Context, obj string, ref types.ManagedObjectReference) (Tools, error) {
	var m mo.VirtualMachine
	if err := s.RetrieveOne(ctx, ref, []string{"runtime.powerState", "runtime.toolsInstallerMounted", "guest.toolsRunningStatus", "guest.toolsVersionStatus2", "guest.toolsVersion"}, &m); err != nil {
		return Tools{}, &Error{Op: "read", Object: obj, Err: err}
	}
	t := Tools{Power: m.Runtime.PowerState, InstallerMounted: m.Runtime.ToolsInstallerMounted}
	if m.Guest != nil {
		t.RunningStatus, t.VersionStatus, t.ToolsVersion = m.Guest.ToolsRunningStatus, m.Guest.ToolsVersionStatus2, m.Guest.ToolsVersion
	}
	return t, nil
}
