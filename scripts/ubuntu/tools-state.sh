# mtprep: report VMware Tools on the MT; changes nothing.
# Args: NAME SERVICE [NAME SERVICE]... — each Tools package mtprep knows
# and its systemd unit. Output: for each installed package
# "pkg NAME VERSION" and then "svc SERVICE enabled yes|no" and
# "svc SERVICE running yes|no" (systemctl is-enabled, is-active).
# Ubuntu 16.04: bash 4.3, dpkg 1.18, systemd 229.
set -u
while [ $# -ge 2 ]; do
    name=$1 svc=$2
    shift 2
    v=$(dpkg-query -W -f='${Version} ${Status}\n' "$name" 2>/dev/null |
        awk '$2 == "install" && $3 == "ok" && $4 == "installed" { print $1 }')
    [ -n "$v" ] || continue
    echo "pkg $name $v"
    enabled=no running=no
    if systemctl is-enabled "$svc" >/dev/null 2>&1; then enabled=yes; fi
    if systemctl is-active "$svc" >/dev/null 2>&1; then running=yes; fi
    echo "svc $svc enabled $enabled"
    echo "svc $svc running $running"
done
exit 0
