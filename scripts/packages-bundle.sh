# mtprep: install RPMs from an offline bundle already uploaded to the MT.
# Args: BUNDLE DIR NAME... — unpack BUNDLE (a tar with SHA256SUMS) into DIR,
# check every file with the MT's own sha256sum, then install the RPMs whose
# package NAME is listed (mtprep decided they are missing or too old).
# Needs no network. CentOS 6: bash 4.1, coreutils 8.4.
set -eu
bundle=$1 dir=$2
shift 2
rm -rf "$dir"
mkdir -p "$dir"
tar -xf "$bundle" -C "$dir"
cd "$dir"
sha256sum -c --quiet SHA256SUMS
todo=()
for f in *.rpm; do
    name=$(rpm -qp --qf '%{NAME}' "$f")
    for want in "$@"; do
        if [ "$name" = "$want" ]; then todo+=("$f"); fi
    done
done
if [ ${#todo[@]} -gt 0 ]; then
    rpm -Uvh "${todo[@]}"
fi
cd /
rm -rf "$dir"
