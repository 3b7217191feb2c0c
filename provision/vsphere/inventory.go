package vsphere

import (
	"context"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

// Inventory is what one PropertyCollector call on the datacenter returns:
// its folders and every datastore and network it holds, with the ones
// the Config names resolved.
type Inventory struct {
	VMFolder  *object.Folder
	Datastore *object.Datastore
	Network   object.NetworkReference
	NetName   string
	// Folder is where the MT's VM is; FolderPath the folder as the user
	// sees it, for messages.
	Folder     *object.Folder
	FolderPath string
	// DSNames names every datastore of the datacenter; DSPods maps the
	// ones in a datastore cluster to their StoragePod.
	DSNames map[types.ManagedObjectReference]string
	DSPods  map[types.ManagedObjectReference]types.ManagedObjectReference
}

// Placement is where a new VM goes.
type Placement struct {
	Pool *object.ResourcePool
	Host *object.HostSystem // nil: vCenter or DRS picks
}

func (s *Session) findDatacenter(ctx context.Context) (*object.Datacenter, error) {
	name := s.cfg.Datacenter
	if name != "" && !strings.Contains(name, "/") {
		// A datacenter in the root folder: one SearchIndex call rather
		// than the finder's listing.
		ref, err := object.NewSearchIndex(s.Client).FindByInventoryPath(ctx, "/"+name)
		if err == nil && ref != nil && ref.Reference().Type == "Datacenter" {
			dc := object.NewDatacenter(s.Client, ref.Reference())
			dc.InventoryPath = "/" + name
			return dc, nil
		}
	}
	dc, err := s.finder.DatacenterOrDefault(ctx, name)
	if err == nil {
		return dc, nil
	}
	var nf *find.NotFoundError
	var dm *find.DefaultMultipleFoundError
	var dn *find.DefaultNotFoundError
	have := names(func() ([]string, error) {
		l, err := s.finder.DatacenterList(ctx, "*")
		out := make([]string, len(l))
		for i, d := range l {
			out[i] = d.Name()
		}
		return out, err
	})
	switch {
	case errors.As(err, &nf):
		return nil, s.cfg.inputError("vsphere.datacenter", fmt.Sprintf("datacenter %q not found%s", name, have), "set vsphere.datacenter (or GOVC_DATACENTER) to one of them")
	case errors.As(err, &dm):
		return nil, s.cfg.inputError("vsphere.datacenter", "not set and vSphere has several datacenters"+have, "set vsphere.datacenter (or GOVC_DATACENTER)")
	case errors.As(err, &dn):
		return nil, fmt.Errorf("vSphere at %s has no datacenter", s.Client.URL().Host)
	}
	return nil, fmt.Errorf("finding datacenter %q: %s", name, FaultText(err))
}

// names lists what exists, for a "not found" message; best effort.
func names(list func() ([]string, error)) string {
	l, err := list()
	if err != nil || len(l) == 0 {
		return ""
	}
	sort.Strings(l)
	if len(l) > 10 {
		l = append(l[:10], "…")
	}
	return " (found: " + strings.Join(l, ", ") + ")"
}

func listed(l []string) func() ([]string, error) { return func() ([]string, error) { return l, nil } }

// Inventory resolves the datastore, network and VM folder, once per
// session. Datastores and networks come from one PropertyCollector call
// that follows the datacenter's datastore and network lists, not one
// call per object.
func (s *Session) Inventory(ctx context.Context) (*Inventory, error) {
	if s.inv != nil {
		return s.inv, nil
	}
	v := s.cfg
	filter := types.PropertyFilterSpec{
		ObjectSet: []types.ObjectSpec{{
			Obj: s.DC.Reference(),
			SelectSet: []types.BaseSelectionSpec{
				&types.TraversalSpec{Type: "Datacenter", Path: "datastore"},
				&types.TraversalSpec{Type: "Datacenter", Path: "network"},
			},
		}},
		PropSet: []types.PropertySpec{
			{Type: "Datacenter", PathSet: []string{"vmFolder"}},
			{Type: "Datastore", PathSet: []string{"name", "summary.accessible", "parent"}},
			{Type: "Network", PathSet: []string{"name"}},
			{Type: "DistributedVirtualPortgroup", PathSet: []string{"name"}},
			{Type: "OpaqueNetwork", PathSet: []string{"name"}},
		},
	}
	res, err := methods.RetrieveProperties(ctx, s.Client, &types.RetrieveProperties{This: s.Client.ServiceContent.PropertyCollector, SpecSet: []types.PropertyFilterSpec{filter}})
	if err != nil {
		return nil, fmt.Errorf("reading datacenter %s: %s", s.DC.Name(), FaultText(err))
	}
	inv := &Inventory{DSNames: map[types.ManagedObjectReference]string{}, DSPods: map[types.ManagedObjectReference]types.ManagedObjectReference{}}
	var dsNames, netNames []string
	var nets []types.ManagedObjectReference
	for _, oc := range res.Returnval {
		props := map[string]any{}
		for _, p := range oc.PropSet {
			props[p.Name] = p.Val
		}
		name, _ := props["name"].(string)
		switch oc.Obj.Type {
		case "Datacenter":
			if f, ok := props["vmFolder"].(types.ManagedObjectReference); ok {
				inv.VMFolder = object.NewFolder(s.Client, f)
				inv.VMFolder.InventoryPath = s.DC.InventoryPath + "/vm"
			}
		case "Datastore":
			dsNames = append(dsNames, name)
			inv.DSNames[oc.Obj] = name
			if p, ok := props["parent"].(types.ManagedObjectReference); ok && p.Type == "StoragePod" {
				inv.DSPods[oc.Obj] = p
			}
			if name == v.Datastore {
				if ok, _ := props["summary.accessible"].(bool); !ok {
					return nil, s.cfg.inputError("vsphere.datastore", fmt.Sprintf("datastore %q is not accessible", name), "check the datastore's connection in vCenter, or pick another")
				}
				ds := object.NewDatastore(s.Client, oc.Obj)
				// Set the paths NewURL needs, so an upload does not
				// look them up again.
				ds.DatacenterPath = s.DC.InventoryPath
				ds.InventoryPath = path.Join(s.DC.InventoryPath, "datastore", name)
				inv.Datastore = ds
			}
		default:
			netNames = append(netNames, name)
			if name == v.Network {
				nets = append(nets, oc.Obj)
			}
		}
	}
	if v.Datastore == "" {
		return nil, s.cfg.inputError("vsphere.datastore", "not set and GOVC_DATASTORE is empty"+names(listed(dsNames)), "set vsphere.datastore to the datastore for the MT's disks and ISO")
	}
	if inv.Datastore == nil {
		return nil, s.cfg.inputError("vsphere.datastore", fmt.Sprintf("datastore %q not found in datacenter %s%s", v.Datastore, s.DC.Name(), names(listed(dsNames))), "set vsphere.datastore (or GOVC_DATASTORE) to one of them")
	}
	switch {
	case v.Network == "":
		return nil, s.cfg.inputError("vsphere.network", "not set and GOVC_NETWORK is empty"+names(listed(netNames)), "set vsphere.network to the MT's port group")
	case len(nets) == 0:
		return nil, s.cfg.inputError("vsphere.network", fmt.Sprintf("network %q not found in datacenter %s%s", v.Network, s.DC.Name(), names(listed(netNames))), "set vsphere.network (or GOVC_NETWORK) to one of them")
	case len(nets) > 1:
		return nil, s.cfg.inputError("vsphere.network", fmt.Sprintf("%d networks are named %q in datacenter %s", len(nets), v.Network, s.DC.Name()), "rename one of the port groups; mtprep needs a unique name")
	}
	inv.NetName = v.Network
	switch nets[0].Type {
	case "DistributedVirtualPortgroup":
		inv.Network = object.NewDistributedVirtualPortgroup(s.Client, nets[0])
	case "OpaqueNetwork":
		inv.Network = object.NewOpaqueNetwork(s.Client, nets[0])
	default:
		n := object.NewNetwork(s.Client, nets[0])
		n.InventoryPath = v.Network // EthernetCardBackingInfo uses the name
		inv.Network = n
	}
	if inv.VMFolder == nil {
		return nil, fmt.Errorf("datacenter %s has no VM folder", s.DC.Name())
	}
	inv.Folder, inv.FolderPath = inv.VMFolder, inv.VMFolder.InventoryPath
	if f := v.Folder; f != "" {
		p := f
		if !strings.HasPrefix(p, "/") {
			p = s.DC.InventoryPath + "/vm/" + p
		}
		folder, err := s.finder.Folder(ctx, p)
		if err != nil {
			if isNotFound(err) {
				return nil, s.cfg.inputError("vsphere.folder", fmt.Sprintf("VM folder %q not found", p), "create it (govc folder.create "+p+") or fix vsphere.folder")
			}
			return nil, fmt.Errorf("finding folder %s: %s", p, FaultText(err))
		}
		inv.Folder, inv.FolderPath = folder, p
	}
	s.inv = inv
	return inv, nil
}

func isNotFound(err error) bool {
	var nf *find.NotFoundError
	return errors.As(err, &nf)
}

// Placement resolves where a new VM goes: the Config's host, else its
// cluster (DRS picks the host), else the datacenter's only resource pool.
// Only creation needs it.
func (s *Session) Placement(ctx context.Context) (*Placement, error) {
	if s.placement != nil {
		return s.placement, nil
	}
	v := s.cfg
	p := &Placement{}
	switch {
	case v.Host != "":
		h, err := s.finder.HostSystem(ctx, v.Host)
		if err != nil {
			if isNotFound(err) {
				return nil, s.cfg.inputError("vsphere.host", fmt.Sprintf("ESXi host %q not found in datacenter %s%s", v.Host, s.DC.Name(), names(func() ([]string, error) {
					l, err := s.finder.HostSystemList(ctx, "*")
					out := make([]string, len(l))
					for i, h := range l {
						out[i] = h.Name()
					}
					return out, err
				})), "set vsphere.host (or GOVC_HOST) to the host's name as vCenter shows it")
			}
			return nil, fmt.Errorf("finding host %s: %s", v.Host, FaultText(err))
		}
		pool, err := h.ResourcePool(ctx)
		if err != nil {
			return nil, fmt.Errorf("resource pool of host %s: %s", v.Host, FaultText(err))
		}
		p.Host, p.Pool = h, pool
	case v.Cluster != "":
		cl, err := s.findCluster(ctx, v.Cluster)
		if err != nil {
			if isNotFound(err) {
				return nil, s.cfg.inputError("vsphere.cluster", fmt.Sprintf("cluster %q not found in datacenter %s", v.Cluster, s.DC.Name()), "set vsphere.cluster to the cluster's name as vCenter shows it")
			}
			return nil, fmt.Errorf("finding cluster %s: %s", v.Cluster, FaultText(err))
		}
		pool, err := cl.ResourcePool(ctx)
		if err != nil {
			return nil, fmt.Errorf("resource pool of cluster %s: %s", v.Cluster, FaultText(err))
		}
		p.Pool = pool
	default:
		pool, err := s.finder.DefaultResourcePool(ctx)
		if err != nil {
			var dm *find.DefaultMultipleFoundError
			if errors.As(err, &dm) {
				return nil, s.cfg.inputError("vsphere.host", fmt.Sprintf("neither vsphere.host nor vsphere.cluster is set and datacenter %s has several", s.DC.Name()), "set vsphere.cluster (or vsphere.host / GOVC_HOST) to where the MT should run")
			}
			return nil, fmt.Errorf("finding a resource pool in %s: %s", s.DC.Name(), FaultText(err))
		}
		p.Pool = pool
	}
	s.placement = p
	return p, nil
}

// findCluster tries the cluster directly under the datacenter's host
// folder with one SearchIndex call, then the finder's search.
func (s *Session) findCluster(ctx context.Context, name string) (*object.ClusterComputeResource, error) {
	ref, err := object.NewSearchIndex(s.Client).FindByInventoryPath(ctx, s.DC.InventoryPath+"/host/"+name)
	if err == nil && ref != nil && ref.Reference().Type == "ClusterComputeResource" {
		cl := object.NewClusterComputeResource(s.Client, ref.Reference())
		cl.InventoryPath = s.DC.InventoryPath + "/host/" + name
		return cl, nil
	}
	return s.finder.ClusterComputeResource(ctx, name)
}
