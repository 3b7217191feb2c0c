package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/mtprep/mtprep/centos"
	"github.com/mtprep/mtprep/packages"
	"github.com/mtprep/mtprep/ubuntu"
)

func (a *app) bundleCmd() *cobra.Command {
	var from, out, osName string
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Pack a directory of RPMs (or .debs) into an offline bundle for MTs without internet",
		Long: `Pack every .rpm in --from into an uncompressed tar with a SHA256SUMS manifest
(sha256sum's format, so the MT checks it with its own sha256sum -c). The RPMs
must cover the MT's package manifest at its minimum versions: xfsprogs, perl,
lsscsi, rsync, wget, kexec-tools, kmod-reiserfs, reiserfs-utils and
device-mapper-multipath. Use it with 'packages: {source: bundle, bundle: ...}'.

With --os ubuntu-16.04 it packs every .deb instead (name, version and
architecture read from each package's control file): they must cover
multipath-tools, lsscsi, python-pyasn1, lvm2 and kpartx at xenial's
versions; add open-vm-tools for the tools phase.`,
		Example: `  # on a machine with the CentOS 6.6 and ELRepo RPMs downloaded into ./rpms
  mtprep bundle --from ./rpms --out mt-bundle.tar
  # xenial's .debs (apt-get download ... on a 16.04 machine) in ./debs
  mtprep bundle --os ubuntu-16.04 --from ./debs --out mt-bundle-xenial.tar`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" || out == "" {
				return usageError{errors.New("--from and --out are required")}
			}
			switch osName {
			case ubuntu.Name:
				debs, err := packages.WriteDebBundle(cmd.Context(), from, out, ubuntu.Required())
				if err != nil {
					return usageError{err}
				}
				for _, d := range debs {
					fmt.Fprintf(a.stdout, "%s  %s\n", d.SHA256, d.File)
				}
				fmt.Fprintf(a.stdout, "wrote %s (%d .debs)\n", out, len(debs))
				return nil
			case centos.Name:
			default:
				return usageError{fmt.Errorf("--os %q: bundles are for %s (RPMs) or %s (.debs)", osName, centos.Name, ubuntu.Name)}
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
	cmd.Flags().StringVar(&osName, "os", centos.Name, "the MT's os: centos-6.6 (RPMs) or ubuntu-16.04 (.debs)")
	return cmd
}
