#!/bin/sh
# tests/cli/registry_referrers_api.sh -- a registry with the OCI referrers
# API: Debian's docker-registry behind tests/cli/referrers_proxy.py (which
# answers GET /v2/NAME/referrers/D and gives OCI-Subject to manifest PUTs
# with a subject):
#   1. soci push through the proxy: exit 0; the image and SOCI index are in
#      the registry, the index PUT was answered with OCI-Subject, and the
#      registry itself (asked directly) has NO sha256-<hex> fallback tag;
#   2. soci index list --remote through the proxy finds the index through
#      the referrers API (foundVia referrers-api, with the artifactType
#      filter in the query), while the registry asked directly (no API, no
#      fallback tag) lists nothing;
#   3. a second soci push (the index is there already: no PUT, so no
#      OCI-Subject to go by), and one with --existing-index allow, still make
#      no fallback tag; --existing-index skip finds the index through the
#      API and skips it;
#   4. remote soci create --push through the proxy: no fallback tag either;
#   5. the client filters by artifactType itself when the registry does
#      not (a second proxy with --ignore-filter, and another referrer of the
#      image with another artifactType): only the SOCI index is listed.
. "$ROOT/tests/cli/lib/regfault.sh"

start_registry "$TMP/reg"
start_bg "$TMP/rport" "$PY" "$REFERRERS_PROXY" --upstream "$REG" --port-file "$TMP/rport" --log "$TMP/rlog"
PREG=127.0.0.1:$BG_PORT
sample_indexed "$TMP/img" t
img=$(tagged "$TMP/img" t)
ix=$(soci_entries "$TMP/img")
ftag=$(fallback_tag "$img")

# no_fallback WHAT REPO: the registry (asked directly) has no fallback tag
no_fallback() {
    code=$(get_manifest "$REG" "$2" "$ftag" "$MT_INDEX" "$TMP/fb")
    [ "$code" = 404 ] || fail "$1: the registry has the fallback tag $ftag in $2 (HTTP $code)"
    curl -s -m 20 "http://$REG/v2/$2/tags/list" >"$TMP/tags"
    grep -q 'sha256-' "$TMP/tags" && fail "$1: tags of $2: $(cat "$TMP/tags")"
}

# 1. push
"$SOCI" push "oci:$TMP/img:t" "$PREG/app:t" >"$TMP/push.out" 2>"$TMP/push.err" ||
    fail "push: exit $?: $(cat "$TMP/push.err")"
$REGCHECK pushed "$REG" app "$TMP/img" t --fallback no || fail "push: the registry does not hold the push"
grep -q "OCI-Subject app $ix -> $img" "$TMP/rlog" || fail "push: the index PUT got no OCI-Subject: $(cat "$TMP/rlog")"
no_fallback push app

# 2. index list --remote
"$SOCI" index list --json --remote "$PREG/app:t" >"$TMP/list.json" 2>"$TMP/list.err" ||
    fail "index list --remote: $(cat "$TMP/list.err")"
"$PY" - "$TMP/list.json" "$ix" "$img" <<'EOF' || fail "index list --remote: $(cat "$TMP/list.json")"
import json, sys
got = json.load(open(sys.argv[1]))
want = [(sys.argv[2], sys.argv[3], "v1", "referrers-api")]
have = [(e["digest"], e["imageManifest"], e["manifestVersion"], e["foundVia"]) for e in got]
sys.exit(0 if have == want else 1)
EOF
grep -q "referrers app $img artifactType=$SOCI_V1 -> 1" "$TMP/rlog" ||
    fail "index list --remote: no filtered referrers query answered with the index: $(cat "$TMP/rlog")"
"$SOCI" index list -q --remote "$REG/app:t" >"$TMP/direct.out" 2>"$TMP/direct.err" ||
    fail "index list --remote (direct): $(cat "$TMP/direct.err")"
[ -s "$TMP/direct.out" ] && fail "index list --remote (direct): found $(cat "$TMP/direct.out") without the API"

# 3. pushes of an index the registry has
"$SOCI" push "oci:$TMP/img:t" "$PREG/app:t" >"$TMP/push2.out" 2>"$TMP/push2.err" ||
    fail "second push: exit $?: $(cat "$TMP/push2.err")"
