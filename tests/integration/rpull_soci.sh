# tests/integration/rpull_soci.sh -- `soci image rpull` into containerd 1.6
# with our snapshotter, then `ctr run --snapshotter soci`: the getting-started
# flow with this project's own pull instead of ctr-remote.
#
# Four images, each pulled and run:
#   explicit  --soci-index-digest D (a v1 index pushed by `soci push`)
#   fallback  no digest: the snapshotter finds the v1 index by the
#             sha256-<hex> fallback tag (docker-registry has no referrers API)
#   v2        `soci convert`ed image: found by the manifest's annotation
#   plain     no index at all: rpull fetches and containerd unpacks every
#             layer; the container still runs
# Asserted from what the counterparts say: rpull's `fetching` lines name
# exactly the documents and layers it downloaded (indexed images: no layer;
# the plain image: all four); the big layer of an indexed image is a FUSE
# mount under our root (/proc/self/mounts) and the registry served fewer
# bytes of it than its size before the run (docker-registry's own count);
# the container's sha256sum of /big/file is the file's.
. "$ROOT/tests/integration/lib/integration.sh"

start_stack
R="$SOCI image rpull --address $CTD --namespace $NS --plain-http --user $REG_USER:$REG_PASS"

# soci_index_digest LAYOUT: the digest of the (only) SOCI index in the layout
soci_index_digest() {
    "$PY" - "$1" <<'PYEOF'
import json, sys
for m in json.load(open(sys.argv[1] + "/index.json"))["manifests"]:
    if m.get("artifactType") == "application/vnd.amazon.soci.index.v1+json":
        print(m["digest"])
        break
PYEOF
}

# pull_and_run NAME REF LAZY(1|0) RPULL-ARGS...: rpull, check its lines and
# the mounts, run the container, check /big/file
pull_and_run() {
    _name=$1 _ref=$2 _lazy=$3
    shift 3
    $R "$@" "$_ref" >"$TMP/$_name.out" 2>"$TMP/$_name.err" || {
        cat "$TMP/$_name.out" "$TMP/$_name.err"
        echo "daemon log:"
        snapd_log_tail 30
        fail "$_name: soci image rpull failed"
        return
    }
    echo "$_name: rpull printed:"
    sed 's/^/    /' "$TMP/$_name.out"
    grep -q "^fetching sha256:[0-9a-f]\{12\}\.\.\. application/vnd.oci.image.config.v1+json$" "$TMP/$_name.out" ||
        fail "$_name: no fetching line for the config"
    grep -q "^fetching sha256:[0-9a-f]\{12\}\.\.\. application/vnd.oci.image.manifest.v1+json$" "$TMP/$_name.out" ||
        fail "$_name: no fetching line for the manifest"
    _layers=$(grep -c "^fetching .* application/vnd.oci.image.layer.v1.tar+gzip$" "$TMP/$_name.out")
    _big=$(echo "$L_BIG" | cut -c8-19)
    if [ "$_lazy" = 1 ]; then
        # the snapshotter mounted the big layer and unpacked the small ones
        # itself: rpull downloaded no layer
        [ "$_layers" -eq 0 ] || fail "$_name: rpull fetched $_layers layers of an indexed image"
        fuse_mounts >"$TMP/$_name.fuse"
        _mp=""
        for _m in $(cat "$TMP/$_name.fuse"); do
            [ -f "$_m/big/file" ] && _mp=$_m
        done
        [ -n "$_mp" ] || fail "$_name: no FUSE mount under our root holds big/file: $(cat "$TMP/$_name.fuse")"
        _before=$(served "$L_BIG")
        [ "$_before" -lt "$BIG_SIZE" ] || fail "$_name: the registry served $_before of $BIG_SIZE bytes before the run"
    else
        # every layer is downloaded by rpull, except those an earlier pull
        # left committed (the busybox base is shared): none is lazy
        _present=$(sed -n 's/^pulled .*, \([0-9]*\) already present$/\1/p' "$TMP/$_name.out")
        [ "$_layers" -eq $((4 - ${_present:-0})) ] ||
            fail "$_name: rpull fetched $_layers layers of an unindexed image (${_present:-0} already present), want 4 in all"
        grep -q "^pulled $_ref: $_layers layers\{0,1\} fetched, 0 served by snapshotter soci" "$TMP/$_name.out" ||
            fail "$_name: the summary does not say $_layers fetched, 0 served lazily"
        grep -q "^fetching sha256:$_big\.\.\. " "$TMP/$_name.out" || fail "$_name: the big layer was not fetched"
    fi
    grep -q "^pulled $_ref: " "$TMP/$_name.out" || fail "$_name: no summary line"
    _out=$(ctrx run --rm --snapshotter soci "$_ref" "run-$_name" /bin/sh -c 'sha256sum /big/file; cat /etc/soci-small-1' 2>&1)
    _rc=$?
    echo "$_name: container (exit $_rc): $_out"
    [ $_rc -eq 0 ] || { snapd_log_tail 20; fail "$_name: ctr run --snapshotter soci exited $_rc"; return; }
    echo "$_out" | grep -q "^$BIG_SHA  /big/file$" || fail "$_name: wrong sha256 of /big/file: $_out"
    echo "$_out" | grep -qx "small layer one" || fail "$_name: /etc/soci-small-1 missing"
}

# explicit digest
build_image "$TMP/a" v1 11
index_image "$TMP/a" v1
push_image "$TMP/a" v1 "$REG/soci/explicit:v1"
IDX=$(soci_index_digest "$TMP/a")
[ -n "$IDX" ] || die "no SOCI index in the layout"
pull_and_run explicit "$REG/soci/explicit:v1" 1 --soci-index-digest "$IDX"

# discovery by the fallback tag
build_image "$TMP/b" v1 12
index_image "$TMP/b" v1
push_image "$TMP/b" v1 "$REG/soci/fallback:v1"
pull_and_run fallback "$REG/soci/fallback:v1" 1

# discovery by the v2 annotation
build_image "$TMP/c" v1 13
"$SOCI" convert "oci:$TMP/c:v1" "oci:$TMP/c:v2" >"$TMP/convert.out" 2>&1 || die "soci convert: $(cat "$TMP/convert.out")"
push_image "$TMP/c" v2 "$REG/soci/converted:v2"
pull_and_run v2 "$REG/soci/converted:v2" 1

# no index: a full pull that still runs
build_image "$TMP/d" v1 14
push_plain "$TMP/d" v1 "$REG/soci/plain:v1"
pull_and_run plain "$REG/soci/plain:v1" 0
finish
