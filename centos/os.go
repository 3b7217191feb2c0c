package centos

import "github.com/mtprep/mtprep/provision/guest"

// Name is the spec's os: value for CentOS 6.6.
const Name = "centos-6.6"

// OS is CentOS 6.6 behind the OS interface: every part.
func OS() *guest.OS {
	return &guest.OS{
		Name:         Name,
		Shell:        Shell{},
		Release:      Release{},
		Packages:     Packages{},
		Tools:        Tools{},
		Agent:        Agent{},
		Retention:    Retention{},
		Registration: Registration{},
		Lock:         Lock{},
		Probe:        Probe{},
		Media:        Media{},
	}
}
