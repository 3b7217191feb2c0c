# mtprep: report the Unified Agent preparation state; changes nothing.
# Args: STATE_DIR UNPACK_DIR. Output lines "key value".
# Shared by the CentOS 6.6 and Ubuntu 16.04 MTs (scripts/linux): it keeps
# to what CentOS 6 has (bash 4.1, coreutils 8.4, util-linux-ng 2.17);
# Ubuntu 16.04 has newer of each (bash 4.3, coreutils 8.25).
set -u
state=$1 dir=$2
for m in started done reboot-pending; do
    if [ -f "$state/applycustomchanges.$m" ]; then
        echo "$m $(head -n 1 "$state/applycustomchanges.$m")"
    fi
done
if [ -f "$dir/ApplyCustomChanges.sh" ]; then echo "unpacked yes"; fi
# A run whose mtprep died (SIGKILL, a lost connection) leaves the script
# running on the MT: report it, so no one decides on it before it ends.
running=$(pgrep -f 'ApplyCustomChanges\.sh' 2>/dev/null | tr '\n' ' ')
if [ -n "$running" ]; then echo "running ${running% }"; fi
exit 0
