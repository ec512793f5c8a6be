# tests/integration/snapshotter_remote_fallback.sh -- the remote half of the
# snapshotter when an index cannot be used, and its mounts across restarts.
#
# 1. random bytes as the ztoc: an image whose only SOCI index (found by the
#    fallback tag) maps the big layer to 70000 random bytes.  ctr-remote
#    rpull --snapshotter soci succeeds: the daemon logs one line and leaves
#    the layer to containerd (it is in containerd's content store, nothing
#    is FUSE-mounted), and the container reads /big/file right.
# 2. a span digest that does not match: the ztoc is good but for the digest
#    of span 1, altered.  The layer mounts (span 0 proves the ztoc), and a
#    read of /big/file on the mount fails with EIO, having returned only a
#    prefix of the real file (never a wrong byte); a container reading it
#    fails too.
# 3. an explicit index label naming a digest the registry lacks: a Prepare
#    sent straight to the daemon's socket (tests/integration/lib/
#    snap_prepare.c) with CRI's labels and soci.index.digest fails with
#    NotFound naming the index, and leaves nothing: the same key prepares
#    afterwards.
# 4. restarts: SIGTERM leaves a lazy layer mounted by the same soci-mount
#    process, and the next daemon re-attaches to it (its log says so); SIGINT
#    unmounts it and ends that process; the next daemon mounts it again, and
#    a container reads /big/file right from the new mount.
# 5. a second namespace pulling the same image gets the committed layers
#    (containerd finds them by the chain ID): no new mount, and its
#    container reads /big/file right.
# 6. removing every image (ctr images rm --sync, in both namespaces): the
#    collector's Removes unmount every lazy layer, end its soci-mount, and
#    leave no snapshot directory or span cache behind.
. "$ROOT/tests/integration/lib/integration.sh"

ZT="$PY $ROOT/tests/cli/lib/ztoctool.py"
OBJ=$(cd "$BIN/.." && pwd)/obj
[ -f "$OBJ/librpc.a" ] || die "no $OBJ/librpc.a: the test needs the build's archives"
cc -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$ROOT/formats" -I"$ROOT/lib" -I"$ROOT/rpc" -I"$OBJ/gen" \
    "$ROOT/tests/integration/lib/snap_prepare.c" "$OBJ/librpc.a" "$OBJ/liblib.a" "$OBJ/libformats.a" \
    $(pkg-config --libs grpc libprotobuf-c) -lcurl -ljansson -lcrypto -lz -pthread -o "$TMP/snap_prepare" ||
    die "cannot compile snap_prepare.c"

start_stack

# ztoc_for LAYOUT TAG LAYER: a ztoc of LAYER, made by soci create on a copy
# of the layout (so the layout itself gets no index from it)
ztoc_for() {
    rm -rf "$TMP/zcopy"
    cp -a "$1" "$TMP/zcopy"
    "$SOCI" create -q --min-layer-size 0 "oci:$TMP/zcopy:$2" >"$TMP/zcopy.out" 2>&1 ||
        die "soci create on a copy of $1: $(cat "$TMP/zcopy.out")"
    "$PY" - "$TMP/zcopy" "$(soci_entries "$TMP/zcopy")" "$3" <<'EOF'
import json, sys
d, ix, layer = sys.argv[1:]
for l in json.load(open(d + "/blobs/sha256/" + ix[7:]))["layers"]:
    if l["annotations"]["com.amazon.soci.image-layer-digest"] == layer:
        print(d + "/blobs/sha256/" + l["digest"][7:])
EOF
}

# big_file SEED: the bytes of the image's /big/file (8 MiB), made again
big_file() {
    $MKLAYER random "$TMP/big-$1" $((8 << 20)) $(($1 * 2)) || die "mklayer random failed"
    echo "$TMP/big-$1"
}

# restart_snapd: the daemon started again, and containerd talking to it
# (its connection to the old daemon backs off for a few seconds)
restart_snapd() {
    start_snapd
    wait_for 'ctrx snapshots --snapshotter soci ls >/dev/null 2>&1' 20 ||
        fail "containerd cannot reach the restarted daemon"
}

# daemon_says TEXT: a line of the daemon's log has TEXT
daemon_says() {
    grep -F -- "$1" "$SNAP_DIR/log" >/dev/null
}

# -- 1. random bytes as the ztoc ------------------------------------------------
build_image "$TMP/rnd" v1 41 8 1
head -c 70000 /dev/urandom >"$TMP/z.random"
I_RND=$($ZT index "$TMP/rnd" v1 "$L_BIG=$TMP/z.random") || die "ztoctool index failed"
push_image "$TMP/rnd" v1 "$REG/fallback/random:v1"
rpull "$REG/fallback/random:v1" >"$TMP/rnd.out" 2>&1 || { cat "$TMP/rnd.out"; snapd_log_tail; die "rpull of the random-ztoc image failed"; }
[ -z "$(fuse_mounts)" ] || fail "random ztoc: something is FUSE-mounted: $(fuse_mounts)"
in_content "$L_BIG" || fail "random ztoc: containerd did not fetch the big layer itself"
daemon_says "layer $L_BIG of $REG/fallback/random:v1" && daemon_says "deferring to containerd" ||
    fail "random ztoc: the daemon did not log why it left the layer to containerd"
