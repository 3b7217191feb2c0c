# mtprep: print the MT's OS release line; changes nothing. CentOS 6 has no
# /etc/os-release: its release is in /etc/centos-release (or, on RHEL,
# /etc/redhat-release); a newer system's comes from /etc/os-release.
cat /etc/centos-release 2>/dev/null || cat /etc/redhat-release 2>/dev/null || { [ -f /etc/os-release ] && . /etc/os-release && echo "$PRETTY_NAME"; }  # not CentOS: names the system a wrong spec points at
