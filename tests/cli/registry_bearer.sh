#!/bin/sh
# tests/cli/registry_bearer.sh -- the Bearer token flow against Debian's
# docker-registry with token auth, tokens from tests/cli/token_server.py
# (JWTs signed with an RSA key and self-signed certificate made here by
# openssl; the registry trusts the certificate as its rootcertbundle, the
# token server requires Basic credentials; the registry's realm is a
# fault_proxy.py in front of the token server):
#   1. soci push --user U:P of an indexed image: exit 0, image, SOCI index,
#      blobs and fallback tag all in the registry; the token server saw U
#      ask for repository:REPO:pull,push (or push,pull); and again through a
#      fault_proxy.py that lists the challenge's actions as "push,pull"
#      (distribution names them in random order): exit 0 with one push
#      token, i.e. the token is cached under the client's own scope, not
#      under the challenge's spelling of it;
#      and with the token server failing at first (503 twice, then a reset
#      connection): the token request is retried and the push completes;
#   2. remote soci create --push of an image pushed without an index: exit
#      0, the same index digest as soci create on the layout, the index and
#      fallback tag in the registry; index list --remote finds it;
#   3. tokens that expire 2 s after they are issued, and a push that takes
#      longer (a fault_proxy.py in "slow" mode in front of the registry, and
#      a layer above 64 MiB so that the upload is chunked): the registry
#      refuses the stale token (401) in the middle of the push, the client
#      gets a new one and the push completes -- more than one push token
#      issued, a 401 after the first one, everything in the registry; the
#      same for a remote create --push that fetches two layers at once
#      (-j 2) through the slow proxy;
#   4. a wrong password (push and remote create) and no credentials: exit
#      non-zero, exactly one line on stderr naming the failure, no password
#      in the output.
. "$ROOT/tests/cli/lib/regfault.sh"
need openssl skopeo

U=alice
P=Tok-9b2e71c4
W=Wrong-3f0a55d2
printf '%s:%s\n' "$U" "$P" >"$TMP/users"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/token.key" -out "$TMP/token.crt" -days 2 \
    -subj /CN=test-token-issuer >/dev/null 2>&1 || die "openssl could not make the signing key"
echo 300 >"$TMP/ttl"
start_bg "$TMP/tport" "$PY" "$TOKEN_SERVER" --port-file "$TMP/tport" --key "$TMP/token.key" \
    --cert "$TMP/token.crt" --users "$TMP/users" --require-auth --ttl-file "$TMP/ttl" --log "$TMP/tokens"
TREG=127.0.0.1:$BG_PORT
start_fault_proxy "$TMP/tx" "$TREG"
TXDIR=$XDIR
start_token_registry "$TMP/reg" "http://$XREG/token" "$TMP/token.crt"

sample_indexed "$TMP/img" t
img=$(tagged "$TMP/img" t)
ix=$(soci_entries "$TMP/img")

# token SCOPE: a pull token for curl checks
token() {
    curl -s -m 20 -u "$U:$P" "http://$TREG/token?service=test-registry&scope=$1" |
        "$PY" -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}

# in_registry WHAT REPO LAYOUT: the image tagged t in LAYOUT, its SOCI
# index, the index's blobs and the fallback tag listing it are in REPO (the
# same bytes for the manifests)
in_registry() {
    _img=$(tagged "$3" t)
    _ix=$(soci_entries "$3")
    tk=$(token "repository:$2:pull") || { fail "$1: no token for the checks"; return; }
    for _m in "t $_img" "$_ix $_ix"; do
        set -- "$1" "$2" "$3" ${_m}
        code=$(curl -s -m 20 -H "Authorization: Bearer $tk" -H "Accept: $MT_MANIFEST" -o "$TMP/got" \
            -w '%{http_code}' "http://$REG/v2/$2/manifests/$4")
        [ "$code" = 200 ] && cmp -s "$TMP/got" "$(blob "$3" "$5")" || fail "$1: $2:$4 is not $5 (HTTP $code)"
    done
    code=$(curl -s -m 20 -H "Authorization: Bearer $tk" -H "Accept: $MT_INDEX" -o "$TMP/got" -w '%{http_code}' \
        "http://$REG/v2/$2/manifests/$(fallback_tag "$_img")")
    [ "$code" = 200 ] && grep -q "$_ix" "$TMP/got" || fail "$1: no fallback tag listing $_ix in $2 (HTTP $code)"
    for b in $(index_blobs "$3" "$_ix") $(layer_digests "$3" t); do
        code=$(curl -s -m 20 -I -H "Authorization: Bearer $tk" -o "$TMP/hdr" -w '%{http_code}' \
            "http://$REG/v2/$2/blobs/$b")
        _size=.
        [ -f "$(blob "$3" "$b")" ] && _size=$(stat -c %s "$(blob "$3" "$b")") # a remote layout has no layers
        [ "$code" = 200 ] && grep -qi "^content-length: $_size" "$TMP/hdr" ||
            fail "$1: blob $b is not in $2 whole (HTTP $code)"
    done
}