grep -F "$L_BIG" "$SNAP_DIR/log" | grep -F deferring | head -n 1 | sed 's/^/    daemon: /'
out=$(ctrx run --rm --snapshotter soci "$REG/fallback/random:v1" fb-rnd sha256sum /big/file 2>&1)
[ "$out" = "$BIG_SHA  /big/file" ] || fail "random ztoc: the container read /big/file as: $out"
echo "ok: random bytes as the ztoc: left to containerd, container reads /big/file right"

# -- 2. a span digest that does not match -----------------------------------------
build_image "$TMP/span" v1 42 8 1
SHA_SPAN=$BIG_SHA
Z=$(ztoc_for "$TMP/span" v1 "$L_BIG")
[ -f "$Z" ] || die "no ztoc for the big layer"
$ZT spans "$Z" >"$TMP/spans.json" || die "ztoctool spans failed"
d1=$("$PY" - "$TMP/spans.json" "$(blob "$TMP/span" "$L_BIG")" <<'EOF'
import hashlib, json, sys
sp = json.load(open(sys.argv[1]))["spans"][1]
print("sha256:" + hashlib.sha256(open(sys.argv[2], "rb").read()[sp["cstart"]:sp["cend"]]).hexdigest())
EOF
) || die "cannot compute span 1's digest"
h=${d1#sha256:}
case "$h" in 0*) bad1=sha256:1${h#?} ;; *) bad1=sha256:0${h#?} ;; esac
$ZT replace "$Z" "$TMP/z.span1" "$d1" "$bad1" || die "span 1's digest is not in the ztoc"
$ZT index "$TMP/span" v1 "$L_BIG=$TMP/z.span1" >/dev/null || die "ztoctool index failed"
push_image "$TMP/span" v1 "$REG/fallback/span:v1"
rpull "$REG/fallback/span:v1" >"$TMP/span.out" 2>&1 || { cat "$TMP/span.out"; snapd_log_tail; die "rpull of the bad-span image failed"; }
mp=""
for m in $(fuse_mounts); do
    [ -f "$m/big/file" ] && mp=$m
done
if [ -z "$mp" ]; then
    fail "bad span digest: the big layer is not mounted (span 0 is good)"
else
    dd if="$mp/big/file" of="$TMP/read.out" bs=1M 2>"$TMP/read.err"
    rc=$?
    got=$(stat -c %s "$TMP/read.out")
    echo "bad span digest: dd exit $rc after $got bytes: $(grep -i error "$TMP/read.err")"
    [ $rc -ne 0 ] || fail "bad span digest: the whole file read without an error"
    grep -q "Input/output error" "$TMP/read.err" || fail "bad span digest: want EIO, got: $(cat "$TMP/read.err")"
    [ "$got" -lt $((8 << 20)) ] || fail "bad span digest: all $got bytes came back"
    real=$(big_file 42)
    head -c "$got" "$real" | cmp -s - "$TMP/read.out" || fail "bad span digest: the bytes before the error are not the file's"
fi
out=$(ctrx run --rm --snapshotter soci "$REG/fallback/span:v1" fb-span sha256sum /big/file 2>&1)
rc=$?
echo "bad span digest: container (exit $rc): $out"
[ $rc -ne 0 ] || fail "bad span digest: sha256sum /big/file succeeded in the container"
case "$out" in *"$SHA_SPAN"*) fail "bad span digest: the container printed the file's digest" ;; esac
echo "ok: a span digest that does not match: EIO, never wrong bytes"

# -- 3. an explicit index the registry lacks ---------------------------------------
MAN=$(tagged "$TMP/span" v1)
MISSING=sha256:$(printf 'no such index' | sha256sum | cut -c1-64)
"$TMP/snap_prepare" "$SOCK" "$NS" refused-1 "" \
    "containerd.io/snapshot.ref=sha256:$(printf chain-x | sha256sum | cut -c1-64)" \
    "containerd.io/snapshot/cri.image-ref=$REG/fallback/span:v1" \
    "containerd.io/snapshot/cri.manifest-digest=$MAN" \
    "containerd.io/snapshot/cri.layer-digest=$L_BUSYBOX" \
    "containerd.io/snapshot/remote/soci.index.digest=$MISSING" >"$TMP/refused.out" 2>&1
rc=$?
echo "explicit missing index: exit $rc: $(cat "$TMP/refused.out")"
[ $rc -eq 1 ] || fail "explicit missing index: the Prepare did not fail"
grep -q "^code 5: .*$MISSING" "$TMP/refused.out" || fail "explicit missing index: want NotFound (5) naming $MISSING"
"$TMP/snap_prepare" "$SOCK" "$NS" refused-1 "" >"$TMP/again.out" 2>&1 ||
    fail "the refused Prepare left its key behind: $(cat "$TMP/again.out")"
