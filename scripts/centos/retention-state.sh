# mtprep: report what is on the retention disk and where it is used;
# changes nothing and writes nothing. Args: WWID MOUNTPOINT.
# Output lines "key value". CentOS 6: bash 4.1, util-linux-ng 2.17 (no
# lsblk --json, no findmnt -J), coreutils 8.4.
set -u
wwid=$1 mnt=$2
dev=/dev/mapper/$wwid
[ -e "$dev" ] || dev=/dev/disk/by-id/scsi-$wwid
if [ ! -b "$dev" ]; then
    echo "device none"
    exit 0
fi
echo "device $dev"
mm=$(stat -L -c '%t:%T' "$dev")
echo "majmin $mm"
echo "size $(blockdev --getsize64 "$dev" 2>/dev/null || echo 0)"
echo "readonly $(blockdev --getro "$dev" 2>/dev/null || echo 1)"
t=$(blkid -o value -s TYPE "$dev" 2>/dev/null || true)
echo "fstype ${t:-none}"
l=$(blkid -o value -s LABEL "$dev" 2>/dev/null || true)
echo "label ${l:-none}"
# Mounted or used as swap anywhere, under any of its names.
same() { [ -b "$1" ] && [ "$(stat -L -c '%t:%T' "$1" 2>/dev/null)" = "$mm" ]; }
while read -r src target rest; do
    if same "$src"; then echo "mounted $target"; fi
done < /proc/mounts
while read -r src rest; do
    if same "$src"; then echo "swap yes"; fi
done < /proc/swaps
# Held by a partition, dm or md device built on it.
d=$((16#${mm%%:*})):$((16#${mm##*:}))
if [ -d "/sys/dev/block/$d/holders" ] && [ -n "$(ls "/sys/dev/block/$d/holders" 2>/dev/null)" ]; then
    echo "holders yes"
fi
# With no file system found, any byte that is not zero is data. Reading a
# 1 TB disk whole would take hours: read 1 MiB at up to 64 places spread
# evenly from the first MiB to the last (where a GPT keeps its backup), the
# whole disk when it is under 64 MiB.
if [ "${t:-none}" = none ]; then
    size=$(blockdev --getsize64 "$dev" 2>/dev/null || echo 0)
    mib=$((size / 1048576))
    samples=64
    [ "$mib" -lt "$samples" ] && samples=$mib
    nz=0 i=0
    while [ "$i" -lt "$samples" ]; do
        off=0
        [ "$samples" -gt 1 ] && off=$((i * (mib - 1) / (samples - 1)))
        c=$(dd if="$dev" bs=1M skip="$off" count=1 2>/dev/null | tr -d '\000' | wc -c)
        nz=$((nz + c)) i=$((i + 1))
    done
    echo "nonzero $nz"
    echo "sampled $samples"
fi
if [ "$(dd if="$dev" bs=1 skip=510 count=2 2>/dev/null | od -An -tx1 | tr -d ' \n')" = "55aa" ]; then
    echo "ptable mbr"
fi
if [ "$(dd if="$dev" bs=1 skip=512 count=8 2>/dev/null | tr -d '\000')" = "EFI PART" ]; then
    echo "ptable gpt"
fi
awk -v m="$mnt" '$1 !~ /^#/ && $2 == m { print "fstab " $1 " " $3; exit }' /etc/fstab
exit 0
