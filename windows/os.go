package windows

import "github.com/mtprep/mtprep/provision/guest"

// Name is the spec's os: value for Windows Server 2016.
const Name = "windows-2016"

// OS is Windows Server 2016 behind the OS interface: every part.
func OS() *guest.OS {
	return &guest.OS{
		Name: Name,
		VM: guest.VMProfile{
			GuestID: "windows9Server64Guest", GuestName: "Microsoft Windows Server 2016 (64-bit)",
			// govmomi's name (object.VirtualDeviceList.Type and
			// CreateSCSIController): "lsilogic-sas", not the LSI chip's
			// "lsisas1068", which govmomi refuses.
			Controller: "lsilogic-sas", ControllerName: "LSI Logic SAS",
			ControllerHint: "with the VM powered off change it to LSI Logic SAS in Edit Settings (Windows Server 2016 has the lsi_sas driver in the box; boot once with the new controller added beside the old one before removing the old one)",
			// The Intel 82574L: Windows Server 2016 has its driver in the
			// box; vmxnet3 needs VMware Tools, which come after the
			// install.
			NIC: "e1000e",
			// efisys.bin on Microsoft's media prompts for a key and,
			// without one, falls through to the empty disk.
			EFIKeyPrompt: true,
		},
		Shell:        Shell{},
		Release:      Release{},
		Packages:     nil, // no package list for the MT role: the packages phase is n/a
		Tools:        Tools{},
		Agent:        Agent{},
		Retention:    Retention{},
		Registration: Registration{},
		Lock:         Lock{},
		Probe:        Probe{},
		Media:        Media{},
	}
}
