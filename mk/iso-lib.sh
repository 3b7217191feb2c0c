# Sourced by mk/bench-iso.sh and mk/iso-boot-demo.sh.
#
# iso_setup DIR decides how to remaster: with the real CLI (`mtprep iso
# --spec`) when it builds and accepts a copy of examples/mt01.yaml whose
# secrets and SSH files point into DIR, else with mktestiso's driver, which
# calls images.Remaster (the code behind `mtprep iso`) with a fixed test
# kickstart. It sets ISO_MODE (cli|driver) and writes DIR/ks.cfg.
# iso_remaster BASE OUT remasters either way.

iso_setup() {
	dir=$1
	mkdir -p "$dir"
	ISO_MODE=driver
	if [ -z "${ISO_FORCE_DRIVER:-}" ] && [ -f examples/mt01.yaml ] && $GO build -o "$BIN" ./cmd/mtprep 2>"$dir/build.log"; then
		[ -f "$dir/id_rsa" ] || ssh-keygen -q -t rsa -b 2048 -N '' -C mtprep-bench -f "$dir/id_rsa" 2>/dev/null || true
		printf 'bench-only-passphrase\n' >"$dir/passphrase.txt"
		: >>"$dir/known_hosts"
		sed -e "s|privateKey: .*|privateKey: $PWD/$dir/id_rsa|" \
			-e "s|knownHosts: [^ ]*|knownHosts: $PWD/$dir/known_hosts|" \
			-e "s|passphrase: {file: [^}]*}|passphrase: {file: $PWD/$dir/passphrase.txt}|" \
			examples/mt01.yaml >"$dir/mt01.yaml"
		export MT_ROOT_PASSWORD="${MT_ROOT_PASSWORD:-bench-only-password}"
		if "$BIN" kickstart --spec "$dir/mt01.yaml" >"$dir/ks.cfg" 2>"$dir/kickstart.log"; then
			ISO_MODE=cli
		else
			echo "note: $BIN kickstart failed ($(tail -n 1 "$dir/kickstart.log")); using the images.Remaster driver" >&2
		fi
	fi
	if [ "$ISO_MODE" = driver ]; then
		cat >"$dir/ks.cfg" <<'KS'
# mtprep test kickstart (fixed; examples/mt01.yaml could not be rendered)
install
cdrom
lang en_US.UTF-8
keyboard us
network --onboot yes --device eth0 --bootproto static --ip 192.0.2.10 --netmask 255.255.255.0 --gateway 192.0.2.1 --nameserver 192.0.2.53 --hostname mt01.example.com
rootpw --iscrypted $6$mtpreptest$0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ./0123456789abcdefghijk
timezone America/New_York
bootloader --location=mbr
zerombr
ignoredisk --only-use=sda
clearpart --all --initlabel --drives=sda
part / --fstype=ext4 --size=51200 --ondisk=sda
part /var/crash --fstype=ext4 --size=40960 --ondisk=sda
part /home --fstype=ext4 --size=8192 --ondisk=sda
part swap --size=4096 --ondisk=sda
reboot
%packages --nobase
@core
%end
KS
	fi
}

iso_remaster() {
	if [ "$ISO_MODE" = cli ]; then
		"$BIN" iso --spec "$dir/mt01.yaml" --base "$1" --out "$2" --log-level warn >"$dir/mtprep.out" 2>"$dir/mtprep.err" || {
			cat "$dir/mtprep.err" >&2
			return 1
		}
	else
		"$MKTESTISO" remaster -base "$1" -out "$2" -ks "$dir/ks.cfg" >"$dir/mtprep.out"
	fi
}
