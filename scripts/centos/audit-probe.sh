# mtprep audit: one read-only probe of a master target, run over one SSH
# session. It changes nothing. Args: HOSTNAME MOUNTPOINT CS_IP CS_PORT PKG...
# Output: "key value" lines; mtprep turns them into PASS/WARN/FAIL checks
# (provision.ParseProbe). Runs on CentOS 6 (bash 4.1, util-linux-ng 2.17:
# no lsblk --json, no findmnt -J; coreutils 8.4; SysV service) and on the
# newer Ubuntu MTs.
set -u
host=$1 mnt=$2 csip=$3 csport=$4
shift 4

if [ -f /etc/centos-release ]; then
    echo "os $(head -n 1 /etc/centos-release)"
elif [ -f /etc/redhat-release ]; then
    echo "os $(head -n 1 /etc/redhat-release)"
elif [ -f /etc/os-release ]; then
    echo "os $(. /etc/os-release && echo "$PRETTY_NAME")"
else
    echo "os unknown"
fi

if command -v rpm >/dev/null 2>&1; then
    for p in "$@"; do
        if v=$(rpm -q --qf '%{VERSION}-%{RELEASE}\n' "$p" 2>/dev/null); then
            echo "rpm $p $(echo "$v" | tail -n 1)"
        fi
    done
fi

if service multipathd status >/dev/null 2>&1; then echo "multipathd running"; else echo "multipathd stopped"; fi
if command -v chkconfig >/dev/null 2>&1; then
    if chkconfig --list multipathd 2>/dev/null | grep -q '3:on'; then echo "multipathd_boot on"; else echo "multipathd_boot off"; fi
elif command -v systemctl >/dev/null 2>&1; then
    if systemctl is-enabled multipathd >/dev/null 2>&1; then echo "multipathd_boot on"; else echo "multipathd_boot off"; fi
fi

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

ip -4 -o addr show scope global 2>/dev/null | awk '{ split($4, a, "/"); print "nic " a[1] }'
awk -v h="$host" '$1 !~ /^#/ { for (i = 2; i <= NF; i++) if ($i == h) print "hosts " $1 }' /etc/hosts

if timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$csip" "$csport" 2>/dev/null; then
    echo "cs reachable"
else
    echo "cs unreachable"
fi
# The agent's version file, line by line: KEY=VALUE lines (VERSION=...)
# on current agents, the bare version on old ones.
if [ -f /usr/local/.vx_version ]; then
    echo "vx_file present"
    sed 's/^/vx_line /' /usr/local/.vx_version
fi
exit 0
