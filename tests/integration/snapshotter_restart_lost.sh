# tests/integration/snapshotter_restart_lost.sh -- a lazy layer that cannot
# be mounted again when the daemon starts ([snapshotter]
# allow_invalid_mounts_on_restart).
#
# An indexed image is pulled (its big layer FUSE-mounted), the daemon is
# stopped with SIGINT (which unmounts it), and the registry is stopped.
# Then:
# - with the default config the daemon does not start: it exits non-zero
#   before listening, having logged one line that names the snapshot, the
#   layer and allow_invalid_mounts_on_restart;
# - with allow_invalid_mounts_on_restart = true it starts, logs the layer it
#   could not mount, and nothing is mounted on the layer's directory;
# - with the registry back, the next start mounts the layer again and
#   big/file reads right on it.
. "$ROOT/tests/integration/lib/integration.sh"

start_stack
build_image "$TMP/img" v1 61 8 4
index_image "$TMP/img" v1
REF=$REG/lost/img:v1
push_image "$TMP/img" v1 "$REF"
rpull "$REF" >"$TMP/rpull.out" 2>&1 || { cat "$TMP/rpull.out"; snapd_log_tail; die "rpull failed"; }
mp=""
for m in $(fuse_mounts); do
    [ -f "$m/big/file" ] && mp=$m
done
[ -n "$mp" ] || die "the big layer is not mounted after the pull"
sh "$CTRSH" stop "$CTD_DIR" || fail "containerd.sh stop failed"
_ctd_started=0

sh "$SNAPSH" stop "$SNAP_DIR" --int || fail "SIGINT: the daemon had to be killed"
is_mounted "$mp" && fail "SIGINT left $mp mounted"
sh "$REGSH" stop "$REG_DIR" || die "could not stop the registry"

# -- default: refuses to start
lines_before=$(wc -l <"$SNAP_DIR/log")
if SOCI_SNAPSHOTTER=$SNAPD sh "$SNAPSH" start "$SNAP_DIR" >/dev/null 2>"$TMP/start.err"; then
    fail "the daemon started although layer $L_BIG cannot be mounted again"
    sh "$SNAPSH" stop "$SNAP_DIR" --int
else
    tail -n +"$((lines_before + 1))" "$SNAP_DIR/log" >"$TMP/run1.log"
    grep -F "cannot mount layer $L_BIG again (allow_invalid_mounts_on_restart is false)" "$TMP/run1.log" >"$TMP/why" ||
        fail "the daemon did not say why it stopped: $(tail -n 3 "$TMP/run1.log")"
    echo "default config: $(cat "$TMP/why")"
fi
is_mounted "$mp" && fail "$mp is mounted after the refused start"

# -- allowed: starts, the layer stays unmounted
printf '[snapshotter]\nallow_invalid_mounts_on_restart = true\n' >"$TMP/allow.toml"
start_snapd --config "$TMP/allow.toml"
grep -F "cannot mount layer $L_BIG again" "$SNAP_DIR/log" | grep -q '"warn"' ||
    fail "allow_invalid_mounts_on_restart: no warning naming the layer"
is_mounted "$mp" && fail "allow_invalid_mounts_on_restart: $mp is mounted without a registry"
sh "$SNAPSH" stop "$SNAP_DIR" || fail "SIGTERM: the daemon had to be killed"
echo "allow_invalid_mounts_on_restart = true: started, layer left unmounted"

# -- registry back: mounted again
# on the same port (the snapshot's labels name it): its own config again
docker-registry serve "$REG_DIR/config.yml" </dev/null >>"$REG_DIR/log" 2>&1 &
echo $! >"$REG_DIR/pid"
wait_for '[ "$(curl -s -o /dev/null -m 2 -w "%{http_code}" "http://$REG/v2/")" = 401 ]' 10 ||
    die "the registry did not come back on $REG"
start_snapd
is_mounted "$mp" || fail "with the registry back, $mp was not mounted again"
[ "$(sha256sum <"$mp/big/file" | cut -c1-64)" = "$BIG_SHA" ] || fail "big/file reads wrong after the re-mount"
echo "registry back: layer mounted again, big/file right"
finish
