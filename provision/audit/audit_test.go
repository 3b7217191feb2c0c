package audit

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/esx"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"

	"github.com/mtprep/mtprep/centos"
	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/guest/guesttest"
	"github.com/mtprep/mtprep/provision/spec"
)

const goodProbe = `os CentOS release 6.6 (Final)
rpm xfsprogs 3.1.1-16.el6
rpm perl 5.10.1-136.el6
rpm lsscsi 0.23-3.el6
rpm rsync 3.0.6-12.el6
rpm wget 1.12-5.el6
rpm kexec-tools 2.0.0-280.el6
rpm kmod-reiserfs 0.0-1.el6.elrepo
rpm reiserfs-utils 3.6.21-1.el6.elrepo
rpm device-mapper-multipath 0.4.9-80.el6
multipathd running
multipathd_boot on
acc_started 2026-11-23T10:00:00Z
acc_done 2026-11-23T10:00:05Z
ret_mount /dev/mapper/36000c2989daa4b1e8d391f0e1b2c3d4e ext4
ret_fstab /dev/mapper/36000c2989daa4b1e8d391f0e1b2c3d4e ext4
ret_df 1048576 1000000
ret_wwid 36000c2989daa4b1e8d391f0e1b2c3d4e
nic 192.0.2.10
hosts 192.0.2.10
cs reachable
vx_file present
vx_line # Unified Agent version 2016
vx_line VERSION=9.3.0.0
vx_line INSTALLATION_DIR=/usr/local/ASR
`

const (
	osUUID  = "6000C291-aaaa-4b1e-8d39-1f0e1b2c3d4e"
	retUUID = "6000C298-9daa-4b1e-8d39-1f0e1b2c3d4e"
)

var goodDisks = []VMDiskInfo{{Label: "Hard disk 1", UUID: osUUID}, {Label: "Hard disk 2", UUID: retUUID}}

func failIDs(fs []Finding) string {
	var out []string
	for _, f := range fs {
		if f.Result == Fail {
			out = append(out, f.ID)
		}
	}
	return strings.Join(out, ",")
}

// checkFindingShape: every finding has a catalogued id, a known result, a
// one-line reason, and a fix unless it passed.
func checkFindingShape(t *testing.T, fs []Finding) {
	t.Helper()
	ids := checkIDs(Checks())
	for _, f := range fs {
		if !slices.Contains(ids, f.ID) {
			t.Errorf("%s: id not in Checks", f.ID)
		}
		if !slices.Contains([]string{Pass, Warn, Fail, Unknown, NotApplicable}, f.Result) {
			t.Errorf("%s: result %q", f.ID, f.Result)
		}
		if f.Reason == "" || strings.ContainsAny(f.Reason, "\n\r") {
			t.Errorf("%s: reason %q is not one line", f.ID, f.Reason)
		}
		if f.Result != Pass && f.Fix == "" {
			t.Errorf("%s is %s with no fix", f.ID, f.Result)
		}
	}
}

