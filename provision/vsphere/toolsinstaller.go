package vsphere

import (
	"context"
	"fmt"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25/types"
)

// MountToolsInstaller puts the ESXi host's VMware Tools installer in the
// VM's CD-ROM (VirtualMachine.MountToolsInstaller): the source of Tools on
// an OS whose media carry none. A failure is an *Error whose MethodFault
// the caller can judge (ToolsImageNotAvailable: the host has no image).
func (s *Session) MountToolsInstaller(ctx context.Context, ref types.ManagedObjectReference, name string) error {
	if err := object.NewVirtualMachine(s.Client, ref).MountToolsInstaller(ctx); err != nil {
		return &Error{Op: "mount the host's VMware Tools installer in", Object: name, Err: err}
	}
	return nil
}

// UnmountToolsInstaller takes the installer out again.
func (s *Session) UnmountToolsInstaller(ctx context.Context, ref types.ManagedObjectReference, name string) error {
	if err := object.NewVirtualMachine(s.Client, ref).UnmountToolsInstaller(ctx); err != nil {
		return &Error{Op: "take the VMware Tools installer out of", Object: name, Err: err}
	}
	return nil
}

// USB HID usage of the space bar (HID Usage Tables, Keyboard page 0x07).
const hidSpace = 0x2c

// PressSpace types the space bar on the VM's console
// (VirtualMachine.PutUsbScanCodes, vSphere 6.5 and later): what an
// operator does at an installer's "press any key" prompt.
func (s *Session) PressSpace(ctx context.Context, ref types.ManagedObjectReference, name string) error {
	spec := types.UsbScanCodeSpec{KeyEvents: []types.UsbScanCodeSpecKeyEvent{{UsbHidCode: int32(hidSpace<<16 | 7)}}}
	if _, err := object.NewVirtualMachine(s.Client, ref).PutUsbScanCodes(ctx, spec); err != nil {
		return fmt.Errorf("%s: pressing a key on the console: %s", name, FaultText(err))
	}
	return nil
}
