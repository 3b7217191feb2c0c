# mtprep audit: one read-only probe of a master target, run over one SSH
# session. It changes nothing. Args: HOSTNAME MOUNTPOINT CS_IP CS_PORT PKG...
# Output: "key value" lines; mtprep turns them into PASS/WARN/FAIL checks.
# Runs on CentOS 6 (bash 4.1, util-linux-ng 2.17: no lsblk --json, no
# findmnt -J; coreutils 8.4; SysV service) and on the newer Ubuntu MTs.
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

for p in "$@"; do
    if command -v rpm >/dev/null 2>&1 && v=$(rpm -q --qf '%{VERSION}-%{RELEASE}\n' "$p" 2>/dev/null); then
        echo "rpm $p $(echo "$v" | tail -n 1)"
    fi
done

if service multipathd status >/dev/null 2>&1; then echo "multipathd running"; else echo "multipathd stopped"; fi

for m in started done reboot-pending; do
    [ -f "/root/.mtprep/applycustomchanges.$m" ] && echo "acc_$m $(head -n 1 "/root/.mtprep/applycustomchanges.$m")"
done

# Retention: what is mounted there, from where, its type, space, fstab.
awk -v m="$mnt" '$2 == m { print "ret_mount " $1 " " $3 }' /proc/mounts
awk -v m="$mnt" '$1 !~ /^#/ && $2 == m { print "ret_fstab " $1 " " $3 }' /etc/fstab
if awk -v m="$mnt" '$2 == m { f = 1 } END { exit !f }' /proc/mounts; then
    df -P -k "$mnt" | awk 'NR == 2 { print "ret_df " $2 " " $4 }'
fi

ip -4 -o addr show scope global 2>/dev/null | awk '{ split($4, a, "/"); print "nic " a[1] }'
awk -v h="$host" '$1 !~ /^#/ { for (i = 2; i <= NF; i++) if ($i == h) print "hosts " $1 }' /etc/hosts

if timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$csip" "$csport" 2>/dev/null; then
    echo "cs reachable"
else
    echo "cs unreachable"
fi
[ -f /usr/local/.vx_version ] && echo "vx_version $(tr '\n' ' ' < /usr/local/.vx_version)"
exit 0