func TestGuestFindings(t *testing.T) {
	s, err := spec.Parse("mt01.yaml", []byte(validSpec))
	if err != nil {
		t.Fatal(err)
	}
	withCS := func(v string) func(*spec.Spec) { return func(s *spec.Spec) { s.ConfigServer.Version = v } }
	replace := func(old, new string) func(string) string {
		return func(p string) string {
			if !strings.Contains(p, old) {
				t.Fatalf("probe has no %q", old)
			}
			return strings.Replace(p, old, new, 1)
		}
	}
	cases := []struct {
		name  string
		edit  func(string) string
		spec  func(*spec.Spec)
		disks []VMDiskInfo
		fails string // the exact set of FAIL ids, comma-separated
		warns string
	}{
		{name: "all pass", disks: goodDisks},
		{name: "package removed", edit: replace("rpm wget 1.12-5.el6\n", ""), disks: goodDisks, fails: "guest.packages"},
		{name: "package too old", edit: replace("xfsprogs 3.1.1-16.el6", "xfsprogs 3.1.1-14.el6"), disks: goodDisks, fails: "guest.packages"},
		{name: "multipathd stopped", edit: replace("multipathd running", "multipathd stopped"), disks: goodDisks, fails: "guest.multipathd"},
		{name: "multipathd not at boot", edit: replace("multipathd_boot on", "multipathd_boot off"), disks: goodDisks, warns: "guest.multipathd"},
		{name: "retention unmounted", edit: func(p string) string {
			p = replace("ret_mount /dev/mapper/36000c2989daa4b1e8d391f0e1b2c3d4e ext4\n", "")(p)
			p = replace("ret_wwid 36000c2989daa4b1e8d391f0e1b2c3d4e\n", "")(p)
			return replace("ret_df 1048576 1000000\n", "")(p)
		}, disks: goodDisks, fails: "guest.retention.mounted"},
		{name: "no fstab line", edit: replace("ret_fstab /dev/mapper/36000c2989daa4b1e8d391f0e1b2c3d4e ext4\n", ""), disks: goodDisks, fails: "guest.retention.fstab"},
		{name: "fstab names another device", edit: replace("ret_fstab /dev/mapper/36000c2989daa4b1e8d391f0e1b2c3d4e", "ret_fstab /dev/mapper/36000c2911111111111111111111111111"), disks: goodDisks, fails: "guest.retention.fstab"},
		{name: "fstab by kernel name", edit: func(p string) string {
			p = replace("ret_fstab /dev/mapper/36000c2989daa4b1e8d391f0e1b2c3d4e", "ret_fstab /dev/sdb")(p)
			return replace("ret_mount /dev/mapper/36000c2989daa4b1e8d391f0e1b2c3d4e", "ret_mount /dev/sdb")(p)
		}, disks: goodDisks, warns: "guest.retention.fstab"},
		{name: "fstab by UUID", edit: replace("ret_fstab /dev/mapper/36000c2989daa4b1e8d391f0e1b2c3d4e", "ret_fstab UUID=0b3a"), disks: goodDisks},
		{name: "retention almost full", edit: replace("ret_df 1048576 1000000", "ret_df 1048576 1000"), disks: goodDisks, warns: "guest.retention.free"},
		{name: "cs unreachable", edit: replace("cs reachable", "cs unreachable"), disks: goodDisks, fails: "guest.configserver"},
		{name: "retention on a disk of another VM", disks: []VMDiskInfo{{UUID: osUUID}, {UUID: "6000C291-1111-2222-3333-444455556666"}}, fails: "guest.retention.wwid"},
		{name: "retention on the OS disk", disks: []VMDiskInfo{{Label: "Hard disk 1", UUID: retUUID}, {UUID: osUUID}}, fails: "guest.retention.wwid"},
		{name: "retention without a WWID name", edit: replace("ret_wwid 36000c2989daa4b1e8d391f0e1b2c3d4e\n", ""), disks: goodDisks, fails: "guest.retention.wwid"},
		{name: "vSphere disks unknown", disks: nil},
		{name: "agent newer than cs", spec: withCS("9.1.0.0"), disks: goodDisks, fails: "guest.agent"},
		{name: "agent same as cs", spec: withCS("9.3.0.0"), disks: goodDisks},
		{name: "agent older than cs", spec: withCS("9.10"), disks: goodDisks},
		{name: "no agent", edit: func(p string) string { return p[:strings.Index(p, "vx_file")] }, disks: goodDisks, fails: "guest.agent"},
		{name: "agent version unreadable", edit: replace("vx_line VERSION=9.3.0.0\n", ""), disks: goodDisks, fails: "guest.agent"},
		{name: "old bare version file", edit: replace("vx_line VERSION=9.3.0.0\n", "vx_line 8.4.0.0\n"), spec: withCS("9.3.0.0"), disks: goodDisks},
		{name: "fat retention", edit: replace("3d4e ext4\nret_fstab", "3d4e vfat\nret_fstab"), disks: goodDisks, fails: "guest.retention.filesystem"},
		{name: "wrong os", edit: replace("6.6", "6.10"), disks: goodDisks, fails: "guest.os"},
		{name: "ubuntu mt", edit: replace("os CentOS release 6.6 (Final)", "os Ubuntu 16.04.2 LTS"), disks: goodDisks, warns: "guest.os"},
		{name: "hosts missing", edit: replace("hosts 192.0.2.10\n", ""), disks: goodDisks, fails: "guest.hosts"},
		{name: "acc never rebooted", edit: replace("acc_done 2026-11-23T10:00:05Z\n", "acc_done 2026-11-23T10:00:05Z\nacc_reboot-pending 2026-11-23T10:00:05Z\n"), disks: goodDisks, fails: "guest.applycustomchanges"},
		{name: "acc interrupted", edit: replace("acc_done 2026-11-23T10:00:05Z\n", ""), disks: goodDisks, fails: "guest.applycustomchanges"},
		{name: "acc not by mtprep", edit: func(p string) string {
			return replace("acc_started 2026-11-23T10:00:00Z\n", "")(replace("acc_done 2026-11-23T10:00:05Z\n", "")(p))
		}, disks: goodDisks, warns: "guest.applycustomchanges"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			probe := goodProbe
			if c.edit != nil {
				probe = c.edit(probe)
			}
			sp := *s
			if c.spec != nil {
				c.spec(&sp)
			}
			fs := GuestFindings(&sp, ParseProbe(probe), GuestContext{VMDisks: c.disks, Release: centos.Release{}})
			checkFindingShape(t, fs)
			if got := failIDs(fs); got != c.fails {
				t.Errorf("FAIL ids %q, want %q\n%v", got, c.fails, fs)
			}
			var warns []string
			for _, f := range fs {
				if f.Result == Warn {
					warns = append(warns, f.ID)
				}
			}
			if got := strings.Join(warns, ","); got != c.warns && !(c.warns == "" && strings.HasPrefix(c.name, "ubuntu")) {
				t.Errorf("WARN ids %q, want %q", got, c.warns)
			}
			var ids []string
			for _, f := range fs {
				ids = append(ids, f.ID)
			}
			if !slices.Equal(ids, guestAuditIDs()) {
				t.Errorf("ids %v, want %v", ids, guestAuditIDs())
			}
		})
	}
}

