package centos

import (
	"context"

	"github.com/mtprep/mtprep/linux"
	"github.com/mtprep/mtprep/provision/guest"
	scripts "github.com/mtprep/mtprep/scripts/centos"
)

// Probe is the audit's read-only probe: audit-probe.sh, with the half
// both Linux MTs share.
type Probe struct{}

// Run runs the probe and returns its output.
func (Probe) Run(ctx context.Context, r guest.Runner, a guest.ProbeArgs) (string, error) {
	return linux.RunProbe(ctx, r, scripts.AuditProbe, a, Packages{}.Names())
}
