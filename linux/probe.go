package linux

import (
	"context"
	"strconv"

	"github.com/mtprep/mtprep/provision/guest"
	scripts "github.com/mtprep/mtprep/scripts/linux"
)

// ProbeScript is the audit probe of a Linux MT: the OS's half (release,
// packages, multipathd) followed by the half both share.
func ProbeScript(osPart string) string {
	return WithNetState(osPart + "\n" + scripts.AuditProbeCommon)
}

// WithNetState ends script with net-state.sh, which reads the NICs, the
// host name's /etc/hosts entries and the configuration server's
// reachability (the script sets host, csip and csport).
func WithNetState(script string) string {
	return script + "\n" + scripts.NetState
}

// RunProbe runs the probe made of osPart with the audit's arguments and
// the names of the packages to report.
func RunProbe(ctx context.Context, r guest.Runner, osPart string, a guest.ProbeArgs, pkgs []string) (string, error) {
	args := append([]string{a.Hostname, a.Mountpoint, a.CSIP, strconv.Itoa(a.CSPort)}, pkgs...)
	out, err := r.Script(ctx, ProbeScript(osPart), nil, args...)
	return string(out), err
}