func TestParseProbeVxVersion(t *testing.T) {
	for in, want := range map[string]string{
		"vx_file present\nvx_line 9.3.0.0\n":                            "9.3.0.0",
		"vx_file present\nvx_line # 2016\nvx_line VERSION=9.3.0.0\n":    "9.3.0.0",
		"vx_file present\nvx_line VERSION=\"9.3.0.0\"\nvx_line BUILD=1": "9.3.0.0",
	} {
		if got := ParseProbe(in).VxVersion; got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

// goodFacts is a vSphere inventory where mt01 passes every check.
func goodFacts(t *testing.T) (*spec.Spec, *vsphereFacts) {
	t.Helper()
	s, err := spec.Parse("mt01.yaml", []byte(validSpec))
	if err != nil {
		t.Fatal(err)
	}
	s.Audit.ProtectedDatastores = []string{"ds-vmfs"}
	host := types.ManagedObjectReference{Type: "HostSystem", Value: "host-1"}
	ds1 := types.ManagedObjectReference{Type: "Datastore", Value: "datastore-1"}
	ds2 := types.ManagedObjectReference{Type: "Datastore", Value: "datastore-2"}
	folder := types.ManagedObjectReference{Type: "Folder", Value: "group-v1"}
	pool := types.ManagedObjectReference{Type: "ResourcePool", Value: "resgroup-1"}
	netw := types.ManagedObjectReference{Type: "Network", Value: "network-1"}
	disk := func(key, unit int32, uuid string) types.BaseVirtualDevice {
		u := unit
		return &types.VirtualDisk{VirtualDevice: types.VirtualDevice{Key: key, ControllerKey: 1000, UnitNumber: &u,
			Backing: &types.VirtualDiskFlatVer2BackingInfo{Uuid: uuid}}}
	}
	vm := mo.VirtualMachine{
		Config: &types.VirtualMachineConfigInfo{
			Uuid:        "4210aaaa-0000-0000-0000-000000000001",
			ExtraConfig: []types.BaseOptionValue{&types.OptionValue{Key: "disk.EnableUUID", Value: "TRUE"}},
			Flags:       types.VirtualMachineFlagInfo{DiskUuidEnabled: types.NewBool(true)},
			Hardware: types.VirtualHardware{Device: []types.BaseVirtualDevice{
				// The retention disk listed first: the OS disk is found by
				// SCSI position, not list order.
				disk(2001, 1, retUUID), disk(2000, 0, osUUID),
				&types.VirtualLsiLogicController{VirtualSCSIController: types.VirtualSCSIController{VirtualController: types.VirtualController{VirtualDevice: types.VirtualDevice{Key: 1000}}}},
			}},
		},
		Guest:        &types.GuestInfo{ToolsRunningStatus: "guestToolsRunning"},
		Runtime:      types.VirtualMachineRuntimeInfo{Host: &host, PowerState: "poweredOn"},
		Datastore:    []types.ManagedObjectReference{ds1},
		Network:      []types.ManagedObjectReference{netw},
		ResourcePool: &pool,
	}
	vm.Self = types.ManagedObjectReference{Type: "VirtualMachine", Value: "vm-1"}
	vm.Name = "mt01"
	vm.Parent = &folder
	f := newVSphereFacts()
	f.APIType = "VirtualCenter"
	f.VMs["mt01"] = []mo.VirtualMachine{vm}
	f.UUIDs[vm.Config.Uuid] = []string{"mt01"}
	h := mo.HostSystem{Datastore: []types.ManagedObjectReference{ds1, ds2}}
	h.Self, h.Name = host, "esx1"
	f.Hosts[host] = h
	for ref, spec_ := range map[types.ManagedObjectReference][2]string{ds1: {"ds-vmfs", "VMFS"}, ds2: {"ds-nfs", "NFS"}} {
		d := mo.Datastore{Summary: types.DatastoreSummary{Type: spec_[1], Accessible: true}}
		d.Self, d.Name = ref, spec_[0]
		f.DSs[ref] = d
	}
	f.Licenses["host-1"] = types.LicenseManagerLicenseInfo{Name: "vSphere 8 Enterprise Plus", EditionKey: "esx.enterprisePlus.cpuPackage"}
	f.PrivUser = "VSPHERE.LOCAL\\asr"
	f.Privs = map[types.ManagedObjectReference]map[string]bool{}
	for _, ref := range []types.ManagedObjectReference{vm.Self, folder, pool, netw, ds1, ds2} {
		f.Privs[ref] = map[string]bool{}
		for _, p := range ReprotectPrivileges() {
			f.Privs[ref][p] = true
		}
	}
	return s, f
}

// inPod puts the MT's datastore ds-vmfs in a datastore cluster with the
// MT's override o (nil: none).
func inPod(f *vsphereFacts, enabled bool, behavior string, o *types.StorageDrsVmConfigInfo) {
	ref := types.ManagedObjectReference{Type: "Datastore", Value: "datastore-1"}
	podRef := types.ManagedObjectReference{Type: "StoragePod", Value: "group-p1"}
	ds := f.DSs[ref]
	ds.Parent = &podRef
	f.DSs[ref] = ds
	p := mo.StoragePod{PodStorageDrsEntry: &types.PodStorageDrsEntry{StorageDrsConfig: types.StorageDrsConfigInfo{
		PodConfig: types.StorageDrsPodConfigInfo{Enabled: enabled, DefaultVmBehavior: behavior},
	}}}
	p.Self, p.Name = podRef, "POD1"
	if o != nil {
		vm := f.VMs["mt01"][0].Self
		o.Vm = &vm
		p.PodStorageDrsEntry.StorageDrsConfig.VmConfig = []types.StorageDrsVmConfigInfo{*o}
	}
	f.Pods[podRef] = p
}

func TestVSphereFindings(t *testing.T) {
	vmOf := func(f *vsphereFacts) *mo.VirtualMachine { return &f.VMs["mt01"][0] }
	cases := []struct {
		name  string
		edit  func(*spec.Spec, *vsphereFacts)
		fails string
		warns string
		unk   string
	}{
		{name: "all pass"},
		{name: "EnableUUID unset", edit: func(_ *spec.Spec, f *vsphereFacts) { vmOf(f).Config.ExtraConfig = nil }, fails: "vsphere.enableuuid"},
		{name: "diskUuidEnabled false", edit: func(_ *spec.Spec, f *vsphereFacts) { vmOf(f).Config.Flags.DiskUuidEnabled = types.NewBool(false) }, fails: "vsphere.enableuuid"},
		{name: "snapshot", edit: func(_ *spec.Spec, f *vsphereFacts) {
			vmOf(f).Snapshot = &types.VirtualMachineSnapshotInfo{RootSnapshotList: []types.VirtualMachineSnapshotTree{{Name: "before", ChildSnapshotList: []types.VirtualMachineSnapshotTree{{Name: "after"}}}}}
		}, fails: "vsphere.snapshots"},
		{name: "paravirtual", edit: func(_ *spec.Spec, f *vsphereFacts) {
			d := vmOf(f).Config.Hardware.Device
			d[2] = &types.ParaVirtualSCSIController{VirtualSCSIController: types.VirtualSCSIController{VirtualController: types.VirtualController{VirtualDevice: types.VirtualDevice{Key: 1000}}}}
		}, fails: "vsphere.controller"},
		{name: "61 disks", edit: func(_ *spec.Spec, f *vsphereFacts) {
			for i := range int32(59) {
				u := i + 2
				vmOf(f).Config.Hardware.Device = append(vmOf(f).Config.Hardware.Device, &types.VirtualDisk{VirtualDevice: types.VirtualDevice{Key: 3000 + i, ControllerKey: 1000, UnitNumber: &u, Backing: &types.VirtualDiskFlatVer2BackingInfo{Uuid: fmt.Sprintf("6000C290-0000-0000-0000-%012d", i)}}})
			}
		}, fails: "vsphere.disks"},
		{name: "tools not running", edit: func(_ *spec.Spec, f *vsphereFacts) { vmOf(f).Guest.ToolsRunningStatus = "guestToolsNotRunning" }, fails: "vsphere.tools"},
		{name: "free ESXi", edit: func(_ *spec.Spec, f *vsphereFacts) {
			f.Licenses["host-1"] = types.LicenseManagerLicenseInfo{Name: "VMware vSphere 8 Hypervisor", EditionKey: "esxBasic"}
		}, fails: "vsphere.license"},
		{name: "license unknown", edit: func(_ *spec.Spec, f *vsphereFacts) { delete(f.Licenses, "host-1") }, unk: "vsphere.license"},
		{name: "NFS only", edit: func(s *spec.Spec, f *vsphereFacts) {
			h := f.Hosts[*vmOf(f).Runtime.Host]
			h.Datastore = h.Datastore[1:]
			f.Hosts[h.Self] = h
			s.Audit.ProtectedDatastores = []string{"ds-nfs"}
		}, fails: "vsphere.datastore"},
		{name: "VMFS datastore inaccessible", edit: func(s *spec.Spec, f *vsphereFacts) {
			ref := types.ManagedObjectReference{Type: "Datastore", Value: "datastore-1"}
			d := f.DSs[ref]
			d.Summary.Accessible = false
			f.DSs[ref] = d
			s.Audit.ProtectedDatastores = []string{"ds-nfs"}
		}, fails: "vsphere.datastore"},
		{name: "protected datastore not seen", edit: func(s *spec.Spec, _ *vsphereFacts) { s.Audit.ProtectedDatastores = []string{"ds-vmfs", "ds-far"} }, fails: "vsphere.protected-datastores"},
		{name: "protected VM's datastore seen", edit: func(s *spec.Spec, f *vsphereFacts) {
			s.Audit.ProtectedDatastores = nil
			s.Audit.ProtectedVMs = []string{"app01"}
			v := mo.VirtualMachine{Datastore: []types.ManagedObjectReference{{Type: "Datastore", Value: "datastore-2"}}}
			v.Name = "app01"
			f.VMs["app01"] = []mo.VirtualMachine{v}
		}},
		{name: "protected VM unknown", edit: func(s *spec.Spec, _ *vsphereFacts) {
			s.Audit.ProtectedDatastores = nil
			s.Audit.ProtectedVMs = []string{"gone"}
		}, unk: "vsphere.protected-datastores"},
		{name: "nothing named", edit: func(s *spec.Spec, _ *vsphereFacts) { s.Audit.ProtectedDatastores = nil }, unk: "vsphere.protected-datastores"},
		{name: "cloned uuid", edit: func(_ *spec.Spec, f *vsphereFacts) {
			u := vmOf(f).Config.Uuid
			f.UUIDs[u] = append(f.UUIDs[u], "app-template-clone")
		}, fails: "vsphere.uuid-unique"},
		{name: "read-only account", edit: func(_ *spec.Spec, f *vsphereFacts) {
			f.Privs[types.ManagedObjectReference{Type: "Datastore", Value: "datastore-1"}]["Datastore.AllocateSpace"] = false
			f.Privs[vmOf(f).Self]["VirtualMachine.Config.AddExistingDisk"] = false
			// Not checked there: a VM privilege on a datastore.
			f.Privs[types.ManagedObjectReference{Type: "Datastore", Value: "datastore-1"}]["VirtualMachine.Interact.PowerOn"] = false
		}, fails: "vsphere.privileges"},
		{name: "privileges not queried", edit: func(_ *spec.Spec, f *vsphereFacts) { f.Privs, f.PrivErr = nil, "NoPermission" }, unk: "vsphere.privileges"},
		{name: "in a datastore cluster, automated", edit: func(_ *spec.Spec, f *vsphereFacts) { inPod(f, true, "automated", nil) }, warns: "vsphere.sdrs"},
		{name: "in a datastore cluster, kept out", edit: func(_ *spec.Spec, f *vsphereFacts) {
			inPod(f, true, "automated", &types.StorageDrsVmConfigInfo{Enabled: types.NewBool(false)})
		}},
		{name: "in a datastore cluster, manual override", edit: func(_ *spec.Spec, f *vsphereFacts) {
			inPod(f, true, "automated", &types.StorageDrsVmConfigInfo{Enabled: types.NewBool(true), Behavior: "manual"})
		}, warns: "vsphere.sdrs"},
		{name: "in a datastore cluster with Storage DRS off, no override", edit: func(_ *spec.Spec, f *vsphereFacts) { inPod(f, false, "automated", nil) }, warns: "vsphere.sdrs"},
		{name: "datastore cluster not readable", edit: func(_ *spec.Spec, f *vsphereFacts) {
			inPod(f, true, "automated", nil)
			clear(f.Pods)
		}, unk: "vsphere.sdrs"},
		{name: "no VM", edit: func(_ *spec.Spec, f *vsphereFacts) { delete(f.VMs, "mt01") }, fails: "vsphere.vm",
			unk: "vsphere.enableuuid,vsphere.snapshots,vsphere.controller,vsphere.disks,vsphere.tools,vsphere.license,vsphere.datastore,vsphere.protected-datastores,vsphere.sdrs,vsphere.uuid-unique,vsphere.privileges"},
		{name: "two VMs named mt01", edit: func(_ *spec.Spec, f *vsphereFacts) { f.VMs["mt01"] = append(f.VMs["mt01"], f.VMs["mt01"][0]) }, fails: "vsphere.vm",
			unk: "vsphere.enableuuid,vsphere.snapshots,vsphere.controller,vsphere.disks,vsphere.tools,vsphere.license,vsphere.datastore,vsphere.protected-datastores,vsphere.sdrs,vsphere.uuid-unique,vsphere.privileges"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, f := goodFacts(t)
			if c.edit != nil {
				c.edit(s, f)
			}
			fs, disks := vsphereFindings(s, f, nil)
			checkFindingShape(t, fs)
			by := map[string][]string{}
			var ids []string
			for _, f := range fs {
				by[f.Result] = append(by[f.Result], f.ID)
				ids = append(ids, f.ID)
			}
			if !slices.Equal(ids, checkIDs(vsphereChecks())) {
				t.Errorf("ids %v", ids)
			}
			for res, want := range map[string]string{Fail: c.fails, Warn: c.warns, Unknown: c.unk} {
				if got := strings.Join(by[res], ","); got != want {
					t.Errorf("%s ids %q, want %q\n%v", res, got, want, fs)
				}
			}
			if c.fails == "" && (len(disks) < 2 || disks[0].UUID != osUUID || disks[1].UUID != retUUID) {
				t.Errorf("disks not in SCSI order: %v", disks)
			}
		})
	}
}

// TestAuditChecksDocumented: every id is in docs/AUDIT.md, and the doc
// names no id the code does not have.
func TestAuditChecksDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/AUDIT.md")
	if err != nil {
		t.Fatal(err)
	}
	ids := checkIDs(Checks())
	for _, id := range ids {
		if !bytes.Contains(doc, []byte("`"+id+"`")) {
			t.Errorf("docs/AUDIT.md does not document %s", id)
		}
	}
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		id := strings.Trim(strings.SplitN(line, "|", 3)[1], " `")
		if strings.HasPrefix(id, "vsphere.") || strings.HasPrefix(id, "guest.") {
			if !slices.Contains(ids, id) {
				t.Errorf("docs/AUDIT.md documents %s, which the code does not have", id)
			}
		}
	}
}

