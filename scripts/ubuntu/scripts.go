// Package ubuntu holds every line of shell that runs on an Ubuntu 16.04
// master target, as real files embedded at build time, so it can be read,
// linted and run by hand. Package ubuntu (the OS) is its one user.
// Everything here must run on Ubuntu 16.04.2 server amd64: bash 4.3 (sh is
// dash), coreutils 8.25, util-linux 2.27.1, dpkg 1.18, apt 1.2, systemd
// 229 (systemctl), /etc/os-release and lsb_release. The scripts shared in
// spirit with CentOS (agent, lock, retention, hosts) are copies of
// scripts/centos adapted here, so each OS's shell can change alone.
package ubuntu

import _ "embed"

// LateCommand is the body of the preseed's late_command, run in-target.
// The preseed prepends the data variables.
//
//go:embed late-command.sh
var LateCommand string

// Release prints "ID VERSION_ID|lsb_release -ds|uname -r".
//
//go:embed release.sh
var Release string

// PackagesState reports the release, installed packages, holds and
// multipathd's state.
//
//go:embed packages-state.sh
var PackagesState string

// PackagesBundle installs .debs from an uploaded offline bundle.
//
//go:embed packages-bundle.sh
var PackagesBundle string

// PackagesApt installs with apt-get from the repositories the spec names.
//
//go:embed packages-apt.sh
var PackagesApt string

// MultipathEnable enables and starts multipathd (systemctl).
//
//go:embed multipath-enable.sh
var MultipathEnable string

// ToolsState reports open-vm-tools and its unit.
//
//go:embed tools-state.sh
var ToolsState string

// ToolsEnable enables the VMware Tools unit and starts it.
//
//go:embed tools-enable.sh
var ToolsEnable string

// AuditProbe is this OS's half of the audit's one read-only probe per
// host; linux.ProbeScript appends the half both Linux MTs share.
//
//go:embed audit-probe.sh
var AuditProbe string
