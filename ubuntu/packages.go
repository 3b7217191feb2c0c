package ubuntu

import (
	"context"
	"fmt"
	"strings"

	"github.com/mtprep/mtprep/linux"
	"github.com/mtprep/mtprep/packages"
	"github.com/mtprep/mtprep/provision/guest"
	scripts "github.com/mtprep/mtprep/scripts/ubuntu"
)

// Required is the Ubuntu 16.04 MT's package list, from ASR's procedure
// (`apt-get install -y multipath-tools lsscsi python-pyasn1 lvm2 kpartx`;
// open-vm-tools is the Tools part's). Minimums are xenial's release
// pocket: multipath-tools and kpartx (one source) checked against
// ubuntu.pkgs.org's xenial/main page (0.5.0+git1.656f8865-5ubuntu2;
// xenial-updates has -5ubuntu2.5); lsscsi, python-pyasn1 and lvm2 are
// from memory of the xenial archive and not checked here.
func Required() []packages.Package {
	return []packages.Package{
		{Name: "multipath-tools", Min: "0.5.0+git1.656f8865-5ubuntu2", Why: "disks by WWID (disk.EnableUUID), multipathd"},
		{Name: "lsscsi", Min: "0.27-3", Why: "disk discovery"},
		{Name: "python-pyasn1", Min: "0.1.9-1", Why: "the agent's scripts"},
		{Name: "lvm2", Min: "2.02.133-1ubuntu10", Why: "protect sources with LVM volumes"},
		{Name: "kpartx", Min: "0.5.0+git1.656f8865-5ubuntu2", Why: "partition maps of protected disks"},
	}
}

// KernelHolds are the kernel meta-packages the preseed holds (besides the
// installed kernel's own packages): no kernel upgrade may move the MT off
// ASR's kernel list.
func KernelHolds() []string {
	return []string{"linux-generic", "linux-image-generic", "linux-headers-generic"}
}

// Packages installs the .debs of Required (from the offline bundle, or
// with apt-get from the archive the spec names) and enables multipathd.
type Packages struct{}

// Names lists the manifest's packages.
func (Packages) Names() []string { return packages.Names(Required()) }

const multipathFix = "enable and start multipathd (systemctl enable multipathd; systemctl start multipathd; maps named by WWID)"

// ServiceFix is what enabling multipathd does.
func (Packages) ServiceFix() string { return multipathFix }

// State is what packages-state.sh reports besides guest.PackageState: the
// holds (apt-mark showhold).
type State struct {
	guest.PackageState
	Held []string
}

// Read reads the packages, multipathd and (first line) the release in one
// script.
func (p Packages) Read(ctx context.Context, r guest.Runner) (guest.PackageState, error) {
	st, err := p.ReadState(ctx, r)
	return st.PackageState, err
}

// ReadState is Read with the holds.
func (p Packages) ReadState(ctx context.Context, r guest.Runner) (State, error) {
	out, err := r.Script(ctx, scripts.PackagesState, nil, append(p.Names(), KernelHolds()...)...)
	if err != nil {
		return State{}, err
	}
	return ParsePackageState(string(out)), nil
}

// ParsePackageState reads packages-state.sh's output.
func ParsePackageState(out string) State {
	st := State{PackageState: guest.PackageState{Wanted: len(Required())}}
	mp := guest.ServiceState{Name: "multipathd", Fix: multipathFix}
	var debLines []string
	for _, line := range strings.Split(out, "\n") {
		if rel, ok := strings.CutPrefix(line, "release "); ok && st.Release == "" {
			st.Release = Release{}.Parse(rel).Line
		}
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "deb":
			debLines = append(debLines, f[1]+" "+f[2])
		case len(f) == 2 && f[0] == "hold":
			st.Held = append(st.Held, f[1])
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
	st.Missing = packages.MissingDeb(Required(), packages.ParseDpkgQuery(strings.Join(debLines, "\n")))
	st.Services = []guest.ServiceState{mp}
	return st
}

// Install installs what st lacks and enables multipathd when needed.
func (Packages) Install(ctx context.Context, r guest.Runner, st guest.PackageState, src guest.PackageSource, env guest.Env) error {
	return linux.InstallMissing(ctx, r, st, func(names ...string) error { return installDebs(ctx, r, src, env, names...) }, scripts.MultipathEnable)
}

// SourceApt is the packages source that installs with apt-get from
// src.Repos (sources.list lines or archive URLs); "vault" is taken the
// same way, as the CentOS name for a repository list.
const SourceApt = "apt"

// installDebs installs names from the bundle (uploaded, sha256-checked;
// a bundle already on the MT is not sent again) or with apt-get.
func installDebs(ctx context.Context, r guest.Runner, src guest.PackageSource, env guest.Env, names ...string) error {
	switch src.Kind {
	case "bundle":
		// Check the bundle here first: a bad one fails before any upload.
		if _, err := packages.ReadDebBundle(ctx, src.Bundle, Required()); err != nil {
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
	case SourceApt, "vault":
		if len(src.Repos) == 0 {
			return fmt.Errorf("packages source %s needs packages.repos: sources.list lines (deb http://archive.ubuntu.com/ubuntu xenial main universe) or archive URLs", src.Kind)
		}
		if _, err := r.Script(ctx, scripts.PackagesApt, nil, aptArgs(src, names...)...); err != nil {
			return fmt.Errorf("installing with apt-get: %w", err)
		}
	default:
		return fmt.Errorf("packages source %q: use bundle or apt", src.Kind)
	}
	return nil
}

func aptArgs(src guest.PackageSource, names ...string) []string {
	return append(append(append([]string{}, src.Repos...), "--"), names...)
}

// Judge reads the probe's deb lines ("NAME VERSION") against Required.
func (Packages) Judge(lines []string) (int, map[string]string) {
	return len(Required()), packages.MissingDeb(Required(), packages.ParseDpkgQuery(strings.Join(lines, "\n")))
}
