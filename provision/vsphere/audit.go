package vsphere

import (
	"context"
	"fmt"
	"slices"

	"github.com/vmware/govmomi/view"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// AuditVMProperties are the VirtualMachine properties the audit reads for
// every VM of the inventory, in its one retrieval.
func AuditVMProperties() []string {
	return []string{
		"name", "config.uuid", "config.extraConfig", "config.flags.diskUuidEnabled", "config.hardware.device",
		"snapshot", "guest.toolsRunningStatus", "runtime.host", "runtime.powerState",
		"datastore", "network", "resourcePool", "parent",
	}
}

// AuditFacts are what one retrieval gives for the whole inventory.
type AuditFacts struct {
	APIType string
	VMs     map[string][]mo.VirtualMachine // by name; more than one is ambiguous
	UUIDs   map[string][]string            // config.uuid -> VM names (every VM, not only MTs)
	Hosts   map[types.ManagedObjectReference]mo.HostSystem
	DSs     map[types.ManagedObjectReference]mo.Datastore
	Pods    map[types.ManagedObjectReference]mo.StoragePod // datastore clusters
	// Licenses are the hosts' licenses by host MoRef value; on a direct
	// ESXi connection the one entry has key "".
	Licenses map[string]types.LicenseManagerLicenseInfo
	// Privs: entity -> privilege -> granted, for the account checked;
	// nil when the query failed (PrivErr says why).
	Privs    map[types.ManagedObjectReference]map[string]bool
	PrivUser string
	PrivErr  string
}

// NewAuditFacts are empty facts.
func NewAuditFacts() *AuditFacts {
	return &AuditFacts{
		VMs: map[string][]mo.VirtualMachine{}, UUIDs: map[string][]string{},
		Hosts: map[types.ManagedObjectReference]mo.HostSystem{}, DSs: map[types.ManagedObjectReference]mo.Datastore{},
		Pods:     map[types.ManagedObjectReference]mo.StoragePod{},
		Licenses: map[string]types.LicenseManagerLicenseInfo{},
	}
}

// RetrieveAuditFacts reads the inventory in one RetrieveProperties call
// (which, unlike RetrievePropertiesEx, never pages) over a container view
// (VMs, hosts, datastores and datastore clusters together, plus the
// session and the license manager), then the hosts' license assignments
// in one call on vCenter. It returns the facts and the session it ran in.
func (s *Session) RetrieveAuditFacts(ctx context.Context) (*AuditFacts, *types.UserSession, error) {
	c := s.Client
	m := view.NewManager(c)
	v, err := m.CreateContainerView(ctx, c.ServiceContent.RootFolder, []string{"VirtualMachine", "HostSystem", "Datastore", "StoragePod"}, true)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = v.Destroy(context.WithoutCancel(ctx)) }()
	objs := []types.ObjectSpec{{
		Obj:       v.Reference(),
		Skip:      types.NewBool(true),
		SelectSet: []types.BaseSelectionSpec{&types.TraversalSpec{Type: "ContainerView", Path: "view"}},
	}}
	props := []types.PropertySpec{
		{Type: "VirtualMachine", PathSet: AuditVMProperties()},
		{Type: "HostSystem", PathSet: []string{"name", "datastore", "config.product"}},
		{Type: "Datastore", PathSet: []string{"name", "summary.type", "summary.accessible", "parent"}},
		// Datastore clusters: their Storage DRS configuration, in the
		// same call.
		{Type: "StoragePod", PathSet: PodProps()},
	}
	// The session (for the privilege query) and the license manager ride
	// along in the same call rather than costing one each.
	if sm := c.ServiceContent.SessionManager; sm != nil {
		objs = append(objs, types.ObjectSpec{Obj: *sm})
		props = append(props, types.PropertySpec{Type: "SessionManager", PathSet: []string{"currentSession"}})
	}
	if lm := c.ServiceContent.LicenseManager; lm != nil {
		objs = append(objs, types.ObjectSpec{Obj: *lm})
		props = append(props, types.PropertySpec{Type: "LicenseManager", PathSet: []string{"licenses", "licenseAssignmentManager"}})
	}
	res, err := methods.RetrieveProperties(ctx, c, &types.RetrieveProperties{
		This:    c.ServiceContent.PropertyCollector,
		SpecSet: []types.PropertyFilterSpec{{ObjectSet: objs, PropSet: props}},
	})
	if err != nil {
		return nil, nil, err
	}
	f := NewAuditFacts()
	f.APIType = c.ServiceContent.About.ApiType
	var sess *types.UserSession
	var lam *types.ManagedObjectReference
	for _, oc := range res.Returnval {
		// A property vSphere could not read on one object (an
		// inaccessible VM has no config) leaves it out; it must not sink
		// the audit of every other MT. A lost session still must.
		for _, ms := range oc.MissingSet {
			if _, ok := ms.Fault.Fault.(*types.NotAuthenticated); ok {
				return nil, nil, fmt.Errorf("reading %s: the session is no longer authenticated", oc.Obj)
			}
		}
		oc.MissingSet = nil
		obj, err := mo.ObjectContentToType(oc)
		if err != nil {
			return nil, nil, err
		}
		switch o := obj.(type) {
		case mo.VirtualMachine:
			f.VMs[o.Name] = append(f.VMs[o.Name], o)
			if o.Config != nil && o.Config.Uuid != "" {
				f.UUIDs[o.Config.Uuid] = append(f.UUIDs[o.Config.Uuid], o.Name)
			}
		case mo.HostSystem:
			f.Hosts[o.Reference()] = o
		case mo.Datastore:
			f.DSs[o.Reference()] = o
		case mo.StoragePod:
			f.Pods[o.Reference()] = o
		case mo.SessionManager:
			sess = o.CurrentSession
		case mo.LicenseManager:
			lam = o.LicenseAssignmentManager
			if f.APIType == "HostAgent" && len(o.Licenses) > 0 {
				f.Licenses[""] = o.Licenses[0]
			}
		}
	}
	if lam != nil && f.APIType != "HostAgent" {
		// No entity: every assignment at once, not one query per host.
		r, err := methods.QueryAssignedLicenses(ctx, c, &types.QueryAssignedLicenses{This: *lam})
		if err == nil {
			for _, a := range r.Returnval {
				f.Licenses[a.EntityId] = a.AssignedLicense
			}
		}
	}
	return f, sess, nil
}

