# mtprep: report the MT's OS release, packages, held kernel packages and
# multipathd; changes nothing. Args: package names. Output lines:
# "release LINE" (release.sh's line, checked first), "deb NAME VERSION"
# for each installed one (dpkg-query's status "install ok installed";
# a package removed but not purged is not installed), "hold NAME" for each
# package apt-mark holds, then "multipath conf|enabled|running yes|no".
# Ubuntu 16.04: bash 4.3, dpkg 1.18, apt 1.2, systemd 229.
set -u
id='' ver=''
if [ -r /etc/os-release ]; then
    eval "$(. /etc/os-release 2>/dev/null; printf 'id=%q ver=%q\n' "${ID:-}" "${VERSION_ID:-}")"
fi
desc=$(lsb_release -ds 2>/dev/null | head -n 1)
echo "release ${id:-unknown} ${ver:-unknown}|$desc|$(uname -r)"
for p in "$@"; do
    dpkg-query -W -f='${Package} ${Version} ${Status}\n' "$p" 2>/dev/null |
        awk '$3 == "install" && $4 == "ok" && $5 == "installed" { print "deb " $1 " " $2 }'
done
apt-mark showhold 2>/dev/null | sed 's/^/hold /'
# Configured means a multipath.conf that maps single-path disks and names
# maps by WWID: xenial's multipath-tools defaults to find_multipaths yes
# (its enable-find-multipaths patch), under which a VMware disk, which has
# one path, gets no /dev/mapper/<wwid> map; and user_friendly_names yes
# would name maps mpathN.
if [ -f /etc/multipath.conf ] &&
    grep -Eq '^[[:space:]]*find_multipaths[[:space:]]+"?no"?' /etc/multipath.conf &&
    ! grep -Eq '^[[:space:]]*user_friendly_names[[:space:]]+"?yes"?' /etc/multipath.conf; then
    echo "multipath conf yes"
else
    echo "multipath conf no"
fi
if systemctl is-enabled multipathd >/dev/null 2>&1 || systemctl is-enabled multipath-tools >/dev/null 2>&1; then
    echo "multipath enabled yes"
else
    echo "multipath enabled no"
fi
if systemctl is-active multipathd >/dev/null 2>&1; then echo "multipath running yes"; else echo "multipath running no"; fi
exit 0
