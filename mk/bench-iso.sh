#!/bin/sh
# make bench-iso: remaster a ~450 MB CentOS-shaped base with `mtprep iso`
# (the whole CLI), with images.Remaster alone (mktestiso remaster) and with
# xorriso's own remaster, rotating the order from run to run (the page
# cache cannot be dropped here, so no series always gets the warm one), and
# print every time, the ratios of the medians to xorriso and peak RSS.
set -eu
# The work directories hold generated keys and kickstarts.
umask 077
: "${GO:=go}" "${BIN:=bin/mtprep}" "${ISO_BUILD:=build}" "${ISO_BENCH_MB:=450}" "${ISO_BENCH_RUNS:=3}"
MKTESTISO=$ISO_BUILD/mktestiso
W=$ISO_BUILD/bench-iso
. mk/iso-lib.sh

command -v xorriso >/dev/null || { echo "bench-iso: xorriso is not installed (apt-get install xorriso)"; exit 1; }
[ -x /usr/bin/time ] || { echo "bench-iso: /usr/bin/time is not installed (apt-get install time)"; exit 1; }

base=$ISO_BUILD/centos66-test-${ISO_BENCH_MB}mb.iso
if [ ! -f "$base" ]; then
	echo "building the ${ISO_BENCH_MB} MB test base (once; cached as $base)"
	"$MKTESTISO" -dir "$ISO_BUILD" -filler-mb "$ISO_BENCH_MB" >/dev/null
fi
iso_setup "$W"

# time_run NAME CMD...: runs CMD after flushing earlier dirty pages, appends
# "seconds maxrss_kb cpu_seconds" to $W/NAME.times. CPU time (user+sys) is
# printed too: on a shared machine it is steadier than wall time.
time_run() {
	name=$1
	shift
	sync
	/usr/bin/time -f '%e %M %U %S' -o "$W/last.time" "$@" >"$W/$name.out"
	awk '{printf "%s %s %.2f\n", $1, $2, $3 + $4}' "$W/last.time" >>"$W/$name.times"
	tail -n 1 "$W/$name.times" | awk -v n="$name" '{printf "  %-8s %6.2f s   cpu %5.2f s   peak RSS %4d MB\n", n, $1, $3, $2 / 1024}'
}
# mtprep: the CLI, `mtprep iso --spec` (spec, kickstart, host key, remaster).
run_mtprep() {
	rm -f "$W/out.iso"
	time_run mtprep "$BIN" iso --spec "$W/mt01.yaml" --base "$base" --out "$W/out.iso" --log-level warn
}
# images: images.Remaster alone, through mktestiso.
run_images() {
	rm -f "$W/out.iso"
	time_run images "$MKTESTISO" remaster -base "$base" -out "$W/out.iso" -ks "$W/ks.cfg"
}
run_xorriso() {
	rm -f "$W/out.iso"
	time_run xorriso sh -c 'exec xorriso -indev "$1" -outdev "$2" -map "$3" /ks.cfg -boot_image isolinux patch >"$4" 2>&1' \
		- "$base" "$W/out.iso" "$W/ks.cfg" "$W/xorriso.log"
}

series="images xorriso"
[ "$ISO_MODE" = cli ] && series="mtprep images xorriso"
for s in $series; do rm -f "$W/$s.times"; done
echo "base:    $base ($(($(stat -c %s "$base") / 1048576)) MB)"
[ "$ISO_MODE" = cli ] && echo "mtprep:  $BIN iso --spec $W/mt01.yaml --base BASE --out OUT" ||
	echo "mtprep:  (not measured: $BIN kickstart --spec could not run; see above)"
echo "images:  $MKTESTISO remaster -base BASE -out OUT -ks ks.cfg   (images.Remaster only)"
echo "xorriso: xorriso -indev BASE -outdev OUT -map ks.cfg /ks.cfg -boot_image isolinux patch"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(($(grep MemTotal /proc/meminfo | awk '{print $2}') / 1048576)) GB RAM, load $(cut -d' ' -f1-3 /proc/loadavg)"
i=1
while [ "$i" -le "$ISO_BENCH_RUNS" ]; do
	echo "run $i:"
	# Rotate the order, so no series always runs first (or last).
	order=$series
	j=1
	while [ "$j" -lt "$i" ]; do
		first=${order%% *}
		order="${order#* } $first"
		j=$((j + 1))
	done
	for s in $order; do "run_$s"; done
	i=$((i + 1))
done
rm -f "$W/out.iso"

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
x=$(cut -d' ' -f1 "$W/xorriso.times" | median)
for s in $series; do
	[ "$s" = xorriso ] && continue
	m=$(cut -d' ' -f1 "$W/$s.times" | median)
	rss=$(cut -d' ' -f2 "$W/$s.times" | sort -n | tail -n 1)
	awk -v s="$s" -v m="$m" -v x="$x" -v r="$rss" 'BEGIN {
		printf "%-7s median %.2f s, xorriso median %.2f s: ratio %.2f (target <= 1.00); peak RSS %d MB (target < 100)\n", s, m, x, m / x, r / 1024
	}'
	mc=$(cut -d' ' -f3 "$W/$s.times" | median)
	xc=$(cut -d' ' -f3 "$W/xorriso.times" | median)
	awk -v s="$s" -v m="$mc" -v x="$xc" 'BEGIN { printf "%-7s median cpu %.2f s, xorriso median cpu %.2f s\n", s, m, x }'
done
