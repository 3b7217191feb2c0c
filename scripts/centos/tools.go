package centos

import _ "embed"

// ToolsState reports the VMware Tools packages installed and their
// services.
//
//go:embed tools-state.sh
var ToolsState string

// ToolsEnable enables the VMware Tools service at boot and starts it.
//
//go:embed tools-enable.sh
var ToolsEnable string

// ToolsHostInstall installs VMware Tools from the ESXi host's installer
// on the VMware Tools CD (vmware-install.pl --default) and prints the
// tarball's name.
//
//go:embed tools-host-install.sh
var ToolsHostInstall string