grep -q WARN "$TMP/push2.err" && fail "second push warned about its own index: $(cat "$TMP/push2.err")"
"$SOCI" push --existing-index allow "oci:$TMP/img:t" "$PREG/app:t" >"$TMP/push3.out" 2>"$TMP/push3.err" ||
    fail "push --existing-index allow: exit $?: $(cat "$TMP/push3.err")"
no_fallback "pushes of an index already there" app
"$SOCI" push --existing-index skip "oci:$TMP/img:t" "$PREG/app:t" >"$TMP/push4.out" 2>"$TMP/push4.err" ||
    fail "push --existing-index skip: exit $?: $(cat "$TMP/push4.err")"
grep -q "already exists in app; skipping" "$TMP/push4.out" ||
    fail "push --existing-index skip did not find the index: $(cat "$TMP/push4.out")"

# 4. remote create --push
skopeo copy -q --dest-tls-verify=false "oci:$TMP/img:t" "docker://$REG/app2:t" >"$TMP/skopeo.err" 2>&1 ||
    die "skopeo copy failed: $(cat "$TMP/skopeo.err")"
"$SOCI" create -q --min-layer-size $MIN --layout "$TMP/remote" --push "$PREG/app2:t" \
    >"$TMP/create.out" 2>"$TMP/create.err" || fail "remote create --push: exit $?: $(cat "$TMP/create.err")"
[ "$(soci_entries "$TMP/remote")" = "$ix" ] || fail "remote create: index $(soci_entries "$TMP/remote"), want $ix"
code=$(get_manifest "$REG" app2 "$ix" "$MT_MANIFEST" "$TMP/got")
[ "$code" = 200 ] && cmp -s "$TMP/got" "$(blob "$TMP/img" "$ix")" || fail "remote create --push: no index in app2"
no_fallback "remote create --push" app2

# 5. a registry that does not apply the filter, and another referrer
start_bg "$TMP/r2port" "$PY" "$REFERRERS_PROXY" --upstream "$REG" --port-file "$TMP/r2port" --log "$TMP/r2log" \
    --ignore-filter
QREG=127.0.0.1:$BG_PORT
"$SOCI" push "oci:$TMP/img:t" "$QREG/app3:t" >"$TMP/push5.out" 2>"$TMP/push5.err" ||
    fail "push (unfiltered proxy): exit $?: $(cat "$TMP/push5.err")"
# another artifact about the image: config {} (the SOCI index's), no layers
empty=$(index_blobs "$TMP/img" "$ix" | head -n 1)
printf '{"schemaVersion":2,"mediaType":"%s","artifactType":"application/vnd.example.sbom","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"%s","size":2},"layers":[],"subject":{"mediaType":"%s","digest":"%s","size":%s}}' \
    "$MT_MANIFEST" "$empty" "$MT_MANIFEST" "$img" "$(stat -c %s "$(blob "$TMP/img" "$img")")" >"$TMP/other.json"
other=sha256:$(sha256sum "$TMP/other.json" | cut -d' ' -f1)
code=$(curl -s -m 20 -o "$TMP/put.out" -w '%{http_code}' -X PUT -H "Content-Type: $MT_MANIFEST" \
    --data-binary @"$TMP/other.json" "http://$QREG/v2/app3/manifests/$other")
[ "$code" = 201 ] || die "could not push the other referrer (HTTP $code): $(cat "$TMP/put.out")"
grep -q "OCI-Subject app3 $other" "$TMP/r2log" || die "the proxy did not record the other referrer"
"$SOCI" index list -q --remote "$QREG/app3:t" >"$TMP/list5.out" 2>"$TMP/list5.err" ||
    fail "index list --remote (unfiltered): $(cat "$TMP/list5.err")"
[ "$(cat "$TMP/list5.out")" = "$ix" ] ||
    fail "index list --remote (unfiltered): got \"$(cat "$TMP/list5.out")\", want only $ix"
grep -q "referrers app3 $img artifactType=$SOCI_V1 -> 2" "$TMP/r2log" ||
    fail "the unfiltered proxy did not answer with both referrers: $(cat "$TMP/r2log")"
no_fallback "unfiltered proxy" app3
finish
