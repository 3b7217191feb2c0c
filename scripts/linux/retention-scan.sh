# mtprep: read LENGTH bytes of DEVICE from OFFSET and report whether every
# byte is zero; it only reads. Args: DEVICE OFFSET LENGTH STREAMS. OFFSET
# is a multiple of 4 MiB. mtprep calls it once per chunk of the disk, so it
# shows progress, stops between chunks on Ctrl-C, and starts again from the
# beginning on the next run (nothing is written, nothing is kept).
# Reads are sequential, 4 MiB, aligned, O_DIRECT (dd iflag=direct, coreutils
# 8.4), in STREAMS contiguous parts read side by side: one dd | cmp stream
# alternates reading and comparing; two keep the disk busy while the other
# compares (measured: docs/PERFORMANCE.md). cmp -n against /dev/zero stops
# at the first differing byte and names it (diffutils 2.8: "char N", newer:
# "byte N", 1-based). Output, one line per part:
#   part START zero | part START nonzero OFFSET | part START error TEXT
# CentOS 6: bash 4.1, coreutils 8.4, diffutils 2.8.1.
# Shared by the CentOS 6.6 and Ubuntu 16.04 MTs (scripts/linux): it keeps
# to what CentOS 6 has (bash 4.1, coreutils 8.4, util-linux-ng 2.17);
# Ubuntu 16.04 has newer of each (bash 4.3, coreutils 8.25).
set -u
export LC_ALL=C
dev=$1 off=$2 len=$3 streams=${4:-2}
bs=4194304
blocks=$(((len + bs - 1) / bs))
[ "$streams" -gt "$blocks" ] && streams=$blocks
[ "$streams" -lt 1 ] && streams=1
per=$(((blocks + streams - 1) / streams))
end=$((off + len))
i=0
while [ "$i" -lt "$streams" ]; do
    start=$((off + i * per * bs))
    n=$((per * bs))
    [ $((start + n)) -gt "$end" ] && n=$((end - start))
    if [ "$n" -gt 0 ]; then
        (
            r=$(dd if="$dev" bs=$bs iflag=direct skip=$((start / bs)) count=$(((n + bs - 1) / bs)) 2>/dev/null |
                cmp -n "$n" - /dev/zero 2>&1)
            rc=$?
            case $rc:$r in
            0:*) echo "part $start zero" ;;
            1:*differ:*)
                b=${r##*differ: }
                b=${b#byte }
                b=${b#char }
                b=${b%%,*}
                echo "part $start nonzero $((start + b - 1))"
                ;;
            *) echo "part $start error $(echo "$r" | tr '\n' ' ')" ;;
            esac
        ) &
    fi
    i=$((i + 1))
done
wait
exit 0
