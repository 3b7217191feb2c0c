# mtprep: make the retention file system, its fstab line, and mount it.
# Args: DEVICE MOUNTPOINT FORMAT(yes|no). mtprep decided, from
# retention-state.sh, that DEVICE is the retention disk and may be
# formatted; with FORMAT=no it only writes fstab and mounts. The fstab line
# names the device by WWID (/dev/mapper/<wwid>), which survives reboots and
# renumbering; nofail: a missing retention disk must not stop the boot
# (systemd drops to emergency mode for a failed fstab mount).
# Ubuntu 16.04: bash 4.3, e2fsprogs 1.42.13.
set -eu
dev=$1 mnt=$2 format=$3
if [ "$format" = yes ]; then
    mkfs.ext4 -F -q -L mtprep-retention "$dev"
fi
mkdir -p "$mnt"
awk -v m="$mnt" '$1 ~ /^#/ || $2 != m' /etc/fstab > /etc/fstab.mtprep.tmp
printf '%s %s ext4 defaults,nofail 0 2\n' "$dev" "$mnt" >> /etc/fstab.mtprep.tmp
cp -p /etc/fstab /etc/fstab.mtprep.bak
cat /etc/fstab.mtprep.tmp > /etc/fstab
rm -f /etc/fstab.mtprep.tmp
if ! awk -v m="$mnt" '$2 == m { found = 1 } END { exit !found }' /proc/mounts; then
    mount "$mnt"
fi
