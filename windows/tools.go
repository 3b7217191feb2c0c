package windows

import (
	"context"
	"fmt"
	"strings"

	"github.com/mtprep/mtprep/provision/guest"
	scripts "github.com/mtprep/mtprep/scripts/windows"
)

// Tools installs VMware Tools in a Windows guest from the VMware Tools CD
// the ESXi host mounts (the tools phase's vSphere half,
// MountToolsInstaller): setup64.exe /S /v "/qn REBOOT=R". The offline
// bundle and packages.repos are Linux's: src is not used.
type Tools struct{}

// Package and service names, as tools-state.ps1 prints them.
const (
	ToolsPackage = "vmware-tools"
	ToolsService = "VMTools"
)

// Known lists the Tools package and its service.
func (Tools) Known() []string { return []string{ToolsPackage, ToolsService} }

// StartText is what starting the service does.
func (Tools) StartText() string {
	return "set the VMTools service to start automatically, and start it now"
}

// InstallText says where the Tools come from.
func (Tools) InstallText(src guest.PackageSource) string {
	return `install VMware Tools from the VMware Tools CD the ESXi host mounts (setup64.exe /S /v "/qn REBOOT=R", found by the volume label "VMware Tools")`
}

// Read reads the VMware Tools product and the VMTools service.
func (Tools) Read(ctx context.Context, r guest.Runner) (guest.ToolsState, error) {
	out, err := r.Script(ctx, scripts.ToolsState, nil)
	if err != nil {
		return guest.ToolsState{}, fmt.Errorf("reading VMware Tools in the guest: %w", err)
	}
	return ParseToolsState(string(out)), nil
}

// ParseToolsState reads tools-state.ps1's lines.
func ParseToolsState(out string) guest.ToolsState {
	var st guest.ToolsState
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "pkg" && f[1] == ToolsPackage && st.Package == "":
			st.Package, st.Version = f[1], f[2]
		case len(f) == 4 && f[0] == "svc" && f[1] == ToolsService:
			st.Service = ToolsService
			switch f[2] {
			case "enabled":
				st.Enabled = f[3] == "yes"
			case "running":
				st.Running = f[3] == "yes"
			}
		}
	}
	if st.Package != "" {
		st.Service = ToolsService
	}
	return st
}

// Install runs setup64.exe from the mounted VMware Tools CD.
func (Tools) Install(ctx context.Context, r guest.Runner, src guest.PackageSource, env guest.Env) (string, error) {
	if _, err := r.Script(ctx, scripts.ToolsInstall, nil); err != nil {
		return "", fmt.Errorf("installing VMware Tools from the VMware Tools CD (mount it with the VM's Install VMware Tools action, or let the tools phase mount it): %w", err)
	}
	return ToolsPackage, nil
}

// Start sets the service to start automatically and starts it.
func (Tools) Start(ctx context.Context, r guest.Runner, service string) error {
	if _, err := r.Script(ctx, scripts.ToolsEnable, nil, service); err != nil {
		return fmt.Errorf("enabling and starting %s: %w", service, err)
	}
	return nil
}

// HostInstaller: Windows takes VMware Tools from the ESXi host's installer
// (setup64.exe on the CD-ROM the tools phase mounts).
func (Tools) HostInstaller(guest.PackageSource) bool { return true }
