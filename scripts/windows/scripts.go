// Package windows holds every line of PowerShell that runs on a Windows
// Server 2016 master target, as real files embedded at build time, so it
// can be read, linted and run by hand. Package windows (the OS) is its one
// user. Everything here must run on Windows PowerShell 5.1 (Windows
// Server 2016's), with the Storage, NetTCPIP and NetSecurity modules.
//
// Every script but firstboot.ps1 is run by windows.Shell.Script as a
// script block whose param() takes the arguments Go passes, as
// single-quoted literals; $ErrorActionPreference is Stop, so a failing
// cmdlet ends the script with exit 1 and its message on stderr.
package windows

import (
	_ "embed"
	"strings"
)

// Firstboot runs once at the first logon (autounattend.xml's
// FirstLogonCommands), from the seed: OpenSSH Server, the host key, the
// authorized key, PowerShell as sshd's shell, the firewall rules.
//
//go:embed firstboot.ps1
var Firstboot string

// Release prints the OS release as JSON.
//
//go:embed release.ps1
var Release string

// RetentionState reports the retention disk, its partitions and volumes,
// and what uses it, as JSON.
//
//go:embed retention-state.ps1
var retentionState string

// RetentionState is retention-state.ps1 with rawdisk.ps1 in place.
var RetentionState = include(retentionState)

// RetentionScan reads a range of the retention disk unbuffered.
//
//go:embed retention-scan.ps1
var retentionScan string

// RetentionScan is retention-scan.ps1 with rawdisk.ps1 in place.
var RetentionScan = include(retentionScan)

// RetentionApply formats the retention disk NTFS and gives it its letter.
//
//go:embed retention-apply.ps1
var RetentionApply string

// AgentState reports the agent preparation markers.
//
//go:embed agent-state.ps1
var AgentState string

// AgentApply unpacks the Unified Agent once.
//
//go:embed agent-apply.ps1
var AgentApply string

// AgentMarkDone records an interrupted unpack as done.
//
//go:embed agent-mark-done.ps1
var AgentMarkDone string

// AgentForget removes one agent marker.
//
//go:embed agent-forget.ps1
var AgentForget string

// AgentVersion prints the installed agent's version.
//
//go:embed agent-version.ps1
var AgentVersion string

// AgentInstall installs the MT role and registers it; the passphrase
// comes on stdin.
//
//go:embed agent-install.ps1
var AgentInstall string

// HandoffState reports the hosts file, the configuration server's
// reachability and the agent's install and registration.
//
//go:embed handoff-state.ps1
var HandoffState string

// HostsApply maps the host name to every NIC's address in the hosts file.
//
//go:embed hosts-apply.ps1
var HostsApply string

// ToolsState reports VMware Tools and the VMTools service.
//
//go:embed tools-state.ps1
var ToolsState string

// ToolsInstall runs setup64.exe from the VMware Tools CD.
//
//go:embed tools-install.ps1
var ToolsInstall string

// ToolsEnable starts a service at boot and now.
//
//go:embed tools-enable.ps1
var ToolsEnable string

// AuditProbe is the audit's one read-only probe per host.
//
//go:embed audit-probe.ps1
var AuditProbe string

// GuestLock takes the guest lock; GuestUnlock releases it.
//
//go:embed guest-lock.ps1
var GuestLock string

//go:embed guest-unlock.ps1
var GuestUnlock string

// rawDisk is the MtprepRaw C# block both retention scripts use.
//
//go:embed rawdisk.ps1
var rawDisk string

// include puts rawdisk.ps1 (without its own header comment) where a script
// has the line "#mtprep:include rawdisk.ps1": one copy of the C# block.
func include(script string) string {
	body := rawDisk
	for strings.HasPrefix(body, "#") {
		_, body, _ = strings.Cut(body, "\n")
	}
	return strings.Replace(script, "#mtprep:include rawdisk.ps1\n", body, 1)
}
