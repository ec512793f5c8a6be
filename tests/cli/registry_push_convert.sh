#!/bin/sh
# tests/cli/registry_push_convert.sh -- a SOCI-enabled (v2) image from
# `soci convert` goes to a registry as a whole and is found by its annotation:
#   1. soci push oci:CONV:v2 REG/conv:v2 exits 0 and says it pushed the v2
#      image; the tag gives back the converted OCI index byte for byte;
#   2. the image manifest in the registry (by digest) carries
#      com.amazon.soci.index-digest = the v2 SOCI index, which is in the
#      registry byte for byte, as are its ztocs;
#   3. soci index list --remote REG/conv:v2 lists that index as v2, found
#      via "annotation", for the converted image manifest;
#   4. no fallback tag was written (v2 needs none).
. "$ROOT/tests/cli/lib/regtest.sh"

start_registry "$TMP/reg"
sample "$TMP/img" t --big-mib $SPARSE_MIB
"$SOCI" convert -q --min-layer-size $MIN oci:"$TMP/img":t oci:"$TMP/conv":v2 >"$TMP/conv.out" 2>&1 ||
    die "soci convert failed: $(cat "$TMP/conv.out")"
top=$(tagged "$TMP/conv" v2)
[ -n "$top" ] || die "the converted layout has no v2 tag"
# the converted index: its image manifest and its SOCI v2 index
pair=$("$PY" - "$TMP/conv" "$top" <<'EOF'
import json, sys
d, top = sys.argv[1:]
idx = json.load(open(d + "/blobs/sha256/" + top[7:]))
img = [m for m in idx["manifests"] if "artifactType" not in m]
soci = [m for m in idx["manifests"] if m.get("artifactType") == "application/vnd.amazon.soci.index.v2+json"]
assert len(img) == 1 and len(soci) == 1, idx
assert img[0]["annotations"]["com.amazon.soci.index-digest"] == soci[0]["digest"]
print(img[0]["digest"], soci[0]["digest"])
EOF
) || die "the converted layout is not a v2 image"
man=${pair% *} v2=${pair#* }

# 1. push as a whole
"$SOCI" push oci:"$TMP/conv":v2 "$REG/conv:v2" >"$TMP/push.out" 2>"$TMP/push.err" || die "soci push v2: $(cat "$TMP/push.err")"
[ -s "$TMP/push.err" ] && fail "push v2 wrote to stderr: $(cat "$TMP/push.err")"
grep -q "SOCI-enabled (v2) image" "$TMP/push.out" || fail "push v2: no v2 line: $(cat "$TMP/push.out")"
code=$(get_manifest "$REG" conv v2 "$MT_INDEX" "$TMP/top.got")
[ "$code" = 200 ] && cmp -s "$TMP/top.got" "$(blob "$TMP/conv" "$top")" || fail "the tag v2 is not the converted index (HTTP $code)"

# 2. the manifest's annotation and the index
code=$(get_manifest "$REG" conv "$man" "$MT_MANIFEST" "$TMP/man.got")
[ "$code" = 200 ] && cmp -s "$TMP/man.got" "$(blob "$TMP/conv" "$man")" || fail "image manifest $man differs (HTTP $code)"
"$PY" -c 'import json,sys; assert json.load(open(sys.argv[1]))["annotations"]["com.amazon.soci.index-digest"] == sys.argv[2]' \
    "$TMP/man.got" "$v2" || fail "the registry's image manifest lacks the index-digest annotation"
code=$(get_manifest "$REG" conv "$v2" "$MT_MANIFEST" "$TMP/v2.got")
[ "$code" = 200 ] && cmp -s "$TMP/v2.got" "$(blob "$TMP/conv" "$v2")" || fail "SOCI v2 index $v2 differs (HTTP $code)"
for b in $(index_blobs "$TMP/conv" "$v2"); do
    code=$(head_blob "$REG" conv "$b")
    [ "$code" = 200 ] || fail "blob $b of the v2 index: HEAD answered $code"
done

# 3. discovery
"$SOCI" index list --remote "$REG/conv:v2" >"$TMP/list.out" 2>"$TMP/list.err" || fail "index list --remote: $(cat "$TMP/list.err")"
grep -q "^$v2 .* $man .*v2 .*annotation" "$TMP/list.out" || fail "index list --remote: no annotation row for $v2: $(cat "$TMP/list.out")"
[ "$(grep -c '^sha256:' "$TMP/list.out")" -eq 1 ] || fail "index list --remote: not exactly one index: $(cat "$TMP/list.out")"

# 4. no fallback tag
code=$(get_manifest "$REG" conv "$(fallback_tag "$man")" "$MT_INDEX" /dev/null)
[ "$code" = 404 ] || fail "a v2 push wrote the fallback tag (HTTP $code)"
finish
