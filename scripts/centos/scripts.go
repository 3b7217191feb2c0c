// Package centos holds every line of shell that runs on a CentOS 6.6
// master target, as real files embedded at build time, so it can be read,
// linted and run by hand. Package centos (the OS) is its one user.
// Everything here must run on CentOS 6: bash 4.1, coreutils 8.4,
// util-linux-ng 2.17, no /etc/os-release, upstart with SysV service and
// chkconfig.
package centos

import _ "embed"

// KickstartPost is the body of the kickstart's %post section. The
// kickstart writes the per-MT data (keys) under /tmp/mtprep first; this
// script installs it.
//
//go:embed ks-post.sh
var KickstartPost string

// PackagesState reports installed packages and multipathd's state.
//
//go:embed packages-state.sh
var PackagesState string

// PackagesBundle installs from an uploaded offline bundle.
//
//go:embed packages-bundle.sh
var PackagesBundle string

// PackagesVault installs with yum from CentOS 6.6's vault or a mirror.
//
//go:embed packages-vault.sh
var PackagesVault string

// MultipathEnable enables and starts multipathd.
//
//go:embed multipath-enable.sh
var MultipathEnable string

// AuditProbe is this OS's half of the audit's one read-only probe per
// host; linux.ProbeScript appends the half both Linux MTs share.
//
//go:embed audit-probe.sh
var AuditProbe string

// Release prints the MT's OS release line. CentOS 6 has no
// /etc/os-release; packages-state.sh prints the same line as "release …".
//
//go:embed release.sh
var Release string
