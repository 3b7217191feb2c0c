package centos

import (
	"github.com/mtprep/mtprep/linux"
	"github.com/mtprep/mtprep/provision/guest"
)

// Name is the spec's os: value for CentOS 6.6.
const Name = "centos-6.6"

// OS is CentOS 6.6 behind the OS interface: every part.
func OS() *guest.OS {
	return &guest.OS{
		Name: Name,
		VM: guest.VMProfile{
			GuestID: "centos64Guest", GuestName: "CentOS 6 64-bit",
			Controller: "lsilogic", ControllerName: "LSI Logic",
			ControllerHint: "with the VM powered off change it to LSI Logic Parallel in Edit Settings (the guest needs the mptspi driver, which CentOS 6 has)",
			// CentOS 6's kernel has the driver, and replication traffic
			// gains from it over the emulated e1000.
			NIC: "vmxnet3",
		},
		Shell:        linux.Shell{},
		Release:      Release{},
		Packages:     Packages{},
		Tools:        Tools{},
		Agent:        linux.Agent{},
		Retention:    linux.Retention{},
		Registration: linux.Registration{},
		Lock:         linux.Lock{},
		Probe:        Probe{},
		Media:        Media{},
	}
}
