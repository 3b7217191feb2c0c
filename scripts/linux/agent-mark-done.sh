# mtprep: record an interrupted ApplyCustomChanges.sh run as done, on the
# operator's word (--apply-custom-changes=mark-done): the start marker
# becomes the end and reboot-pending markers. Args: STATE_DIR.
# Shared by the CentOS 6.6 and Ubuntu 16.04 MTs (scripts/linux): it keeps
# to what CentOS 6 has (bash 4.1, coreutils 8.4, util-linux-ng 2.17);
# Ubuntu 16.04 has newer of each (bash 4.3, coreutils 8.25).
set -e
cp "$1/applycustomchanges.started" "$1/applycustomchanges.done"
cp "$1/applycustomchanges.started" "$1/applycustomchanges.reboot-pending"
