package linux

import (
	"context"
	"fmt"
	"path"
	"path/filepath"
	"sort"

	"github.com/mtprep/mtprep/provision/guest"
)

// InstallMissing is the packages part's Install on both Linux MTs: the
// packages st lacks, in name order, through install (RPMs or .debs), then
// enableMultipath (the OS's script) when multipathd is not configured,
// enabled and running.
func InstallMissing(ctx context.Context, r guest.Runner, st guest.PackageState, install func(names ...string) error, enableMultipath string) error {
	if len(st.Missing) > 0 {
		names := make([]string, 0, len(st.Missing))
		for n := range st.Missing {
			names = append(names, n)
		}
		sort.Strings(names)
		if err := install(names...); err != nil {
			return err
		}
	}
	for _, s := range st.Services {
		if !s.OK() {
			if _, err := r.Script(ctx, enableMultipath, nil); err != nil {
				return fmt.Errorf("enabling multipathd: %w", err)
			}
		}
	}
	return nil
}

// UploadBundle puts the offline bundle in the MT's upload directory and
// returns its path there; a bundle already there with the same size and
// sha256 is not sent again (the packages and tools phases both need it).
func UploadBundle(ctx context.Context, r guest.Runner, src guest.PackageSource, env guest.Env) (string, error) {
	dir, err := r.UploadDir()
	if err != nil {
		return "", err
	}
	remote := path.Join(dir, filepath.Base(src.Bundle))
	up, err := r.Upload(ctx, src.Bundle, remote, env.Progress)
	if err != nil {
		return "", err
	}
	if env.Log != nil {
		env.Log.Info("bundle on the MT", "path", remote, "sha256", up.SHA256, "sent", up.Sent, "resumed", up.Resumed, "skipped", up.Skipped)
	}
	return remote, nil
}
