package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mtprep/mtprep/internal/progress"
	"github.com/mtprep/mtprep/provision/audit"
	"github.com/mtprep/mtprep/provision/spec"
)

// loadSpecs loads --spec or --inventory (exactly one).
func (a *app) loadSpecs(specPath, invPath string) ([]*spec.Spec, error) {
	switch {
	case specPath != "" && invPath != "":
		return nil, usageError{errors.New("give --spec or --inventory, not both")}
	case invPath != "":
		inv, err := spec.LoadInventory(invPath)
		if err != nil {
			return nil, err
		}
		for _, s := range inv.Specs {
			s.VSphere.ApplyGovcEnv(a.env)
		}
		return inv.Specs, nil
	case specPath != "":
		s, err := a.loadSpec(specPath)
		if err != nil {
			return nil, err
		}
		return []*spec.Spec{s}, nil
	}
	return nil, usageError{errors.New("--spec or --inventory is required")}
}

// errAuditFailed makes the exit code 1 after the report is printed.
var errAuditFailed = errors.New("audit: at least one check FAILed")

func (a *app) auditCmd() *cobra.Command {
	var specPath, invPath, format string
	var concurrency int
	var hostTimeout, vsphereTimeout time.Duration
	var noVSphere bool
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Check existing master targets read-only against ASR's failback requirements",
		Long: `Check one MT or a fleet without changing anything, whether mtprep built it or
not. vSphere: disk.EnableUUID, snapshots, LSI Logic controller, disk count,
VMware Tools, free ESXi edition, VMFS/vSAN datastore and the protected VMs'
datastores (audit.protectedDatastores / audit.protectedVMs), unique BIOS
UUID, the account's reprotect privileges — one PropertyCollector retrieval
for the whole inventory. Guest (one probe script over one SSH session per
MT): OS, packages, multipathd, ApplyCustomChanges.sh, retention volume and
its WWID, /etc/hosts, configuration server on 443, agent version (against
configServer.version).

Each check is PASS, WARN, FAIL or UNKNOWN with the observed value and the fix
(check ids: docs/AUDIT.md). Exit 0 when nothing FAILs, 1 when something does,
2 for bad input. An unreachable MT gives FAIL for reachability and UNKNOWN for
its guest checks; the others are still audited.`,
		Example: `  mtprep audit --spec mt01.yaml
  mtprep audit --inventory fleet.yaml --format json > audit.json
  mtprep audit --inventory fleet.yaml --format junit > audit.xml   # for CI`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if format == "" {
				format = "text"
				if progress.IsTerminal(a.stdout) {
					format = "table"
				}
			}
			switch format {
			case "table", "text", "json", "junit":
			default:
				return usageError{fmt.Errorf("--format %q: use table, json or junit", format)}
			}
			if concurrency < 1 {
				return usageError{fmt.Errorf("--concurrency %d: give at least 1", concurrency)}
			}
			if hostTimeout <= 0 || vsphereTimeout <= 0 {
				return usageError{errors.New("--host-timeout and --vsphere-timeout must be positive")}
			}
			specs, err := a.loadSpecs(specPath, invPath)
			if err != nil {
				return err
			}
			fs, stats, err := audit.Run(cmd.Context(), specs, audit.Options{
				OS:          lookupOS,
				Concurrency: concurrency, HostTimeout: hostTimeout, VSphereTimeout: vsphereTimeout, Env: a.env, Log: a.log, SkipVSphere: noVSphere,
			})
			if err != nil {
				// Cancelled (Ctrl-C): what was found is not the whole report.
				return fmt.Errorf("audit interrupted: %w", err)
			}
			a.log.Debug("audit cost", "vsphere_round_trips", stats.VSphereRoundTrips, "ssh_sessions", stats.SSHSessions)
			switch format {
			case "json":
				err = audit.WriteJSON(a.stdout, fs)
			case "junit":
				err = audit.WriteJUnit(a.stdout, fs)
			default:
				err = audit.WriteTable(a.stdout, fs, format == "table" && progress.IsTerminal(a.stdout))
			}
			if err != nil {
				return err
			}
			if audit.Failed(fs) {
				return errAuditFailed
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&specPath, "spec", "", "one MT's spec file")
	f.StringVar(&invPath, "inventory", "", "a fleet inventory")
	f.StringVar(&format, "format", "", "table (default on a terminal), json or junit")
	f.IntVar(&concurrency, "concurrency", audit.DefaultConcurrency, "MTs probed over SSH at once")
	f.DurationVar(&hostTimeout, "host-timeout", audit.DefaultHostTimeout, "time allowed for one MT's guest probe (SSH connect and script)")
	f.DurationVar(&vsphereTimeout, "vsphere-timeout", audit.DefaultVSphereTimeout, "time allowed for one vCenter's part (login, retrieval, queries)")
	f.BoolVar(&noVSphere, "no-vsphere", false, "skip the vSphere checks (guest checks only)")
	return cmd
}
