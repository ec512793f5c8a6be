#!/bin/sh
# tests/cli/registry_push_mount.sh -- soci push --mount-from: cross-repo
# blob mounts against Debian's docker-registry on loopback.
#   1. an indexed layout is pushed to src/app:t (every blob uploaded);
#   2. the same layout pushed to dst/app:t with --mount-from src/app: every
#      blob (layers, config, ztocs, the index's config) is "mounted", none
#      is "successfully pushed", and dst/app has each of them with the same
#      bytes; the image and the index manifest are there;
#   3. --mount-from a repository that lacks the blobs: the registry refuses
#      the mount and the bytes go up instead (the push still completes);
#   4. a --mount-from value that is not a repository name: exit 2, one line,
#      nothing pushed.
. "$ROOT/tests/cli/lib/regtest.sh"

start_registry "$TMP/reg"
sample_indexed "$TMP/img" t
img=$(tagged "$TMP/img" t)
idx=$(soci_entries "$TMP/img")
[ -n "$idx" ] || die "the sample has no SOCI index"
blobs=$( (layer_digests "$TMP/img" t; index_blobs "$TMP/img" "$img" | sed -n 1p; index_blobs "$TMP/img" "$idx") | sort -u)
nblobs=$(echo "$blobs" | awk 'END { print NR }')

# 1. the source repository, uploaded
"$SOCI" push oci:"$TMP/img":t "$REG/src/app:t" >"$TMP/p1.out" 2>"$TMP/p1.err" || die "push to src/app: $(cat "$TMP/p1.err")"
grep -q "^mounted artifact" "$TMP/p1.out" && fail "a push without --mount-from mounted: $(cat "$TMP/p1.out")"

# 2. the second repository, mounted from the first
"$SOCI" push --mount-from src/app oci:"$TMP/img":t "$REG/dst/app:t" >"$TMP/p2.out" 2>"$TMP/p2.err" ||
    die "push --mount-from: $(cat "$TMP/p2.err")"
grep -q "^successfully pushed artifact" "$TMP/p2.out" &&
    fail "push --mount-from uploaded blobs the source repository has: $(grep '^successfully' "$TMP/p2.out")"
for b in $blobs; do
    grep -q "^mounted artifact with digest: $b from src/app\$" "$TMP/p2.out" || fail "blob $b was not mounted"
    code=$(head_blob "$REG" dst/app "$b")
    [ "$code" = 200 ] || { fail "dst/app lacks blob $b after the mount (HTTP $code)"; continue; }
    curl -s -m 20 "http://$REG/v2/dst/app/blobs/$b" | cmp -s - "$(blob "$TMP/img" "$b")" ||
        fail "dst/app's blob $b differs from the layout's"
done
mounted=$(grep -c "^mounted artifact" "$TMP/p2.out")
[ "$mounted" -eq "$nblobs" ] || fail "mounted $mounted blobs, the image and its index have $nblobs"
code=$(get_manifest "$REG" dst/app "$img" "$MT_MANIFEST" "$TMP/m.json")
[ "$code" = 200 ] && cmp -s "$TMP/m.json" "$(blob "$TMP/img" "$img")" || fail "dst/app: image manifest (HTTP $code)"
code=$(get_manifest "$REG" dst/app "$idx" "$MT_MANIFEST" "$TMP/i.json")
[ "$code" = 200 ] && cmp -s "$TMP/i.json" "$(blob "$TMP/img" "$idx")" || fail "dst/app: index manifest (HTTP $code)"

# 3. a source that lacks the blobs: uploaded after all
"$SOCI" push --mount-from nothing/here oci:"$TMP/img":t "$REG/third/app:t" >"$TMP/p3.out" 2>"$TMP/p3.err" ||
    fail "push --mount-from a repository without the blobs: $(cat "$TMP/p3.err")"
grep -q "^mounted artifact" "$TMP/p3.out" && fail "mounted from a repository that has nothing: $(cat "$TMP/p3.out")"
for b in $blobs; do
    code=$(head_blob "$REG" third/app "$b")
    [ "$code" = 200 ] || fail "third/app lacks blob $b (HTTP $code)"
done

# 4. not a repository name
"$SOCI" push --mount-from 'Src/app?x=1' oci:"$TMP/img":t "$REG/fourth/app:t" >"$TMP/p4.out" 2>"$TMP/p4.err"
rc=$?
[ $rc -eq 2 ] || fail "push --mount-from with a bad name: exit $rc, want 2"
one_line "$TMP/p4.err" "push --mount-from with a bad name" "--mount-from"
[ -s "$TMP/p4.out" ] && fail "push --mount-from with a bad name printed: $(cat "$TMP/p4.out")"
code=$(get_manifest "$REG" fourth/app t "$MT_MANIFEST" /dev/null)
[ "$code" = 404 ] || fail "push --mount-from with a bad name pushed the image (HTTP $code)"

finish
