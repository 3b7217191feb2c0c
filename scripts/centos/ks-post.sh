# mtprep %post: install the SSH keys the kickstart carried.
# The kickstart wrote them under /tmp/mtprep before this runs. Runs in the
# installed system's chroot on CentOS 6 (bash 4.1).
set -eu
umask 077
d=/tmp/mtprep

# The key mtprep logs in with. Root only: mtprep's later phases run as root.
if [ -s "$d/authorized_keys" ]; then
    install -d -m 0700 -o root -g root /root/.ssh
    install -m 0600 -o root -g root "$d/authorized_keys" /root/.ssh/authorized_keys
fi

# The host key mtprep generated and already trusts, so the first SSH
# connection is checked strictly (no trust on first use).
if [ -s "$d/ssh_host_rsa_key" ]; then
    install -m 0600 -o root -g root "$d/ssh_host_rsa_key" /etc/ssh/ssh_host_rsa_key
    install -m 0644 -o root -g root "$d/ssh_host_rsa_key.pub" /etc/ssh/ssh_host_rsa_key.pub
fi

# The files carried key material; do not leave copies behind.
rm -rf "$d"

# SELinux labels for files written by a script rather than by rpm.
if command -v restorecon >/dev/null 2>&1; then
    restorecon -R /root/.ssh /etc/ssh || true
fi
