package audit

// Result of one audit check.
const (
	Pass    = "PASS"
	Warn    = "WARN"
	Fail    = "FAIL"
	Unknown = "UNKNOWN"
	// NotApplicable is a check that does not apply on the MT's OS (no
	// ApplyCustomChanges.sh on Windows): a result of its own, never PASS.
	NotApplicable = "N/A"
)

// Finding is one check on one MT: a stable id (documented in
// docs/AUDIT.md), the result, a one-line reason with what was observed,
// and the fix (set whenever the result is not PASS).
type Finding struct {
	Host   string `json:"host"`
	ID     string `json:"id"`
	Result string `json:"result"`
	Reason string `json:"reason"`
	Fix    string `json:"fix,omitempty"`
}

// Check is one check of the audit's catalogue.
type Check struct {
	ID    string
	Title string
}

// The check ids. They are a contract (scripts and CI filter on them):
// add, never rename. docs/AUDIT.md documents each; a test keeps the two
// in step.
const (
	CheckVSphereReachable   = "vsphere.reachable"
	CheckVM                 = "vsphere.vm"
	CheckEnableUUID         = "vsphere.enableuuid"
	CheckSnapshots          = "vsphere.snapshots"
	CheckController         = "vsphere.controller"
	CheckDisks              = "vsphere.disks"
	CheckTools              = "vsphere.tools"
	CheckLicense            = "vsphere.license"
	CheckDatastore          = "vsphere.datastore"
	CheckProtectedDatastore = "vsphere.protected-datastores"
	CheckSDRS               = "vsphere.sdrs"
	CheckUUIDUnique         = "vsphere.uuid-unique"
	CheckPrivileges         = "vsphere.privileges"

	CheckReachable     = "guest.reachable"
	CheckOS            = "guest.os"
	CheckPackages      = "guest.packages"
	CheckMultipathd    = "guest.multipathd"
	CheckACC           = "guest.applycustomchanges"
	CheckRetMounted    = "guest.retention.mounted"
	CheckRetFstab      = "guest.retention.fstab"
	CheckRetFilesystem = "guest.retention.filesystem"
	CheckRetFree       = "guest.retention.free"
	CheckRetWWID       = "guest.retention.wwid"
	CheckHosts         = "guest.hosts"
	CheckConfigServer  = "guest.configserver"
	CheckAgent         = "guest.agent"
)

const (
	// maxMTDisks is ASR's limit of disks on one master target.
	maxMTDisks = 60
	// retentionFreeWarnPc: below this share free, the retention volume
	// WARNs. An early warning of our choosing, not an ASR limit.
	retentionFreeWarnPc = 10
)

// Checks is every check, in report order: vSphere first, then the
// guest.
func Checks() []Check {
	return append(vsphereChecks(), guestChecks()...)
}

func vsphereChecks() []Check {
	return []Check{
		{CheckVSphereReachable, "vCenter (or ESXi) answers and accepts the login"},
		{CheckVM, "a VM with the MT's name exists"},
		{CheckEnableUUID, "disk.EnableUUID is TRUE and flags.diskUuidEnabled is true"},
		{CheckSnapshots, "the MT has no snapshots"},
		{CheckController, "the SCSI controller is LSI Logic, not Paravirtual"},
		{CheckDisks, "the MT has at most 60 disks"},
		{CheckTools, "VMware Tools are running"},
		{CheckLicense, "the MT's ESXi host is not the free edition"},
		{CheckDatastore, "the MT's host has a VMFS or vSAN datastore"},
		{CheckProtectedDatastore, "the MT's host sees the datastores of the VMs to fail back"},
		{CheckSDRS, "Storage DRS cannot move the MT (no Storage vMotion)"},
		{CheckUUIDUnique, "no other VM shares the MT's BIOS UUID"},
		{CheckPrivileges, "the vCenter account has the privileges reprotect needs"},
	}
}

func guestChecks() []Check {
	return []Check{
		{CheckReachable, "SSH reaches the MT and the probe runs"},
		{CheckOS, "CentOS 6.6 (a newer Ubuntu-based MT release is recognised)"},
		{CheckPackages, "the required packages at their minimum versions"},
		{CheckMultipathd, "multipathd is running and enabled at boot"},
		{CheckACC, "ApplyCustomChanges.sh ran exactly once, and the MT rebooted since"},
		{CheckRetMounted, "a volume is mounted at the retention mount point"},
		{CheckRetFstab, "/etc/fstab mounts it there at boot"},
		{CheckRetFilesystem, "the retention file system is ext4 (never FAT)"},
		{CheckRetFree, "the retention volume has free space"},
		{CheckRetWWID, "the retention volume is a disk of the MT VM, by WWID, and not its OS disk"},
		{CheckHosts, "the host name resolves via /etc/hosts to the NIC addresses"},
		{CheckConfigServer, "the configuration server answers on its port from the MT"},
		{CheckAgent, "the agent is installed, and no newer than the configuration server"},
	}
}

func checkIDs(cs []Check) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.ID
	}
	return out
}

// guestAuditIDs are the guest checks after guest.reachable, in report
// order; UnreachableFindings marks each UNKNOWN when the MT cannot be
// reached.
func guestAuditIDs() []string { return checkIDs(guestChecks())[1:] }
