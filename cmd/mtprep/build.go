package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mtprep/mtprep/internal/progress"
	"github.com/mtprep/mtprep/provision"
	"github.com/mtprep/mtprep/provision/guest"
)

// runFlags are the flags build and plan share.
type runFlags struct {
	spec, phases, workDir, format string
	inventory                     string // plan only
	opts                          provision.BuildOptions
}

func (f *runFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.spec, "spec", "", "the MT's spec file (YAML)")
	fl.StringVar(&f.phases, "phases", "", "comma-separated phases to run, in build order (default: all): "+phaseNames())
	fl.StringVar(&f.workDir, "work-dir", "", "directory for local artefacts: the MT's seed ISO, its handoff manifest (default ./build/<name>)")
	fl.StringVar(&f.format, "format", "text", "output: text or json")
	registerBuildOptions(cmd, &f.opts, false)
}

// registerBuildOptions adds the flags of provision.BuildOptions, which
// build, plan and fleet share. A fleet has no --format-wwid or
// --apply-custom-changes: each names one MT's situation.
func registerBuildOptions(cmd *cobra.Command, o *provision.BuildOptions, fleet bool) {
	fl := cmd.Flags()
	fl.StringVar(&o.MediaDir, "media-dir", "", "directory for the shared install media, one file per base ISO (default: build/media, or <work-dir>/media)")
	fl.BoolVar(&o.AllowUnknownBase, "allow-unknown-base", false, "let the iso phase remaster a base that is not CentOS 6.6 x86_64")
	fl.BoolVar(&o.BreakLock, "break-lock", false, "take the MTs' locks (vSphere guestinfo.mtprep.lock and the guest's /root/.mtprep/lock) even when another run holds them: only when that run is gone")
	f := o
	fl.BoolVar(&f.AllowPowerOff, "allow-power-off", false, "let enable-uuid shut a powered-on VM down through VMware Tools (or power it off), then power it on again")
	fl.BoolVar(&f.Fix, "fix", false, "let the vm phase reconcile what is safe on an existing VM that differs from the spec (CPU/memory while off, growing disks, missing devices, boot order)")
	fl.DurationVar(&f.InstallTimeout, "install-timeout", provision.DefaultInstallTimeout, "how long install waits for the unattended install to finish and SSH to answer")
	fl.DurationVar(&f.ShutdownTimeout, "shutdown-timeout", provision.DefaultShutdownTimeout, "how long enable-uuid waits for a guest shutdown before powering off (with --allow-power-off)")
	fl.BoolVar(&f.AllowOS, "allow-os", false, "prepare an MT that runs another OS than CentOS 6.6")
	fl.DurationVar(&f.RebootTimeout, "reboot-timeout", 10*time.Minute, "how long to wait for SSH after a reboot of the MT")
	if !fleet {
		fl.StringVar(&f.AppliedResolution, "apply-custom-changes", "", "settle an ApplyCustomChanges.sh run that never recorded its end: "+provision.AppliedMarkDone+" or "+provision.AppliedRunAgain)
		fl.StringVar(&f.FormatWWID, "format-wwid", "", "let the retention phase format the disk with this WWID even though it holds data")
	}
}

// checkOptions refuses option values no run can use (exit 2).
func checkOptions(o provision.BuildOptions) error {
	switch o.AppliedResolution {
	case "", provision.AppliedMarkDone, provision.AppliedRunAgain:
	default:
		return usageError{fmt.Errorf("--apply-custom-changes %q: use %s or %s", o.AppliedResolution, provision.AppliedMarkDone, provision.AppliedRunAgain)}
	}
	if o.InstallTimeout <= 0 || o.ShutdownTimeout <= 0 || o.RebootTimeout <= 0 {
		return usageError{errors.New("timeouts must be positive (e.g. --install-timeout 90m)")}
	}
	return nil
}

func phaseNames() string {
	var n []string
	for _, p := range provision.Phases() {
		n = append(n, p.Name())
	}
	return strings.Join(n, ",")
}

// target loads the spec and selects the phases; every problem here is the
// user's input (exit 2).
func (a *app) target(f *runFlags) (*provision.Target, []provision.Phase, error) {
	if f.format != "text" && f.format != "json" {
		return nil, nil, usageError{fmt.Errorf("--format %q: use text or json", f.format)}
	}
	if err := checkOptions(f.opts); err != nil {
		return nil, nil, err
	}
	phases, err := provision.Select(provision.Phases(), f.phases)
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("--phases: %w", err)}
	}
	s, err := a.loadSpec(f.spec)
	if err != nil {
		return nil, nil, err
	}
	opts := f.opts
	opts.WorkDir = f.workDir
	if opts.WorkDir == "" {
		opts.WorkDir = filepath.Join("build", s.Name)
		if opts.MediaDir == "" {
			// Beside the MTs' work directories: every MT built from
			// this directory shares the media of its base.
			opts.MediaDir = filepath.Join("build", "media")
		}
	}
	t := &provision.Target{
		OS:   osOf(s),
		Spec: s, Options: opts, Log: a.log, Env: a.env,
		Progress: progress.New(a.stderr, a.log, 5*time.Second),
	}
	return t, phases, nil
}

