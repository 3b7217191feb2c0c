#!/bin/sh
# make deps: the Debian packages of .ci/apt-packages.d/*.txt that make test
# and make demo need. Installs the missing ones as root (apt-get update
# once, then apt-get install); otherwise names the command to run and
# fails. Quiet when everything is there.
set -eu
cd "$(dirname "$0")/.."
pkgs=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' .ci/apt-packages.d/*.txt | sort -u)
missing=""
for p in $pkgs; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing="$missing $p"
done
[ -n "$missing" ] || exit 0
if ! command -v apt-get >/dev/null 2>&1; then
	echo "deps: missing Debian packages:$missing (this is not a Debian machine: install their equivalents)" >&2
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing Debian packages; run: sudo apt-get update && sudo apt-get install -y --no-install-recommends$missing" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086 # one word per package
apt-get install -y -q --no-install-recommends $missing
