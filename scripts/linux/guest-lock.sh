# mtprep: take the guest lock. Args: OWNER_LINE RUN_ID MODE(break|"") DIR.
# Prints "taken", "broke <owner line>" or "held <owner line>". A directory,
# because mkdir is atomic on every file system and needs no flock(1); a
# lock held by a process would die with the SSH session and the agent
# phase's reboot, the directory does not. bash 4.1.
# Shared by the CentOS 6.6 and Ubuntu 16.04 MTs (scripts/linux): it keeps
# to what CentOS 6 has (bash 4.1, coreutils 8.4, util-linux-ng 2.17);
# Ubuntu 16.04 has newer of each (bash 4.3, coreutils 8.25).
set -u
d=$4
mkdir -p "${d%/*}" && chmod 700 "${d%/*}"
if mkdir "$d" 2>/dev/null; then
	printf '%s\n' "$1" > "$d/owner"
	echo taken
	exit 0
fi
cur=$(cat "$d/owner" 2>/dev/null || true)
case " $cur " in
*" run=$2 "*) echo taken; exit 0 ;;
esac
if [ "$3" = break ]; then
	printf '%s\n' "$1" > "$d/owner"
	echo "broke $cur"
	exit 0
fi
echo "held $cur"
