package provision

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/mtprep/mtprep/provision/guest"
	"github.com/mtprep/mtprep/provision/spec"
)

// packagesPhase installs the OS's package list (CentOS: the manifest's
// RPMs, from the offline bundle or the vault) and the services the MT
// role needs (multipathd).
type packagesPhase struct{}

func (packagesPhase) Name() string { return "packages" }

func (packagesPhase) OnFreshMT(t *Target) []string {
	p := t.OS.Packages
	return []string{
		fmt.Sprintf("install from %s what the MT lacks of: %s", t.Spec.Packages.Source, strings.Join(p.Names(), ", ")),
		p.ServiceFix(),
	}
}

// packageSource is the spec's packages block as the OS parts take it.
func packageSource(s *spec.Spec) guest.PackageSource {
	return guest.PackageSource{Kind: s.Packages.Source, Bundle: s.Packages.Bundle, Repos: s.Packages.Repos,
		GPGCheck: s.Packages.GPGCheck == nil || *s.Packages.GPGCheck, ToolsFromHost: s.Tools.Source == spec.ToolsFromHost}
}

func packagesDone(s guest.PackageState) bool {
	if len(s.Missing) > 0 {
		return false
	}
	for _, svc := range s.Services {
		if !svc.OK() {
			return false
		}
	}
	return true
}

func packageChanges(s guest.PackageState, src string) []string {
	var out []string
	if len(s.Missing) > 0 {
		names := make([]string, 0, len(s.Missing))
		for n, why := range s.Missing {
			names = append(names, n+" ("+why+")")
		}
		sort.Strings(names)
		out = append(out, fmt.Sprintf("install from %s: %s", src, strings.Join(names, ", ")))
	}
	for _, svc := range s.Services {
		if !svc.OK() {
			out = append(out, svc.Fix)
		}
	}
	return out
}

// readPackageState reads the packages and services, and the OS release
// with them (one round trip; the OS check comes with it).
func readPackageState(ctx context.Context, t *Target) (guest.PackageState, error) {
	if t.OS == nil || t.OS.Packages == nil {
		return guest.PackageState{}, fmt.Errorf("no package part for os %q", t.Spec.OS)
	}
	c, err := t.SSH(ctx)
	if err != nil {
		return guest.PackageState{}, err
	}
	st, err := t.OS.Packages.Read(ctx, c)
	if err != nil {
		return guest.PackageState{}, err
	}
	if t.run.osRelease == "" {
		t.run.osRelease = st.Release
	}
	if _, err := t.checkRelease(t.run.osRelease); err != nil {
		return guest.PackageState{}, err
	}
	return st, nil
}

func (packagesPhase) Check(ctx context.Context, t *Target) (Check, error) {
	st, err := readPackageState(ctx, t)
	if err != nil {
		return Check{}, err
	}
	if packagesDone(st) {
		var svcs []string
		for _, s := range st.Services {
			svcs = append(svcs, s.Name)
		}
		return Check{Done: true, Observed: fmt.Sprintf("%d packages at their minimum versions; %s enabled and running", st.Wanted, strings.Join(svcs, ", "))}, nil
	}
	return Check{Changes: packageChanges(st, t.Spec.Packages.Source)}, nil
}

func (packagesPhase) Apply(ctx context.Context, t *Target) error {
	st, err := readPackageState(ctx, t)
	if err != nil {
		return err
	}
	c, err := t.SSH(ctx)
	if err != nil {
		return err
	}
	if err := t.OS.Packages.Install(ctx, c, st, packageSource(t.Spec), guest.Env{Log: t.Log, Progress: t.Progress}); err != nil {
		return err
	}
	t.Note("packages", strings.Join(packageChanges(st, t.Spec.Packages.Source), "; "))
	return nil
}

func (packagesPhase) Verify(ctx context.Context, t *Target) error {
	st, err := readPackageState(ctx, t)
	if err != nil {
		return err
	}
	if !packagesDone(st) {
		return fmt.Errorf("still to do after install: %s", strings.Join(packageChanges(st, t.Spec.Packages.Source), "; "))
	}
	return nil
}

// NotOn: an OS without a package list (Windows) has nothing to install.
func (packagesPhase) NotOn(t *Target) string {
	if t.OS.Packages == nil {
		return fmt.Sprintf("os %s has no package list for the MT role", t.Spec.OS)
	}
	return ""
}
