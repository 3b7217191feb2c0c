package audit

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	version "github.com/hashicorp/go-version"

	"github.com/mtprep/mtprep/packages"
	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/spec"
	"github.com/mtprep/mtprep/provision/vsphere"
)

// Probe is the audit probe's output, parsed.
type Probe struct {
	OS                string
	RPMs              packages.Installed
	Multipathd        bool
	MultipathdEnabled bool
	ACCStarted        string
	ACCDone           string
	ACCReboot         string
	RetMounts         [][2]string // device, fstype
	RetFstab          [][2]string
	RetSizeKB         int64
	RetFreeKB         int64
	// RetWWID is the WWID of the mounted retention device, found by its
	// device number among /dev/mapper and /dev/disk/by-id.
	RetWWID     string
	NICs, Hosts []string
	CSReachable bool
	// VxFile: /usr/local/.vx_version exists; VxVersion is the version in
	// it.
	VxFile    bool
	VxVersion string
	// PkgLines are the package lines ("rpm …" on CentOS, "deb …" on
	// Ubuntu) without their key, for the OS's Packages part to judge.
	PkgLines []string
	// NA maps the checks the OS's probe says do not apply to why
	// ("na <check id> <reason>" lines).
	NA map[string]string
}

// ParseProbe reads audit-probe.sh's output.
func ParseProbe(out string) Probe {
	p := Probe{RPMs: packages.Installed{}}
	var rpmLines, vxLines []string
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		f := strings.Fields(v)
		switch k {
		case "os":
			p.OS = v
		case "rpm":
			rpmLines = append(rpmLines, v)
			p.PkgLines = append(p.PkgLines, v)
		case "deb":
			p.PkgLines = append(p.PkgLines, v)
		case "multipathd":
			p.Multipathd = v == "running"
		case "multipathd_boot":
			p.MultipathdEnabled = v == "on"
		case "acc_started":
			p.ACCStarted = v
		case "acc_done":
			p.ACCDone = v
		case "acc_reboot-pending":
			p.ACCReboot = v
		case "ret_mount":
			if len(f) == 2 {
				p.RetMounts = append(p.RetMounts, [2]string{f[0], f[1]})
			}
		case "ret_fstab":
			if len(f) == 2 {
				p.RetFstab = append(p.RetFstab, [2]string{f[0], f[1]})
			}
		case "ret_df":
			if len(f) == 2 {
				p.RetSizeKB, _ = strconv.ParseInt(f[0], 10, 64)
				p.RetFreeKB, _ = strconv.ParseInt(f[1], 10, 64)
			}
		case "ret_wwid":
			p.RetWWID = strings.ToLower(v)
		case "nic":
			p.NICs = append(p.NICs, v)
		case "hosts":
			p.Hosts = append(p.Hosts, v)
		case "cs":
			p.CSReachable = v == "reachable"
		case "vx_file":
			p.VxFile = true
		case "vx_line":
			vxLines = append(vxLines, v)
		case "na":
			if id, why, ok := strings.Cut(v, " "); ok && slices.Contains(guestAuditIDs(), id) {
				if p.NA == nil {
					p.NA = map[string]string{}
				}
				p.NA[id] = strings.TrimSpace(why)
			}
		}
	}
	p.VxVersion = guest.ParseVxVersion(strings.Join(vxLines, "\n"))
	p.RPMs = packages.ParseRPMQuery(strings.Join(rpmLines, "\n"))
	slices.Sort(p.NICs)
	slices.Sort(p.Hosts)
	return p
}

// applyNA replaces the findings of checks the probe said do not apply.
func applyNA(fs []Finding, na map[string]string) []Finding {
	for i, f := range fs {
		if why, ok := na[f.ID]; ok {
			fs[i].Result, fs[i].Reason, fs[i].Fix = NotApplicable, oneLine(why), ""
		}
	}
	return fs
}

