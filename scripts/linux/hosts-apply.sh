# mtprep: map HOSTNAME to every NIC address in /etc/hosts (ASR needs the
# MT's name to resolve to its addresses). Args: HOSTNAME IP...
# Other lines are kept; lines that named HOSTNAME at another address lose
# it. CentOS 6: bash 4.1, awk.
# Shared by the CentOS 6.6 and Ubuntu 16.04 MTs (scripts/linux): it keeps
# to what CentOS 6 has (bash 4.1, coreutils 8.4, util-linux-ng 2.17);
# Ubuntu 16.04 has newer of each (bash 4.3, coreutils 8.25).
set -eu
host=$1
shift
short=${host%%.*}
awk -v h="$host" -v s="$short" '
    $1 ~ /^#/ || NF < 2 { print; next }
    { line = $1; n = 0
      for (i = 2; i <= NF; i++) if ($i != h && $i != s) { line = line " " $i; n++ }
      if (n > 0) print line }' /etc/hosts > /etc/hosts.mtprep.tmp
for ip in "$@"; do
    printf '%s %s %s\n' "$ip" "$host" "$short" >> /etc/hosts.mtprep.tmp
done
cp -p /etc/hosts /etc/hosts.mtprep.bak
cat /etc/hosts.mtprep.tmp > /etc/hosts
rm -f /etc/hosts.mtprep.tmp
