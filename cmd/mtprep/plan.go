package main

import (
	"github.com/spf13/cobra"

	"github.com/mtprep/mtprep/provision"
)

func (a *app) planCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what build would change, changing nothing",
		Long: `Run every phase's read-only check and print, per phase, whether it is
done or what build would change ("create VM mt01 …", "upload … to
[ds] mtprep-iso/<sha256>.iso"). Nothing is created, uploaded, powered or
reconfigured; no vSphere task is started.

A phase that cannot be checked before the phases above it have run (the
guest phases of a VM that does not exist yet) is listed as would-change with
the reason.

Exit status: 0 when the plan was made (whatever it would change), 1 when a
check failed, 2 for bad flags or a bad spec.`,
		Example: `  mtprep plan --spec mt01.yaml
  mtprep plan --spec mt01.yaml --phases upload,vm,enable-uuid,install --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, phases, err := a.target(&f)
			if err != nil {
				return err
			}
			rs, runErr := provision.Plan(cmd.Context(), t, phases)
			rt := t.VSphereRoundTrips() // before Close ends the session
			closeErr := t.Close()
			if err := a.writeResults(a.stdout, f.format, "plan", t, rs, rt, runErr); err != nil {
				return err
			}
			if runErr != nil {
				return runErr
			}
			if closeErr != nil {
				a.log.Warn("closing the connections", "err", closeErr)
			}
			return nil
		},
	}
	f.register(cmd)
	return cmd
}
