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
#     disk-detect. apt checks them through the signed Release file; when
#     it cannot (a mirror serving a trixie debian-installer Packages.xz
#     that does not match its Release file, as during a sync), they are
#     fetched with apt-helper from the pool paths in that Packages.xz, each
#     checked against its SHA256 there, the index itself against nothing
#     signed: a trust downgrade, said on stderr, taken because they only
#     run in the test's throwaway qemu guest;
#   - bookworm's .debs for the libraries and mke2fs that the udebs
#     libparted2-udeb, libdevmapper1.02.1-udeb and e2fsprogs-udeb carry
#     (same upstream versions, built against the same glibc);
#   - mapdevfs (di-utils-mapdevfs) as what it does without devfs: echo.
# choose-mirror, download-installer, net-retriever, ethdetect and netcfg
# are taken out of the status file: no network, no mirror.
# Needs root (cpio keeps owners), apt-get, apt-helper, dpkg-deb, cpio,
# depmod, gzip, awk, sha256sum.
# Exit status 3: the archive did not give a package, or a fallback udeb
# is absent from the index or does not match its SHA256 (the test skips).
set -eu
out=${1:?usage: di-initrd.sh OUT_DIR}
di=/usr/lib/debian-installer/images/12/amd64/text/debian-installer/amd64
kver=6.1.0-50-amd64
mirror=http://deb.debian.org/debian
helper=/usr/lib/apt/apt-helper
trixie_udebs="partman-partitioning partman-basicfilesystems partman-basicmethods partman-ext3 partman-target partman-utils disk-detect"
[ -f "$di/initrd.gz" ] || { echo "di-initrd: $di/initrd.gz missing: apt-get install debian-installer-12-netboot-amd64" >&2; exit 2; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
[ -f "$out/initrd.gz" ] && [ "$out/initrd.gz" -nt "$0" ] && [ "$out/initrd.gz" -nt "$di/initrd.gz" ] && exit 0
w=$out/work
rm -rf "$w"
mkdir -p "$w/apt/lists/partial" "$w/apt/cache/archives/partial" "$w/udebs" "$w/trixie" "$w/debs" "$w/base" "$w/ov"
key=/usr/share/keyrings/debian-archive-keyring.gpg
cat > "$w/apt/sources.list" <<SRC
deb [signed-by=$key] $mirror bookworm main/debian-installer
deb [signed-by=$key] $mirror stable main/debian-installer
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
	crc-modules-$kver-di/bookworm ext4-modules-$kver-di/bookworm) ||
	{ echo "di-initrd: the Debian archive did not give the udebs" >&2; exit 3; }
# shellcheck disable=SC2046,SC2086 # one word per package
if ! (cd "$w/trixie" && apt_di download $(printf '%s/trixie ' $trixie_udebs)); then
	# apt dropped trixie's index (or a file): take the pool paths and
	# hashes from the index as the mirror serves it.
	idx=$mirror/dists/trixie/main/debian-installer/binary-amd64/Packages.xz
	echo "di-initrd: fallback: apt did not give trixie's udebs; fetching $idx directly and checking each udeb against its SHA256 there, the index itself checked only against itself, not against the signed Release file (a trust downgrade, taken because the udebs only run in the test's throwaway qemu guest)" >&2
	rm -f "$w"/trixie/*
	fetch() { "$helper" -o APT::Sandbox::User=root download-file "$1" "$2" >/dev/null; }
	fetch "$idx" "$w/Packages.xz" ||
		{ echo "di-initrd: could not download $idx" >&2; exit 3; }
	"$helper" cat-file "$w/Packages.xz" > "$w/Packages" ||
		{ echo "di-initrd: could not unpack $idx" >&2; exit 3; }
	for p in $trixie_udebs; do
		# Package's first stanza: "Filename SHA256".
		e=$(awk -v p="$p" 'BEGIN { RS = ""; FS = "\n" }
			{ n = f = h = ""
			  for (i = 1; i <= NF; i++)
				if ($i ~ /^Package: /) n = substr($i, 10)
				else if ($i ~ /^Filename: /) f = substr($i, 11)
				else if ($i ~ /^SHA256: /) h = substr($i, 9)
			  if (n == p) { print f, h; exit } }' "$w/Packages")
		f=${e% *}
		h=${e##* }
		case $f in pool/*.udeb) ;; *) echo "di-initrd: $p: no udeb in $idx" >&2; exit 3 ;; esac
		case $f in *..* | *[!A-Za-z0-9._+~/-]*) echo "di-initrd: $p: odd Filename $f in $idx" >&2; exit 3 ;; esac
		case $h in *[!0-9a-f]* | "") echo "di-initrd: $p: no SHA256 in $idx" >&2; exit 3 ;; esac
		[ ${#h} -eq 64 ] || { echo "di-initrd: $p: no SHA256 in $idx" >&2; exit 3; }
		u=$w/trixie/${f##*/}
		fetch "$mirror/$f" "$u" ||
			{ echo "di-initrd: could not download $mirror/$f" >&2; exit 3; }
		got=$(sha256sum < "$u")
		got=${got%% *}
		[ "$got" = "$h" ] ||
			{ echo "di-initrd: $mirror/$f: sha256 $got, $h in $idx" >&2; exit 3; }
	done
fi
mv "$w"/trixie/*.udeb "$w/udebs/"
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
