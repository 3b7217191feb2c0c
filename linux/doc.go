// Package linux holds the parts of the OS interface that the two Linux
// master targets, CentOS 6.6 and Ubuntu 16.04, share: the POSIX shell,
// the guest lock, the agent's preparation markers, the retention disk by
// WWID (/dev/mapper/<wwid>, ext4, fstab) and the registration. Packages
// centos and ubuntu put them in their guest.OS beside their own parts; the
// shell they run is in scripts/linux, written for the older of the two
// (bash 4.1, coreutils 8.4, util-linux-ng 2.17).
package linux
