# tests/integration/snapshotter_insecure_host.sh -- a plain-HTTP registry
# that is not on a loopback name, made usable by config.toml's
# [resolver.host."H"] mirrors = [{host = "H", insecure = true}].
#
# The daemon speaks plain HTTP by itself only to loopback names (localhost,
# 127.x, [::1]); any other host gets HTTPS.  To have such a host without
# leaving this machine, the registry is named 2130706433:PORT -- 127.0.0.1
# written as one number, which the resolver reaches but no loopback check
# recognises.  Asserted:
# - config dump keeps the mirror (so it round-trips);
# - with the mirror, `soci image rpull` of an indexed image leaves every
#   layer to the snapshotter and the big layer is a FUSE mount: the daemon
#   and its soci-mount reached the registry over plain HTTP;
# - the container reads /big/file with the right digest;
# - a second daemon without the mirror (same image, fresh containerd) falls
#   back to a plain pull: rpull fetches the layers itself, nothing is FUSE.
. "$ROOT/tests/integration/lib/integration.sh"

start_auth_registry
HOST=2130706433:$PORT
# the daemon's credentials for that name too
printf '{"auths":{"%s":{"auth":"%s"},"%s":{"auth":"%s"}}}\n' \
    "$REG" "$(printf '%s:%s' "$REG_USER" "$REG_PASS" | base64 -w0)" \
    "$HOST" "$(printf '%s:%s' "$REG_USER" "$REG_PASS" | base64 -w0)" >"$TMP/docker/config.json"
cat >"$TMP/config.toml" <<EOF
[resolver.host."$HOST"]
mirrors = [{host = "$HOST", insecure = true}]
EOF
"$SNAPD" --config "$TMP/config.toml" config dump >"$TMP/dump.toml" 2>&1 || fail "config dump: $(cat "$TMP/dump.toml")"
grep -qF "[resolver.host.\"$HOST\"]" "$TMP/dump.toml" && grep -qF "insecure = true" "$TMP/dump.toml" ||
    fail "config dump lost the mirror: $(cat "$TMP/dump.toml")"

build_image "$TMP/img" v1
index_image "$TMP/img" v1
push_image "$TMP/img" v1 "$REG/insecure/app:v1"
REF=$HOST/insecure/app:v1

pull_and_run() { # NAME: rpull REF through our containerd, then run it
    timeout -k 5 "$CTR_TIMEOUT" "$SOCI" image rpull --address "$CTD" --namespace "$NS" --plain-http \
        --user "$REG_USER:$REG_PASS" "$REF" >"$TMP/$1.rpull" 2>&1 || {
        cat "$TMP/$1.rpull"
        snapd_log_tail 20
        fail "$1: soci image rpull $REF failed"
        return 1
    }
    echo "$1: $(tail -n 1 "$TMP/$1.rpull")"
    fuse_mounts >"$TMP/$1.fuse"
    _out=$(ctrx run --rm --snapshotter soci "$REF" "run-$1" /bin/sh -c 'sha256sum /big/file' 2>&1) ||
        fail "$1: ctr run failed: $_out"
    echo "$_out" | grep -q "^$BIG_SHA  /big/file$" || fail "$1: wrong /big/file: $_out"
}

# -- with the mirror: lazy
start_snapd --config "$TMP/config.toml"
start_containerd --soci "$SOCK"
pull_and_run mirror
grep -q "^pulled $REF: 0 layers fetched, 4 served by snapshotter soci" "$TMP/mirror.rpull" ||
    fail "with the insecure mirror, rpull did not leave every layer to the snapshotter: $(tail -n 1 "$TMP/mirror.rpull")"
[ "$(lines "$TMP/mirror.fuse")" -eq 1 ] || fail "with the insecure mirror, want one FUSE mount, got: $(cat "$TMP/mirror.fuse")"

# -- without it: the daemon cannot reach the host and leaves the pull to containerd
sh "$CTRSH" stop "$CTD_DIR" >/dev/null 2>&1
_ctd_started=0
sh "$SNAPSH" stop "$SNAP_DIR" --int >/dev/null 2>&1
_snapd_started=0
for _p in $(snap_mount_pids); do stop_pid "$_p"; done
rm -rf "$CTD_DIR" "$SNAP_DIR"
start_snapd
start_containerd --soci "$SOCK"
pull_and_run plain
grep -q "^pulled $REF: 4 layers fetched, 0 served by snapshotter soci" "$TMP/plain.rpull" ||
    fail "without the mirror, want a plain pull of 4 layers: $(tail -n 1 "$TMP/plain.rpull")"
[ "$(lines "$TMP/plain.fuse")" -eq 0 ] || fail "without the mirror, want no FUSE mount, got: $(cat "$TMP/plain.fuse")"
finish
