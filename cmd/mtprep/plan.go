package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/mtprep/mtprep/internal/progress"
	"github.com/mtprep/mtprep/provision"
)

func (a *app) planCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show what build (or fleet) would change, changing nothing",
		Long: `Run every phase's read-only check and print, per phase, whether it is
done or what build would change ("create VM mt01 …", "upload … to
[ds] mtprep-iso/<sha256>.iso"). Nothing is created, uploaded, powered or
reconfigured; no vSphere task is started.

With --inventory, the plan of every MT of a fleet inventory, one after the
other, as 'mtprep fleet' would see them (the work directory is the fleet's:
build/ beside the inventory, unless --work-dir).

A phase that cannot be checked before the phases above it have run (the
guest phases of a VM that does not exist yet) is listed as would-change with
the reason.

Exit status: 0 when the plan was made (whatever it would change), 1 when a
check failed, 2 for bad flags or a bad spec.`,
		Example: `  mtprep plan --spec mt01.yaml
  mtprep plan --spec mt01.yaml --phases upload,vm,enable-uuid,install --format json
  mtprep plan --inventory fleet.yaml --phases iso,upload,vm,enable-uuid`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if f.inventory != "" {
				return a.planInventory(cmd, &f)
			}
			return a.runPhases(cmd, &f, "plan", provision.Plan)
		},
	}
	f.register(cmd)
	cmd.Flags().StringVar(&f.inventory, "inventory", "", "plan every MT of a fleet inventory instead of one --spec")
	return cmd
}

// planInventory prints the plan of every MT of the inventory: in text, a
// heading and the phase table per MT; in JSON, an array of the reports
// `plan --spec --format json` prints.
func (a *app) planInventory(cmd *cobra.Command, f *runFlags) error {
	if f.spec != "" {
		return usageError{errors.New("give --spec or --inventory, not both")}
	}
	if f.format != "text" && f.format != "json" {
		return usageError{fmt.Errorf("--format %q: use text or json", f.format)}
	}
	if err := checkOptions(f.opts); err != nil {
		return err
	}
	phases, err := provision.Select(provision.Phases(), f.phases)
	if err != nil {
		return usageError{fmt.Errorf("--phases: %w", err)}
	}
	inv, err := a.loadInventory(f.inventory)
	if err != nil {
		return err
	}
	root := f.workDir
	if root == "" {
		root = filepath.Join(filepath.Dir(f.inventory), "build")
	}
	var reports []report
	var failed []error
	for i, s := range inv.Specs {
		opts := f.opts
		opts.WorkDir = filepath.Join(root, s.Name)
		if opts.MediaDir == "" {
			opts.MediaDir = filepath.Join(root, "media")
		}
		t := &provision.Target{Spec: s, OS: osOf(s), Options: opts, Log: a.log.With("mt", s.Name), Env: a.env,
			Progress: progress.New(a.stderr, a.log, 5*time.Second)}
		rs, runErr := provision.Plan(cmd.Context(), t, phases)
		if cerr := t.Close(); cerr != nil {
			a.log.Warn("closing the connections", "mt", s.Name, "err", cerr)
		}
		if runErr != nil {
			failed = append(failed, runErr)
		}
		if f.format == "json" {
			r := report{Name: s.Name, Command: "plan", OK: runErr == nil, Phases: rs}
			if r.Phases == nil {
				r.Phases = []provision.Result{}
			}
			if runErr != nil {
				r.Error = runErr.Error()
			}
			reports = append(reports, r)
			continue
		}
		if i > 0 {
			fmt.Fprintln(a.stdout)
		}
		fmt.Fprintf(a.stdout, "== %s (%s) ==\n", s.Name, s.Network.Hostname)
		if err := a.writeResults(a.stdout, "text", "plan", t, rs, provision.RoundTrips{}, runErr); err != nil {
			return err
		}
	}
	if f.format == "json" {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(reports); err != nil {
			return err
		}
	}
	if len(failed) > 0 {
		// The first error decides the exit status (2 for bad input).
		return fmt.Errorf("plan failed for %d of %d MTs; the first: %w", len(failed), len(inv.Specs), failed[0])
	}
	return nil
}
