// Package linux holds the shell that runs unchanged on both Linux master
// targets, CentOS 6.6 and Ubuntu 16.04, as real files embedded at build
// time; packages centos and ubuntu (the OSes) use it beside their own
// scripts (scripts/centos, scripts/ubuntu). Everything here must run on
// the older of the two: bash 4.1, coreutils 8.4, util-linux-ng 2.17, no
// /etc/os-release.
package linux

import _ "embed"

// AgentApply unpacks the agent and runs ApplyCustomChanges.sh once.
//
//go:embed agent-apply.sh
var AgentApply string

// AgentMarkDone records an interrupted ApplyCustomChanges.sh run as done
// (the operator's decision).
//
//go:embed agent-mark-done.sh
var AgentMarkDone string

// AgentState reports the agent preparation markers.
//
//go:embed agent-state.sh
var AgentState string

// AgentVersion prints the version of the agent installed on the MT.
//
//go:embed agent-version.sh
var AgentVersion string

// AuditProbeCommon is the half of the audit probe both Linux MTs run
// (linux.ProbeScript appends it to the OS's half).
//
//go:embed audit-probe-common.sh
var AuditProbeCommon string

// NetState reports the MT's addresses, its /etc/hosts entries and the
// configuration server's reachability; linux.WithNetState appends it to
// HandoffState and to the audit probe.
//
//go:embed net-state.sh
var NetState string

// GuestLock takes the guest lock; GuestUnlock releases it.
//
//go:embed guest-lock.sh
var GuestLock string

//go:embed guest-unlock.sh
var GuestUnlock string

// HandoffState reports /etc/hosts, the configuration server's reachability
// and the agent's install and registration.
//
//go:embed handoff-state.sh
var HandoffState string

// HostsApply maps the hostname to every NIC address in /etc/hosts.
//
//go:embed hosts-apply.sh
var HostsApply string

// RetentionScan reads a range of the retention disk (O_DIRECT, 4 MiB) and
// reports whether every byte is zero, or the first that is not.
//
//go:embed retention-scan.sh
var RetentionScan string

// RetentionState reports the retention disk's contents and uses.
//
//go:embed retention-state.sh
var RetentionState string

// AgentInstall installs and registers the master target role; the
// passphrase comes on stdin.
//
//go:embed agent-install.sh
var AgentInstall string

// RetentionApply formats (when told), writes fstab and mounts.
//
//go:embed retention-apply.sh
var RetentionApply string
