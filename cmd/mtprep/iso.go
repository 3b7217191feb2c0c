package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mtprep/mtprep/images"
	"github.com/mtprep/mtprep/internal/progress"
	"github.com/mtprep/mtprep/provision"
	"github.com/mtprep/mtprep/provision/spec"
)

// isInputError is true for errors of packages other than provision that
// mean "the user's input is wrong".
func isInputError(err error) bool {
	return errors.Is(err, images.ErrUnknownBase)
}

func (a *app) isoCmd() *cobra.Command {
	var specPath, base, out, format string
	var allowUnknown bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "iso",
		Short: "Write one unattended install ISO for the MT (CentOS 6.6 with its kickstart, Ubuntu 16.04 with its preseed)",
		Long: `Remaster the CentOS 6.6 x86_64 minimal ISO into an unattended installer
for this MT: the kickstart (see 'mtprep kickstart') is added as /ks.cfg and a
new boot entry with ks=cdrom:/ks.cfg becomes the default after a short
timeout. Every other boot entry is kept.

mtprep checks that the base really is CentOS 6.6 x86_64 (.discinfo and
.treeinfo) and records its sha256. It generates the MT's SSH host key, puts
it in the kickstart, and records it in ssh.knownHosts for ssh.address, so
the first connection to the new MT is checked strictly. The host key's
private half exists only inside the ISO.

For os: ubuntu-16.04 the base is the 16.04.x amd64 server ISO (.disk/info
and the tree are checked) and the MT's preseed goes in as
/preseed/mt.seed, booted with auto=true priority=critical
file=/cdrom/preseed/mt.seed. Windows media are never remastered: mtprep
build attaches them untouched with a seed ISO beside them.

The output is written to a temporary file and renamed when complete: an
error or Ctrl-C never leaves a partial ISO behind.`,
		Example: `  mtprep iso --spec mt01.yaml --out mt01.iso
  mtprep iso --spec mt01.yaml --base ~/isos/CentOS-6.6-x86_64-minimal.iso --out mt01.iso --format json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageError{errors.New("--out is required (the ISO to write)")}
			}
			if format != "text" && format != "json" {
				return usageError{fmt.Errorf("--format %q: use text or json", format)}
			}
			s, err := a.loadSpec(specPath)
			if err != nil {
				return err
			}
			r, err := provision.WriteISO(cmd.Context(), s, provision.ISOOptions{
				Base: base, Out: out, AllowUnknownBase: allowUnknown, BootTimeout: timeout,
				Env: a.env, Progress: progress.New(a.stderr, a.log, 5*time.Second), Media: mediaOf(s),
			})
			if err != nil {
				return err
			}
			if format == "json" {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(r)
			}
			fmt.Fprintf(a.stdout, "wrote %s (%d MB, sha256 %s)\nbase  %s (%s %s, sha256 %s)\nMT host key %s recorded for %s in %s\n",
				r.Out, r.Size>>20, r.SHA256, r.Base, baseName(s.OS), r.BaseVersion, r.BaseSHA256, r.HostKeyFingerprint, s.SSH.Address, r.KnownHosts)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&specPath, "spec", "", "the MT's spec file (YAML)")
	f.StringVar(&base, "base", "", "the base ISO: CentOS 6.6 x86_64 minimal, or Ubuntu 16.04.x server amd64 (default: the spec's iso.base)")
	f.StringVar(&out, "out", "", "the ISO to write")
	f.BoolVar(&allowUnknown, "allow-unknown-base", false, "remaster a base that is not the OS's known media")
	f.DurationVar(&timeout, "boot-timeout", 5*time.Second, "how long the boot menu waits before starting the kickstart install")
	f.StringVar(&format, "format", "text", "output: text or json")
	return cmd
}

// baseName names the OS's base media for the summary line.
func baseName(osName string) string {
	switch osName {
	case spec.OSUbuntu1604:
		return "Ubuntu"
	}
	return "CentOS"
}
