# mtprep: install .deb packages from an offline bundle already uploaded to
# the MT. Args: BUNDLE DIR NAME... — unpack BUNDLE (a tar with SHA256SUMS)
# into DIR, check every file with the MT's own sha256sum, index the .debs
# as a flat apt repository (dpkg-deb -f prints each control file; the
# index is written here, so a minimal install needs no dpkg-dev), and let
# apt-get install the packages NAME (mtprep decided they are missing or too
# old) with whatever they need that the bundle has and the MT lacks. Only
# the bundle is a source: the MT's own sources.list and lists are not read
# or changed, and nothing is downloaded. Then dpkg-query checks each NAME
# is installed. Ubuntu 16.04: bash 4.3, dpkg 1.18, apt 1.2.
set -eu
bundle=$1 dir=$2
shift 2
rm -rf "$dir"
mkdir -p "$dir/repo" "$dir/lists/partial" "$dir/cache/archives/partial"
tar -xf "$bundle" -C "$dir/repo"
cd "$dir/repo"
sha256sum -c --quiet SHA256SUMS
[ $# -gt 0 ] || { cd /; rm -rf "$dir"; exit 0; }
: > Packages
for f in *.deb; do
    [ -f "$f" ] || continue
    dpkg-deb -f "$f" | sed '/^$/d' >> Packages
    printf 'Filename: ./%s\nSize: %s\nSHA256: %s\n\n' "$f" "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -d' ' -f1)" >> Packages
done
for want in "$@"; do
    if ! grep -qx "Package: $want" Packages; then
        echo "the bundle has no .deb of $want: rebuild it with mtprep bundle" >&2
        exit 4
    fi
done
echo "deb [trusted=yes] file:$dir/repo ./" > "$dir/sources.list"
apt_opts="-o Dir::Etc::SourceList=$dir/sources.list -o Dir::Etc::SourceParts=/nonexistent -o Dir::State::Lists=$dir/lists -o Dir::Cache=$dir/cache -o APT::Get::List-Cleanup=0 -o Acquire::Languages=none"
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086 # the options are words
apt-get $apt_opts -q update
# shellcheck disable=SC2086
apt-get $apt_opts -q -y --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold install "$@"
for want in "$@"; do
    if ! dpkg-query -W -f='${Status}\n' "$want" 2>/dev/null | grep -qx 'install ok installed'; then
        echo "$want is not installed after apt-get install" >&2
        exit 5
    fi
done
cd /
rm -rf "$dir"
