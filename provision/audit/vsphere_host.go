package audit

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/provision/spec"
	"github.com/mtprep/mtprep/provision/vsphere"
)

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
	case vsphere.IsFreeESXiLicense(l):
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
