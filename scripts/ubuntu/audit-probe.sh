# mtprep audit: one read-only probe of an Ubuntu 16.04 master target, run
# over one SSH session. It changes nothing. Args: HOSTNAME MOUNTPOINT CS_IP
# CS_PORT PKG... Output: "key value" lines in the format of the CentOS
# probe (provision/audit.ParseProbe) with the same keys, except that
# packages are "deb NAME VERSION" (dpkg-query) where CentOS prints "rpm",
# and "kernel RELEASE" and "hold NAME" lines are added. multipathd is
# systemd's (systemctl is-active, is-enabled). Ubuntu 16.04: bash 4.3,
# util-linux 2.27.1, coreutils 8.25, dpkg 1.18, systemd 229.
set -u
host=$1 mnt=$2 csip=$3 csport=$4
shift 4

if [ -f /etc/os-release ]; then
    echo "os $(. /etc/os-release && echo "$PRETTY_NAME")"
else
    echo "os unknown"
fi
echo "kernel $(uname -r)"

for p in "$@"; do
    dpkg-query -W -f='${Package} ${Version} ${Status}\n' "$p" 2>/dev/null |
        awk '$3 == "install" && $4 == "ok" && $5 == "installed" { print "deb " $1 " " $2 }'
done
apt-mark showhold 2>/dev/null | sed 's/^/hold /'

if systemctl is-active multipathd >/dev/null 2>&1; then echo "multipathd running"; else echo "multipathd stopped"; fi
if systemctl is-enabled multipathd >/dev/null 2>&1; then echo "multipathd_boot on"; else echo "multipathd_boot off"; fi

for m in started done reboot-pending; do
    [ -f "/root/.mtprep/applycustomchanges.$m" ] && echo "acc_$m $(head -n 1 "/root/.mtprep/applycustomchanges.$m")"
done

# Retention: what is mounted there, from where, its type, space, fstab.
awk -v m="$mnt" '$2 == m { print "ret_mount " $1 " " $3 }' /proc/mounts
awk -v m="$mnt" '$1 !~ /^#/ && $2 == m { print "ret_fstab " $1 " " $3 }' /etc/fstab
dev=$(awk -v m="$mnt" '$2 == m { d = $1 } END { print d }' /proc/mounts)
if [ -n "$dev" ]; then
    df -P -k "$mnt" | awk 'NR == 2 { print "ret_df " $2 " " $4 }'
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
if [ -f /usr/local/.vx_version ]; then
    echo "vx_file present"
    sed 's/^/vx_line /' /usr/local/.vx_version
fi
exit 0
