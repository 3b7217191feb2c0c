package provision

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	version "github.com/hashicorp/go-version"

	"github.com/mtprep/mtprep/packages"
)

// Result of one audit check.
const (
	Pass    = "PASS"
	Warn    = "WARN"
	Fail    = "FAIL"
	Unknown = "UNKNOWN"
)

// Finding is one check on one MT: a stable id (documented in
// docs/AUDIT.md), the result, a one-line reason with what was observed,
// and the fix.
type Finding struct {
	Host   string `json:"host"`
	ID     string `json:"id"`
	Result string `json:"result"`
	Reason string `json:"reason"`
	Fix    string `json:"fix,omitempty"`
}

// Probe is the audit probe's output, parsed.
type Probe struct {
	OS          string
	RPMs        packages.Installed
	Multipathd  bool
	ACCStarted  string
	ACCDone     string
	ACCReboot   string
	RetMounts   [][2]string // device, fstype
	RetFstab    [][2]string
	RetSizeKB   int64
	RetFreeKB   int64
	NICs, Hosts []string
	CSReachable bool
	VxVersion   string
}

// ParseProbe reads audit-probe.sh's output.
func ParseProbe(out string) Probe {
	p := Probe{RPMs: packages.Installed{}}
	var rpmLines []string
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		f := strings.Fields(v)
		switch k {
		case "os":
			p.OS = v
		case "rpm":
			rpmLines = append(rpmLines, v)
		case "multipathd":
			p.Multipathd = v == "running"
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
		case "nic":
			p.NICs = append(p.NICs, v)
		case "hosts":
			p.Hosts = append(p.Hosts, v)
		case "cs":
			p.CSReachable = v == "reachable"
		case "vx_version":
			p.VxVersion = parseVxVersion(strings.ReplaceAll(v, " ", "\n"))
			if p.VxVersion == "" {
				p.VxVersion = strings.TrimSpace(v)
			}
		}
	}
	p.RPMs = packages.ParseRPMQuery(strings.Join(rpmLines, "\n"))
	slices.Sort(p.NICs)
	slices.Sort(p.Hosts)
	return p
}

// guestAuditIDs are the guest checks, in report order; UnreachableFindings
// marks each UNKNOWN when the MT cannot be reached.
func guestAuditIDs() []string {
	return []string{"guest.os", "guest.packages", "guest.multipathd", "guest.applycustomchanges", "guest.retention.mounted",
		"guest.retention.fstab", "guest.retention.filesystem", "guest.retention.free", "guest.retention.wwid", "guest.hosts",
		"guest.configserver", "guest.agent"}
}

// UnreachableFindings is the guest part of the report for an MT that SSH
// cannot reach: FAIL for reachability, UNKNOWN for the rest.
func UnreachableFindings(host string, err error) []Finding {
	out := []Finding{{Host: host, ID: "guest.reachable", Result: Fail, Reason: err.Error(), Fix: "check that the MT is powered on, its address and ssh.hostKey / known_hosts"}}
	for _, id := range guestAuditIDs() {
		out = append(out, Finding{Host: host, ID: id, Result: Unknown, Reason: "the MT could not be reached over SSH"})
	}
	return out
}

// AuditContext is what the guest checks compare the probe with.
type AuditContext struct {
	// RetentionUUID is the vSphere UUID of the retention disk, when known.
	RetentionUUID string
	// CSAgentVersion is the configuration server's version, when known.
	CSAgentVersion string
}