echo "ok: an explicit index the registry lacks fails the Prepare, leaving nothing"

# -- 4. restarts -------------------------------------------------------------------
build_image "$TMP/rs" v1 43 8 4
SHA_RS=$BIG_SHA
index_image "$TMP/rs" v1
push_image "$TMP/rs" v1 "$REG/fallback/restart:v1"
rpull "$REG/fallback/restart:v1" >"$TMP/rs.out" 2>&1 || { cat "$TMP/rs.out"; snapd_log_tail; die "rpull of the restart image failed"; }
rs_mp=""
for m in $(fuse_mounts); do
    [ "$m" != "$mp" ] && [ -f "$m/big/file" ] && rs_mp=$m
done
[ -n "$rs_mp" ] || die "restart image: its big layer is not mounted"
pid1=$(daemon_pid "$rs_mp")
[ -n "$pid1" ] || die "no soci-mount process serves $rs_mp"

sh "$SNAPSH" stop "$SNAP_DIR" || fail "SIGTERM: the daemon had to be killed"
is_mounted "$rs_mp" || fail "SIGTERM: $rs_mp was unmounted"
[ "$(daemon_pid "$rs_mp")" = "$pid1" ] || fail "SIGTERM: soci-mount $pid1 no longer serves $rs_mp"
[ "$(sha256sum <"$rs_mp/big/file" | cut -c1-64)" = "$SHA_RS" ] || fail "SIGTERM: big/file reads wrong with the daemon down"
restart_snapd
daemon_says "layer $L_BIG still mounted, re-attached" || fail "restart: the daemon did not say it re-attached"
[ "$(daemon_pid "$rs_mp")" = "$pid1" ] || fail "restart: soci-mount $pid1 was replaced"
echo "ok: SIGTERM left soci-mount $pid1 serving; the next daemon re-attached"

sh "$SNAPSH" stop "$SNAP_DIR" --int || fail "SIGINT: the daemon had to be killed"
is_mounted "$rs_mp" && fail "SIGINT: $rs_mp is still mounted"
wait_for '[ -z "$(daemon_pid "$rs_mp")" ]' 10 || fail "SIGINT: soci-mount $pid1 still runs"
restart_snapd
is_mounted "$rs_mp" || fail "restart after SIGINT: $rs_mp was not mounted again"
pid2=$(daemon_pid "$rs_mp")
[ -n "$pid2" ] && [ "$pid2" != "$pid1" ] || fail "restart after SIGINT: no new soci-mount ($pid1 -> '$pid2')"
out=$(ctrx run --rm --snapshotter soci "$REG/fallback/restart:v1" fb-rs sha256sum /big/file 2>&1)
[ "$out" = "$SHA_RS  /big/file" ] || fail "restart after SIGINT: the container read /big/file as: $out"
echo "ok: SIGINT unmounted the layer; the next daemon mounted it again (soci-mount $pid2)"

# -- 5. the same image in a second namespace shares the committed layers ----------
n1=$(fuse_mounts | wc -l)
NS=soci-test-2
rpull "$REG/fallback/restart:v1" >"$TMP/ns2.out" 2>&1 || { cat "$TMP/ns2.out"; snapd_log_tail; die "rpull into a second namespace failed"; }
n2=$(fuse_mounts | wc -l)
[ "$n2" -eq "$n1" ] || fail "second namespace: $n1 FUSE mounts before the pull, $n2 after (want no new mount)"
out=$(ctrx run --rm --snapshotter soci "$REG/fallback/restart:v1" fb-ns2 sha256sum /big/file 2>&1)
[ "$out" = "$SHA_RS  /big/file" ] || fail "second namespace: the container read /big/file as: $out"
NS=soci-test
echo "ok: a second namespace pulled the image onto the same $n2 mounts"

# -- 6. removing the images: containerd's collector removes the snapshots --------
for ns in soci-test soci-test-2; do
    NS=$ns
    for ref in $(ctrx images ls -q); do
        ctrx images rm --sync "$ref" >/dev/null 2>&1 || fail "ctr -n $ns images rm --sync $ref failed"
    done
done
NS=soci-test
wait_for '[ -z "$(fuse_mounts)" ]' 20 || fail "after the images went: still FUSE-mounted: $(fuse_mounts)"
wait_for '[ -z "$(snap_mount_pids)" ]' 20 || fail "after the images went: soci-mount still runs: $(snap_mount_pids)"
left=$(ls "$SNAP_ROOT/soci/spancache" 2>/dev/null)
[ -z "$left" ] || fail "span caches left behind: $left"
[ -z "$(ls "$SNAPSHOTS" 2>/dev/null)" ] || fail "snapshot directories left behind: $(ls "$SNAPSHOTS")"
echo "ok: removing the images unmounted every lazy layer and removed its cache"
finish
