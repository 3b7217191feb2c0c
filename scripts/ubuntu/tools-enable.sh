# mtprep: make the VMware Tools service start at boot and start it now.
# Args: SERVICE (a systemd unit: open-vm-tools). systemd 229: systemctl.
set -eu
svc=$1
if ! systemctl cat "$svc" >/dev/null 2>&1 && [ ! -f "/lib/systemd/system/$svc.service" ]; then
    echo "no systemd unit $svc: the package did not install its service" >&2
    exit 3
fi
systemctl enable "$svc"
systemctl is-active "$svc" >/dev/null 2>&1 || systemctl start "$svc"
