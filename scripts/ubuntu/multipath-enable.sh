# mtprep: enable and start multipathd, so disks appear by WWID
# (/dev/mapper/36000c29...). Ubuntu 16.04's multipath-tools names maps by
# WWID when no multipath.conf says otherwise; a multipath.conf that turns
# user_friendly_names on gets it turned off (the retention phase finds the
# disk by the WWID vSphere gives it). systemd 229: systemctl.
set -eu
if [ -f /etc/multipath.conf ] && grep -Eq '^[[:space:]]*user_friendly_names[[:space:]]+yes' /etc/multipath.conf; then
    cp -p /etc/multipath.conf /etc/multipath.conf.mtprep.bak
    sed -i -E 's/^([[:space:]]*user_friendly_names[[:space:]]+)yes/\1no/' /etc/multipath.conf
    systemctl reload multipathd >/dev/null 2>&1 || true
fi
systemctl enable multipathd
systemctl is-active multipathd >/dev/null 2>&1 || systemctl start multipathd
