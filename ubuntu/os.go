package ubuntu

import (
	"github.com/mtprep/mtprep/linux"
	"github.com/mtprep/mtprep/provision/guest"
)

// Name is the spec's os: value for Ubuntu 16.04.
const Name = "ubuntu-16.04"

// OS is Ubuntu 16.04 behind the OS interface: every part.
func OS() *guest.OS {
	return &guest.OS{
		Name: Name,
		VM: guest.VMProfile{
			GuestID: "ubuntu64Guest", GuestName: "Ubuntu Linux (64-bit)",
			// As CentOS: never pvscsi (ASR's reprotect fails with
			// Paravirtual).
			Controller: "lsilogic", ControllerName: "LSI Logic",
			ControllerHint: "with the VM powered off change it to LSI Logic Parallel in Edit Settings (Ubuntu 16.04's kernel has the mptspi driver)",
			// 16.04's kernel has the vmxnet3 driver.
			NIC: "vmxnet3",
		},
		Shell:        linux.Shell{RunDir: "/run"},
		Release:      Release{},
		Packages:     Packages{},
		Tools:        Tools{},
		Agent:        linux.Agent{},
		Retention:    linux.Retention{FstabOptions: "defaults,nofail"},
		Registration: linux.Registration{NewFormOnly: true},
		Lock:         linux.Lock{},
		Probe:        Probe{},
		Media:        Media{},
	}
}