// newAuditSim is a simulated vCenter whose model is edited first.
func newAuditSim(t *testing.T, edit func(*simulator.Model)) *sim {
	t.Helper()
	m := simulator.VPX()
	edit(m)
	if err := m.Create(); err != nil {
		t.Fatal(err)
	}
	m.Service.TLS = new(tls.Config)
	m.Service.Listen = &url.URL{User: url.UserPassword("user", testVCPassword)}
	srv := m.Service.NewServer()
	t.Cleanup(func() { srv.Close(); m.Remove() })
	return &sim{model: m, srv: srv}
}

// TestAuditVSphereSimulator runs the vSphere half against govmomi's
// simulator: the retrieval decodes, the checks pass on a VM made like an
// MT, and the round trips do not grow with the inventory.
func TestAuditVSphereSimulator(t *testing.T) {
	ctx := context.Background()
	roundTrips := map[int]int64{}
	for _, vms := range []int{2, 40} {
		sim := newAuditSim(t, func(m *simulator.Model) {
			m.Machine = vms / 2 // per resource pool: the standalone host's and the cluster's
			m.ClusterHost = 1
			m.Host = 1
		})
		m := sim.model
		tg := simMT(t, sim, nil)
		s := tg.Spec
		var names []string
		for _, o := range m.Map().All("VirtualMachine") {
			names = append(names, o.(*simulator.VirtualMachine).Name)
		}
		slices.Sort(names)
		s.Name = names[0]
		fs := func() []Finding {
			va, err := VSphere(ctx, []*spec.Spec{s}, tg.Env)
			if err != nil {
				t.Fatal(err)
			}
			roundTrips[len(names)] = va.RoundTrips
			t.Logf("%d VMs: %d round trips %v", len(names), va.RoundTrips, va.Calls)
			return va.Findings
		}()
		checkFindingShape(t, fs)
		got := map[string]string{}
		for _, f := range fs {
			got[f.ID] = f.Result
		}
		// vcsim's own VMs: no disk.EnableUUID, tools not running; the
		// rest holds on the simulator's inventory.
		want := map[string]string{
			CheckVSphereReachable: Pass, CheckVM: Pass, CheckEnableUUID: Fail, CheckSnapshots: Pass, CheckDisks: Pass,
			CheckLicense: Pass, CheckUUIDUnique: Pass, CheckPrivileges: Pass, CheckProtectedDatastore: Unknown,
		}
		for id, res := range want {
			if got[id] != res {
				t.Errorf("%d VMs: %s = %s, want %s (%v)", len(names), id, got[id], res, fs)
			}
		}
	}
	if roundTrips[2] == 0 || roundTrips[2] != roundTrips[40] {
		t.Errorf("round trips grow with the inventory: %v", roundTrips)
	}
}

