# tests/integration/snapshotter_getting_started.sh -- upstream's "getting
# started" end to end: a registry with Basic auth, containerd with
# [proxy_plugins.soci], our daemon; an image built here, indexed with
# `soci create` and pushed with `soci push`; `ctr-remote i rpull
# --snapshotter soci`, then `ctr run --snapshotter soci`.
#
# Asserted against the real counterparts:
# - the container's `sha256sum /big/file` equals the file's real digest;
# - after the pull, the indexed (big) layer is a FUSE mount under our root
#   (/proc/self/mounts) holding big/file, and nothing else is FUSE;
# - the three small layers (no ztoc) are plain directories under
#   ROOT/snapshotter/snapshots holding their files, unpacked by the
#   snapshotter itself: containerd never fetched them (not in its content
#   store), the registry served them to someone else;
# - the big layer's committed snapshot carries upstream's labels;
# - before the container runs, docker-registry served fewer bytes of the big
#   layer than its size (its own http.response.written counts).
. "$ROOT/tests/integration/lib/integration.sh"

start_stack
build_image "$TMP/img" v1
index_image "$TMP/img" v1
REF=$REG/soci/getting-started:v1
push_image "$TMP/img" v1 "$REF"
set -- $(chain_ids "$TMP/img" v1)
C_BUSYBOX=$1 C_BIG=$2 C_SMALL1=$3 C_SMALL2=$4
echo "image $REF: big layer $L_BIG ($BIG_SIZE bytes), chain $C_BIG"

# the push uploads, it never downloads: nothing of the big layer served yet
[ "$(served "$L_BIG")" -eq 0 ] || fail "the registry served the big layer before the pull"

rpull "$REF" >"$TMP/rpull.out" 2>&1 || {
    cat "$TMP/rpull.out"
    echo "daemon log:"
    snapd_log_tail 30
    die "ctr-remote rpull --snapshotter soci failed"
}
echo "rpull done; the registry served $(served "$L_BIG") of $BIG_SIZE bytes of the big layer"

