#!/bin/bash
# UnifiedAgentConfigurator.sh of the Unified Agent: mtlab STAND-IN.
#
#   /usr/local/ASR/Vx/bin/UnifiedAgentConfigurator.sh -i <CS IP> -P <passphrase file>
#
# Registers the installed agent with the configuration server: checks the
# passphrase file (exists, mode 0600, not empty), that the server answers on
# its port (443 unless CS_PORT is set by the installer), and then, when curl
# is present, posts the host name and the passphrase (read from the file,
# never put on a command line) to the lab's configuration server, which
# rejects a wrong passphrase. Exit status: 0 registered, 1 bad usage or input,
# 2 agent not installed, 3 server unreachable, 4 passphrase rejected.
# bash 4.1 compatible.
export LC_ALL=C
PORT=${CS_PORT:-443}
SCHEME=${CS_SCHEME:-https}
LOG=/var/log/mtlab/ua-configurator.log
log() {
	mkdir -p "${LOG%/*}" 2>/dev/null
	echo "$(date -u '+%Y-%m-%dT%H:%M:%SZ') configurator[$$] $*" >> "$LOG" 2>/dev/null
}
die() { echo "ERROR: $2" >&2; log "failed ($1): $2"; exit "$1"; }
usage() {
	echo "Usage: $0 -i <configuration server IP> -P <passphrase file>" >&2
	log "failed (1): usage"
	exit 1
}
log "args: $*"
IP="" PF=""
while getopts ":i:P:c:h" o; do
	case $o in
	i) IP=$OPTARG ;;
	P) PF=$OPTARG ;;
	c) ;;
	*) usage ;;
	esac
done
[ -n "$IP" ] && [ -n "$PF" ] || usage
[ "$(id -u)" = 0 ] || die 1 "must be run as root"
[ -f /usr/local/.vx_version ] || die 2 "the Unified Agent is not installed"
[[ "$IP" =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]] || die 1 "-i must be an IPv4 address, got '$IP'"
[ -f "$PF" ] || die 1 "passphrase file $PF does not exist"
[ "$(stat -c %a "$PF")" = 600 ] || die 1 "passphrase file $PF must have mode 0600, has $(stat -c %a "$PF")"
[ -s "$PF" ] || die 1 "passphrase file $PF is empty"

if ! timeout 5 bash -c "exec 3<>/dev/tcp/$IP/$PORT" 2>/dev/null; then
	die 3 "cannot reach the configuration server at $IP:$PORT"
fi
if command -v curl >/dev/null 2>&1; then
	code=$(curl -sS -k --max-time 15 -o /dev/null -w '%{http_code}' \
		--data-urlencode "hostname=$(hostname)" \
		--data-urlencode "passphrase@$PF" \
		"$SCHEME://$IP:$PORT/mtlab/register" 2>>"$LOG")
	case "$code" in
	200) ;;
	403) die 4 "the configuration server rejected the passphrase" ;;
	*) die 3 "registration with $IP:$PORT failed (HTTP status '$code')" ;;
	esac
else
	log "curl not found: checked TCP reachability only"
fi
dir=$(sed -n 's/^INSTALLATION_DIR=//p' /usr/local/.vx_version)
mkdir -p "$dir/etc"
cat > "$dir/etc/registration.conf" <<CONF
; mtlab stand-in: registration with the configuration server
CSIP=$IP
CSPort=$PORT
Hostname=$(hostname)
Registered=$(date -u '+%Y-%m-%dT%H:%M:%SZ')
CONF
log "registered with $IP:$PORT"
echo "Registered with the configuration server $IP:$PORT."
exit 0