echo "setup done after $(elapsed)s"

# 1. push through the Bearer flow
"$SOCI" push --user "$U:$P" "oci:$TMP/img:t" "$REG/app:t" >"$TMP/push.out" 2>"$TMP/push.err" ||
    fail "push: exit $?: $(cat "$TMP/push.err")"
in_registry push app "$TMP/img"
grep -q -e "\"user\": \"$U\", \"scopes\": \[\"repository:app:pull,push\"\], \"status\": 200" \
    -e "\"user\": \"$U\", \"scopes\": \[\"repository:app:push,pull\"\], \"status\": 200" "$TMP/tokens" ||
    fail "push: the token server issued no push token for app to $U: $(cat "$TMP/tokens")"
grep -q '"status": 401' "$TMP/tokens" && fail "push: a token request was refused: $(cat "$TMP/tokens")"
start_fault_proxy "$TMP/x" "$REG"
faults '{"rules": [{"match": "", "action": "reorder_scope"}]}'
"$SOCI" push --user "$U:$P" "oci:$TMP/img:t" "$XREG/app1:t" >"$TMP/push1.out" 2>"$TMP/push1.err" ||
    fail "push (push,pull challenges): exit $?: $(cat "$TMP/push1.err")"
n=$(grep -c '"scopes": \["repository:app1:push,pull"\], "status": 200' "$TMP/tokens")
[ "$n" -eq 1 ] || fail "push (push,pull challenges): $n push tokens, want 1 (cached): $(grep app1 "$TMP/tokens")"
in_registry "push (push,pull challenges)" app1 "$TMP/img"
faults '{}'
faults '{"rules": [{"match": "^GET /token", "action": "status", "status": 503, "count": 2},
  {"match": "^GET /token", "action": "reset", "after": 2, "count": 1}]}' "$TXDIR"
: >"$TXDIR/log"
"$SOCI" push --user "$U:$P" "oci:$TMP/img:t" "$REG/app6:t" >"$TMP/push6.out" 2>"$TMP/push6.err" ||
    fail "push (token server failing at first): exit $?: $(cat "$TMP/push6.err")"
faults '{}' "$TXDIR"
[ "$(grep -c -e 'STATUS 503' -e RESET "$TXDIR/log")" -eq 3 ] ||
    fail "push (token server failing at first): the faults were not injected: $(cat "$TXDIR/log")"
in_registry "push (token server failing at first)" app6 "$TMP/img"

echo "1. done after $(elapsed)s"

# 2. remote create --push (the image goes up without an index first)
skopeo copy -q --dest-creds "$U:$P" --dest-tls-verify=false "oci:$TMP/img:t" "docker://$REG/app2:t" \
    >"$TMP/skopeo.err" 2>&1 || die "skopeo copy failed: $(cat "$TMP/skopeo.err")"
"$SOCI" create -q --user "$U:$P" --min-layer-size $MIN --layout "$TMP/remote" --push "$REG/app2:t" \
    >"$TMP/create.out" 2>"$TMP/create.err" || fail "remote create: exit $?: $(cat "$TMP/create.err")"
[ "$(soci_entries "$TMP/remote")" = "$ix" ] ||
    fail "remote create: index $(soci_entries "$TMP/remote"), soci create on the layout made $ix"
in_registry "remote create" app2 "$TMP/img"
"$SOCI" index list -q --user "$U:$P" --remote "$REG/app2:t" >"$TMP/list.out" 2>"$TMP/list.err" ||
    fail "index list --remote: $(cat "$TMP/list.err")"
[ "$(cat "$TMP/list.out")" = "$ix" ] || fail "index list --remote: got \"$(cat "$TMP/list.out")\", want $ix"

echo "2. done after $(elapsed)s"