// report is build's and plan's JSON output.
type report struct {
	Name    string                `json:"name"`
	Command string                `json:"command"`
	OK      bool                  `json:"ok"`
	Error   string                `json:"error,omitempty"`
	Phases  []provision.Result    `json:"phases"`
	Facts   *provision.Facts      `json:"facts,omitempty"`
	VSphere *provision.RoundTrips `json:"vsphereRoundTrips,omitempty"`
	SSH     *guest.Stats          `json:"sshRoundTrips,omitempty"`
}

func (a *app) writeResults(w io.Writer, format, command string, t *provision.Target, rs []provision.Result, rt provision.RoundTrips, runErr error) error {
	if format == "json" {
		r := report{Name: t.Spec.Name, Command: command, OK: runErr == nil, Phases: rs}
		if r.Phases == nil {
			r.Phases = []provision.Result{}
		}
		if runErr != nil {
			r.Error = runErr.Error()
		}
		if command == "build" {
			r.Facts = &t.Facts
		}
		if rt.HTTP > 0 {
			r.VSphere = &rt
		}
		if ss := t.SSHRoundTrips(); ss.Dials > 0 {
			r.SSH = &ss
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tSTATUS\tWHAT")
	for _, r := range rs {
		var lines []string
		switch {
		case r.Error != "":
			lines = []string{r.Error}
		case len(r.Changes) > 0:
			lines = r.Changes
		case r.Observed != "":
			lines = []string{r.Observed}
		}
		if len(lines) == 0 {
			lines = []string{""}
		}
		status := string(r.Status)
		if command == "build" && r.Duration > 0 && r.Status != provision.StatusSkipped {
			status += " (" + r.Duration.Round(100*time.Millisecond).String() + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Phase, status, oneLine(lines[0]))
		for _, l := range lines[1:] {
			fmt.Fprintf(tw, "\t\t%s\n", oneLine(l))
		}
	}
	return tw.Flush()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func (a *app) buildCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "build",
		Short: "Build one MT: run each phase's check, apply and verify",
		Long: `Build the master target the spec describes, phase by phase: iso, upload,
vm, enable-uuid, install, then the guest phases. Each phase checks first and
changes only what is not already true, then reads back what it changed; a
second build reports every phase as done and changes nothing.

The vSphere phases connect with the spec's vsphere block, or the govc
variables for what it leaves out (GOVC_URL, GOVC_USERNAME, GOVC_PASSWORD,
GOVC_INSECURE, GOVC_DATACENTER, GOVC_DATASTORE, GOVC_NETWORK, GOVC_HOST,
GOVC_FOLDER). The password comes from an environment variable or a file
named in the spec, never from the command line.

iso           writes the shared install media of the base (once for every
              MT: no kickstart inside, boots with ks=hd:sr1:/ks.cfg) and
              this MT's seed ISO (/ks.cfg, with a new SSH host key)
upload        puts both on the datastore: the media as
              <isoFolder>/<sha256>.iso, the seed as
              <isoFolder>/seeds/<name>-<sha256>.iso (nothing is sent when
              that content is already there)
vm            finds the VM by name in its folder or creates it (LSI Logic
              SCSI, thin OS and retention disks, NIC, the media in the first
              CD-ROM and the seed in the second); an existing VM that
              differs is reported, changed only with --fix
enable-uuid   disk.EnableUUID=TRUE and flags.diskUuidEnabled, only while the
              VM is off (--allow-power-off to shut it down for it)
install       powers on, waits until SSH answers, ejects the ISO

A run takes the MT's locks before it changes anything (the VM's
guestinfo.mtprep.lock, the guest's /root/.mtprep/lock) and releases them at
its end, so two runs never prepare one MT at once. A lock left by a run that
died is broken only with --break-lock.

Exit status: 0 when every phase is done or changed, 1 when a phase failed,
2 for bad flags or a bad spec.`,
		Example: `  # the vSphere half of one MT
  mtprep build --spec mt01.yaml --phases upload,vm,enable-uuid

  # everything, with the govc variables for the connection
  export GOVC_URL=vcenter.example.com GOVC_USERNAME=administrator@vsphere.local
  read -rs GOVC_PASSWORD && export GOVC_PASSWORD
  mtprep build --spec mt01.yaml --install-timeout 90m

  # for CI: one JSON document on stdout, logs on stderr
  mtprep build --spec mt01.yaml --format json --log-format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runPhases(cmd, &f, "build", provision.Build)
		},
	}
	f.register(cmd)
	return cmd
}

// runPhases runs build or plan (run) for the one MT of --spec and writes
// the report; the run's error, if any, decides the exit status.
func (a *app) runPhases(cmd *cobra.Command, f *runFlags, verb string, run func(context.Context, *provision.Target, []provision.Phase) ([]provision.Result, error)) error {
	t, phases, err := a.target(f)
	if err != nil {
		return err
	}
	rs, runErr := run(cmd.Context(), t, phases)
	rt := t.VSphereRoundTrips() // before Close ends the session
	closeErr := t.Close()
	if err := a.writeResults(a.stdout, f.format, verb, t, rs, rt, runErr); err != nil {
		return err
	}
	if runErr != nil {
		return runErr
	}
	if closeErr != nil {
		a.log.Warn("closing the connections", "err", closeErr)
	}
	return nil
}
