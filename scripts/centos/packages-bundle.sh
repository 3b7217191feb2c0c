# mtprep: install RPMs from an offline bundle already uploaded to the MT.
# Args: BUNDLE DIR NAME... — unpack BUNDLE (a tar with SHA256SUMS) into DIR,
# check every file with the MT's own sha256sum, then install the RPMs whose
# package NAME is listed (mtprep decided they are missing or too old),
# together with whatever they need that the bundle has and the MT lacks:
# device-mapper-multipath needs device-mapper-multipath-libs, which a
# CentOS 6.6 minimal install does not have. rpm's own test run (rpm -U
# --test) names each missing capability; the bundle RPM that provides it
# is added until the test passes. Needs no network.
# CentOS 6: bash 4.1 (associative arrays; an empty array is unbound under
# set -u, hence the ${a[@]+...} guards), coreutils 8.4, rpm 4.8.
set -eu
bundle=$1 dir=$2
shift 2
rm -rf "$dir"
mkdir -p "$dir"
tar -xf "$bundle" -C "$dir"
cd "$dir"
sha256sum -c --quiet SHA256SUMS

# What each bundle RPM is called and provides (capabilities and files).
declare -A byname=() provider=()
for f in *.rpm; do
    [ -f "$f" ] || continue
    byname[$(rpm -qp --qf '%{NAME}' "$f" 2>/dev/null)]=$f
    while read -r cap _; do
        if [ -n "$cap" ] && [ -z "${provider[$cap]:-}" ]; then provider[$cap]=$f; fi
    done < <(rpm -qp --provides "$f" 2>/dev/null; rpm -qpl "$f" 2>/dev/null)
done

todo=()
# add FILE: append it to todo unless it is there already; 1 if it was.
add() {
    local x
    for x in ${todo[@]+"${todo[@]}"}; do
        if [ "$x" = "$1" ]; then return 1; fi
    done
    todo+=("$1")
}
for want in "$@"; do
    f=${byname[$want]:-}
    if [ -z "$f" ]; then
        echo "the bundle has no RPM of $want: rebuild it with mtprep bundle" >&2
        exit 4
    fi
    add "$f" || true
done
if [ ${#todo[@]} -eq 0 ]; then
    cd /
    rm -rf "$dir"
    exit 0
fi

# Close over the dependencies the bundle can satisfy.
while ! out=$(rpm -U --test "${todo[@]}" 2>&1); do
    added=0
    while read -r cap; do
        f=${provider[$cap]:-}
        if [ -n "$f" ] && add "$f"; then added=1; fi
    done < <(printf '%s\n' "$out" | sed -n 's/^[[:space:]]*\([^[:space:]]*\).* is needed by .*/\1/p')
    if [ "$added" = 0 ]; then
        echo "the bundle cannot satisfy what these packages need:" >&2
        printf '%s\n' "$out" >&2
        exit 5
    fi
done
rpm -Uvh "${todo[@]}"
cd /
rm -rf "$dir"
