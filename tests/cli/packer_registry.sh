#!/bin/sh
# tests/cli/packer_registry.sh -- an indexed layout still goes to a registry
# and comes back unchanged.
#
# A Debian docker-registry on 127.0.0.1 (scripts/registry.sh):
#   1. the sample image, indexed by `soci create`, is copied with skopeo to
#      the registry and back into a new layout: the image manifest digest
#      and every blob that comes back are identical to the indexed layout's,
#      and the registry serves the manifest bytes we have;
#   2. the same through a registry with Basic auth (htpasswd): refused
#      without credentials, identical with them;
#   3. scripts/registry.sh stop leaves no server running.
. "$ROOT/tests/cli/lib/packer.sh"
need skopeo docker-registry curl htpasswd
REG=$ROOT/scripts/registry.sh

cleanup() {
    "$REG" stop "$TMP/reg" >/dev/null 2>&1
    "$REG" stop "$TMP/reg-auth" >/dev/null 2>&1
}
trap cleanup EXIT

sample "$TMP/img" t --big-mib 24
"$SOCI" create -q "oci:$TMP/img:t" || die "soci create failed"
$CHECK "$TMP/img" --expect 1 --quiet >/dev/null || die "the indexed layout does not check out"
skopeo inspect "oci:$TMP/img:t" >/dev/null 2>"$TMP/err" || fail "skopeo inspect after indexing: $(cat "$TMP/err")"
manifest=$(tagged "$TMP/img" t)

# round_trip NAME REGDIR [skopeo credential options]: push, pull back, compare
round_trip() {
    name=$1 port=$(cat "$2/port")
    shift 2
    url=docker://127.0.0.1:$port/soci/sample:t
    skopeo --insecure-policy copy -q --dest-tls-verify=false "$@" "oci:$TMP/img:t" "$url" 2>"$TMP/err" ||
        { fail "$name: skopeo copy to the registry: $(cat "$TMP/err")"; return; }
    # skopeo copy --src-creds / --dest-creds: the pull takes --src-creds
    creds=""
    [ $# -ge 1 ] && creds="--src-creds ${1#--dest-creds=}"
    # shellcheck disable=SC2086
    skopeo --insecure-policy copy -q --src-tls-verify=false $creds "$url" "oci:$TMP/back.$name:t" 2>"$TMP/err" ||
        { fail "$name: skopeo copy from the registry: $(cat "$TMP/err")"; return; }
    [ "$(tagged "$TMP/back.$name" t)" = "$manifest" ] || fail "$name: the image came back with another manifest digest"
    n=0
    for f in "$TMP/back.$name"/blobs/sha256/*; do
        cmp -s "$f" "$TMP/img/blobs/sha256/$(basename "$f")" || fail "$name: blob $(basename "$f") came back different"
        n=$((n + 1))
    done
    [ $n -eq 4 ] || fail "$name: $n blobs came back, want the manifest, the config and 2 layers"
    echo "$name: the image went to the registry and back unchanged ($n blobs)"
}

# 1. plain
"$REG" start "$TMP/reg" >/dev/null || die "scripts/registry.sh start failed"
port=$(cat "$TMP/reg/port")
round_trip plain "$TMP/reg"
curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://127.0.0.1:$port/v2/soci/sample/manifests/$manifest" >"$TMP/served"
cmp -s "$TMP/served" "$(blob "$TMP/img" "$manifest")" || fail "the registry serves other manifest bytes"

# 2. Basic auth
htpasswd -Bbn soci secret >"$TMP/htpasswd" 2>/dev/null || die "htpasswd failed"
"$REG" start "$TMP/reg-auth" --htpasswd "$TMP/htpasswd" >/dev/null || die "scripts/registry.sh start --htpasswd failed"
aport=$(cat "$TMP/reg-auth/port")
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$aport/v2/")
[ "$code" = 401 ] || fail "the auth registry answers $code without credentials"
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$TMP/img:t" \
    "docker://127.0.0.1:$aport/soci/sample:t" >/dev/null 2>&1 && fail "the auth registry took a push without credentials"
round_trip auth "$TMP/reg-auth" --dest-creds=soci:secret

# 3. stop
for r in reg reg-auth; do
    pid=$(cat "$TMP/$r/pid")
    "$REG" stop "$TMP/$r" || fail "registry.sh stop $r failed"
    if kill -0 "$pid" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$pid/status" 2>/dev/null; then
        fail "registry $r (pid $pid) still runs after stop"
    fi
done
finish
