#!/bin/sh
# tests/cli/registry_tls.sh -- TLS against Debian's docker-registry serving
# HTTPS on 127.0.0.1 with a self-signed certificate made here (openssl):
#   1. soci push without --insecure: the certificate is not trusted -- exit
#      1, one line naming the problem and --insecure, nothing in the
#      registry (checked with curl -k);
#   2. soci push --insecure: the image and its index go up over https
#      (the manifest by tag and the index by digest equal the layout's);
#      remote create and index list --remote read it back with --insecure
#      (byte-identical ztocs);
#   3. soci push --plain-http to the HTTPS registry: exit 1, one line;
#   4. a plain-HTTP registry on loopback, no --plain-http: tried with https
#      first, then http (--verbose shows both), and the push works.
. "$ROOT/tests/cli/lib/regtest.sh"
need openssl

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
    -keyout "$TMP/key.pem" -out "$TMP/cert.pem" >"$TMP/openssl.log" 2>&1 || die "openssl: $(cat "$TMP/openssl.log")"
TPORT=$(sh "$REGSH" start "$TMP/treg" --tls "$TMP/cert.pem" "$TMP/key.pem") || die "could not start the HTTPS registry"
_reg_dirs="$_reg_dirs $TMP/treg"
TREG=127.0.0.1:$TPORT
sample_indexed "$TMP/img" t
img=$(tagged "$TMP/img" t)
idx=$(soci_entries "$TMP/img")
[ -n "$idx" ] || die "the sample has no SOCI index"

# curlk PATH OUT ACCEPT: curl -k the HTTPS registry; prints the status
curlk() {
    curl -k -s -m 20 -o "$2" -w '%{http_code}' -H "Accept: $3" "https://$TREG/v2/$1"
}

# 1. untrusted certificate
"$SOCI" push oci:"$TMP/img":t "$TREG/app:t" >"$TMP/p1.out" 2>"$TMP/p1.err"
rc=$?
[ $rc -eq 1 ] || fail "push to an untrusted certificate: exit $rc, want 1"
one_line "$TMP/p1.err" "push to an untrusted certificate" "TLS certificate not trusted" &&
    { grep -q -- "--insecure" "$TMP/p1.err" || fail "the TLS error does not mention --insecure: $(cat "$TMP/p1.err")"; }
code=$(curlk app/manifests/t /dev/null "$MT_MANIFEST")
[ "$code" = 404 ] || fail "after the refused push the registry has app:t (HTTP $code)"

# 2. --insecure
"$SOCI" push --insecure oci:"$TMP/img":t "$TREG/app:t" >"$TMP/p2.out" 2>"$TMP/p2.err" ||
    fail "push --insecure: $(cat "$TMP/p2.err")"
code=$(curlk app/manifests/t "$TMP/m.json" "$MT_MANIFEST")
[ "$code" = 200 ] && cmp -s "$TMP/m.json" "$(blob "$TMP/img" "$img")" || fail "push --insecure: image manifest (HTTP $code)"
code=$(curlk "app/manifests/$idx" "$TMP/i.json" "$MT_MANIFEST")
[ "$code" = 200 ] && cmp -s "$TMP/i.json" "$(blob "$TMP/img" "$idx")" || fail "push --insecure: index manifest (HTTP $code)"
"$SOCI" index list -q --insecure --remote "$TREG/app:t" >"$TMP/list.out" 2>&1 || fail "index list --remote --insecure: $(cat "$TMP/list.out")"
grep -qx "$idx" "$TMP/list.out" || fail "index list --remote --insecure does not find $idx: $(cat "$TMP/list.out")"
"$SOCI" create -q --insecure --min-layer-size $MIN --layout "$TMP/remote" "$TREG/app:t" >"$TMP/c.out" 2>&1 ||
    fail "remote create --insecure: $(cat "$TMP/c.out")"
for z in $(index_blobs "$TMP/img" "$idx"); do
    cmp -s "$(blob "$TMP/img" "$z")" "$(blob "$TMP/remote" "$z")" || fail "remote create over https: blob $z differs or is missing"
done

# 3. plain http to an HTTPS server
"$SOCI" push --plain-http oci:"$TMP/img":t "$TREG/other:t" >"$TMP/p3.out" 2>"$TMP/p3.err"
rc=$?
[ $rc -eq 1 ] || fail "push --plain-http to an HTTPS registry: exit $rc, want 1"
one_line "$TMP/p3.err" "push --plain-http to an HTTPS registry" "speaks HTTPS"

# 4. a plain-HTTP loopback registry: https first, then http
start_registry "$TMP/reg"
"$SOCI" push --verbose oci:"$TMP/img":t "$REG/app:t" >"$TMP/p4.out" 2>"$TMP/p4.err" ||
    fail "push to a plain-HTTP loopback registry: $(cat "$TMP/p4.err")"
grep -q "https://$REG/v2/" "$TMP/p4.err" || fail "the first request did not try https: $(head -n 3 "$TMP/p4.err")"
grep -q "http://$REG/v2/.* -> 20[01]" "$TMP/p4.err" || fail "no request went over http: $(head -n 3 "$TMP/p4.err")"
n_https=$(grep -c "https://" "$TMP/p4.err")
[ "$n_https" -eq 1 ] || fail "https was tried $n_https times, want once (then http for every request)"
code=$(get_manifest "$REG" app t "$MT_MANIFEST" "$TMP/m4.json")
[ "$code" = 200 ] && cmp -s "$TMP/m4.json" "$(blob "$TMP/img" "$img")" || fail "plain-HTTP push: image manifest (HTTP $code)"

finish
