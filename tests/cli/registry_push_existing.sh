#!/bin/sh
# tests/cli/registry_push_existing.sh -- several SOCI indexes for one image
# in a registry without a referrers API (the sha256-<hex> fallback tag):
#   1. index A (default span size) is pushed; index B of the same image
#      (--span-size 1 MiB, a different digest) is pushed with
#      --existing-index allow: the fallback index lists both A and B, A first
#      (B was added, A kept), each once, with artifactType v1;
#   2. index C (--span-size 2 MiB) pushed with --existing-index skip: exit 0,
#      a "skipping" line, the fallback index is unchanged, and C's manifest
#      and ztocs are not in the registry;
#   3. the default (warn) pushes C anyway with one [WARN] line on stderr,
#      and the fallback index then lists A, B and C;
#   4. soci index list --remote REG/repo:t finds all three, via the
#      fallback tag, for the image's manifest digest (-q: digests only).
. "$ROOT/tests/cli/lib/regtest.sh"

start_registry "$TMP/reg"
sample "$TMP/base" t --big-mib $SPARSE_MIB
for v in a b c; do
    cp -a "$TMP/base" "$TMP/$v"
done
"$SOCI" create -q --min-layer-size $MIN oci:"$TMP/a":t || die "create a"
"$SOCI" create -q --min-layer-size $MIN --span-size 1048576 oci:"$TMP/b":t || die "create b"
"$SOCI" create -q --min-layer-size $MIN --span-size 2097152 oci:"$TMP/c":t || die "create c"
img=$(tagged "$TMP/base" t)
A=$(soci_entries "$TMP/a") B=$(soci_entries "$TMP/b") C=$(soci_entries "$TMP/c")
[ "$A" != "$B" ] && [ "$A" != "$C" ] && [ "$B" != "$C" ] || die "the three indexes are not distinct: $A $B $C"
tag=$(fallback_tag "$img")

# listed FILE DIGEST...: the fallback index FILE lists exactly these, in order
listed() {
    _f=$1
    shift
    "$PY" - "$_f" "$@" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
got = [m["digest"] for m in doc["manifests"]]
assert got == sys.argv[2:], got
for m in doc["manifests"]:
    assert m["artifactType"] == "application/vnd.amazon.soci.index.v1+json", m
EOF
}

# 1. A, then B with allow
"$SOCI" push -q oci:"$TMP/a":t "$REG/repo:t" >/dev/null 2>"$TMP/a.err" || die "push a: $(cat "$TMP/a.err")"
"$SOCI" push --existing-index allow oci:"$TMP/b":t "$REG/repo:t" >"$TMP/b.out" 2>"$TMP/b.err" ||
    die "push b (allow): $(cat "$TMP/b.err")"
[ -s "$TMP/b.err" ] && fail "push --existing-index allow wrote to stderr: $(cat "$TMP/b.err")"
get_manifest "$REG" repo "$tag" "$MT_INDEX" "$TMP/f1.json" >/dev/null
listed "$TMP/f1.json" "$A" "$B" || fail "after allow: the fallback index does not list A then B: $(cat "$TMP/f1.json")"

# 2. C with skip: nothing goes up
"$SOCI" push --existing-index skip oci:"$TMP/c":t "$REG/repo:t" >"$TMP/c1.out" 2>"$TMP/c1.err" ||
    fail "push c (skip) failed: $(cat "$TMP/c1.err")"
grep -q 'skipping' "$TMP/c1.out" || fail "push --existing-index skip: no skipping line: $(cat "$TMP/c1.out")"
grep -q "pushing soci index" "$TMP/c1.out" && fail "push --existing-index skip pushed: $(cat "$TMP/c1.out")"
get_manifest "$REG" repo "$tag" "$MT_INDEX" "$TMP/f2.json" >/dev/null
cmp -s "$TMP/f1.json" "$TMP/f2.json" || fail "push --existing-index skip changed the fallback index"
code=$(get_manifest "$REG" repo "$C" "$MT_MANIFEST" /dev/null)
[ "$code" = 404 ] || fail "push --existing-index skip: the registry has index C (HTTP $code)"
for b in $(index_blobs "$TMP/c" "$C"); do
    [ -f "$(blob "$TMP/a" "$b")" ] && continue # shared with A (the "{}" config)
    code=$(head_blob "$REG" repo "$b")
    [ "$code" = 404 ] || fail "push --existing-index skip uploaded blob $b"
done

# 3. the default (warn): pushed, with a warning
"$SOCI" push oci:"$TMP/c":t "$REG/repo:t" >"$TMP/c2.out" 2>"$TMP/c2.err" || fail "push c (warn) failed: $(cat "$TMP/c2.err")"
one_line "$TMP/c2.err" "push (warn) with indexes present" "[WARN]"
grep -q "^pushing soci index with digest: $C\$" "$TMP/c2.out" || fail "push (warn) did not push C: $(cat "$TMP/c2.out")"
get_manifest "$REG" repo "$tag" "$MT_INDEX" "$TMP/f3.json" >/dev/null
listed "$TMP/f3.json" "$A" "$B" "$C" || fail "after warn: the fallback index is not A B C: $(cat "$TMP/f3.json")"

# 4. index list --remote
"$SOCI" index list --remote "$REG/repo:t" >"$TMP/list.out" 2>"$TMP/list.err" || fail "index list --remote: $(cat "$TMP/list.err")"
for d in "$A" "$B" "$C"; do
    grep -q "^$d .* $img .*v1 .*fallback-tag" "$TMP/list.out" || fail "index list --remote: no fallback-tag row for $d: $(cat "$TMP/list.out")"
done
"$SOCI" index list -q --remote "$REG/repo:t" >"$TMP/listq.out" 2>&1 || fail "index list -q --remote: $(cat "$TMP/listq.out")"
printf '%s\n%s\n%s\n' "$A" "$B" "$C" | cmp -s - "$TMP/listq.out" || fail "index list -q --remote: $(cat "$TMP/listq.out")"
finish
