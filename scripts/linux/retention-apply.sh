# mtprep: make the retention file system, its fstab line, and mount it.
# Args: DEVICE MOUNTPOINT FORMAT(yes|named|no) [FSTAB_OPTIONS]. mtprep decided, from
# retention-state.sh, that DEVICE is the retention disk and may be
# formatted: yes for a disk found blank (looked at once more here), named
# for the disk the operator named with --format-wwid; with FORMAT=no it
# only writes fstab and mounts. The fstab line
# names the device by WWID (/dev/mapper/<wwid>), which survives reboots and
# renumbering. FSTAB_OPTIONS: "defaults" on CentOS 6; "defaults,nofail"
# on Ubuntu 16.04, where systemd drops to emergency mode for a failed fstab
# mount. CentOS 6: bash 4.1, e2fsprogs 1.41.
set -eu
dev=$1 mnt=$2 format=$3 opts=${4:-defaults}
if [ "$format" = yes ]; then
    # A last look just before mkfs, in the same script: a signature that
    # appeared after mtprep's check and scan (another tool, another admin)
    # refuses here instead of being formatted. Exit 3: refused.
    found=$(blkid -p -o export "$dev" 2>/dev/null | grep -E '^(TYPE|PTTYPE)=' | tr '\n' ' ')
    if command -v wipefs >/dev/null 2>&1; then
        found="$found$(wipefs -n -p "$dev" 2>/dev/null | grep -v '^#' | cut -d, -f4 | tr '\n' ' ')"
    fi
    # The first and last MiB (the places partition tables and most
    # signatures live) must still read as zeros.
    sz=$(blockdev --getsize64 "$dev")
    for o in 0 $((sz / 1048576 - 1)); do
        if ! dd if="$dev" bs=1048576 skip="$o" count=1 iflag=direct 2>/dev/null | cmp -s -n 1048576 - /dev/zero; then
            found="$found non-zero bytes in MiB $o"
        fi
    done
    if [ -n "$(echo "$found" | tr -d ' ')" ]; then
        echo "refused: $dev changed after mtprep checked it: $found" >&2
        exit 3
    fi
fi
if [ "$format" = yes ] || [ "$format" = named ]; then
    mkfs.ext4 -F -q -L mtprep-retention "$dev"
fi
mkdir -p "$mnt"
awk -v m="$mnt" '$1 ~ /^#/ || $2 != m' /etc/fstab > /etc/fstab.mtprep.tmp
printf '%s %s ext4 %s 0 2\n' "$dev" "$mnt" "$opts" >> /etc/fstab.mtprep.tmp
cp -p /etc/fstab /etc/fstab.mtprep.bak
cat /etc/fstab.mtprep.tmp > /etc/fstab
rm -f /etc/fstab.mtprep.tmp
if ! awk -v m="$mnt" '$2 == m { found = 1 } END { exit !found }' /proc/mounts; then
    mount "$mnt"
fi
