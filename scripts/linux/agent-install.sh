# mtprep: install the master target role and register it with the
# configuration server. Args: FORM(old|new) AGENT_DIR CS_IP CS_PORT.
# The passphrase arrives on stdin, goes into a file created with mode 0600
# in a private directory, and is removed on every exit path: it is never
# on a command line. CentOS 6: bash 4.1, coreutils 8.4 (mktemp -d).
# Shared by the CentOS 6.6 and Ubuntu 16.04 MTs (scripts/linux); the
# Ubuntu build of the agent has only the new form, which package ubuntu
# asks for.
set -eu
form=$1 dir=$2 csip=$3 csport=$4
umask 077
tmp=$(mktemp -d /root/.mtprep-pass.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
IFS= read -r pass
printf '%s\n' "$pass" > "$tmp/passphrase.txt"
unset pass
cd "$dir"
if [ "$form" = old ]; then
    ./install -t both -a host -R MasterTarget -d /usr/local/ASR -i "$csip" -p "$csport" -s y -c https -P "$tmp/passphrase.txt"
else
    ./install -q -d /usr/local/ASR -r MT -v VmWare
    /usr/local/ASR/Vx/bin/UnifiedAgentConfigurator.sh -i "$csip" -P "$tmp/passphrase.txt"
fi
mkdir -p /root/.mtprep
echo "$csip" > /root/.mtprep/registered
