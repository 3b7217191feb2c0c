# mtprep: print the version of the Unified Agent installed on the MT, or
# nothing when there is none; changes nothing. The agent's .vx_version
# holds KEY=VALUE lines (VERSION=9.3.0.0, ...); older ones the bare
# version. CentOS 6: bash 4.1, sed, head.
# Shared by the CentOS 6.6 and Ubuntu 16.04 MTs (scripts/linux): it keeps
# to what CentOS 6 has (bash 4.1, coreutils 8.4, util-linux-ng 2.17);
# Ubuntu 16.04 has newer of each (bash 4.3, coreutils 8.25).
set -u
f=/usr/local/.vx_version
[ -f "$f" ] || exit 0
v=$(sed -n 's/^VERSION=//p' "$f" | head -n 1)
[ -n "$v" ] || v=$(head -n 1 "$f")
echo "$v"
