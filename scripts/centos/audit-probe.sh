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
elif [ -f /etc/os-release ]; then  # not CentOS: names the system a wrong spec points at
    echo "os $(. /etc/os-release && echo "$PRETTY_NAME")"  # not CentOS: names the system a wrong spec points at
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
elif command -v systemctl >/dev/null 2>&1; then  # not CentOS: names the system a wrong spec points at
    if systemctl is-enabled multipathd >/dev/null 2>&1; then echo "multipathd_boot on"; else echo "multipathd_boot off"; fi  # not CentOS: names the system a wrong spec points at
fi

# The rest of the probe (agent markers, retention, NICs, hosts, the
# configuration server, the agent's version) is scripts/linux's
# audit-probe-common.sh, appended by linux.ProbeScript.
