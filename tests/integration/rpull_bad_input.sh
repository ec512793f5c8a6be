# tests/integration/rpull_bad_input.sh -- `soci image rpull` refuses what it
# cannot pull in one line, with a non-zero exit, and leaves containerd as it
# was: no image record, no lease, nothing in the content store for a refused
# pull.  Against the real counterparts: containerd 1.6 with our snapshotter
# as [proxy_plugins.soci], Debian's docker-registry with Basic auth.
#
#   unknown image, unreachable containerd socket, a snapshotter containerd
#   does not know, wrong credentials (the password never echoed), a
#   --soci-index-digest that is not an index (the image manifest itself),
#   and Ctrl-C (SIGINT) mid pull behind a slow link: exit 130, no image,
#   the lease gone.
. "$ROOT/tests/integration/lib/integration.sh"

start_stack
build_image "$TMP/img" v1
index_image "$TMP/img" v1
REF=$REG/soci/bad-input:v1
push_image "$TMP/img" v1 "$REF"
MANIFEST=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]+"/index.json"))["manifests"][0]["digest"])' \
    "$TMP/img")

# expect_fail NAME PATTERN CMD...: exit non-zero, exactly one stderr line
# matching PATTERN, and no image record afterwards
expect_fail() {
    _name=$1 _pat=$2
    shift 2
    "$@" >"$TMP/out" 2>"$TMP/err"
    _rc=$?
    [ $_rc -ne 0 ] || { fail "$_name: exit 0"; return; }
    [ "$(lines "$TMP/err")" -eq 1 ] || fail "$_name: want one line on stderr, got: $(cat "$TMP/err")"
    grep -qE "$_pat" "$TMP/err" || fail "$_name: stderr '$(cat "$TMP/err")' does not match /$_pat/"
    echo "$_name: exit $_rc: $(cat "$TMP/err")"
}

no_image() {
    ctrx images ls -q >"$TMP/images" 2>&1 || fail "ctr images ls: $(cat "$TMP/images")"
    [ ! -s "$TMP/images" ] || fail "$1: an image was registered: $(cat "$TMP/images")"
    ctrx leases ls -q >"$TMP/leases" 2>&1 || fail "ctr leases ls: $(cat "$TMP/leases")"
    [ ! -s "$TMP/leases" ] || fail "$1: a lease was left: $(cat "$TMP/leases")"
}

R="$SOCI image rpull --address $CTD --namespace $NS --plain-http"

expect_fail "unknown image" "no such image|not found|does not exist" \
    $R --user "$REG_USER:$REG_PASS" "$REG/soci/nothing-here:v1"
no_image "unknown image"
expect_fail "unreachable containerd" "not reachable at $TMP/nowhere.sock" \
    "$SOCI" image rpull --address "$TMP/nowhere.sock" --plain-http "$REF"
expect_fail "unknown snapshotter" 'no snapshotter "nosuch"' \
    $R --snapshotter nosuch --user "$REG_USER:$REG_PASS" "$REF"
no_image "unknown snapshotter"
expect_fail "wrong password" "authentication failed|401|unauthorized|denied" \
    env DOCKER_CONFIG="$TMP/empty-docker" $R --user "$REG_USER:wrong-secret-77" "$REF"
grep -q "wrong-secret-77" "$TMP/err" "$TMP/out" && fail "the wrong password was echoed"
no_image "wrong password"
expect_fail "index digest that is not an index" "is not a SOCI index" \
    $R --user "$REG_USER:$REG_PASS" --soci-index-digest "$MANIFEST" "$REF"
no_image "not an index"
expect_fail "index digest that is no digest" "not a sha256 digest" \
    $R --user "$REG_USER:$REG_PASS" --soci-index-digest "sha256:../../x" "$REF"

# Ctrl-C mid pull: an unindexed image (every layer fetched by rpull) behind
# a proxy that answers blob GETs slowly; SIGINT once the pull has started
build_image "$TMP/plain" v1 7 8 32
PLAIN=$REG/soci/plain:v1
push_plain "$TMP/plain" v1 "$PLAIN"
mkdir -p "$TMP/proxy"
printf '{"rules":[{"match":"^GET /v2/.*/blobs/","action":"trickle","rate":262144,"count":-1}]}\n' \
    >"$TMP/proxy/faults"
"$PY" "$ROOT/tests/cli/fault_proxy.py" --upstream "$REG" --port-file "$TMP/proxy/port" \
    --control "$TMP/proxy/faults" --log "$TMP/proxy/log" </dev/null >"$TMP/proxy/out" 2>&1 &
proxy_pid=$!
trap 'stop_pid $proxy_pid; _integ_cleanup' EXIT
wait_for "[ -s '$TMP/proxy/port' ]" 10 || die "fault_proxy.py did not start: $(cat "$TMP/proxy/out")"
PROXY=127.0.0.1:$(cat "$TMP/proxy/port")
$R --user "$REG_USER:$REG_PASS" "$PROXY/soci/plain:v1" >"$TMP/int.out" 2>"$TMP/int.err" &
pid=$!
wait_for "grep -q 'layer.v1.tar+gzip' '$TMP/int.out'" 30 || fail "the slow pull never started fetching a layer"
sleep 1
kill -INT $pid
i=0
while kill -0 $pid 2>/dev/null && [ $i -lt 300 ]; do
    sleep 0.1
    i=$((i + 1))
done
kill -0 $pid 2>/dev/null && { kill -9 $pid; fail "rpull did not stop within 30 s of SIGINT"; }
wait $pid
rc=$?
echo "interrupted pull: exit $rc: $(cat "$TMP/int.err")"
[ $rc -eq 130 ] || fail "interrupted pull: exit $rc, want 130"
grep -q "interrupted; no image was registered" "$TMP/int.err" || fail "interrupted pull: stderr $(cat "$TMP/int.err")"
no_image "interrupted pull"
finish
