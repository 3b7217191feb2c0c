package centos

import "github.com/mtprep/mtprep/provision/guest"

// Name is the spec's os: value for CentOS 6.6.
const Name = "centos-6.6"

// OS is CentOS 6.6 behind the OS interface.
func OS() *guest.OS {
	return &guest.OS{Name: Name, Shell: Shell{}}
}
