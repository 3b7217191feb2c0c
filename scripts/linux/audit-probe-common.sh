# mtprep audit: the half of the read-only probe that both Linux MTs run
# unchanged (CentOS 6.6 and Ubuntu 16.04): the agent preparation markers,
# the retention mount and the agent's version file; net-state.sh (the
# NICs, /etc/hosts, the configuration server) follows it. linux.ProbeScript appends it
# to the OS's own half (scripts/<os>/audit-probe.sh), which sets host, mnt,
# csip and csport from the arguments and prints the os, package and
# multipathd lines. Read-only; bash 4.1, util-linux-ng 2.17.

for m in started done reboot-pending; do
    [ -f "/root/.mtprep/applycustomchanges.$m" ] && echo "acc_$m $(head -n 1 "/root/.mtprep/applycustomchanges.$m")"
done

# Retention: what is mounted there, from where, its type, space, fstab.
awk -v m="$mnt" '$2 == m { print "ret_mount " $1 " " $3 }' /proc/mounts
awk -v m="$mnt" '$1 !~ /^#/ && $2 == m { print "ret_fstab " $1 " " $3 }' /etc/fstab
dev=$(awk -v m="$mnt" '$2 == m { d = $1 } END { print d }' /proc/mounts)
if [ -n "$dev" ]; then
    df -P -k "$mnt" | awk 'NR == 2 { print "ret_df " $2 " " $4 }'
    # The mounted device's WWID: the /dev/mapper or by-id name with the
    # same device number (whichever name it was mounted by).
    if [ -b "$dev" ]; then
        num=$(stat -L -c '%t:%T' "$dev" 2>/dev/null)
        for f in /dev/mapper/3* /dev/disk/by-id/scsi-3*; do
            if [ -b "$f" ] && [ "$(stat -L -c '%t:%T' "$f" 2>/dev/null)" = "$num" ]; then
                w=${f##*/}
                echo "ret_wwid ${w#scsi-}"
                break
            fi
        done
    fi
fi

# The agent's version file, line by line: KEY=VALUE lines (VERSION=...)
# on current agents, the bare version on old ones.
if [ -f /usr/local/.vx_version ]; then
    echo "vx_file present"
    sed 's/^/vx_line /' /usr/local/.vx_version
fi
