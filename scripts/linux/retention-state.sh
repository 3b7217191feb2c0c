# mtprep: report what is on the retention disk and where it is used;
# changes nothing and writes nothing. Args: WWID MOUNTPOINT.
# Output lines "key value". CentOS 6: bash 4.1, util-linux-ng 2.17 (no
# lsblk --json, no findmnt -J), coreutils 8.4.
# Shared by the CentOS 6.6 and Ubuntu 16.04 MTs (scripts/linux): it keeps
# to what CentOS 6 has (bash 4.1, coreutils 8.4, util-linux-ng 2.17);
# Ubuntu 16.04 has newer of each (bash 4.3, coreutils 8.25).
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
size=$(blockdev --getsize64 "$dev" 2>/dev/null || echo 0)
echo "size $size"
echo "readonly $(blockdev --getro "$dev" 2>/dev/null || echo 1)"
# The low-level probe (blkid -p) reads the disk itself; plain blkid answers
# from /etc/blkid.tab, which can be stale. Exit 2: nothing found; 8: more
# than one signature (ambivalent), itself a reason to refuse.
t='' l='' pt=''
p=$(blkid -p -o export "$dev" 2>/dev/null)
rc=$?
while IFS='=' read -r k v; do
    case $k in
    TYPE) t=$v; echo "signature $v (blkid -p)" ;;
    LABEL) l=$v ;;
    PTTYPE) pt=$v; echo "signature $v partition table (blkid -p)" ;;
    esac
done <<< "$p"
[ "$rc" = 8 ] && echo "signature ambivalent: more than one signature (blkid -p)"
echo "fstype ${t:-none}"
echo "label ${l:-none}"
[ -n "$pt" ] && echo "ptable $pt"
# A second opinion: wipefs -n lists every signature it knows with its
# offset (util-linux-ng 2.17 has wipefs and -p: offset,uuid,label,type).
# Without wipefs the probe above stands alone; say so.
if command -v wipefs >/dev/null 2>&1; then
    wipefs -n -p "$dev" 2>/dev/null | while IFS=, read -r off uuid lab typ; do
        case $off in '#'* | '') continue ;; esac
        echo "signature ${typ:-unknown} at $off (wipefs)"
    done
else
    echo "note wipefs missing: signatures from blkid -p only"
fi
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
# With no file system found, any byte that is not zero is data. This is a
# quick look: 1 MiB at up to 64 places spread evenly from the first MiB to
# the last, the whole disk when it is under 64 MiB. A disk it finds blank
# is still read in full (retention-scan.sh) before it is formatted, unless
# vSphere proves nothing wrote to it since mtprep created it.
if [ "${t:-none}" = none ]; then
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
# GPT: the primary header at LBA 1, and the backup at the last LBA, which
# survives a wipe of the disk's start. For 512- and 4096-byte sectors.
for ss in 512 4096; do
    if [ "$(dd if="$dev" bs=1 skip="$ss" count=8 2>/dev/null | tr -d '\000')" = "EFI PART" ]; then
        echo "ptable gpt"
    fi
    last=$((size / ss - 1))
    if [ "$last" -gt 1 ] && [ "$(dd if="$dev" bs="$ss" skip="$last" count=1 2>/dev/null | dd bs=8 count=1 2>/dev/null | tr -d '\000')" = "EFI PART" ]; then
        echo "backupgpt yes"
    fi
done
awk -v m="$mnt" '$1 !~ /^#/ && $2 == m { print "fstab " $1 " " $3; exit }' /etc/fstab
exit 0
