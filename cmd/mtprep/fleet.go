package main

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/mtprep/mtprep/internal/progress"
	"github.com/mtprep/mtprep/provision"
	"github.com/mtprep/mtprep/provision/spec"
)

// errFleetFailed makes the exit code 1 after the summary is printed.
var errFleetFailed = errors.New("fleet: not every MT is done (see the summary and its log)")

func (a *app) fleetCmd() *cobra.Command {
	var invPath, phases, stateFile, logDir, workDir string
	var concurrency int
	var opts provision.BuildOptions
	cmd := &cobra.Command{
		Use:   "fleet",
		Short: "Build many master targets from one inventory",
		Long: `Build every MT of an inventory with the phases of 'mtprep build', with a pool
of --concurrency workers: a slow MT never holds up the next one, and a failing
MT does not stop the others.

The install media are remastered once per base ISO and uploaded once per
datastore; each MT's kickstart travels in its own small seed ISO in the VM's
second CD-ROM. So the bytes moved are the media once plus a few hundred KiB
per MT, however large the fleet.

Progress goes to a state file beside the inventory (JSON, written
atomically); re-running the same command continues where each MT stopped,
starting the unfinished MTs first, the checks of each phase deciding what is
done. Each MT logs to <log-dir>/<name>.log. On a terminal, one line per MT
shows its phase and upload progress; otherwise plain log lines. Ctrl-C
starts no new phase, lets the running ones finish, writes the state file and
exits.

Each MT is locked while a run changes it (the VM's guestinfo.mtprep.lock and
the guest's /root/.mtprep/lock); an MT locked by another run fails with the
owner's name. --break-lock takes locks left by a run that died.

The run ends with a summary (MT, phase reached, result, time) and exits 1 if
any MT is not done.`,
		Example: `  mtprep fleet --inventory fleet.yaml --concurrency 8
  mtprep fleet --inventory fleet.yaml --phases iso,upload,vm,enable-uuid
  mtprep plan  --inventory fleet.yaml`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if invPath == "" {
				return usageError{errors.New("--inventory is required")}
			}
			if concurrency < 1 {
				return usageError{fmt.Errorf("--concurrency %d: give at least 1", concurrency)}
			}
			if err := checkOptions(opts); err != nil {
				return err
			}
			if _, err := provision.Select(provision.Phases(), phases); err != nil {
				return usageError{fmt.Errorf("--phases: %w", err)}
			}
			inv, err := a.loadInventory(invPath)
			if err != nil {
				return err
			}
			dir := filepath.Dir(invPath)
			if logDir == "" {
				logDir = filepath.Join(dir, "logs")
			}
			if workDir == "" {
				workDir = filepath.Join(dir, "build")
			}
			opts.WorkDir = workDir
			fo := provision.FleetOptions{
				OS:          lookupOS,
				Concurrency: concurrency, Phases: phases, Build: opts, StateFile: stateFile, LogDir: logDir,
				Env: a.env, Log: a.log,
			}
			var display *fleetDisplay
			if progress.IsTerminal(a.stderr) {
				// The live lines own the terminal: records go to each MT's
				// log file, and only warnings and errors to the screen.
				hosts := make([]string, len(inv.Specs))
				for i, s := range inv.Specs {
					hosts[i] = s.Name
				}
				display = newFleetDisplay(a.stderr, hosts)
				fo.Log = slog.New(slog.NewTextHandler(display, &slog.HandlerOptions{Level: slog.LevelWarn}))
				fo.OnPhase, fo.Progress = display.phase, display.progress
			} else {
				fo.OnPhase = func(host, phase string) { a.log.Info("fleet", "mt", host, "phase", phase) }
				fo.Progress = func(host string) progress.Func {
					return progress.New(a.stderr, a.log.With("mt", host), 10*time.Second)
				}
			}
			hs, err := provision.RunFleet(cmd.Context(), inv, fo)
			if display != nil {
				display.finish()
			}
			if err != nil {
				return err
			}
			provision.WriteFleetSummary(a.stdout, hs)
			for _, h := range hs {
				if h.Status != provision.HostDone {
					return fmt.Errorf("%w; logs in %s", errFleetFailed, logDir)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&invPath, "inventory", "", "the fleet inventory (YAML)")
	f.IntVar(&concurrency, "concurrency", 4, "MTs prepared at once")
	f.StringVar(&phases, "phases", "", "comma-separated phases to run (default: all): "+phaseNames())
	f.StringVar(&stateFile, "state-file", "", "progress file (default: <inventory>.state.json)")
	f.StringVar(&logDir, "log-dir", "", "one log file per MT (default: logs/ beside the inventory)")
	f.StringVar(&workDir, "work-dir", "", "local artefacts, one folder per MT and media/ for the shared media (default: build/ beside the inventory)")
	registerBuildOptions(cmd, &opts, true)
	return cmd
}

// loadInventory loads --inventory and applies the govc variables to every
// MT, as loadSpec does for one.
func (a *app) loadInventory(path string) (*spec.Inventory, error) {
	inv, err := spec.LoadInventory(path)
	if err != nil {
		return nil, err
	}
	for _, s := range inv.Specs {
		s.VSphere.ApplyGovcEnv(a.env)
	}
	return inv, nil
}
