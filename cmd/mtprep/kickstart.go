package main

import (
	"github.com/spf13/cobra"

	"github.com/mtprep/mtprep/provision"
)

func (a *app) kickstartCmd() *cobra.Command {
	var specPath string
	cmd := &cobra.Command{
		Use:   "kickstart",
		Short: "Print the MT's answer file: the CentOS 6.6 kickstart, the Ubuntu 16.04 preseed or Windows' autounattend.xml",
		Long: `Print the kickstart that installs the MT unattended: static network,
SHA-512 hashed root password (a fresh salt each run), the custom layout /,
swap, /var/crash and /home on the OS disk only, and root's authorized key
from ssh.privateKey. The root password is read from rootPassword's env
variable or file; it never appears on the command line.

The kickstart printed here has no SSH host key; 'mtprep iso' adds one and
records it in ssh.knownHosts so the first connection is checked strictly.

For os: ubuntu-16.04 it prints the preseed (the root password as a SHA-512
crypt hash, only /dev/sda partitioned, no LVM); for os: windows-2016
autounattend.xml (the Administrator password is only base64 there, as
Windows' unattend format has it: keep the output private).`,
		Example: `  export MT_ROOT_PASSWORD   # or rootPassword: {file: ...} in the spec
  mtprep kickstart --spec mt01.yaml > ks.cfg`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.loadSpec(specPath)
			if err != nil {
				return err
			}
			out, err := provision.RenderSeed(mediaOf(s), s, provision.RenderOptions{Env: a.env})
			if err != nil {
				return err
			}
			_, err = a.stdout.Write(out[0].Data)
			return err
		},
	}
	cmd.Flags().StringVar(&specPath, "spec", "", "the MT's spec file (YAML)")
	return cmd
}
