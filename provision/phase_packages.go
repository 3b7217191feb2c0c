package provision

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mtprep/mtprep/packages"
	"github.com/mtprep/mtprep/scripts"
)

// packagesPhase installs the manifest's RPMs (package packages) from the
// offline bundle or the vault, and enables multipathd.
type packagesPhase struct{}

func (packagesPhase) Name() string { return "packages" }

func (packagesPhase) OnFreshMT(t *Target) []string {
	return []string{
		fmt.Sprintf("install from %s what the MT lacks of: %s", t.Spec.Packages.Source, strings.Join(packages.Names(packages.Required()), ", ")),
		"enable and start multipathd (mpathconf --enable, chkconfig multipathd on, service multipathd start)",
	}
}

// rootWorkDir is where mtprep keeps its files on the MT (root's home: not
// /usr/local, where the ASR docs say an unpacked agent fails to install);
// uploads land here too when mtprep logs in as root (guest.Conn.UploadDir).
const rootWorkDir = "/root/mtprep"

type packageState struct {
	missing                map[string]string
	conf, enabled, running bool
	installed              packages.Installed
}

func (s packageState) done() bool { return len(s.missing) == 0 && s.conf && s.enabled && s.running }

func (s packageState) changes(src string) []string {
	var out []string
	if len(s.missing) > 0 {
		names := make([]string, 0, len(s.missing))
		for n, why := range s.missing {
			names = append(names, n+" ("+why+")")
		}
		sort.Strings(names)
		out = append(out, fmt.Sprintf("install from %s: %s", src, strings.Join(names, ", ")))
	}
	if !s.conf || !s.enabled || !s.running {
		out = append(out, "enable and start multipathd (mpathconf --enable, chkconfig multipathd on, service multipathd start)")
	}
	return out
}

// readPackageState reads the packages, multipathd and (first line) the OS
// release in one script: one round trip, and the OS check comes with it.
func readPackageState(ctx context.Context, t *Target) (packageState, error) {
	c, err := t.SSH(ctx)
	if err != nil {
		return packageState{}, err
	}
	out, err := c.Script(ctx, scripts.PackagesState, nil, packages.Names(packages.Required())...)
	if err != nil {
		return packageState{}, err
	}
	st := packageState{installed: packages.Installed{}}
	var rpmLines []string
	for _, line := range strings.Split(string(out), "\n") {
		if rel, ok := strings.CutPrefix(line, "release "); ok && t.osRelease == "" {
			t.osRelease = strings.TrimSpace(rel)
		}
		f := strings.Fields(line)
		switch {
		case len(f) == 3 && f[0] == "rpm":
			rpmLines = append(rpmLines, f[1]+" "+f[2])
		case len(f) == 3 && f[0] == "multipath":
			yes := f[2] == "yes"
			switch f[1] {
			case "conf":
				st.conf = yes
			case "enabled":
				st.enabled = yes
			case "running":
				st.running = yes
			}
		}
	}
	if _, err := t.checkRelease(t.osRelease); err != nil {
		return packageState{}, err
	}
	st.installed = packages.ParseRPMQuery(strings.Join(rpmLines, "\n"))
	st.missing = packages.Missing(packages.Required(), st.installed)
	return st, nil
}

func (packagesPhase) Check(ctx context.Context, t *Target) (Check, error) {
	st, err := readPackageState(ctx, t)
	if err != nil {
		return Check{}, err
	}
	if st.done() {
		return Check{Done: true, Observed: fmt.Sprintf("%d packages at their minimum versions; multipathd enabled and running", len(packages.Required()))}, nil
	}
	return Check{Changes: st.changes(t.Spec.Packages.Source)}, nil
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
	if len(st.missing) > 0 {
		names := make([]string, 0, len(st.missing))
		for n := range st.missing {
			names = append(names, n)
		}
		sort.Strings(names)
		switch t.Spec.Packages.Source {
		case "bundle":
			// Check the bundle here first: a bad one fails before any upload.
			if _, err := packages.ReadBundle(ctx, t.Spec.Packages.Bundle); err != nil {
				return err
			}
			dir, err := c.UploadDir()
			if err != nil {
				return err
			}
			remote := path.Join(dir, filepath.Base(t.Spec.Packages.Bundle))
			up, err := c.Upload(ctx, t.Spec.Packages.Bundle, remote, t.Progress)
			if err != nil {
				return err
			}
			t.Log.Info("bundle on the MT", "path", remote, "sha256", up.SHA256, "sent", up.Sent, "resumed", up.Resumed, "skipped", up.Skipped)
			args := append([]string{remote, rootWorkDir + "/bundle"}, names...)
			if _, err := c.Script(ctx, scripts.PackagesBundle, nil, args...); err != nil {
				return fmt.Errorf("installing from the bundle: %w", err)
			}
		case "vault":
			gpg := "1"
			if !*t.Spec.Packages.GPGCheck {
				gpg = "0"
			}
			args := append(append([]string{gpg}, t.Spec.Packages.Repos...), "--")
			if _, err := c.Script(ctx, scripts.PackagesVault, nil, append(args, names...)...); err != nil {
				return fmt.Errorf("installing with yum: %w", err)
			}
		}
	}
	if !st.conf || !st.enabled || !st.running {
		if _, err := c.Script(ctx, scripts.MultipathEnable, nil); err != nil {
			return fmt.Errorf("enabling multipathd: %w", err)
		}
	}
	t.Note("packages", strings.Join(st.changes(t.Spec.Packages.Source), "; "))
	return nil
}

func (packagesPhase) Verify(ctx context.Context, t *Target) error {
	st, err := readPackageState(ctx, t)
	if err != nil {
		return err
	}
	if !st.done() {
		return fmt.Errorf("still to do after install: %s", strings.Join(st.changes(t.Spec.Packages.Source), "; "))
	}
	return nil
}
