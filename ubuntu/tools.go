package ubuntu

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mtprep/mtprep/packages"
	"github.com/mtprep/mtprep/provision/guest"
	scripts "github.com/mtprep/mtprep/scripts/ubuntu"
)

// Tools installs VMware Tools on Ubuntu 16.04: open-vm-tools (xenial/main,
// VMware's recommended Tools for it) from the offline bundle or with
// apt-get from packages.repos; its systemd unit is open-vm-tools.
type Tools struct{}

// ToolsName and ToolsService are the Tools package and its unit.
const (
	ToolsName    = "open-vm-tools"
	ToolsService = "open-vm-tools"
)

// Known lists the Tools packages and services.
func (Tools) Known() []string { return []string{ToolsName, ToolsService} }

// StartText is what starting the service does.
func (Tools) StartText() string {
	return "start its service at boot and now (systemctl enable open-vm-tools; systemctl start open-vm-tools)"
}

// InstallText says where the Tools package will come from.
func (Tools) InstallText(src guest.PackageSource) string {
	if src.Kind != "bundle" {
		return "install open-vm-tools with apt-get from packages.repos (xenial main has it)"
	}
	return fmt.Sprintf("install open-vm-tools from the offline bundle %s", filepath.Base(src.Bundle))
}

// Read reads open-vm-tools and its unit.
func (t Tools) Read(ctx context.Context, r guest.Runner) (guest.ToolsState, error) {
	out, err := r.Script(ctx, scripts.ToolsState, nil, t.Known()...)
	if err != nil {
		return guest.ToolsState{}, fmt.Errorf("reading VMware Tools in the guest: %w", err)
	}
	return ParseToolsState(string(out)), nil
}

// ParseToolsState reads tools-state.sh's output.
func ParseToolsState(out string) guest.ToolsState {
	var st guest.ToolsState
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "pkg" && st.Package == "" && f[1] == ToolsName:
			st.Package, st.Version, st.Service = f[1], f[2], ToolsService
		case len(f) == 4 && f[0] == "svc" && f[1] == st.Service && st.Service != "":
			switch f[2] {
			case "enabled":
				st.Enabled = f[3] == "yes"
			case "running":
				st.Running = f[3] == "yes"
			}
		}
	}
	return st
}

// Install installs open-vm-tools and returns the package or .deb file.
func (Tools) Install(ctx context.Context, r guest.Runner, src guest.PackageSource, env guest.Env) (string, error) {
	if src.Kind != "bundle" {
		if err := installDebs(ctx, r, src, env, ToolsName); err != nil {
			return "", fmt.Errorf("installing open-vm-tools: %w", err)
		}
		return ToolsName, nil
	}
	debs, err := packages.ReadDebBundle(ctx, src.Bundle, Required())
	if err != nil {
		return "", err
	}
	var file string
	for _, d := range debs {
		if d.Package == ToolsName {
			file = d.File
		}
	}
	if file == "" {
		return "", fmt.Errorf("the offline bundle %s has no open-vm-tools .deb: add open-vm-tools (xenial main, with what it needs) and rebuild it with mtprep bundle", src.Bundle)
	}
	if err := installDebs(ctx, r, src, env, ToolsName); err != nil {
		return "", fmt.Errorf("installing %s: %w", file, err)
	}
	return file, nil
}

// Start enables the unit at boot and starts it.
func (Tools) Start(ctx context.Context, r guest.Runner, service string) error {
	if _, err := r.Script(ctx, scripts.ToolsEnable, nil, service); err != nil {
		return fmt.Errorf("enabling and starting %s: %w", service, err)
	}
	return nil
}

// HostInstaller is false: open-vm-tools comes from the packages source.
func (Tools) HostInstaller(guest.PackageSource) bool { return false }
