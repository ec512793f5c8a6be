# tests/integration/snapshotter_min_layer_size.sh -- [snapshotter]
# min_layer_size: a layer smaller than it is not mounted lazily even when it
# has a ztoc; the daemon downloads and unpacks it itself.
#
# With min_layer_size = 1 GiB, `ctr-remote i rpull --snapshotter soci` of an
# indexed image leaves nothing FUSE-mounted, containerd never fetched the big
# layer (not in its content store), a snapshot directory under our root holds
# big/file as a plain file with the right bytes, and the container reads it
# right.  The daemon's log says the layer was unpacked.
. "$ROOT/tests/integration/lib/integration.sh"

cat >"$TMP/config.toml" <<'TOML'
[snapshotter]
min_layer_size = 1073741824
TOML
start_auth_registry
start_snapd --config "$TMP/config.toml"
start_containerd --soci "$SOCK"

build_image "$TMP/img" v1 51 8 4
index_image "$TMP/img" v1
REF=$REG/minsize/img:v1
push_image "$TMP/img" v1 "$REF"
rpull "$REF" >"$TMP/rpull.out" 2>&1 || { cat "$TMP/rpull.out"; snapd_log_tail; die "rpull failed"; }

[ -z "$(fuse_mounts)" ] || fail "something is FUSE-mounted: $(fuse_mounts)"
in_content "$L_BIG" && fail "containerd fetched the big layer itself: the daemon did not unpack it"
d=$(snapshot_with big/file | head -n 1)
if [ -z "$d" ]; then
    fail "no snapshot under $SNAPSHOTS holds big/file"
else
    [ -z "$(fstype "$d")" ] || fail "$d is a $(fstype "$d") mount, want a plain directory"
    [ "$(sha256sum <"$d/big/file" | cut -c1-64)" = "$BIG_SHA" ] || fail "$d/big/file has the wrong bytes"
fi
grep -F "layer $L_BIG of $REF: unpacked as" "$SNAP_DIR/log" >/dev/null || fail "the daemon did not log unpacking the big layer"
out=$(ctrx run --rm --snapshotter soci "$REF" ms-1 sha256sum /big/file 2>&1)
[ "$out" = "$BIG_SHA  /big/file" ] || fail "the container read /big/file as: $out"
echo "big layer ($BIG_SIZE bytes, under min_layer_size) unpacked by the daemon in $d"
finish
