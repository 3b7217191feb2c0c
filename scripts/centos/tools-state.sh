# mtprep: report VMware Tools on the MT; changes nothing.
# Args: NAME SERVICE [NAME SERVICE]... [--tar NAME SERVICE] — each Tools
# RPM mtprep knows and its service (packages.Tools), then the host
# installer's tar install (packages.ToolsTar). Output: for each installed package
# "pkg NAME VERSION-RELEASE" and then "svc SERVICE enabled yes|no" and
# "svc SERVICE running yes|no". A SysV script in /etc/rc.d/init.d is
# enabled when chkconfig has it on in runlevel 3 (CentOS 6's default) and
# running when `service SERVICE status` says so; an upstart job in
# /etc/init (VMware's OSPs ship vmware-tools-services that way on RHEL 6)
# is enabled when it has a "start on" stanza and running when initctl
# says start/running.
# The ESXi host's installer (vmware-install.pl) installs no RPM: the pair
# after "--tar" (packages.ToolsTar) is reported as that tar install when
# no Tools RPM was found before it, /etc/vmware-tools/locations (the tar
# installer's database) exists and vmware-toolbox-cmd -v answers; its
# VERSION is the first word of that answer (10.3.26.<build>).
# CentOS 6: bash 4.1, SysV service and chkconfig, upstart 0.6.
set -u
found=no tar=no
while [ $# -ge 2 ]; do
    if [ "$1" = --tar ]; then
        tar=yes
        shift
        continue
    fi
    name=$1 svc=$2
    shift 2
    if [ "$tar" = no ]; then
        v=$(rpm -q --qf '%{VERSION}-%{RELEASE}\n' "$name" 2>/dev/null) || continue
        v=$(echo "$v" | tail -n 1)
    elif [ "$found" = no ] && [ -f /etc/vmware-tools/locations ] &&
        v=$(vmware-toolbox-cmd -v 2>/dev/null) && [ -n "$v" ]; then
        v=${v%% *}
    else
        continue
    fi
    found=yes
    echo "pkg $name $v"
    enabled=no running=no
    if [ -x "/etc/rc.d/init.d/$svc" ]; then
        if chkconfig --list "$svc" 2>/dev/null | grep -q '3:on'; then enabled=yes; fi
        if service "$svc" status >/dev/null 2>&1; then running=yes; fi
    elif [ -f "/etc/init/$svc.conf" ]; then
        if grep -Eq '^[[:space:]]*start[[:space:]]+on' "/etc/init/$svc.conf"; then enabled=yes; fi
        if initctl status "$svc" 2>/dev/null | grep -q 'start/running'; then running=yes; fi
    fi
    echo "svc $svc enabled $enabled"
    echo "svc $svc running $running"
done
exit 0
