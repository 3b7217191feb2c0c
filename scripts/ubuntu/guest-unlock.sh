# mtprep: release the guest lock DIR if it is still this run's.
# Args: RUN_ID DIR.
set -u
d=$2
cur=$(cat "$d/owner" 2>/dev/null || true)
case " $cur " in
*" run=$1 "*) rm -rf "$d" ;;
esac
