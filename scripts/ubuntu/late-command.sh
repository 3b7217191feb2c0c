# mtprep preseed/late_command: runs in the installed system (in-target)
# after debian-installer has installed it. The preseed carries this script
# and its data as one base64 word, so no spec value is ever parsed by a
# shell; the data (keys, base64 again) is in the variables set above this
# line. Ubuntu 16.04: sh is dash; coreutils 8.25 (base64), apt 1.2.
set -eu
umask 077

# The key mtprep logs in with. Root only: mtprep's later phases run as root.
if [ -n "$MTPREP_AUTHORIZED_KEYS" ]; then
    install -d -m 0700 -o root -g root /root/.ssh
    printf '%s' "$MTPREP_AUTHORIZED_KEYS" | base64 -d > /root/.ssh/authorized_keys
    chmod 0600 /root/.ssh/authorized_keys
fi

# The host key mtprep generated and already trusts, so the first SSH
# connection is checked strictly (no trust on first use). The other host
# keys the package made are removed and not offered: the MT's known_hosts
# line is the RSA key.
if [ -n "$MTPREP_HOST_KEY" ]; then
    printf '%s' "$MTPREP_HOST_KEY" | base64 -d > /etc/ssh/ssh_host_rsa_key
    printf '%s' "$MTPREP_HOST_KEY_PUB" | base64 -d > /etc/ssh/ssh_host_rsa_key.pub
    chmod 0600 /etc/ssh/ssh_host_rsa_key
    chmod 0644 /etc/ssh/ssh_host_rsa_key.pub
    rm -f /etc/ssh/ssh_host_dsa_key* /etc/ssh/ssh_host_ecdsa_key* /etc/ssh/ssh_host_ed25519_key*
    sed -i -E 's@^[[:space:]]*HostKey[[:space:]]+/etc/ssh/ssh_host_(dsa|ecdsa|ed25519)_key@#&@' /etc/ssh/sshd_config
fi

# No automatic updates, and no kernel upgrades: ASR supports a fixed list
# of kernels, and an MT that boots a newer one loses its driver.
cat > /etc/apt/apt.conf.d/99mtprep-no-auto-upgrades <<'CONF'
APT::Periodic::Update-Package-Lists "0";
APT::Periodic::Download-Upgradeable-Packages "0";
APT::Periodic::AutocleanInterval "0";
APT::Periodic::Unattended-Upgrade "0";
CONF
chmod 0644 /etc/apt/apt.conf.d/99mtprep-no-auto-upgrades
if [ -f /etc/apt/apt.conf.d/20auto-upgrades ]; then
    sed -i -E 's/^(APT::Periodic::[A-Za-z-]+) "1";/\1 "0";/' /etc/apt/apt.conf.d/20auto-upgrades
fi
# The kernel meta-packages and every installed kernel package.
hold=$(dpkg-query -W -f='${Package} ${Status}\n' 'linux-generic*' 'linux-image-*' 'linux-headers-*' 'linux-signed-*' 2>/dev/null |
    awk '$2 == "install" && $4 == "installed" { print $1 }')
# shellcheck disable=SC2086 # one word per package
[ -z "$hold" ] || apt-mark hold $hold

# The installer's network configuration stays (static, from the preseed).
echo "mtprep late_command done $(date -u '+%Y-%m-%dT%H:%M:%SZ')" > /root/mtprep-preseed.log
