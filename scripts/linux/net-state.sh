# mtprep: the network half of the handoff's and the audit's reads, shared
# by both (linux.WithNetState appends it): the MT's IPv4 addresses, the
# /etc/hosts entries of its host name, whether the configuration server
# answers on its port. Expects host, csip and csport set by the script it
# ends. Read-only; bash 4.1 (/dev/tcp), coreutils 8.4 (timeout), iproute.
ip -4 -o addr show scope global 2>/dev/null | awk '{ split($4, a, "/"); print "nic " a[1] }'
awk -v h="$host" '$1 !~ /^#/ { for (i = 2; i <= NF; i++) if ($i == h) print "hosts " $1 }' /etc/hosts
if timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$csip" "$csport" 2>/dev/null; then
    echo "cs reachable"
else
    echo "cs unreachable"
fi
exit 0
