# mtprep: report what the handoff phase checks; changes nothing.
# Args: HOSTNAME CS_IP CS_PORT. Output lines "key value".
# CentOS 6: bash 4.1 (/dev/tcp), coreutils 8.4 (timeout), iproute.
# Shared by the CentOS 6.6 and Ubuntu 16.04 MTs (scripts/linux): it keeps
# to what CentOS 6 has (bash 4.1, coreutils 8.4, util-linux-ng 2.17);
# Ubuntu 16.04 has newer of each (bash 4.3, coreutils 8.25).
# linux.WithNetState appends net-state.sh (the NICs, /etc/hosts, the
# configuration server's reachability).
set -u
host=$1 csip=$2 csport=$3
# The agent's .vx_version holds KEY=VALUE lines (VERSION=9.3.0.0,
# INSTALLATION_DIR=...); older ones hold the bare version.
if [ -f /usr/local/.vx_version ]; then
    v=$(sed -n 's/^VERSION=//p' /usr/local/.vx_version | head -n 1)
    [ -n "$v" ] || v=$(head -n 1 /usr/local/.vx_version)
    echo "vx_version $v"
fi
if [ -f /root/.mtprep/registered ]; then
    echo "registered $(head -n 1 /root/.mtprep/registered)"
fi
