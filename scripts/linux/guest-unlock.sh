# mtprep: release the guest lock DIR if it is still this run's.
# Args: RUN_ID DIR.
# Shared by the CentOS 6.6 and Ubuntu 16.04 MTs (scripts/linux): it keeps
# to what CentOS 6 has (bash 4.1, coreutils 8.4, util-linux-ng 2.17);
# Ubuntu 16.04 has newer of each (bash 4.3, coreutils 8.25).
set -u
d=$2
cur=$(cat "$d/owner" 2>/dev/null || true)
case " $cur " in
*" run=$1 "*) rm -rf "$d" ;;
esac
