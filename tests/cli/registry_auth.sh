#!/bin/sh
# tests/cli/registry_auth.sh -- soci push (and index list --remote) against a
# registry with Basic auth (htpasswd -Bbn), every way to give credentials:
#   1. --user U:P; --user U --password-stdin; --user U with
#      SOCI_REGISTRY_PASSWORD; no option, HOME/.docker/config.json with an
#      "auths" entry for 127.0.0.1:PORT (base64 U:P): each push exits 0 and
#      its SOCI index and fallback tag are in the registry (checked with
#      curl -u); index list --remote with --user and with config.json finds it;
#   2. a wrong password: exit non-zero, exactly one line on stderr saying
#      authentication failed, and neither the wrong password nor the right
#      one (nor their base64 forms) appears in stdout or stderr -- also with
#      --verbose, and also for --password-stdin and SOCI_REGISTRY_PASSWORD;
#   3. no credentials: exit non-zero, one line saying authentication is
#      required.
. "$ROOT/tests/cli/lib/regtest.sh"
need htpasswd base64

U=alice
P=Pw-7f3a9c2e1b
W=Wrong-5d8e0a41
htpasswd -Bbn -C 4 "$U" "$P" >"$TMP/htpasswd" 2>/dev/null || die "htpasswd failed"
start_registry "$TMP/reg" "$TMP/htpasswd"
sample_indexed "$TMP/img" t
img=$(tagged "$TMP/img" t)
ix=$(soci_entries "$TMP/img")
mkdir -p "$TMP/nohome" "$TMP/home/.docker"
unset DOCKER_CONFIG SOCI_REGISTRY_PASSWORD
export HOME="$TMP/nohome" # no config.json unless a check asks for one
printf '{"auths":{"%s":{"auth":"%s"}}}\n' "$REG" "$(printf '%s:%s' "$U" "$P" | base64)" >"$TMP/home/.docker/config.json"

# pushed WHAT REPO: the index and the fallback tag are in REPO
pushed() {
    code=$(curl -s -m 20 -u "$U:$P" -o "$TMP/got" -w '%{http_code}' -H "Accept: $MT_MANIFEST" \
        "http://$REG/v2/$2/manifests/$ix")
    [ "$code" = 200 ] && cmp -s "$TMP/got" "$(blob "$TMP/img" "$ix")" || fail "$1: the index is not in $2 (HTTP $code)"
    code=$(curl -s -m 20 -u "$U:$P" -o "$TMP/got" -w '%{http_code}' -H "Accept: $MT_INDEX" \
        "http://$REG/v2/$2/manifests/$(fallback_tag "$img")")
    [ "$code" = 200 ] && grep -q "$ix" "$TMP/got" || fail "$1: no fallback tag listing the index in $2 (HTTP $code)"
}

# 1. four ways that work
"$SOCI" push -q --user "$U:$P" oci:"$TMP/img":t "$REG/r1:t" >"$TMP/o1" 2>"$TMP/e1" ||
    fail "push --user U:P: $(cat "$TMP/e1")"
pushed "--user U:P" r1
printf '%s\n' "$P" | "$SOCI" push -q --user "$U" --password-stdin oci:"$TMP/img":t "$REG/r2:t" >"$TMP/o2" 2>"$TMP/e2" ||
    fail "push --password-stdin: $(cat "$TMP/e2")"
pushed "--password-stdin" r2
SOCI_REGISTRY_PASSWORD=$P "$SOCI" push -q --user "$U" oci:"$TMP/img":t "$REG/r3:t" >"$TMP/o3" 2>"$TMP/e3" ||
    fail "push with SOCI_REGISTRY_PASSWORD: $(cat "$TMP/e3")"
pushed "SOCI_REGISTRY_PASSWORD" r3
HOME=$TMP/home "$SOCI" push -q oci:"$TMP/img":t "$REG/r4:t" >"$TMP/o4" 2>"$TMP/e4" ||
    fail "push with ~/.docker/config.json: $(cat "$TMP/e4")"
