#!/bin/sh
# mk/di-initrd.sh OUT_DIR: a debian-installer initrd that can partition a
# disk offline, for ubuntu's TestDebianInstallerPartitionsOSDiskOnly
# (make di-test). Bookworm's netboot initrd (Debian package
# debian-installer-12-netboot-amd64) has no partman: d-i fetches it from a
# mirror once the network is up. This appends a second cpio to it with the
# partitioning udebs unpacked and registered in /var/lib/dpkg/status, as
# d-i's own build does for its monolithic images, so main-menu runs
# disk-detect and partman with no network:
#   - bookworm's udebs: partman-base 226 and partman-auto 162 (the recipe
#     code: lib/recipes.sh, perform_recipe), the 6.1.0-50 kernel's scsi,
#     crc and ext4 modules (the kernel's own);
#   - trixie's arch-all and script udebs where the package mirror here has
#     no bookworm file: partman-partitioning, -basicfilesystems,
#     -basicmethods, -ext3, -target, partman-utils (parted_devices),
#     disk-detect;
#   - bookworm's .debs for the libraries and mke2fs that the udebs
#     libparted2-udeb, libdevmapper1.02.1-udeb and e2fsprogs-udeb carry
#     (same upstream versions, built against the same glibc);
#   - mapdevfs (di-utils-mapdevfs) as what it does without devfs: echo.
# choose-mirror, download-installer, net-retriever, ethdetect and netcfg
# are taken out of the status file: no network, no mirror.
# Needs root (cpio keeps owners), apt-get, dpkg-deb, cpio, depmod, gzip.
# Exit status 3: the archive did not give a package (the test skips).
set -eu
out=${1:?usage: di-initrd.sh OUT_DIR}
di=/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64
kver=6.1.0-50-amd64
[ -f "$di/initrd.gz" ] || { echo "di-initrd: $di/initrd.gz missing: apt-get install debian-installer-12-netboot-amd64" >&2; exit 2; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
[ -f "$out/initrd.gz" ] && [ "$out/initrd.gz" -nt "$0" ] && [ "$out/initrd.gz" -nt "$di/initrd.gz" ] && exit 0
w=$out/work
rm -rf "$w"
mkdir -p "$w/apt/lists/partial" "$w/apt/cache/archives/partial" "$w/udebs" "$w/debs" "$w/base" "$w/ov"
key=/usr/share/keyrings/debian-archive-keyring.gpg
cat > "$w/apt/sources.list" <<SRC
deb [signed-by=$key] http://deb.debian.org/debian bookworm main/debian-installer
deb [signed-by=$key] http://deb.debian.org/debian stable main/debian-installer
SRC
apt_di() {
	apt-get -q -o Dir::Etc::SourceList="$w/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$w/apt/lists" -o Dir::Cache="$w/apt/cache" -o Dir::State::status=/dev/null \
		-o Debug::NoLocking=1 -o APT::Sandbox::User=root "$@"
}
apt_di update >/dev/null || true # a suite the mirror is syncing drops out; download names what is missing
(cd "$w/udebs" && apt_di download \
	partman-base/bookworm partman-auto/bookworm \
	scsi-core-modules-$kver-di/bookworm scsi-modules-$kver-di/bookworm \
	crc-modules-$kver-di/bookworm ext4-modules-$kver-di/bookworm \
	partman-partitioning/trixie partman-basicfilesystems/trixie partman-basicmethods/trixie \
	partman-ext3/trixie partman-target/trixie partman-utils/trixie disk-detect/trixie) ||
	{ echo "di-initrd: the Debian archive did not give the udebs" >&2; exit 3; }
(cd "$w/debs" && apt-get -q -o APT::Sandbox::User=root download libparted2 libparted-fs-resize0 libdevmapper1.02.1 e2fsprogs libext2fs2 libcom-err2) ||
	{ echo "di-initrd: the Debian archive did not give the .debs" >&2; exit 3; }

(cd "$w/base" && gzip -dc "$di/initrd.gz" | cpio -idm --quiet)
ov=$w/ov
mkdir -p "$ov/var/lib/dpkg/info"
status=$w/status.new
# The netboot image's status less the network and mirror steps.
awk -v RS= -v ORS='\n\n' '!/^Package: (choose-mirror|choose-mirror-bin|download-installer|net-retriever|ethdetect|netcfg)\n/' "$w/base/var/lib/dpkg/status" > "$status"
for u in "$w"/udebs/*.udeb; do
	x=$w/x
	rm -rf "$x"
	mkdir -p "$x"
	dpkg-deb -x "$u" "$x/root"
	dpkg-deb -e "$u" "$x/ctl"
	pkg=$(sed -n 's/^Package: //p' "$x/ctl/control")
	cp -a "$x/root/." "$ov/"
	for f in "$x"/ctl/*; do
		case ${f##*/} in control | md5sums) ;; *) cp -a "$f" "$ov/var/lib/dpkg/info/$pkg.${f##*/}" ;; esac
	done
	sed "/^Package: /a Status: install ok unpacked" "$x/ctl/control" | sed '/^$/d' >> "$status"
	echo >> "$status"
done
# What the missing udebs provide, so nothing waits for them.
for p in libparted2-udeb libparted-fs-resize0-udeb libdevmapper1.02.1-udeb e2fsprogs-udeb dosfstools-udeb ntfs-3g-udeb di-utils-mapdevfs dmidecode-udeb; do
	printf 'Package: %s\nStatus: install ok unpacked\nVersion: 0-mtprep\nDescription: stand-in (mk/di-initrd.sh)\n\n' "$p" >> "$status"
done
cp "$status" "$ov/var/lib/dpkg/status"
for d in "$w"/debs/*.deb; do dpkg-deb -x "$d" "$w/debroot"; done
mkdir -p "$ov/lib/x86_64-linux-gnu" "$ov/sbin" "$ov/etc" "$ov/bin"
cp -a "$w"/debroot/lib/x86_64-linux-gnu/lib*.so* "$ov/lib/x86_64-linux-gnu/"
for b in mke2fs e2fsck tune2fs; do cp -a "$w/debroot/sbin/$b" "$ov/sbin/"; done
for t in ext2 ext3 ext4; do ln -sf mke2fs "$ov/sbin/mkfs.$t"; ln -sf e2fsck "$ov/sbin/fsck.$t"; done
cp "$w/debroot/etc/mke2fs.conf" "$ov/etc/"
printf '#!/bin/sh\n# di-utils-mapdevfs without devfs: the name as it is.\necho "$1"\n' > "$ov/bin/mapdevfs"
chmod 755 "$ov/bin/mapdevfs"
# Modules: the image's and the new ones, one modules.dep for both.
mkdir -p "$w/mods/lib/modules"
cp -a "$w/base/lib/modules/$kver" "$w/mods/lib/modules/"
cp -a "$ov/lib/modules/$kver/." "$w/mods/lib/modules/$kver/"
depmod -b "$w/mods" "$kver"
cp "$w/mods/lib/modules/$kver"/modules.* "$ov/lib/modules/$kver/"
(cd "$ov" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1) > "$w/overlay.cpio.gz"
cat "$di/initrd.gz" "$w/overlay.cpio.gz" > "$out/initrd.gz.tmp"
cp "$di/linux" "$out/linux"
mv "$out/initrd.gz.tmp" "$out/initrd.gz"
rm -rf "$w"
echo "di-initrd: $out/initrd.gz $out/linux"
