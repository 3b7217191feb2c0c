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

# The rest of the probe (agent markers, retention, NICs, hosts, the
# configuration server, the agent's version) is scripts/linux's
# audit-probe-common.sh, appended by linux.ProbeScript.
