package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mtprep/mtprep/packages"
)

func (a *app) bundleCmd() *cobra.Command {
	var from, out string
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Pack a directory of RPMs into an offline bundle for MTs without internet",
		Long: `Pack every .rpm in --from into an uncompressed tar with a SHA256SUMS manifest
(sha256sum's format, so the MT checks it with its own sha256sum -c). The RPMs
must cover the MT's package manifest at its minimum versions: xfsprogs, perl,
lsscsi, rsync, wget, kexec-tools, kmod-reiserfs, reiserfs-utils and
device-mapper-multipath. Use it with 'packages: {source: bundle, bundle: ...}'.`,
		Example: `  # on a machine with the CentOS 6.6 and ELRepo RPMs downloaded into ./rpms
  mtprep bundle --from ./rpms --out mt-bundle.tar`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" || out == "" {
				return usageError{errors.New("--from and --out are required")}
			}
			rpms, err := packages.WriteBundle(cmd.Context(), from, out)
			if err != nil {
				return usageError{err}
			}
			for _, r := range rpms {
				fmt.Fprintf(a.stdout, "%s  %s\n", r.SHA256, r.File)
			}
			fmt.Fprintf(a.stdout, "wrote %s (%d RPMs)\n", out, len(rpms))
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "directory of .rpm files")
	cmd.Flags().StringVar(&out, "out", "", "bundle to write (tar)")
	return cmd
}
