package ubuntu

import (
	"context"
	"strconv"

	"github.com/mtprep/mtprep/provision/guest"
	scripts "github.com/mtprep/mtprep/scripts/ubuntu"
)

// Probe is the audit's read-only probe: audit-probe.sh, in the CentOS
// probe's key/value format ("deb" lines where CentOS has "rpm").
type Probe struct{}

// Run runs the probe and returns its output.
func (Probe) Run(ctx context.Context, r guest.Runner, a guest.ProbeArgs) (string, error) {
	args := append([]string{a.Hostname, a.Mountpoint, a.CSIP, strconv.Itoa(a.CSPort)}, Packages{}.Names()...)
	out, err := r.Script(ctx, scripts.AuditProbe, nil, args...)
	return string(out), err
}
