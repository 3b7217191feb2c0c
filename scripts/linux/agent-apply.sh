# mtprep: unpack the Unified Agent and run ApplyCustomChanges.sh exactly once.
# Args: TARBALL UNPACK_DIR STATE_DIR. UNPACK_DIR is in the user's home: the
# ASR documents say unpacking under /usr/local makes the install fail.
# A "started" marker is written before the script and a "done" marker
# after, so a crash in between is seen by the next run and never silently
# leads to a second run. CentOS 6: bash 4.1, coreutils 8.4.
# Shared by the CentOS 6.6 and Ubuntu 16.04 MTs (scripts/linux): it keeps
# to what CentOS 6 has (bash 4.1, coreutils 8.4, util-linux-ng 2.17);
# Ubuntu 16.04 has newer of each (bash 4.3, coreutils 8.25).
set -eu
tarball=$1 dir=$2 state=$3
case "$dir" in
    /usr/local|/usr/local/*) echo "refusing to unpack under /usr/local ($dir)" >&2; exit 2 ;;
esac
mkdir -p "$dir" "$state"
tar -xzf "$tarball" -C "$dir"
cd "$dir"
chmod 755 ./ApplyCustomChanges.sh
if [ -f "$state/applycustomchanges.started" ]; then
    echo "ApplyCustomChanges.sh was started before; not running it again" >&2
    exit 3
fi
date -u '+%Y-%m-%dT%H:%M:%SZ' > "$state/applycustomchanges.started"
sync
./ApplyCustomChanges.sh
date -u '+%Y-%m-%dT%H:%M:%SZ' > "$state/applycustomchanges.done"
date -u '+%Y-%m-%dT%H:%M:%SZ' > "$state/applycustomchanges.reboot-pending"
sync
