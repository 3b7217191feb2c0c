# mtprep: print the MT's OS release as one line; changes nothing.
# Output: "ID VERSION_ID|lsb_release -ds|uname -r", e.g.
# "ubuntu 16.04|Ubuntu 16.04.2 LTS|4.4.0-62-generic". /etc/os-release is
# systemd's (Ubuntu 16.04 has it); lsb_release comes with lsb-release,
# which a 16.04 server install has. Ubuntu 16.04: bash 4.3.
set -u
id='' ver='' pretty=''
if [ -r /etc/os-release ]; then
    # A subshell: sourcing must not touch this script's variables.
    eval "$(. /etc/os-release 2>/dev/null; printf 'id=%q ver=%q pretty=%q\n' "${ID:-}" "${VERSION_ID:-}" "${PRETTY_NAME:-}")"
fi
desc=$(lsb_release -ds 2>/dev/null | head -n 1)
[ -n "$desc" ] || desc=$pretty
[ -n "$id" ] || id=unknown
[ -n "$ver" ] || ver=unknown
printf '%s %s|%s|%s\n' "$id" "$ver" "$desc" "$(uname -r)" | tr -d '\r'
