#!/bin/sh
# make iso-boot-demo: remaster the small CentOS-shaped test base with the
# kickstart of examples/mt01.yaml and boot it in qemu (TCG, no key
# pressed), showing the serial console: the kernel gets ks=cdrom:/ks.cfg
# and the test initramfs prints the kickstart it read from the CD.
set -eu
# The work directories hold generated keys and kickstarts.
umask 077
: "${GO:=go}" "${BIN:=bin/mtprep}" "${ISO_BUILD:=build}"
MKTESTISO=$ISO_BUILD/mktestiso
W=$ISO_BUILD/iso-demo
. mk/iso-lib.sh

base=$ISO_BUILD/centos66-test.iso
[ -f "$base" ] || "$MKTESTISO" -dir "$ISO_BUILD" >/dev/null
iso_setup "$W"
out=$W/mt01.iso
rm -f "$out"
echo "remastering $base -> $out ($ISO_MODE)"
iso_remaster "$base" "$out"
cat "$W/mtprep.out"
if [ "$ISO_MODE" = cli ]; then
	# The CLI renders its own kickstart (fresh salt, new host key):
	# compare with the one inside the ISO.
	xorriso -osirrox on -indev "$out" -extract /ks.cfg "$W/ks-in-iso.cfg" >/dev/null 2>&1
	chmod 600 "$W/ks-in-iso.cfg"
	want=$W/ks-in-iso.cfg
else
	want=$W/ks.cfg
fi
echo "booting $out in qemu; serial console follows"
"$MKTESTISO" boot -timeout 180s -want-ks "$want" "$out"