# 3. tokens that live 2 s, a push that takes longer: a slow proxy and a
# layer above the 64 MiB chunked-upload threshold
# the sample again, without its index (the new image gets its own)
cp -a "$TMP/img" "$TMP/big"
"$PY" - "$TMP/big/index.json" <<'EOF' || die "could not drop the index entry"
import json, sys
ix = json.load(open(sys.argv[1]))
ix["manifests"] = [m for m in ix["manifests"] if "artifactType" not in m]
json.dump(ix, open(sys.argv[1], "w"), separators=(",", ":"))
EOF
$ADD_BIG_LAYER "$TMP/big" t 66 >/dev/null || die "add_big_layer.py failed"
"$SOCI" create -q --min-layer-size $MIN "oci:$TMP/big:t" >"$TMP/cb.out" 2>&1 || die "create big: $(cat "$TMP/cb.out")"
faults '{"rules": [{"match": "", "action": "slow", "delay": 0.1}]}'
echo 2 >"$TMP/ttl"
: >"$TMP/tokens"
: >"$XDIR/log"
timed "$TMP/exp.out" "$TMP/exp.err" "$SOCI" push --user "$U:$P" "oci:$TMP/big:t" "$XREG/app3:t"
echo 300 >"$TMP/ttl"
[ $rc -eq 0 ] || fail "expiring tokens: push exit $rc after ${secs}s: $(cat "$TMP/exp.err")"
echo "push with 2 s tokens took ${secs}s"
below "$secs" 3 && fail "expiring tokens: the push took only ${secs}s, not longer than a token lives"
n=$(grep -c -e '"scopes": \["repository:app3:pull,push"\], "status": 200' \
    -e '"scopes": \["repository:app3:push,pull"\], "status": 200' "$TMP/tokens")
[ "$n" -ge 2 ] || fail "expiring tokens: $n push token(s) issued, want a refresh: $(cat "$TMP/tokens")"
# the registry refused a token after the first challenge: 401s past the first
n401=$(grep -c ' -> 401 ' "$XDIR/log")
[ "$n401" -ge 2 ] || fail "expiring tokens: only $n401 401 answer(s) went through the proxy"
grep -q 'PATCH /v2/app3/blobs/uploads/' "$XDIR/log" || fail "expiring tokens: the big layer was not uploaded in chunks"
in_registry "expiring tokens" app3 "$TMP/big"

# the same for remote create --push, two layers fetched at once (both
# indexed: a new index for app2)
faults '{"rules": [{"match": "", "action": "slow", "delay": 0.15}]}'
echo 2 >"$TMP/ttl"
: >"$TMP/tokens"
: >"$XDIR/log"
timed "$TMP/exp5.out" "$TMP/exp5.err" "$SOCI" create -q --user "$U:$P" --min-layer-size 0 -j 2 \
    --layout "$TMP/remote5" --push "$XREG/app2:t"
echo 300 >"$TMP/ttl"
[ $rc -eq 0 ] || fail "expiring tokens: remote create --push exit $rc after ${secs}s: $(cat "$TMP/exp5.err")"
echo "remote create --push with 2 s tokens took ${secs}s"
n=$(grep -c '"scopes": \["repository:app2:p' "$TMP/tokens")
[ "$n" -ge 2 ] || fail "expiring tokens (remote create): $n token(s) issued, want a refresh: $(cat "$TMP/tokens")"
[ "$(grep -c ' -> 401 ' "$XDIR/log")" -ge 2 ] || fail "expiring tokens (remote create): no stale token was refused"
in_registry "expiring tokens (remote create)" app2 "$TMP/remote5"

echo "3. done after $(elapsed)s"

# 4. wrong credentials, no credentials: one line, no secret
check_refused() {
    what=$1 want=$2
    shift 2
    timed "$TMP/r.out" "$TMP/r.err" "$@"
    [ $rc -ne 0 ] || fail "$what: exit 0"
    one_line "$TMP/r.err" "$what" "$want"
    grep -qF -e "$P" -e "$W" "$TMP/r.out" "$TMP/r.err" && fail "$what: a password shows in the output"
    below "$secs" 30 || fail "$what: took ${secs}s"
}
check_refused "wrong password (push)" "authentication failed for user $U" \
    "$SOCI" push --user "$U:$W" "oci:$TMP/img:t" "$REG/app4:t"
check_refused "wrong password (remote create)" "authentication failed for user $U" \
    "$SOCI" create -q --user "$U:$W" --layout "$TMP/wrong" "$REG/app2:t"
mkdir -p "$TMP/nohome"
unset DOCKER_CONFIG SOCI_REGISTRY_PASSWORD
export HOME="$TMP/nohome"
check_refused "no credentials" "authentication required" \
    "$SOCI" push "oci:$TMP/img:t" "$REG/app4:t"
finish
