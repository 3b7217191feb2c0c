# mtprep: record an interrupted ApplyCustomChanges.sh run as done, on the
# operator's word (--apply-custom-changes=mark-done): the start marker
# becomes the end and reboot-pending markers. Args: STATE_DIR.
set -e
cp "$1/applycustomchanges.started" "$1/applycustomchanges.done"
cp "$1/applycustomchanges.started" "$1/applycustomchanges.reboot-pending"
