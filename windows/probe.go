package windows

import (
	"context"
	"strconv"

	"github.com/mtprep/mtprep/provision/guest"
	scripts "github.com/mtprep/mtprep/scripts/windows"
)

// Probe is the audit's read-only probe: audit-probe.ps1. The retention
// mountpoint is given as its drive letter (R when it is not one).
type Probe struct{}

// Run runs the probe and returns its output.
func (Probe) Run(ctx context.Context, r guest.Runner, a guest.ProbeArgs) (string, error) {
	letter, ok := RetentionLetter(a.Mountpoint)
	if !ok {
		letter = "R"
	}
	out, err := r.Script(ctx, scripts.AuditProbe, nil, a.Hostname, letter, a.CSIP, strconv.Itoa(a.CSPort), StateDir)
	return string(out), err
}
