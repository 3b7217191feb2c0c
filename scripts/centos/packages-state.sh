# mtprep: report the MT's OS release, packages and multipathd state;
# changes nothing. Args: package names. Output lines: "release LINE" (the
# OS, checked by mtprep before anything else), "rpm NAME VERSION-RELEASE"
# for each installed one, then "multipath conf|enabled|running yes|no".
# CentOS 6: bash 4.1, SysV service and chkconfig, no /etc/os-release.
set -u
rel=$(cat /etc/centos-release 2>/dev/null || cat /etc/redhat-release 2>/dev/null || { [ -f /etc/os-release ] && . /etc/os-release && echo "$PRETTY_NAME"; })  # not CentOS: names the system a wrong spec points at
echo "release $(printf '%s\n' "$rel" | head -n 1)"
for p in "$@"; do
    if v=$(rpm -q --qf '%{VERSION}-%{RELEASE}\n' "$p" 2>/dev/null); then
        echo "rpm $p $(echo "$v" | tail -n 1)"
    fi
done
# Configured means a multipath.conf that names maps by WWID.
if [ -f /etc/multipath.conf ] && ! grep -Eq '^[[:space:]]*user_friendly_names[[:space:]]+yes' /etc/multipath.conf; then
    echo "multipath conf yes"
else
    echo "multipath conf no"
fi
if chkconfig --list multipathd 2>/dev/null | grep -q '3:on'; then echo "multipath enabled yes"; else echo "multipath enabled no"; fi
if service multipathd status >/dev/null 2>&1; then echo "multipath running yes"; else echo "multipath running no"; fi
exit 0
