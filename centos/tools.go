package centos

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mtprep/mtprep/linux"
	"github.com/mtprep/mtprep/packages"
	"github.com/mtprep/mtprep/provision/guest"
	scripts "github.com/mtprep/mtprep/scripts/centos"
)

// Tools installs VMware Tools on CentOS 6.6: open-vm-tools (EPEL 6) or
// VMware's vmware-tools-esx-nox OSP packages, from the offline bundle, or
// open-vm-tools with yum from packages.repos (tools.source: packages); or
// from the ESXi host's own installer (tools.source: host): the tools phase
// mounts the VMware Tools CD (MountToolsInstaller), tools-host-install.sh
// runs vmware-install.pl --default from its tarball, and the phase
// unmounts the CD again.
type Tools struct{}

// HostRouteNote is what plans and errors say about the route not taken
// when Tools come from the packages source.
const HostRouteNote = "or set tools.source: host to install from the ESXi host's VMware Tools installer"

// Known lists the Tools packages, in the order they are preferred, each
// with its service; the tar install of the host's installer comes last
// (it is read only when no Tools RPM is installed).
func (Tools) Known() []string {
	return append(rpmTools(), packages.ToolsTar.Name, packages.ToolsTar.Service)
}

// rpmTools lists the Tools RPMs and their services.
func rpmTools() []string {
	var out []string
	for _, tp := range packages.Tools() {
		out = append(out, tp.Name, tp.Service)
	}
	return out
}

// StartText is what starting the service does.
func (Tools) StartText() string {
	return "start its service at boot (chkconfig vmtoolsd on, or vmware-tools for the host's installer; the OSP's vmware-tools-services starts by upstart) and now"
}

// InstallText says where the Tools package will come from.
func (Tools) InstallText(src guest.PackageSource) string {
	if src.ToolsFromHost {
		return "install VMware Tools from the ESXi host's installer: mount the VMware Tools CD in the VM (MountToolsInstaller), mount it read-only in the guest (volume label \"VMware Tools\"), unpack its VMwareTools-*.tar.gz and run vmware-tools-distrib/vmware-install.pl --default, then unmount it in the guest and take it out of the VM (UnmountToolsInstaller)"
	}
	names := make([]string, 0, len(packages.Tools()))
	for _, tp := range packages.Tools() {
		names = append(names, tp.Name)
	}
	if src.Kind == "vault" {
		return "install open-vm-tools with yum from packages.repos (EPEL 6 has it; " + HostRouteNote + ")"
	}
	return fmt.Sprintf("install VMware Tools (%s) from the offline bundle %s (%s)", strings.Join(names, " or "), filepath.Base(src.Bundle), HostRouteNote)
}

// Read reads the first installed Tools package (in packages.Tools order,
// then the host installer's tar install) and its service.
func (Tools) Read(ctx context.Context, r guest.Runner) (guest.ToolsState, error) {
	args := append(rpmTools(), "--tar", packages.ToolsTar.Name, packages.ToolsTar.Service)
	out, err := r.Script(ctx, scripts.ToolsState, nil, args...)
	if err != nil {
		return guest.ToolsState{}, fmt.Errorf("reading VMware Tools in the guest: %w", err)
	}
	return ParseToolsState(string(out)), nil
}

// ParseToolsState reads tools-state.sh's output.
func ParseToolsState(out string) guest.ToolsState {
	var st guest.ToolsState
	svcOf := map[string]string{}
	for _, tp := range append(packages.Tools(), packages.ToolsTar) {
		svcOf[tp.Name] = tp.Service
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "pkg" && st.Package == "" && svcOf[f[1]] != "":
			st.Package, st.Version, st.Service = f[1], f[2], svcOf[f[1]]
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

// Install installs VMware Tools and returns the package, RPM file or
// installer tarball installed. With src.ToolsFromHost the tools phase has
// mounted the host's installer in the VM's CD-ROM.
func (Tools) Install(ctx context.Context, r guest.Runner, src guest.PackageSource, env guest.Env) (string, error) {
	if src.ToolsFromHost {
		out, err := r.Script(ctx, scripts.ToolsHostInstall, nil)
		if err != nil {
			return "", fmt.Errorf("installing VMware Tools from the ESXi host's installer (the VMware Tools CD; vmware-install.pl refuses while an open-vm-tools RPM is installed): %w", err)
		}
		lines := strings.Fields(strings.TrimSpace(string(out)))
		if len(lines) == 0 {
			return "", fmt.Errorf("the host's VMware Tools installer ran but named no tarball")
		}
		return lines[len(lines)-1], nil
	}
	if src.Kind == "vault" {
		if _, err := r.Script(ctx, scripts.PackagesVault, nil, yumArgs(src, "open-vm-tools")...); err != nil {
			return "", fmt.Errorf("installing open-vm-tools with yum (for el6 it is in EPEL: add an EPEL 6 mirror, e.g. https://archives.fedoraproject.org/pub/archive/epel/6/x86_64/, to packages.repos, %s): %w", HostRouteNote, err)
		}
		return "open-vm-tools", nil
	}
	rpms, err := packages.ReadBundle(ctx, src.Bundle)
	if err != nil {
		return "", err
	}
	tp, rpm, ok := packages.ToolsIn(rpms)
	if !ok {
		var from []string
		for _, tp := range packages.Tools() {
			from = append(from, tp.Name+" from "+tp.From)
		}
		return "", fmt.Errorf("the offline bundle %s has no VMware Tools RPM: add %s (with what it needs) and rebuild it with mtprep bundle, %s", src.Bundle, strings.Join(from, ", or "), HostRouteNote)
	}
	// The packages phase uploaded the same bundle: Upload skips a file
	// whose size and sha256 match.
	remote, err := linux.UploadBundle(ctx, r, src, env)
	if err != nil {
		return "", err
	}
	if _, err := r.Script(ctx, scripts.PackagesBundle, nil, remote, linux.WorkDir+"/bundle", tp.Name); err != nil {
		return "", fmt.Errorf("installing %s from the bundle: %w", rpm.File, err)
	}
	return rpm.File, nil
}

// Start enables the service at boot and starts it.
func (Tools) Start(ctx context.Context, r guest.Runner, service string) error {
	if _, err := r.Script(ctx, scripts.ToolsEnable, nil, service); err != nil {
		return fmt.Errorf("enabling and starting %s: %w", service, err)
	}
	return nil
}

// HostInstaller: the ESXi host's installer when tools.source is host;
// otherwise Tools come from the packages source.
func (Tools) HostInstaller(src guest.PackageSource) bool { return src.ToolsFromHost }