# -- what is mounted
fuse_mounts >"$TMP/fuse.list"
echo "FUSE mounts under our root:"
sed 's/^/    /' "$TMP/fuse.list"
n=$(lines "$TMP/fuse.list")
[ "$n" -eq 1 ] || fail "want exactly one FUSE mount under $SNAP_ROOT (the indexed layer), found $n"
big_mp=$(head -n 1 "$TMP/fuse.list")
if [ -n "$big_mp" ]; then
    case "$big_mp" in
    "$SNAPSHOTS"/*/fs) ;;
    *) fail "the FUSE mount $big_mp is not a snapshots/<id>/fs directory of $SNAP_ROOT/snapshotter" ;;
    esac
    [ -f "$big_mp/big/file" ] || fail "the FUSE mount $big_mp has no big/file"
    [ "$(stat -c %s "$big_mp/big/file" 2>/dev/null)" = $((8 << 20)) ] || fail "big/file on the FUSE mount has the wrong size"
fi

# -- the small layers: plain directories, unpacked by the snapshotter
check_unpacked() { # PATH LAYER_DIGEST WHAT
    _dirs=$(snapshot_with "$1")
    if [ -z "$_dirs" ]; then
        fail "$3: no snapshot under $SNAPSHOTS holds $1"
        return
    fi
    for _d in $_dirs; do
        _t=$(fstype "$_d")
        [ -z "$_t" ] || fail "$3: $_d is a $_t mount, want a plain directory"
    done
    in_content "$2" && fail "$3: containerd fetched $2 itself (it is in its content store): the snapshotter did not unpack it"
    [ "$(served "$2")" -gt 0 ] || fail "$3: the registry never served $2"
}
check_unpacked bin/busybox "$L_BUSYBOX" "busybox layer"
check_unpacked etc/soci-small-1 "$L_SMALL1" "small layer 1"
check_unpacked data/soci-small-2/b "$L_SMALL2" "small layer 2"
d=$(snapshot_with etc/soci-small-1 | head -n 1)
[ -z "$d" ] || [ "$(cat "$d/etc/soci-small-1")" = "small layer one" ] || fail "etc/soci-small-1 has the wrong content"
in_content "$L_BIG" && fail "containerd fetched the big layer itself"

# -- upstream's labels on the committed remote snapshot (docs/snapshotter.md, "Remote snapshots")
ctrx snapshots --snapshotter soci info "$C_BIG" >"$TMP/info.json" 2>&1 || fail "snapshots info $C_BIG: $(cat "$TMP/info.json")"
for kv in '"containerd.io/snapshot/remote": "remote snapshot"' \
    '"containerd.io/snapshot/remote/has.soci.index.digest": "true"'; do
    grep -qF "$kv" "$TMP/info.json" || fail "the big layer's snapshot lacks the label $kv: $(tr -d '\n' <"$TMP/info.json")"
done
ctrx snapshots --snapshotter soci ls >"$TMP/ls.out" 2>&1
for c in $C_BUSYBOX $C_BIG $C_SMALL1 $C_SMALL2; do
    grep -q "^$c .*Committed" "$TMP/ls.out" || fail "snapshot $c is not committed: $(cat "$TMP/ls.out")"
done

# -- lazy: fewer bytes than the layer before anything reads it
before=$(served "$L_BIG")
[ "$before" -lt "$BIG_SIZE" ] || fail "before the run the registry served $before bytes of the $BIG_SIZE-byte big layer: not lazy"

# -- the container
out=$(ctrx run --rm --snapshotter soci "$REF" gs-1 /bin/sh -c 'sha256sum /big/file; cat /etc/soci-small-1; wc -l /data/soci-small-2/a' 2>&1)
rc=$?
echo "container output (exit $rc):"
echo "$out" | sed 's/^/    /'
[ $rc -eq 0 ] || { echo "daemon log:"; snapd_log_tail 30; fail "ctr run --snapshotter soci exited $rc"; }
got=$(echo "$out" | sed -n 's|^\([0-9a-f]\{64\}\)  /big/file$|\1|p')
[ "$got" = "$BIG_SHA" ] || fail "sha256sum /big/file in the container: got '${got}', want $BIG_SHA"
echo "$out" | grep -qx "small layer one" || fail "the container does not see /etc/soci-small-1"
echo "$out" | grep -q "^500 /data/soci-small-2/a" || fail "the container does not see /data/soci-small-2/a"

# -- the status line per remote layer (soci-snapshotter-grpc status)
"$SNAPD" --root "$SNAP_DIR/root" status >"$TMP/status.out" 2>"$TMP/status.err" ||
    fail "soci-snapshotter-grpc status failed: $(cat "$TMP/status.err")"
echo "status:"
sed 's/^/    /' "$TMP/status.out"
head -n 1 "$TMP/status.out" | grep -q "^KEY .* LAYER .* STATE .* FETCHED .* BYTES$" || fail "status has no header"
big_line=$(grep " $L_BIG " "$TMP/status.out")
echo "$big_line" | grep -q " mounted " || fail "status does not show the big layer mounted: $big_line"
big_pct=$(echo "$big_line" | awk '{print $4}' | tr -d %)
big_bytes=$(echo "$big_line" | awk '{print $5}')
awk -v p="$big_pct" 'BEGIN{exit !(p > 0 && p <= 100)}' || fail "status: big layer fetched '$big_pct'%, want (0,100]"
[ "${big_bytes:-0}" -gt 0 ] || fail "status: big layer bytes fetched '$big_bytes', want > 0"
for l in $L_BUSYBOX $L_SMALL1 $L_SMALL2; do
    grep " $l " "$TMP/status.out" | grep -q " unpacked *100.0% " || fail "status does not show $l unpacked"
done
"$SNAPD" --root "$TMP/no-daemon-here" status >/dev/null 2>"$TMP/status2.err" && fail "status without a daemon exited 0"
[ "$(wc -l <"$TMP/status2.err")" -eq 1 ] && grep -q "no soci-snapshotter-grpc is serving" "$TMP/status2.err" ||
    fail "status without a daemon: want one line, got: $(cat "$TMP/status2.err")"

after=$(served "$L_BIG")
echo "big layer bytes served: $before before the run ($(awk -v a="$before" -v b="$BIG_SIZE" 'BEGIN{printf "%.1f", 100*a/b}')% of $BIG_SIZE), $after after it, in $(blob_requests "$L_BIG") requests"
finish
