# mtprep: install packages with yum from the given repositories only.
# Args: GPGCHECK(0|1) BASEURL... -- NAME...
# mirror.centos.org no longer serves CentOS 6: the repositories are CentOS
# 6.6's vault (and ELRepo for ReiserFS, EPEL 6 for open-vm-tools) or a local mirror, written to
# /etc/yum.repos.d/mtprep.repo. CentOS 6: bash 4.1, yum 3.2.
set -eu
gpg=$1
shift
repo=/etc/yum.repos.d/mtprep.repo
i=0
: > "$repo.tmp"
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    i=$((i + 1))
    printf '[mtprep-%d]\nname=mtprep repository %d\nbaseurl=%s\nenabled=1\ngpgcheck=%s\ngpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-CentOS-6 https://www.elrepo.org/RPM-GPG-KEY-elrepo.org https://archives.fedoraproject.org/pub/archive/epel/RPM-GPG-KEY-EPEL-6\n\n' \
        "$i" "$i" "$1" "$gpg" >> "$repo.tmp"
    shift
done
mv "$repo.tmp" "$repo"
[ "${1:-}" = "--" ] && shift
yum -y --disablerepo='*' --enablerepo='mtprep-*' install "$@"
