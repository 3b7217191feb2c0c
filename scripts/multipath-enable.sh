# mtprep: enable and start multipathd, so disks appear by WWID
# (/dev/mapper/36000c29...). CentOS 6: mpathconf, chkconfig, SysV service.
set -eu
[ -f /etc/multipath.conf ] || mpathconf --enable
chkconfig multipathd on
service multipathd status >/dev/null 2>&1 || service multipathd start
