package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/mtprep/mtprep/internal/progress"
	"github.com/mtprep/mtprep/provision"
)

// errFleetFailed makes the exit code 1 after the summary is printed.
var errFleetFailed = errors.New("fleet: at least one MT failed (see the summary and its log)")

func (a *app) fleetCmd() *cobra.Command {
	var invPath, phases, stateFile, logDir, workDir string
	var concurrency int
	var opts provision.BuildOptions
	cmd := &cobra.Command{
		Use:   "fleet",
		Short: "Build many master targets from one inventory",
		Long: `Build every MT of an inventory with the phases of 'mtprep build', with a pool
of --concurrency workers: a slow MT never holds up the next one, and a failing
MT does not stop the others. Progress goes to a state file beside the
inventory (JSON, written atomically); re-running the same command continues
where each MT stopped, the checks of each phase deciding what is done. Each MT
logs to <log-dir>/<name>.log. Ctrl-C starts no new phase, lets the running
ones finish, writes the state file and exits.

The run ends with a summary (MT, phase reached, result, time) and exits 1 if
any MT failed.`,
		Example: `  mtprep fleet --inventory fleet.yaml --concurrency 8
  mtprep fleet --inventory fleet.yaml --phases upload,vm,enable-uuid`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if invPath == "" {
				return usageError{errors.New("--inventory is required")}
			}
			if concurrency < 1 {
				return usageError{fmt.Errorf("--concurrency %d: give at least 1", concurrency)}
			}
			inv, err := provision.LoadInventory(invPath)
			if err != nil {
				return err
			}
			for _, s := range inv.Specs {
				s.VSphere.ApplyGovcEnv(a.env)
			}
			if _, err := provision.Select(provision.Phases(), phases); err != nil {
				return usageError{err}
			}
			dir := filepath.Dir(invPath)
			if logDir == "" {
				logDir = filepath.Join(dir, "logs")
			}
			if workDir == "" {
				workDir = filepath.Join(dir, "build")
			}
			opts.WorkDir = workDir
			tty := progress.IsTerminal(a.stderr)
			var mu sync.Mutex
			hs, err := provision.RunFleet(cmd.Context(), inv, provision.FleetOptions{
				Concurrency: concurrency, Phases: phases, Build: opts, StateFile: stateFile, LogDir: logDir,
				Env: a.env, Log: a.log,
				OnPhase: func(host, phase string) {
					if tty {
						mu.Lock()
						fmt.Fprintf(a.stderr, "%-20s %s\n", host, phase)
						mu.Unlock()
					}
				},
			})
			if err != nil {
				return err
			}
			provision.WriteFleetSummary(a.stdout, hs)
			for _, h := range hs {
				if h.Status != "done" {
					return errFleetFailed
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&invPath, "inventory", "", "the fleet inventory (YAML)")
	f.IntVar(&concurrency, "concurrency", 4, "MTs prepared at once")
	f.StringVar(&phases, "phases", "", "comma-separated phases to run (default: all)")
	f.StringVar(&stateFile, "state-file", "", "progress file (default: <inventory>.state.json)")
	f.StringVar(&logDir, "log-dir", "", "one log file per MT (default: logs/ beside the inventory)")
	f.StringVar(&workDir, "work-dir", "", "local artefacts, one folder per MT (default: build/ beside the inventory)")
	f.BoolVar(&opts.AllowPowerOff, "allow-power-off", false, "power MTs off when the guest does not shut down for enable-uuid")
	f.DurationVar(&opts.InstallTimeout, "install-timeout", 60*time.Minute, "wait for each unattended install")
	return cmd
}
