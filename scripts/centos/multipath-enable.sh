# mtprep: enable and start multipathd, so disks appear by WWID
# (/dev/mapper/36000c29...). CentOS 6: mpathconf, chkconfig, SysV service.
set -eu
# WWID names (/dev/mapper/36000c29...), not el6's default mpathN friendly names:
# the retention phase finds the disk by the WWID vSphere gives it.
if [ ! -f /etc/multipath.conf ] || grep -Eq '^[[:space:]]*user_friendly_names[[:space:]]+yes' /etc/multipath.conf; then
    mpathconf --enable --user_friendly_names n
fi
chkconfig multipathd on
service multipathd status >/dev/null 2>&1 || service multipathd start
