#!/bin/sh
# tests/cli/registry_create_bounds.sh -- `soci create REGISTRY/...` and
# soci-layers against a registry that stops answering or trickles: each run
# fails in bounded time (soci-mount's bounds: 5 s connect and low-speed
# timeouts at 32 KiB/s, 3 retries, about 21 s) with one line, and writes no
# index.  Before, a stalled manifest or a layer trickled at 2 KiB/s kept
# create running for minutes or forever.  A layer streamed past the size
# its descriptor gives (endless_registry.py) is cut off there.
. "$ROOT/tests/cli/lib/regfault.sh"

start_registry "$TMP/reg"
start_fault_proxy "$TMP/x" "$REG"
sample "$TMP/img" t --big-mib 4
skopeo copy -q --dest-tls-verify=false "oci:$TMP/img:t" "docker://$REG/src:t" >"$TMP/skopeo.err" 2>&1 ||
    die "skopeo copy failed: $(cat "$TMP/skopeo.err")"

# bounded NAME RULES CMD...: with RULES, CMD fails within 60 s, one line on stderr
bounded() {
    name=$1
    : >"$XDIR/log"
    faults "$2"
    shift 2
    timed "$TMP/$name.out" "$TMP/$name.err" timeout -k 5 90 "$@"
    faults '{}'
    echo "$name: exit $rc after ${secs}s, $(injected) fault(s) injected: $(cat "$TMP/$name.err")"
    [ $rc -ne 124 ] && [ $rc -ne 137 ] || { fail "$name: still running after 90 s"; return; }
    [ $rc -eq 1 ] || fail "$name: exit $rc, want 1"
    below "$secs" 60 || fail "$name: took ${secs}s"
    one_line "$TMP/$name.err" "$name"
}

bounded stall-manifest '{"rules": [{"match": "^GET /v2/src/manifests/", "action": "stall", "delay": 600, "count": -1}]}' \
    "$SOCI" create -q --min-layer-size 1000 --layout "$TMP/L1" "$XREG/src:t"
bounded trickle-layer '{"rules": [{"match": "^GET /v2/src/blobs/", "action": "trickle", "rate": 2048, "count": -1}]}' \
    "$SOCI" create -q --min-layer-size 1000 --layout "$TMP/L2" "$XREG/src:t"
[ -z "$(soci_entries "$TMP/L2" 2>/dev/null)" ] || fail "trickle-layer: an index was written"
bounded trickle-layer-pipeline '{"rules": [{"match": "^GET /v2/src/blobs/", "action": "trickle", "rate": 2048, "count": -1}]}' \
    sh -c '"$1" --min-layer-size 1000 "$2" | "$3" -q --min-layer-size 1000 >/dev/null' sh "$LAYERS" "$XREG/src:t" "$ZG"

start_bg "$TMP/endless.port" "$PY" "$ROOT/tests/cli/endless_registry.py" "$TMP/endless.port"
EREG=127.0.0.1:$BG_PORT
bounded endless-layer '{}' "$SOCI" create -q --plain-http --min-layer-size 1000 --layout "$TMP/L3" "$EREG/big:t"
grep -qF "the registry sent more than the 2000000 bytes the descriptor gives" "$TMP/endless-layer.err" ||
    fail "endless-layer: not stopped at the descriptor's size: $(cat "$TMP/endless-layer.err")"
bounded endless-layer-pipeline '{}' \
    sh -c '"$1" --plain-http --min-layer-size 1000 "$2" | "$3" -q --min-layer-size 1000 >/dev/null' sh "$LAYERS" "$EREG/big:t" "$ZG"
grep -qF "the registry sent more than the 2000000 bytes the descriptor gives" "$TMP/endless-layer-pipeline.err" ||
    fail "endless-layer-pipeline: not stopped at the descriptor's size: $(cat "$TMP/endless-layer-pipeline.err")"
finish