pushed "config.json" r4
for n in 1 2 3 4; do
    [ -s "$TMP/e$n" ] && fail "push $n wrote to stderr: $(cat "$TMP/e$n")"
    [ "$(cat "$TMP/o$n")" = "$ix" ] || fail "push $n -q printed: $(cat "$TMP/o$n")"
done
"$SOCI" index list -q --remote "$REG/r1:t" --user "$U:$P" >"$TMP/l1" 2>&1 || fail "index list --remote --user: $(cat "$TMP/l1")"
[ "$(cat "$TMP/l1")" = "$ix" ] || fail "index list --remote --user: $(cat "$TMP/l1")"
HOME=$TMP/home "$SOCI" index list -q --remote "$REG/r4:t" >"$TMP/l4" 2>&1 || fail "index list --remote (config.json): $(cat "$TMP/l4")"
[ "$(cat "$TMP/l4")" = "$ix" ] || fail "index list --remote (config.json): $(cat "$TMP/l4")"

# no_secret FILE WHAT: neither password, nor a base64 of either, is in FILE
no_secret() {
    for s in "$P" "$W" "$(printf '%s:%s' "$U" "$P" | base64)" "$(printf '%s:%s' "$U" "$W" | base64)"; do
        grep -qF -- "$s" "$1" && fail "$2: a secret appears in the output: $(cat "$1")"
    done
    return 0
}

# 2. a wrong password, every way of giving it
check_wrong() {
    _what=$1 _rc=$2
    [ "$_rc" -ne 0 ] || fail "$_what: exit 0 with a wrong password"
    one_line "$TMP/we" "$_what" "authentication failed"
    no_secret "$TMP/we" "$_what (stderr)"
    no_secret "$TMP/wo" "$_what (stdout)"
}
"$SOCI" push --user "$U:$W" oci:"$TMP/img":t "$REG/r5:t" >"$TMP/wo" 2>"$TMP/we"
check_wrong "push --user U:WRONG" $?
printf '%s\n' "$W" | "$SOCI" push --user "$U" --password-stdin oci:"$TMP/img":t "$REG/r5:t" >"$TMP/wo" 2>"$TMP/we"
check_wrong "push --password-stdin (wrong)" $?
SOCI_REGISTRY_PASSWORD=$W "$SOCI" push --user "$U" oci:"$TMP/img":t "$REG/r5:t" >"$TMP/wo" 2>"$TMP/we"
check_wrong "push SOCI_REGISTRY_PASSWORD (wrong)" $?
"$SOCI" index list --remote "$REG/r1:t" --user "$U:$W" >"$TMP/wo" 2>"$TMP/we"
check_wrong "index list --remote --user U:WRONG" $?
"$SOCI" push --verbose --user "$U:$W" oci:"$TMP/img":t "$REG/r5:t" >"$TMP/vo" 2>"$TMP/ve"
[ $? -ne 0 ] || fail "push --verbose with a wrong password: exit 0"
no_secret "$TMP/ve" "push --verbose (wrong password), stderr"
no_secret "$TMP/vo" "push --verbose (wrong password), stdout"
"$SOCI" push -q --verbose --user "$U:$P" oci:"$TMP/img":t "$REG/r6:t" >"$TMP/vo" 2>"$TMP/ve" ||
    fail "push --verbose --user U:P: $(tail -n 3 "$TMP/ve")"
grep -q '^registry: ' "$TMP/ve" || fail "push --verbose logged no request"
no_secret "$TMP/ve" "push --verbose (right password), stderr"
code=$(curl -s -m 20 -o /dev/null -w '%{http_code}' -H "Accept: $MT_MANIFEST" "http://$REG/v2/r5/manifests/t" -u "$U:$P")
[ "$code" = 404 ] || fail "a push with a wrong password left the image in the registry (HTTP $code)"

# 3. no credentials at all
"$SOCI" push oci:"$TMP/img":t "$REG/r7:t" >"$TMP/wo" 2>"$TMP/we" && fail "push without credentials: exit 0"
one_line "$TMP/we" "push without credentials" "authentication required"
finish
