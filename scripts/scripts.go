// Package scripts holds the shell that runs on the master target, as real
// files embedded at build time, so it can be read, linted and run by hand.
// Everything here must run on CentOS 6: bash 4.1, coreutils 8.4,
// util-linux-ng 2.17, no /etc/os-release, upstart with SysV service and
// chkconfig.
package scripts

import _ "embed"

// KickstartPost is the body of the kickstart's %post section. The
// kickstart writes the per-MT data (keys) under /tmp/mtprep first; this
// script installs it.
//
//go:embed ks-post.sh
var KickstartPost string
