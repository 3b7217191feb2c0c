# mtprep: install packages with apt-get from the repositories the spec
# names. Args: SOURCE... -- NAME... Each SOURCE is a sources.list line
# ("deb http://archive.ubuntu.com/ubuntu xenial main") or a URL, which is
# taken as "deb URL xenial main universe". They go to
# /etc/apt/sources.list.d/mtprep.list; apt-get update then install.
# Ubuntu 16.04: bash 4.3, apt 1.2.
set -eu
list=/etc/apt/sources.list.d/mtprep.list
mkdir -p "${list%/*}"
: > "$list.tmp"
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    case $1 in
    deb\ * | deb-src\ *) printf '%s\n' "$1" >> "$list.tmp" ;;
    *) printf 'deb %s xenial main universe\n' "$1" >> "$list.tmp" ;;
    esac
    shift
done
mv "$list.tmp" "$list"
[ "${1:-}" = "--" ] && shift
export DEBIAN_FRONTEND=noninteractive
apt-get -q update
apt-get -q -y --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install "$@"
