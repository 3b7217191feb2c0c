package vsphere

import (
	"context"
	"fmt"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

// MountToolsInstaller puts the ESXi host's VMware Tools installer in the
// VM's CD-ROM (VirtualMachine.MountToolsInstaller): the source of Tools on
// an OS whose media carry none (Windows).
func (s *Session) MountToolsInstaller(ctx context.Context, ref types.ManagedObjectReference, name string) error {
	if err := object.NewVirtualMachine(s.Client, ref).MountToolsInstaller(ctx); err != nil {
		return fmt.Errorf("%s: mounting the host's VMware Tools installer: %s", name, FaultText(err))
	}
	return nil
}

// UnmountToolsInstaller takes the installer out again.
func (s *Session) UnmountToolsInstaller(ctx context.Context, ref types.ManagedObjectReference, name string) error {
	if err := object.NewVirtualMachine(s.Client, ref).UnmountToolsInstaller(ctx); err != nil {
		return fmt.Errorf("%s: unmounting the VMware Tools installer: %s", name, FaultText(err))
	}
	return nil
}