// TestAuditRunner: one MT answers, one is black-holed (accepts TCP and
// says nothing), one refuses, and vCenter is black-holed; the report has
// every check of every MT, and what hangs fails on its own deadline.
func TestAuditRunner(t *testing.T) {
	d := guesttest.StartSSHD(t)
	known := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(known, []byte(fmt.Sprintf("[127.0.0.1]:%d %s", d.Port, bytes.TrimSpace(mustRead(t, d.HostPub)))), 0o644); err != nil {
		t.Fatal(err)
	}
	hole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := hole.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	refused, _ := net.Listen("tcp", "127.0.0.1:0")
	refusedPort := refused.Addr().(*net.TCPAddr).Port
	refused.Close()

	var specs []*spec.Spec
	for i, port := range []int{d.Port, hole.Addr().(*net.TCPAddr).Port, refusedPort} {
		s, err := spec.Parse("mt.yaml", []byte(validSpec))
		if err != nil {
			t.Fatal(err)
		}
		s.Name = fmt.Sprintf("mt%02d", i+1)
		s.SSH.Address, s.SSH.Port, s.SSH.PrivateKey, s.SSH.KnownHosts = "127.0.0.1", port, d.UserKey, known
		// A closed port answers at once; the probe's own 5 s connect
		// timeout must not race the host timeout. The host timeout leaves
		// the real probe room on a loaded machine (-race, parallel jobs).
		s.ConfigServer.IP, s.ConfigServer.Port = "127.0.0.1", refusedPort
		// vCenter is black-holed too: its part fails on its own deadline.
		s.VSphere.URL = fmt.Sprintf("https://%s/sdk", hole.Addr())
		s.VSphere.Username, s.VSphere.Password = "user", spec.Secret{Env: "VC_PASSWORD"}
		specs = append(specs, s)
	}
	env := func(string) (string, bool) { return "pw", true }
	fs, stats, err := Run(context.Background(), specs, Options{OS: testOS, HostTimeout: 8 * time.Second, VSphereTimeout: 2 * time.Second, Concurrency: 3, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	checkFindingShape(t, fs)
	byHost := map[string][]Finding{}
	for _, f := range fs {
		byHost[f.Host] = append(byHost[f.Host], f)
	}
	for _, s := range specs {
		fs := byHost[s.Name]
		if len(fs) != len(Checks()) {
			t.Fatalf("%s: %d findings, want %d", s.Name, len(fs), len(Checks()))
		}
		if r := fs[0]; r.ID != CheckVSphereReachable || r.Result != Fail || !strings.Contains(r.Reason, "no answer within 2s") {
			t.Errorf("%s: %+v", s.Name, r)
		}
		for _, f := range fs[1:len(vsphereChecks())] {
			if f.Result != Unknown {
				t.Errorf("%s %s: %s", s.Name, f.ID, f.Result)
			}
		}
		byHost[s.Name] = fs[len(vsphereChecks()):]
	}
	if r := byHost["mt01"][0]; r.Result != Pass {
		t.Errorf("mt01 reachable: %+v", r)
	}
	if r := byHost["mt02"][0]; r.Result != Fail || !strings.Contains(r.Reason, "no answer within 8s") {
		t.Errorf("mt02 (black hole): %+v", r)
	}
	if r := byHost["mt03"][0]; r.Result != Fail || !strings.Contains(r.Reason, "refused") {
		t.Errorf("mt03 (refused): %+v", r)
	}
	for _, h := range []string{"mt02", "mt03"} {
		for _, f := range byHost[h][1:] {
			if f.Result != Unknown {
				t.Errorf("%s %s: %s", h, f.ID, f.Result)
			}
		}
	}
	if stats.SSHSessions != 1 {
		t.Errorf("%d SSH sessions", stats.SSHSessions)
	}
}

func TestReportsGolden(t *testing.T) {
	s, _ := spec.Parse("mt01.yaml", []byte(validSpec))
	fs := GuestFindings(s, ParseProbe(strings.Replace(goodProbe, "cs reachable", "cs unreachable", 1)), GuestContext{VMDisks: goodDisks, Release: centos.Release{}})
	fs = append(fs, UnreachableFindings("mt02", errors.New("dial tcp 192.0.2.11:22: connect: no route to host"))[:3]...)
	for _, c := range []struct {
		file  string
		write func(*bytes.Buffer) error
	}{
		{"audit.txt", func(b *bytes.Buffer) error { return WriteTable(b, fs, false) }},
		{"audit.json", func(b *bytes.Buffer) error { return WriteJSON(b, fs) }},
		{"audit.junit.xml", func(b *bytes.Buffer) error { return WriteJUnit(b, fs) }},
	} {
		var b bytes.Buffer
		if err := c.write(&b); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", c.file)
		if os.Getenv("UPDATE_GOLDEN") != "" {
			if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b.Bytes(), want) {
			t.Errorf("%s differs (UPDATE_GOLDEN=1 to rewrite):\n%s", c.file, b.String())
		}
	}
	var b bytes.Buffer
	if err := WriteJUnit(&b, fs); err != nil {
		t.Fatal(err)
	}
	var v any
	if err := xml.Unmarshal(b.Bytes(), &v); err != nil {
		t.Errorf("JUnit output is not XML: %v", err)
	}
	b.Reset()
	if err := WriteJSON(&b, fs); err != nil {
		t.Fatal(err)
	}
	var r Report
	if err := json.Unmarshal(b.Bytes(), &r); err != nil || r.Schema != Schema || len(r.Findings) != len(fs) {
		t.Errorf("JSON round trip: %v %+v", err, r)
	}
	if !Failed(fs) {
		t.Error("Failed() missed a FAIL")
	}
	var col bytes.Buffer
	if err := WriteTable(&col, fs, true); err != nil || !strings.Contains(col.String(), "\x1b[31mFAIL") {
		t.Errorf("colour table: %v", err)
	}
	if strings.Contains(b.String(), "\x1b") {
		t.Error("escape codes in JSON")
	}
}

// TestAuditSpecKeys: the audit's spec keys are optional, and checked when
// given.
func TestAuditSpecKeys(t *testing.T) {
	cases := []struct {
		name, add, problem string
	}{
		{"all given", "audit: {protectedDatastores: [DS01, \"DS 02\"], protectedVMs: [app01], vcenterAccount: 'VSPHERE.LOCAL\\asr'}\n", ""},
		{"upn account", "audit: {vcenterAccount: asr@vsphere.local}\n", ""},
		{"datastore path", "audit: {protectedDatastores: [/DC0/datastore/DS01]}\n", "audit.protectedDatastores"},
		{"datastore twice", "audit: {protectedDatastores: [DS01, DS01]}\n", "audit.protectedDatastores"},
		{"bad account", "audit: {vcenterAccount: 'asr; rm -rf'}\n", "audit.vcenterAccount"},
		{"unknown key", "audit: {protectedDatastore: [DS01]}\n", "audit.protectedDatastore"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := spec.Parse("mt01.yaml", []byte(validSpec+c.add))
			switch {
			case c.problem == "" && err != nil:
				t.Errorf("refused: %v", err)
			case c.problem != "" && (err == nil || !strings.Contains(err.Error(), c.problem)):
				t.Errorf("error %v, want one about %s", err, c.problem)
			}
		})
	}
	s, err := spec.Parse("mt01.yaml", []byte(strings.Replace(validSpec, "configServer: {ip: 192.0.2.5,", "configServer: {ip: 192.0.2.5, version: 9.3.0.0,", 1)))
	if err != nil || s.ConfigServer.Version != "9.3.0.0" {
		t.Errorf("configServer.version: %v %+v", err, s)
	}
	if _, err := spec.Parse("mt01.yaml", []byte(strings.Replace(validSpec, "configServer: {ip: 192.0.2.5,", "configServer: {ip: 192.0.2.5, version: latest,", 1))); err == nil || !strings.Contains(err.Error(), "configServer.version") {
		t.Errorf("configServer.version: latest: %v", err)
	}
}

// FuzzGuestFindings: any probe output gives one well-formed finding per
// guest check, and never a panic.
func FuzzGuestFindings(f *testing.F) {
	f.Add(goodProbe)
	f.Add("os Ubuntu 20.04.6 LTS\nret_mount /dev/sdb vfat\nret_df 0 0\n")
	f.Add("ret_mount only-one-field\nret_df x y\nvx_version \nnic\nhosts\n")
	s, err := spec.Parse("mt01.yaml", []byte(validSpec))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, probe string) {
		fs := GuestFindings(s, ParseProbe(probe), GuestContext{VMDisks: goodDisks, Release: centos.Release{}})
		if len(fs) != len(guestAuditIDs()) {
			t.Fatalf("%d findings", len(fs))
		}
		for _, f := range fs {
			if f.Result != Pass && f.Fix == "" {
				t.Errorf("%s %s without a fix", f.ID, f.Result)
			}
			if f.Reason == "" || strings.ContainsAny(f.Reason, "\r\n") {
				t.Errorf("%s: reason %q is not one line", f.ID, f.Reason)
			}
		}
	})
}

