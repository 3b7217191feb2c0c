# mtprep: print the version of the Unified Agent installed on the MT, or
# nothing when there is none; changes nothing. The agent's .vx_version
# holds KEY=VALUE lines (VERSION=9.3.0.0, ...); older ones the bare
# version. Ubuntu 16.04: bash 4.3, sed, head.
set -u
f=/usr/local/.vx_version
[ -f "$f" ] || exit 0
v=$(sed -n 's/^VERSION=//p' "$f" | head -n 1)
[ -n "$v" ] || v=$(head -n 1 "$f")
echo "$v"
