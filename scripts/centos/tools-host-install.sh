# mtprep: install VMware Tools from the ESXi host's installer, which the
# tools phase has mounted in the VM's CD-ROM (MountToolsInstaller).
# No args. Finds the CD labelled "VMware Tools" (blkid, else the first of
# /dev/cdrom, /dev/sr0../dev/sr3 that holds a VMwareTools tarball), mounts
# it read-only on a temporary directory, unpacks its one
# VMwareTools-*.tar.gz under another and runs
# vmware-tools-distrib/vmware-install.pl --default (Tools 10.3.x for legacy
# Linux guests, ESXi 7/8's linux.iso: no questions, the SysV service
# vmware-tools on at boot and started). Always unmounts and removes the
# temporary directories. Prints the tarball's name on stdout; the
# installer's own output goes to stderr.
# CentOS 6: bash 4.1, util-linux-ng 2.17 (blkid -t, mount -o ro), perl.
set -eu
label="VMware Tools"
mnt=$(mktemp -d /tmp/mtprep-vmtools-cd.XXXXXX)
work=$(mktemp -d /tmp/mtprep-vmtools.XXXXXX)
mounted=no
cleanup() {
    if [ "$mounted" = yes ]; then
        umount "$mnt" || umount -l "$mnt" || true
    fi
    rmdir "$mnt" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

tarball_on() {
    # The one VMwareTools-*.tar.gz at the CD's top; fails on none or more.
    local n=0 f t=""
    for f in "$1"/VMwareTools-*.tar.gz; do
        [ -f "$f" ] || continue
        n=$((n + 1))
        t=$f
    done
    [ "$n" -eq 1 ] || return 1
    echo "$t"
}

# find_cd mounts the first CD that holds the tarball and sets tarball.
find_cd() {
    local devs dev
    devs=$(blkid -t LABEL="$label" -o device 2>/dev/null || true)
    for dev in $devs /dev/cdrom /dev/sr0 /dev/sr1 /dev/sr2 /dev/sr3; do
        [ -b "$dev" ] || continue
        # The type is what blkid finds (iso9660 for the real linux.iso).
        if mount -o ro "$dev" "$mnt" 2>/dev/null; then
            mounted=yes
            if tarball=$(tarball_on "$mnt"); then
                return 0
            fi
            umount "$mnt"
            mounted=no
        fi
    done
    return 1
}

# The guest may see the medium a few seconds after vSphere connected it.
tarball=""
for try in 1 2 3 4 5 6 7 8 9 10; do
    if find_cd; then
        break
    fi
    tarball=""
    if [ "$try" -lt 10 ]; then
        sleep 3
    fi
done
if [ -z "$tarball" ]; then
    echo "no CD labelled \"$label\" with one VMwareTools-*.tar.gz in the guest after 30 s: the host's VMware Tools installer is not mounted in the VM's CD-ROM (the tools phase mounts it with MountToolsInstaller)" >&2
    exit 3
fi
name=${tarball##*/}
tar -xzf "$tarball" -C "$work"
if [ ! -f "$work/vmware-tools-distrib/vmware-install.pl" ]; then
    echo "$name holds no vmware-tools-distrib/vmware-install.pl" >&2
    exit 3
fi
# The installer asks nothing with --default; stdin from /dev/null makes
# sure a question it still asks ends it rather than hanging.
(cd "$work/vmware-tools-distrib" && perl ./vmware-install.pl --default </dev/null) >&2
echo "$name"
