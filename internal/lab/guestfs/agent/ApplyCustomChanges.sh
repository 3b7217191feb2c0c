#!/bin/bash
# ApplyCustomChanges.sh from the Unified Agent package: mtlab STAND-IN.
#
# The real script changes kernel and udev settings for the master target and
# must run exactly once, followed by a reboot. This stand-in changes nothing
# but counts its runs: one line per run in
# /var/lib/mtlab/applycustomchanges.count, so tests see how many times mtprep
# ran it. It records that a reboot is pending in /var/run (cleared by the
# guest's reboot). bash 4.1 compatible.
export LC_ALL=C
if [ "$(id -u)" != 0 ]; then
	echo "ERROR: ApplyCustomChanges.sh must be run as root" >&2
	exit 1
fi
grep -Eq 'release 6\.' /etc/redhat-release 2>/dev/null || {
	echo "ERROR: unsupported OS: $(cat /etc/redhat-release 2>/dev/null)" >&2
	exit 1
}
mkdir -p /var/lib/mtlab
echo "$(date -u '+%Y-%m-%dT%H:%M:%SZ') pid=$$ dir=$(cd "$(dirname "$0")" && pwd -P)" >> /var/lib/mtlab/applycustomchanges.count
touch /var/run/mtlab-applycustomchanges.reboot-pending
echo "Custom changes applied successfully. Reboot the server for the changes to take effect."
exit 0