// TestAuditFreeESXi: connected straight to a free ESXi host, the audit
// still runs (build refuses such a host) and reports the license as a
// FAIL, read from the host's own LicenseManager.
func TestAuditFreeESXi(t *testing.T) {
	ctx := context.Background()
	for _, free := range []bool{false, true} {
		m := simulator.ESX()
		if err := m.Create(); err != nil {
			t.Fatal(err)
		}
		m.Service.TLS = new(tls.Config)
		m.Service.Listen = &url.URL{User: url.UserPassword("user", testVCPassword)}
		srv := m.Service.NewServer()
		t.Cleanup(func() { srv.Close(); m.Remove() })
		if free {
			lm := m.Map().Get(esx.ServiceContent.LicenseManager.Reference()).(*simulator.LicenseManager)
			lm.Licenses = []types.LicenseManagerLicenseInfo{{LicenseKey: "00000-00000-00000-00000-00001", EditionKey: "esxBasic", Name: "VMware vSphere 8 Hypervisor"}}
		}
		tg := simMT(t, &sim{model: m, srv: srv}, func(sp *spec.Spec) { sp.VSphere.Datacenter = "" })
		tg.Spec.Name = m.Map().Any("VirtualMachine").(*simulator.VirtualMachine).Name
		va, err := VSphere(ctx, []*spec.Spec{tg.Spec}, tg.Env)
		if err != nil {
			t.Fatal(err)
		}
		checkFindingShape(t, va.Findings)
		want := Pass
		if free {
			want = Fail
		}
		for _, f := range va.Findings {
			if f.ID == CheckLicense && f.Result != want {
				t.Errorf("free=%v: %s %s: %s", free, f.ID, f.Result, f.Reason)
			}
			if f.ID == CheckVSphereReachable && !strings.Contains(f.Reason, "(ESXi)") {
				t.Errorf("free=%v: %s", free, f.Reason)
			}
		}
	}
}

