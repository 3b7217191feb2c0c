# mtprep: configure, enable and start multipathd, so every disk appears
# by WWID (/dev/mapper/36000c29...). xenial's multipath-tools defaults to
# find_multipaths yes (its enable-find-multipaths patch): a VMware disk has
# one path and would get no map. /etc/multipath.conf gets
# find_multipaths no and user_friendly_names no (the retention phase finds
# the disk by the WWID vSphere gives it); other settings are kept, the old
# file is kept as multipath.conf.mtprep.bak. systemd 229: systemctl.
set -eu
conf=/etc/multipath.conf
if [ ! -f "$conf" ]; then
    printf 'defaults {\n    user_friendly_names no\n    find_multipaths no\n}\n' > "$conf"
else
    cp -p "$conf" "$conf.mtprep.bak"
    sed -i -E 's/^([[:space:]]*user_friendly_names[[:space:]]+)"?yes"?/\1no/; s/^([[:space:]]*find_multipaths[[:space:]]+)"?yes"?/\1no/' "$conf"
    if ! grep -Eq '^[[:space:]]*find_multipaths[[:space:]]+"?no"?' "$conf"; then
        if grep -Eq '^[[:space:]]*defaults[[:space:]]*\{' "$conf"; then
            sed -i -E '0,/^[[:space:]]*defaults[[:space:]]*\{/s//&\n    find_multipaths no/' "$conf"
        else
            printf 'defaults {\n    find_multipaths no\n}\n' >> "$conf"
        fi
    fi
fi
systemctl enable multipathd
if systemctl is-active multipathd >/dev/null 2>&1; then
    systemctl restart multipathd
else
    systemctl start multipathd
fi
# Build the maps the new configuration asks for.
multipath -r >/dev/null 2>&1 || true
