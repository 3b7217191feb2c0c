# mtprep: make the VMware Tools service start at boot and start it now.
# Args: SERVICE. A SysV script (open-vm-tools' vmtoolsd): chkconfig on, then
# service start unless its status says it runs. An upstart job (VMware's
# OSP vmware-tools-services on RHEL 6): upstart starts it at boot by its
# own "start on" stanza; initctl start it unless it runs.
# CentOS 6: bash 4.1, SysV service and chkconfig, upstart 0.6.
set -eu
svc=$1
if [ -x "/etc/rc.d/init.d/$svc" ]; then
    chkconfig --add "$svc"
    chkconfig "$svc" on
    service "$svc" status >/dev/null 2>&1 || service "$svc" start
elif [ -f "/etc/init/$svc.conf" ]; then
    initctl status "$svc" 2>/dev/null | grep -q 'start/running' || initctl start "$svc"
else
    echo "no init script /etc/rc.d/init.d/$svc and no upstart job /etc/init/$svc.conf: the package did not install its service" >&2
    exit 3
fi
