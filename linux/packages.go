package linux

import (
	"context"
	"fmt"
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