// UnreachableFindings is the guest part of the report for an MT that SSH
// cannot reach (or whose probe did not finish): FAIL for reachability,
// UNKNOWN for the rest.
func UnreachableFindings(host string, err error) []Finding {
	out := []Finding{{Host: host, ID: CheckReachable, Result: Fail, Reason: oneLine(err.Error()), Fix: "check that the MT is powered on, ssh.address and ssh.port, the key, and ssh.hostKey / known_hosts"}}
	for _, id := range guestAuditIDs() {
		out = append(out, Finding{Host: host, ID: id, Result: Unknown, Reason: "the MT could not be probed over SSH", Fix: "fix " + CheckReachable + " first"})
	}
	return out
}

// VMDiskInfo is one virtual disk of the MT VM as vSphere reports it.
type VMDiskInfo struct {
	Label string
	UUID  string
}

// GuestContext is what the guest checks compare the probe with.
type GuestContext struct {
	// VMDisks are the MT VM's disks in SCSI order (bus, unit), so the
	// first is the OS disk; nil when vSphere was not read.
	VMDisks []VMDiskInfo
	// Release judges the probe's release line: the MT's OS part (nil:
	// no OS known for the MT, and the release check fails).
	Release guest.Release
	// Packages judges the probe's package lines (nil: CentOS 6.6's list,
	// as before OS parts existed).
	Packages guest.Packages
}

// GuestFindings turns a probe into checks. Pure: tested with probe text.
func GuestFindings(s *spec.Spec, p Probe, ac GuestContext) []Finding {
	host := s.Name
	var out []Finding
	add := func(id, result, reason, fix string) {
		out = append(out, Finding{Host: host, ID: id, Result: result, Reason: oneLine(reason), Fix: fix})
	}
	ubuntu := strings.HasPrefix(p.OS, "Ubuntu")

	var info guest.ReleaseInfo
	if ac.Release != nil {
		info = ac.Release.Parse(p.OS)
	}
	switch {
	case info.Supported:
		add(CheckOS, Pass, p.OS, "")
	case ubuntu && s.OS == spec.OSCentOS66:
		add(CheckOS, Warn, p.OS+": a newer Ubuntu-based MT release; the package checks are CentOS 6.6's and are skipped", "none needed if ASR supplied this MT image; otherwise rebuild on CentOS 6.6 with mtprep build")
	case s.OS != spec.OSCentOS66 && ac.Release != nil:
		add(CheckOS, Fail, fmt.Sprintf("%q is not %s (%s)", p.OS, ac.Release.Want(), info.Line), "rebuild the MT with mtprep build")
	default:
		add(CheckOS, Fail, fmt.Sprintf("%q is not CentOS 6.6", p.OS), "ASR's Linux master target procedure needs CentOS 6.6 minimal; rebuild with mtprep build")
	}

	wanted, miss := len(packages.Required()), packages.Missing(packages.Required(), p.RPMs)
	if ac.Packages != nil {
		wanted, miss = ac.Packages.Judge(p.PkgLines)
	}
	if ubuntu && s.OS == spec.OSCentOS66 {
		add(CheckPackages, Unknown, "not checked on the Ubuntu-based MT", "check the MT release's own requirements")
	} else if len(miss) == 0 {
		add(CheckPackages, Pass, fmt.Sprintf("%d packages at their minimum versions", wanted), "")
	} else {
		var names []string
		for n, why := range miss {
			names = append(names, n+": "+why)
		}
		slices.Sort(names)
		add(CheckPackages, Fail, strings.Join(names, "; "), "mtprep build --phases packages")
	}

	switch {
	case p.Multipathd && p.MultipathdEnabled:
		add(CheckMultipathd, Pass, "multipathd is running and on at boot", "")
	case p.Multipathd:
		add(CheckMultipathd, Warn, "multipathd is running but not on at boot: it stops after a reboot", "chkconfig multipathd on")
	default:
		add(CheckMultipathd, Fail, "multipathd is not running", "service multipathd start; chkconfig multipathd on (or mtprep build --phases packages)")
	}

	switch {
	case p.ACCDone != "" && p.ACCReboot == "":
		add(CheckACC, Pass, "ran once at "+p.ACCDone+", rebooted since", "")
	case p.ACCDone != "":
		add(CheckACC, Fail, "ran at "+p.ACCDone+" but the MT was not rebooted since", "reboot the MT")
	case p.ACCStarted != "":
		add(CheckACC, Fail, "started at "+p.ACCStarted+" and never recorded completion", "check the MT, then mtprep build --phases agent --apply-custom-changes=mark-done or =run-again")
	default:
		add(CheckACC, Warn, "no mtprep record of ApplyCustomChanges.sh in /root/.mtprep (an MT mtprep did not prepare?)", "confirm it ran exactly once and the MT rebooted since, or run mtprep build --phases agent")
	}

	out = append(out, retentionFindings(s, p, ac)...)

	switch {
	case len(p.NICs) == 0:
		add(CheckHosts, Fail, "no IPv4 address on any NIC", "configure the MT's network (network.ip)")
	case slices.Equal(p.NICs, p.Hosts):
		add(CheckHosts, Pass, fmt.Sprintf("%s resolves to %s in /etc/hosts", s.Network.Hostname, strings.Join(p.NICs, ", ")), "")
	default:
		add(CheckHosts, Fail, fmt.Sprintf("/etc/hosts maps %s to %v, the NICs have %v", s.Network.Hostname, p.Hosts, p.NICs), "mtprep build --phases handoff (maps the host name to every NIC address)")
	}

	cs := fmt.Sprintf("%s:%d", s.ConfigServer.IP, s.ConfigServer.Port)
	switch {
	case s.ConfigServer.IP == "":
		add(CheckConfigServer, Unknown, "configServer.ip is not in the spec", "add configServer.ip")
	case p.CSReachable:
		add(CheckConfigServer, Pass, cs+" answers from the MT", "")
	default:
		add(CheckConfigServer, Fail, cs+" does not answer from the MT", "check the configuration server is up, and routing and firewalls between it and the MT (ASR: telnet <CS IP> 443)")
	}

	csv := s.ConfigServer.Version
	switch {
	case !p.VxFile:
		add(CheckAgent, Fail, "no agent installed (/usr/local/.vx_version missing)", "mtprep build --phases agent,handoff")
	case p.VxVersion == "":
		add(CheckAgent, Fail, "/usr/local/.vx_version holds no version (a broken install?)", "reinstall the agent: mtprep build --phases handoff")
	case csv != "" && newer(p.VxVersion, csv):
		add(CheckAgent, Fail, fmt.Sprintf("agent %s is newer than the configuration server's %s", p.VxVersion, csv), "upgrade the configuration server first, or install the agent version that matches it")
	case csv != "":
		add(CheckAgent, Pass, fmt.Sprintf("agent %s, configuration server %s", p.VxVersion, csv), "")
	default:
		add(CheckAgent, Pass, "agent "+p.VxVersion+" (configuration server version not given, not compared)", "")
	}
	return applyNA(out, p.NA)
}

