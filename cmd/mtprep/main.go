// Command mtprep builds, prepares and audits Azure Site Recovery master
// target appliances on VMware. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/mtprep/mtprep/provision/spec"
)

// Exit codes are part of the CLI contract (DESIGN.md).
const (
	exitOK     = 0
	exitFailed = 1
	exitInput  = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process exit, so tests drive the real CLI.
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	app := &app{stdout: stdout, stderr: stderr, env: os.LookupEnv}
	root := app.rootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "mtprep: %v\n", err)
	return exitCode(err)
}

// exitCode maps an error to the contract: 2 for bad usage or bad input, 1
// for everything that failed while doing the work.
func exitCode(err error) int {
	var ie *spec.InputError
	var ue usageError
	switch {
	case errors.As(err, &ie), errors.As(err, &ue):
		return exitInput
	case isInputError(err):
		return exitInput
	case strings.HasPrefix(err.Error(), "unknown command"):
		// cobra's own usage error has no type to match.
		return exitInput
	}
	return exitFailed
}

// usageError is a wrong flag or argument.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// app holds what every command shares; no package-level state.
type app struct {
	stdout, stderr io.Writer
	env            spec.LookupEnv
	logLevel       string
	logFormat      string
	log            *slog.Logger
}

func (a *app) setupLog() error {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(a.logLevel)); err != nil {
		return usageError{fmt.Errorf("--log-level %q: use debug, info, warn or error", a.logLevel)}
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch a.logFormat {
	case "text":
		a.log = slog.New(slog.NewTextHandler(a.stderr, opts))
	case "json":
		a.log = slog.New(slog.NewJSONHandler(a.stderr, opts))
	default:
		return usageError{fmt.Errorf("--log-format %q: use text or json", a.logFormat)}
	}
	return nil
}

func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "mtprep",
		Short: "Build and prepare Azure Site Recovery master targets on VMware",
		Long: `mtprep builds and prepares master target (MT) appliances: the on-premises
VMware VMs that receive replication data when servers fail back from Azure
Site Recovery. One spec file describes one MT; see README.md.`,
		Example: `  mtprep kickstart --spec mt01.yaml > ks.cfg
  mtprep iso --spec mt01.yaml --base CentOS-6.6-x86_64-minimal.iso --out mt01.iso`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.setupLog()
		},
	}
	root.PersistentFlags().StringVar(&a.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.PersistentFlags().StringVar(&a.logFormat, "log-format", "text", "log format on stderr: text or json")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(a.versionCmd(), a.kickstartCmd(), a.isoCmd(), a.bundleCmd())
	root.AddCommand(a.buildCmd(), a.planCmd(), a.auditCmd(), a.fleetCmd())
	return root
}

// noArgs rejects positional arguments with exit 2.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("%s takes no arguments, got %q (flags start with --)", cmd.CommandPath(), args[0])}
	}
	return nil
}

// loadSpec loads --spec; a missing flag is a usage error.
func (a *app) loadSpec(path string) (*spec.Spec, error) {
	if path == "" {
		return nil, usageError{errors.New("--spec is required (a YAML file describing the MT; see examples/mt01.yaml)")}
	}
	s, err := spec.Load(path)
	if err != nil {
		return nil, err
	}
	s.VSphere.ApplyGovcEnv(a.env)
	return s, nil
}
