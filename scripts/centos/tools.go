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
