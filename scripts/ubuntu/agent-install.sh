# mtprep: install the master target role and register it with the
# configuration server. Args: FORM(old|new) AGENT_DIR CS_IP CS_PORT.
# The passphrase arrives on stdin, goes into a file created with mode 0600
# in a private directory, and is removed on every exit path: it is never
# on a command line. Ubuntu 16.04: bash 4.3, coreutils 8.25.
set -eu
form=$1 dir=$2 csip=$3
: "${4?CS_PORT}"
umask 077
tmp=$(mktemp -d /root/.mtprep-pass.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
IFS= read -r pass
printf '%s\n' "$pass" > "$tmp/passphrase.txt"
unset pass
cd "$dir"
if [ "$form" != new ]; then
    # The Ubuntu 16.04 build of the agent starts at 9.10: its installer has
    # only the -q -r MT -v VmWare form and registers with the configurator.
    echo "the Ubuntu 16.04 master target needs agent 9.10 or later (the 9.x install form)" >&2
    exit 2
fi
./install -q -d /usr/local/ASR -r MT -v VmWare
# The 9.x form takes no port: CS_PORT is unused, as on CentOS.
/usr/local/ASR/Vx/bin/UnifiedAgentConfigurator.sh -i "$csip" -P "$tmp/passphrase.txt"
mkdir -p /root/.mtprep
echo "$csip" > /root/.mtprep/registered
