# tests/integration/snapshotter_mount_timeout.sh -- a layer mount that takes
# longer than mount_timeout_sec is given up, and nothing mounts late.
#
# The image is pulled through tests/cli/fault_proxy.py, which holds every GET
# of the big layer's ztoc for 8 s; mount_timeout_sec is 2.  The pull
# succeeds, the daemon logs that the layer was not mounted in time and
# leaves it to containerd (the layer is in containerd's content store); 10 s
# later -- past the held answer -- nothing is FUSE-mounted under our root
# and no soci-mount process runs for the layer (the background half of the
# mount was ended too), and the container reads /big/file right.
. "$ROOT/tests/integration/lib/integration.sh"

start_auth_registry
mkdir -p "$TMP/fp"
echo '{}' >"$TMP/fp/faults"
"$PY" "$ROOT/tests/cli/fault_proxy.py" --upstream "$REG" --port-file "$TMP/fp/port" --control "$TMP/fp/faults" \
    --log "$TMP/fp/log" </dev/null >"$TMP/fp/out" 2>&1 &
FP_PID=$!
trap 'stop_pid $FP_PID; _integ_cleanup' EXIT
wait_for '[ -s "$TMP/fp/port" ]' 10 || die "fault_proxy.py did not start: $(cat "$TMP/fp/out")"
XREG=127.0.0.1:$(cat "$TMP/fp/port")
auth=$(printf '%s:%s' "$REG_USER" "$REG_PASS" | base64 -w0)
printf '{"auths":{"%s":{"auth":"%s"},"%s":{"auth":"%s"}}}\n' "$REG" "$auth" "$XREG" "$auth" >"$DOCKER_CONFIG/config.json"

printf 'mount_timeout_sec = 2\n' >"$TMP/config.toml"
start_snapd --config "$TMP/config.toml"
start_containerd --soci "$SOCK"

build_image "$TMP/img" v1 71 8 4
index_image "$TMP/img" v1
push_image "$TMP/img" v1 "$REG/timeout/img:v1"
ZD=$("$PY" - "$TMP/img" "$(soci_entries "$TMP/img")" "$L_BIG" <<'PYEOF'
import json, sys
d, ix, layer = sys.argv[1:]
for l in json.load(open(d + "/blobs/sha256/" + ix[7:]))["layers"]:
    if l["annotations"]["com.amazon.soci.image-layer-digest"] == layer:
        print(l["digest"])
PYEOF
)
[ -n "$ZD" ] || die "no ztoc for the big layer"
printf '{"rules":[{"match":"^GET /v2/.*/blobs/%s","action":"slow","delay":8,"count":-1}]}\n' "$ZD" >"$TMP/fp/faults"

start=$(date +%s)
rpull "$XREG/timeout/img:v1" >"$TMP/rpull.out" 2>&1 || { cat "$TMP/rpull.out"; snapd_log_tail; die "rpull through the proxy failed"; }
echo "rpull took $(($(date +%s) - start)) s"
grep -F "layer $L_BIG of $XREG/timeout/img:v1" "$SNAP_DIR/log" | grep -F "not mounted within mount_timeout_sec (2 s)" |
    grep -qF "deferring to containerd" || { snapd_log_tail; fail "the daemon did not log the mount timeout"; }
in_content "$L_BIG" || fail "containerd did not fetch the big layer after the mount timed out"
sleep 10
grep -q "GET /v2/.*/blobs/$ZD.*slow" "$TMP/fp/log" || fail "the proxy never held a GET of the ztoc: $(cat "$TMP/fp/log")"
[ -z "$(fuse_mounts)" ] || fail "a layer was mounted late: $(fuse_mounts)"
[ -z "$(snap_mount_pids)" ] || fail "soci-mount still runs: $(snap_mount_pids)"
out=$(ctrx run --rm --snapshotter soci "$XREG/timeout/img:v1" mt-1 sha256sum /big/file 2>&1)
[ "$out" = "$BIG_SHA  /big/file" ] || fail "the container read /big/file as: $out"
echo "mount given up after 2 s, nothing mounted late, container reads /big/file right"
finish