// retentionFindings are the five retention checks. The volume is judged
// by what is mounted at the spec's mount point; when nothing is, the
// checks that need it are UNKNOWN, so one fault shows as one FAIL.
func retentionFindings(s *spec.Spec, p Probe, ac GuestContext) []Finding {
	var out []Finding
	add := func(id, result, reason, fix string) {
		out = append(out, Finding{Host: s.Name, ID: id, Result: result, Reason: oneLine(reason), Fix: fix})
	}
	mnt := s.Retention.Mountpoint
	const notMounted = "nothing is mounted at the retention mount point"
	fixMounted := "fix " + CheckRetMounted + " first"
	var dev, fstype string
	if len(p.RetMounts) > 0 {
		dev, fstype = p.RetMounts[len(p.RetMounts)-1][0], p.RetMounts[len(p.RetMounts)-1][1]
		add(CheckRetMounted, Pass, fmt.Sprintf("%s (%s) mounted at %s", dev, fstype, mnt), "")
	} else {
		add(CheckRetMounted, Fail, "nothing is mounted at "+mnt, "mount "+mnt+" (or mtprep build --phases retention)")
	}

	switch {
	case len(p.RetFstab) == 0:
		add(CheckRetFstab, Fail, "no /etc/fstab line for "+mnt+": it is not mounted after a reboot", "mtprep build --phases retention (writes the line by WWID)")
	case len(p.RetFstab) > 1:
		add(CheckRetFstab, Fail, fmt.Sprintf("%d /etc/fstab lines for %s", len(p.RetFstab), mnt), "keep one line, naming the disk by /dev/mapper/<wwid>")
	case dev != "" && strings.HasPrefix(p.RetFstab[0][0], "/dev/") && p.RetFstab[0][0] != dev:
		add(CheckRetFstab, Fail, fmt.Sprintf("/etc/fstab mounts %s at %s, but %s is mounted there", p.RetFstab[0][0], mnt, dev), "correct the /etc/fstab line to the mounted device, by /dev/mapper/<wwid>")
	case strings.HasPrefix(p.RetFstab[0][0], "/dev/sd"):
		add(CheckRetFstab, Warn, fmt.Sprintf("/etc/fstab mounts %s by kernel name, which can change at boot", p.RetFstab[0][0]), "name the disk by /dev/mapper/<wwid> in /etc/fstab")
	default:
		add(CheckRetFstab, Pass, fmt.Sprintf("/etc/fstab mounts %s (%s) at %s", p.RetFstab[0][0], p.RetFstab[0][1], mnt), "")
	}

	switch {
	case dev == "":
		add(CheckRetFilesystem, Unknown, notMounted, fixMounted)
	case fstype == "vfat" || fstype == "msdos":
		add(CheckRetFilesystem, Fail, fstype+": ASR does not accept FAT/FAT32 retention volumes", "move the retention volume to ext4 (mtprep build --phases retention on a new disk)")
	case fstype == "ext4":
		add(CheckRetFilesystem, Pass, "ext4", "")
	default:
		add(CheckRetFilesystem, Warn, fstype+", not ext4", "ext4 is what ASR's MT procedure uses")
	}

	switch {
	case dev == "" || p.RetSizeKB == 0:
		add(CheckRetFree, Unknown, notMounted, fixMounted)
	case p.RetFreeKB*100 < p.RetSizeKB*retentionFreeWarnPc:
		add(CheckRetFree, Warn, fmt.Sprintf("%d MB free of %d MB (under %d%%)", p.RetFreeKB>>10, p.RetSizeKB>>10, retentionFreeWarnPc), "grow the retention disk or shorten the retention window")
	default:
		add(CheckRetFree, Pass, fmt.Sprintf("%d MB free of %d MB", p.RetFreeKB>>10, p.RetSizeKB>>10), "")
	}

	switch i := diskIndexByWWID(ac.VMDisks, p.RetWWID); {
	case dev == "":
		add(CheckRetWWID, Unknown, notMounted, fixMounted)
	case len(ac.VMDisks) == 0:
		add(CheckRetWWID, Unknown, "the MT VM's disks are not known from vSphere", "fix the vsphere.* checks, or run without --no-vsphere")
	case p.RetWWID == "":
		add(CheckRetWWID, Fail, dev+" has no /dev/mapper or /dev/disk/by-id WWID name on the MT", "set disk.EnableUUID=TRUE and run multipathd, then mount the disk by /dev/mapper/<wwid>")
	case i == 0:
		add(CheckRetWWID, Fail, fmt.Sprintf("%s (WWID %s) is the MT's OS disk (%s)", dev, p.RetWWID, ac.VMDisks[0].Label), "put the retention volume on its own disk")
	case i < 0:
		add(CheckRetWWID, Fail, fmt.Sprintf("%s has WWID %s, which is none of the MT VM's %d disks", dev, p.RetWWID, len(ac.VMDisks)), "mount one of the MT's own disks, by /dev/mapper/<wwid>")
	default:
		add(CheckRetWWID, Pass, fmt.Sprintf("%s is %s, vSphere UUID %s", p.RetWWID, ac.VMDisks[i].Label, ac.VMDisks[i].UUID), "")
	}
	return out
}

func diskIndexByWWID(disks []VMDiskInfo, wwid string) int {
	if wwid == "" {
		return -1
	}
	for i, d := range disks {
		if vsphere.WWIDFromDiskUUID(d.UUID) == wwid {
			return i
		}
	}
	return -1
}

func newer(a, b string) bool {
	va, err1 := version.NewVersion(a)
	vb, err2 := version.NewVersion(b)
	return err1 == nil && err2 == nil && va.GreaterThan(vb)
}
