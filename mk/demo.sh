#!/bin/sh
# make demo-lab: mtprep's main job end to end in the lab.
#
#   1. make lab-up: vcsim, a CentOS-6.6-looking guest, repositories, agent
#      stand-in, configuration server; `mtlab up` also plays the installer
#      (the lab's stand-in for anaconda) when VM mt01 powers on with an ISO.
#   2. build/demo/mt01.yaml from build/lab/lab.env. Secrets go into files
#      of mode 0600 and are referenced from the spec ({file: ...}): never on
#      a command line, never in the environment of mtprep.
#   3. mtprep plan (what would change), mtprep build (all phases), then
#      again (every phase done), mtprep audit, the handoff manifest.
#   4. make lab-down, also when a step fails (trap).
#
# Needs root and the Debian packages of .ci/apt-packages.d.
set -eu
: "${GO:=go}" "${BIN:=bin/mtprep}" "${LAB_STATE:=build/lab}" "${DEMO_DIR:=build/demo}" "${MAKE:=make}" "${ISO_BUILD:=build}" "${DEMO_OS:=centos-6.6}"
umask 077

if [ "$(id -u)" != 0 ]; then
	echo "make demo: the lab needs root (network namespaces, loop devices, mounts)" >&2
	exit 1
fi
t0=$(date +%s)
step() { printf '\n== %s (%ss)\n' "$*" "$(($(date +%s) - t0))"; }

lab_down() {
	status=$?
	step "stopping the lab"
	$MAKE --no-print-directory lab-down LAB_STATE="$LAB_STATE" || true
	if [ "$status" = 0 ]; then
		step "demo finished"
	else
		echo "make demo: FAILED (exit $status); logs in $DEMO_DIR and $LAB_STATE/mtlab.log" >&2
	fi
	exit "$status"
}

case $DEMO_OS in
centos-6.6) flavour= device=eth0 base_iso=centos66-test.iso ;;
ubuntu-16.04) flavour=ubuntu-16.04 device=ens160 base_iso=ubuntu1604-test.iso ;;
*) echo "make demo: DEMO_OS=$DEMO_OS: the lab builds centos-6.6 or ubuntu-16.04 MTs (Windows cannot run here)" >&2; exit 2 ;;
esac
step "starting the lab for the $DEMO_OS MT (make lab-up)"
$MAKE --no-print-directory iso-test-base >/dev/null
if [ "$DEMO_OS" = ubuntu-16.04 ]; then
	$MAKE --no-print-directory mktestiso >/dev/null
	[ -f "$ISO_BUILD/$base_iso" ] || "$ISO_BUILD/mktestiso" -dir "$ISO_BUILD" -family ubuntu >/dev/null
fi
trap lab_down EXIT
trap 'exit 130' INT TERM
$MAKE --no-print-directory lab-up LAB_STATE="$LAB_STATE" LAB_FLAVOUR="$flavour"

step "writing $DEMO_DIR/mt01.yaml from $LAB_STATE/lab.env"
rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR"
# Not exported: mtprep gets nothing of the lab through its environment, and
# the GOVC_* variables (GOVC_URL carries the password) stay in this shell.
. "$LAB_STATE/lab.env"
# printf is a shell builtin: the secrets never appear in an argument list.
printf '%s\n' "$GOVC_PASSWORD" > "$DEMO_DIR/vcenter-password"
root_pw=$(head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n')
printf '%s\n' "$root_pw" > "$DEMO_DIR/root-password"
unset root_pw
base=$(cd "$ISO_BUILD" && pwd)/$base_iso
bundle=$MTLAB_BUNDLE agent=$MTLAB_AGENT_TARBALL
if [ "$DEMO_OS" = ubuntu-16.04 ]; then
	bundle=$MTLAB_UBUNTU_BUNDLE agent=$MTLAB_UBUNTU_AGENT_TARBALL
fi
vc_url=https://${GOVC_URL##*@}
cat > "$DEMO_DIR/mt01.yaml" <<EOF
# mt01 in the mtprep lab (written by make demo from $LAB_STATE/lab.env).
name: mt01
os: $DEMO_OS
vsphere:
  url: $vc_url
  username: $GOVC_USERNAME
  password: {file: ./vcenter-password}
  thumbprint: $MTLAB_VC_THUMBPRINT   # the lab vCenter's certificate, pinned
  datacenter: $GOVC_DATACENTER
  host: DC0_H0
  datastore: $GOVC_DATASTORE
  network: $GOVC_NETWORK
iso: {base: $base}   # a $DEMO_OS-shaped test ISO (internal/testiso)
vm: {cpus: 4, memoryMB: 6144, osDiskGB: 100, retentionDiskGB: 1024}
network:
  hostname: mt01.lab.local
  ip: $MTLAB_GUEST_ADDR/24
  gateway: $MTLAB_HOST_IP
  dns: [$MTLAB_HOST_IP]
  device: $device
timezone: UTC
rootPassword: {file: ./root-password}
ssh:
  user: root
  privateKey: $MTLAB_SSH_KEY
  knownHosts: ./known_hosts   # the iso phase records the MT's new host key here
  hostKey: strict
packages: {source: bundle, bundle: $bundle}
agent: {tarball: $agent}
configServer:
  ip: $MTLAB_CS_IP
  port: $MTLAB_CS_PORT
  passphrase: {file: $MTLAB_CS_PASSPHRASE_FILE}
retention: {mountpoint: /mnt/retention, filesystem: ext4}
EOF
cat "$DEMO_DIR/mt01.yaml"

mtprep() {
	# env -i: mtprep sees no lab variable, only what the spec names.
	env -i PATH="$PATH" HOME="$HOME" "$BIN" "$@"
}
build() { # LOG
	if ! mtprep build --spec "$DEMO_DIR/mt01.yaml" --work-dir "$DEMO_DIR/work" \
		--install-timeout 5m --reboot-timeout 3m 2>"$DEMO_DIR/$1"; then
		tail -n 30 "$DEMO_DIR/$1" >&2
		return 1
	fi
}

step "mtprep plan --spec $DEMO_DIR/mt01.yaml (read-only: what build would change)"
mtprep plan --spec "$DEMO_DIR/mt01.yaml" --work-dir "$DEMO_DIR/work" 2>"$DEMO_DIR/plan.log" || {
	tail -n 30 "$DEMO_DIR/plan.log" >&2
	exit 1
}

step "mtprep build --spec $DEMO_DIR/mt01.yaml (every phase; log: $DEMO_DIR/build-1.log)"
s=$(date +%s)
build build-1.log
echo "first build: $(($(date +%s) - s))s"
grep -h 'install stand-in' "$LAB_STATE/mtlab.log" | sed 's/^/lab: /' || true

step "mtprep build again: every phase done, nothing changed (log: $DEMO_DIR/build-2.log)"
s=$(date +%s)
build build-2.log
echo "second build: $(($(date +%s) - s))s"

step "mtprep audit --spec $DEMO_DIR/mt01.yaml (informational)"
mtprep audit --spec "$DEMO_DIR/mt01.yaml" 2>"$DEMO_DIR/audit.log" ||
	echo "(audit exit $?: the lab is not a supported vSphere; see $DEMO_DIR/audit.log)"

step "handoff manifest $DEMO_DIR/work/mt01.handoff.json"
cat "$DEMO_DIR/work/mt01.handoff.json"