// GuestFindings turns a probe into checks. Pure: tested with probe text.
func GuestFindings(s *Spec, p Probe, ac AuditContext) []Finding {
	host := s.Name
	var out []Finding
	add := func(id, result, reason, fix string) {
		out = append(out, Finding{Host: host, ID: id, Result: result, Reason: reason, Fix: fix})
	}

	// OS.
	switch info, err := ParseRelease(p.OS); {
	case err == nil && info.ID == "centos" && info.Version == "6.6":
		add("guest.os", Pass, p.OS, "")
	case strings.HasPrefix(p.OS, "Ubuntu"):
		add("guest.os", Warn, p.OS+": a newer Ubuntu-based MT release; this audit's package checks are CentOS 6.6's", "")
	default:
		add("guest.os", Fail, fmt.Sprintf("%q is not CentOS 6.6", p.OS), "ASR's Linux master target procedure needs CentOS 6.6 minimal; rebuild with mtprep build")
	}

	// Packages.
	if strings.HasPrefix(p.OS, "Ubuntu") {
		add("guest.packages", Unknown, "not checked on Ubuntu", "")
	} else if miss := packages.Missing(packages.Required(), p.RPMs); len(miss) == 0 {
		add("guest.packages", Pass, fmt.Sprintf("%d packages at their minimum versions", len(packages.Required())), "")
	} else {
		var names []string
		for n, why := range miss {
			names = append(names, n+": "+why)
		}
		slices.Sort(names)
		add("guest.packages", Fail, strings.Join(names, "; "), "mtprep build --phases packages")
	}

	if p.Multipathd {
		add("guest.multipathd", Pass, "multipathd is running", "")
	} else {
		add("guest.multipathd", Fail, "multipathd is not running", "service multipathd start; chkconfig multipathd on (or mtprep build --phases packages)")
	}

	switch {
	case p.ACCDone != "" && p.ACCReboot == "":
		add("guest.applycustomchanges", Pass, "ran once at "+p.ACCDone+", rebooted since", "")
	case p.ACCDone != "":
		add("guest.applycustomchanges", Fail, "ran at "+p.ACCDone+" but the MT was not rebooted since", "reboot the MT")
	case p.ACCStarted != "":
		add("guest.applycustomchanges", Fail, "started at "+p.ACCStarted+" and never recorded completion", "check the MT, then mtprep build --phases agent --apply-custom-changes=mark-done or =run-again")
	default:
		add("guest.applycustomchanges", Warn, "no mtprep record of ApplyCustomChanges.sh (an MT mtprep did not prepare?)", "confirm it ran exactly once, or run mtprep build --phases agent")
	}

	mnt := s.Retention.Mountpoint
	var dev, fstype string
	if len(p.RetMounts) > 0 {
		dev, fstype = p.RetMounts[len(p.RetMounts)-1][0], p.RetMounts[len(p.RetMounts)-1][1]
		add("guest.retention.mounted", Pass, fmt.Sprintf("%s mounted at %s", dev, mnt), "")
	} else {
		add("guest.retention.mounted", Fail, "nothing is mounted at "+mnt, "mount "+mnt+" (or mtprep build --phases retention)")
	}
	if len(p.RetFstab) > 0 {
		add("guest.retention.fstab", Pass, fmt.Sprintf("/etc/fstab mounts %s at %s", p.RetFstab[0][0], mnt), "")
	} else {
		add("guest.retention.fstab", Fail, "no /etc/fstab line for "+mnt+": it will not come back after a reboot", "mtprep build --phases retention")
	}
	switch {
	case dev == "":
		add("guest.retention.filesystem", Unknown, "not mounted", "")
	case fstype == "vfat" || fstype == "msdos":
		add("guest.retention.filesystem", Fail, fstype+": ASR does not accept FAT/FAT32 retention volumes", "move the retention volume to ext4")
	case fstype == "ext4":
		add("guest.retention.filesystem", Pass, "ext4", "")
	default:
		add("guest.retention.filesystem", Warn, fstype+", not ext4", "ext4 is what the MT procedure uses")
	}
	switch {
	case dev == "" || p.RetSizeKB == 0:
		add("guest.retention.free", Unknown, "not mounted", "")
	case p.RetFreeKB*10 < p.RetSizeKB:
		add("guest.retention.free", Warn, fmt.Sprintf("%d MB free of %d MB (under 10%%)", p.RetFreeKB>>10, p.RetSizeKB>>10), "grow the retention disk or shorten retention")
	default:
		add("guest.retention.free", Pass, fmt.Sprintf("%d MB free of %d MB", p.RetFreeKB>>10, p.RetSizeKB>>10), "")
	}
	want := WWIDFromDiskUUID(ac.RetentionUUID)
	switch {
	case dev == "":
		add("guest.retention.wwid", Unknown, "not mounted", "")
	case want == "":
		add("guest.retention.wwid", Unknown, "the retention disk's vSphere UUID is not known", "")
	case strings.HasSuffix(dev, "/"+want) || strings.HasSuffix(dev, "-"+want):
		add("guest.retention.wwid", Pass, fmt.Sprintf("%s is vSphere disk %s", dev, ac.RetentionUUID), "")
	default:
		add("guest.retention.wwid", Fail, fmt.Sprintf("%s is mounted, but the retention disk is %s (WWID %s)", dev, ac.RetentionUUID, want), "mount the disk by its WWID: /dev/mapper/"+want)
	}

	switch {
	case len(p.NICs) == 0:
		add("guest.hosts", Fail, "no IPv4 address on any NIC", "")
	case slices.Equal(p.NICs, p.Hosts):
		add("guest.hosts", Pass, fmt.Sprintf("%s resolves to %s in /etc/hosts", s.Network.Hostname, strings.Join(p.NICs, ", ")), "")
	default:
		add("guest.hosts", Fail, fmt.Sprintf("/etc/hosts maps %s to %v, NICs have %v", s.Network.Hostname, p.Hosts, p.NICs), "mtprep build --phases handoff")
	}

	if p.CSReachable {
		add("guest.configserver", Pass, fmt.Sprintf("%s:%d answers", s.ConfigServer.IP, s.ConfigServer.Port), "")
	} else {
		add("guest.configserver", Fail, fmt.Sprintf("%s:%d does not answer from the MT", s.ConfigServer.IP, s.ConfigServer.Port), "check routing and firewalls between the MT and the configuration server (port 443)")
	}

	switch {
	case p.VxVersion == "":
		add("guest.agent", Fail, "no agent installed (/usr/local/.vx_version missing)", "mtprep build --phases agent,handoff")
	case ac.CSAgentVersion != "" && newer(p.VxVersion, ac.CSAgentVersion):
		add("guest.agent", Fail, fmt.Sprintf("agent %s is newer than the configuration server's %s", p.VxVersion, ac.CSAgentVersion), "upgrade the configuration server first, or install the matching agent")
	default:
		add("guest.agent", Pass, "agent "+p.VxVersion, "")
	}
	return out
}

func newer(a, b string) bool {
	va, err1 := version.NewVersion(a)
	vb, err2 := version.NewVersion(b)
	return err1 == nil && err2 == nil && va.GreaterThan(vb)
}
