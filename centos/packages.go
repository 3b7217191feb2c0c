package centos

import (
	"context"
	"fmt"
	"strings"

	"github.com/mtprep/mtprep/linux"
	"github.com/mtprep/mtprep/packages"
	"github.com/mtprep/mtprep/provision/guest"
	scripts "github.com/mtprep/mtprep/scripts/centos"
)

// Packages installs the RPMs of packages.Required (from the offline
// bundle, or with yum from the vault) and enables multipathd.
type Packages struct{}

// Names lists the manifest's packages.
func (Packages) Names() []string { return packages.Names(packages.Required()) }

const multipathFix = "enable and start multipathd (mpathconf --enable, chkconfig multipathd on, service multipathd start)"

// ServiceFix is what enabling multipathd does.
func (Packages) ServiceFix() string { return multipathFix }

// Read reads the packages, multipathd and (first line) the OS release in
// one script: one round trip, and the OS check comes with it.
func (p Packages) Read(ctx context.Context, r guest.Runner) (guest.PackageState, error) {
	out, err := r.Script(ctx, scripts.PackagesState, nil, p.Names()...)
	if err != nil {
		return guest.PackageState{}, err
	}
	return parsePackageState(string(out)), nil
}

func parsePackageState(out string) guest.PackageState {
	st := guest.PackageState{Wanted: len(packages.Required())}
	mp := guest.ServiceState{Name: "multipathd", Fix: multipathFix}
	var rpmLines []string
	for _, line := range strings.Split(out, "\n") {
		if rel, ok := strings.CutPrefix(line, "release "); ok && st.Release == "" {
			st.Release = strings.TrimSpace(rel)
		}
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "rpm":
			rpmLines = append(rpmLines, f[1]+" "+f[2])
		case len(f) == 3 && f[0] == "multipath":
			yes := f[2] == "yes"
			switch f[1] {
			case "conf":
				mp.Configured = yes
			case "enabled":
				mp.Enabled = yes
			case "running":
				mp.Running = yes
			}
		}
	}
	st.Missing = packages.Missing(packages.Required(), packages.ParseRPMQuery(strings.Join(rpmLines, "\n")))
	st.Services = []guest.ServiceState{mp}
	return st
}

// Install installs what st lacks and enables multipathd when needed.
func (Packages) Install(ctx context.Context, r guest.Runner, st guest.PackageState, src guest.PackageSource, env guest.Env) error {
	return linux.InstallMissing(ctx, r, st, func(names ...string) error { return installRPMs(ctx, r, src, env, names...) }, scripts.MultipathEnable)
}

// installRPMs installs names from the bundle (uploaded, sha256-checked;
// a bundle already on the MT is not sent again) or with yum.
func installRPMs(ctx context.Context, r guest.Runner, src guest.PackageSource, env guest.Env, names ...string) error {
	switch src.Kind {
	case "bundle":
		// Check the bundle here first: a bad one fails before any upload.
		if _, err := packages.ReadBundle(ctx, src.Bundle); err != nil {
			return err
		}
		remote, err := linux.UploadBundle(ctx, r, src, env)
		if err != nil {
			return err
		}
		args := append([]string{remote, linux.WorkDir + "/bundle"}, names...)
		if _, err := r.Script(ctx, scripts.PackagesBundle, nil, args...); err != nil {
			return fmt.Errorf("installing from the bundle: %w", err)
		}
	case "vault":
		if _, err := r.Script(ctx, scripts.PackagesVault, nil, yumArgs(src, names...)...); err != nil {
			return fmt.Errorf("installing with yum: %w", err)
		}
	default:
		return fmt.Errorf("packages source %q: use bundle or vault", src.Kind)
	}
	return nil
}

func yumArgs(src guest.PackageSource, names ...string) []string {
	gpg := "1"
	if !src.GPGCheck {
		gpg = "0"
	}
	return append(append(append([]string{gpg}, src.Repos...), "--"), names...)
}

// Judge reads the probe's rpm lines against the package list.
func (Packages) Judge(lines []string) (int, map[string]string) {
	return len(packages.Required()), packages.Missing(packages.Required(), packages.ParseRPMQuery(strings.Join(lines, "\n")))
}