// TestProbeNotApplicable: a check the OS's probe marks as not applying
// (na <id> <reason>) is N/A with that reason, never PASS; an unknown id
// is ignored.
func TestProbeNotApplicable(t *testing.T) {
	p := ParseProbe("os Microsoft Windows Server 2016 Standard\nna guest.applycustomchanges ApplyCustomChanges.sh is Linux's\nna no.such.check x\n")
	if len(p.NA) != 1 {
		t.Fatalf("NA %v", p.NA)
	}
	fs := applyNA([]Finding{{ID: CheckACC, Result: Warn, Fix: "x"}, {ID: CheckHosts, Result: Pass}}, p.NA)
	if fs[0].Result != NotApplicable || fs[0].Reason != "ApplyCustomChanges.sh is Linux's" || fs[0].Fix != "" || fs[1].Result != Pass {
		t.Fatalf("%+v", fs)
	}
}

// TestControllerByProfile: the controller is judged against the MT's OS:
// LSI Logic SAS passes for a Windows profile and only warns for CentOS's;
// LSI Logic Parallel the other way round; Paravirtual fails for both.
func TestControllerByProfile(t *testing.T) {
	sas := &guest.VMProfile{Controller: "lsilogic-sas", ControllerName: "LSI Logic SAS"}
	ctl := func(kind string) types.BaseVirtualDevice {
		c := types.VirtualSCSIController{VirtualController: types.VirtualController{VirtualDevice: types.VirtualDevice{Key: 1000}}}
		switch kind {
		case "sas":
			return &types.VirtualLsiLogicSASController{VirtualSCSIController: c}
		case "pv":
			return &types.ParaVirtualSCSIController{VirtualSCSIController: c}
		}
		return &types.VirtualLsiLogicController{VirtualSCSIController: c}
	}
	for _, c := range []struct {
		name string
		kind string
		prof *guest.VMProfile
		want string
	}{
		{"parallel, CentOS", "lsi", nil, Pass},
		{"SAS, CentOS", "sas", nil, Warn},
		{"SAS, Windows", "sas", sas, Pass},
		{"parallel, Windows", "lsi", sas, Warn},
		{"paravirtual, Windows", "pv", sas, Fail},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, f := goodFacts(t)
			d := f.VMs["mt01"][0].Config.Hardware.Device
			for i := range d {
				if _, ok := d[i].(types.BaseVirtualSCSIController); ok {
					d[i] = ctl(c.kind)
				}
			}
			fs, _ := vsphereFindings(s, f, c.prof)
			for _, fi := range fs {
				if fi.ID == CheckController && fi.Result != c.want {
					t.Errorf("%s: %s (%s), want %s", c.name, fi.Result, fi.Reason, c.want)
				}
			}
		})
	}
}