// QueryPrivileges asks once, for the VMs named vms (each found exactly
// once in f) with their folder, resource pool, networks and datastores
// together, which of privs the account has: user when set, else the
// session's own user. It records the answer (or why there is none) in f.
func (s *Session) QueryPrivileges(ctx context.Context, f *AuditFacts, vms []string, user string, privs []string, sess *types.UserSession) {
	c := s.Client
	if c.ServiceContent.AuthorizationManager == nil {
		f.PrivErr = "this endpoint has no AuthorizationManager"
		return
	}
	var ents []types.ManagedObjectReference
	seen := map[types.ManagedObjectReference]bool{}
	addEnt := func(r *types.ManagedObjectReference) {
		if r != nil && !seen[*r] {
			seen[*r] = true
			ents = append(ents, *r)
		}
	}
	for _, name := range vms {
		l := f.VMs[name]
		if len(l) != 1 {
			continue
		}
		vm := l[0]
		r := vm.Reference()
		addEnt(&r)
		addEnt(vm.Parent)
		addEnt(vm.ResourcePool)
		for i := range vm.Network {
			addEnt(&vm.Network[i])
		}
		for _, ds := range f.MTDatastores(vm) {
			addEnt(&ds)
		}
	}
	if len(ents) == 0 {
		f.PrivErr = "no MT VM found to check privileges on"
		return
	}
	var res []types.EntityPrivilege
	if user != "" {
		r, err := methods.HasUserPrivilegeOnEntities(ctx, c, &types.HasUserPrivilegeOnEntities{This: *c.ServiceContent.AuthorizationManager, Entities: ents, UserName: user, PrivId: privs})
		if err != nil {
			f.PrivErr = fmt.Sprintf("querying the privileges of %s: %s", user, FaultText(err))
			return
		}
		res = r.Returnval
	} else {
		if sess == nil {
			f.PrivErr = "the session's user is not known"
			return
		}
		user = sess.UserName
		r, err := methods.HasPrivilegeOnEntities(ctx, c, &types.HasPrivilegeOnEntities{This: *c.ServiceContent.AuthorizationManager, Entity: ents, SessionId: sess.Key, PrivId: privs})
		if err != nil {
			f.PrivErr = fmt.Sprintf("querying the privileges of %s: %s", user, FaultText(err))
			return
		}
		res = r.Returnval
	}
	f.PrivUser = user
	f.Privs = map[types.ManagedObjectReference]map[string]bool{}
	for _, ep := range res {
		m := map[string]bool{}
		for _, pa := range ep.PrivAvailability {
			m[pa.PrivId] = pa.IsGranted
		}
		f.Privs[ep.Entity] = m
	}
}

// MTDatastores are the datastores an MT's reprotect touches: its own and
// the protected VMs' that its host sees.
func (f *AuditFacts) MTDatastores(vm mo.VirtualMachine) []types.ManagedObjectReference {
	out := slices.Clone(vm.Datastore)
	if h, ok := f.Hosts[derefRef(vm.Runtime.Host)]; ok {
		for _, ref := range h.Datastore {
			if !slices.Contains(out, ref) {
				out = append(out, ref)
			}
		}
	}
	return out
}

func derefRef(r *types.ManagedObjectReference) types.ManagedObjectReference {
	if r == nil {
		return types.ManagedObjectReference{}
	}
	return *r
}
