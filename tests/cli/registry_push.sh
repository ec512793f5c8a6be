#!/bin/sh
# tests/cli/registry_push.sh -- soci push to a real registry (Debian's
# docker-registry on 127.0.0.1, no referrers API):
#   1. soci create oci:DIR:t, then soci push oci:DIR:t REG/repo:t: exit 0,
#      and skopeo inspect docker://REG/repo:t sees the image (same digest);
#   2. GET of the SOCI index manifest by digest (OCI manifest Accept) gives
#      exactly the layout's blob; its config and ztoc blobs are in the repo;
#   3. the referrers fallback tag sha256-<hex of the image manifest digest>
#      (GET with the OCI index Accept) is an OCI index listing the SOCI
#      index once: OCI manifest media type, its digest and size,
#      artifactType v1, and the index's build-tool-identifier annotation;
#   4. a second push uploads nothing: with --verbose, no POST/PATCH/PUT of
#      /blobs/uploads and no PUT at all, every index blob reported as
#      "skipped artifact", nothing "successfully pushed", no warning.
. "$ROOT/tests/cli/lib/regtest.sh"
need skopeo

start_registry "$TMP/reg"
sample_indexed "$TMP/img" t
img=$(tagged "$TMP/img" t)
ix=$(soci_entries "$TMP/img")
[ -n "$img" ] && [ "$(echo "$ix" | wc -l)" -eq 1 ] || die "the sample layout has no single SOCI index: $ix"

# 1. push
"$SOCI" push oci:"$TMP/img":t "$REG/repo:t" >"$TMP/push1.out" 2>"$TMP/push1.err" ||
    die "soci push failed: $(cat "$TMP/push1.err")"
[ -s "$TMP/push1.err" ] && fail "first push wrote to stderr: $(cat "$TMP/push1.err")"
grep -q "^pushing soci index with digest: $ix\$" "$TMP/push1.out" || fail "no 'pushing soci index' line: $(cat "$TMP/push1.out")"
skopeo inspect --tls-verify=false "docker://$REG/repo:t" >"$TMP/inspect.json" 2>"$TMP/inspect.err" ||
    fail "skopeo inspect failed: $(cat "$TMP/inspect.err")"
"$PY" - "$TMP/inspect.json" "$img" <<'EOF' || fail "skopeo inspect: wrong image"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["Digest"] == sys.argv[2], (d["Digest"], sys.argv[2])
assert "t" in d["RepoTags"], d["RepoTags"]
EOF

# 2. the index manifest, byte for byte
code=$(get_manifest "$REG" repo "$ix" "$MT_MANIFEST" "$TMP/ix.got")
[ "$code" = 200 ] || fail "GET manifest $ix: HTTP $code"
cmp -s "$TMP/ix.got" "$(blob "$TMP/img" "$ix")" || fail "the registry's SOCI index differs from the layout's blob"
for b in $(index_blobs "$TMP/img" "$ix"); do
    code=$(head_blob "$REG" repo "$b")
    [ "$code" = 200 ] || fail "blob $b of the index: HEAD answered $code"
done

# 3. the fallback tag
tag=$(fallback_tag "$img")
code=$(get_manifest "$REG" repo "$tag" "$MT_INDEX" "$TMP/fallback.json")
[ "$code" = 200 ] || fail "GET the fallback tag $tag: HTTP $code"
"$PY" - "$TMP/fallback.json" "$(blob "$TMP/img" "$ix")" "$ix" <<'EOF' || fail "the fallback index is wrong: $(cat "$TMP/fallback.json")"
import json, os, sys
doc = json.load(open(sys.argv[1]))
index = json.load(open(sys.argv[2]))
assert doc["schemaVersion"] == 2 and doc["mediaType"] == "application/vnd.oci.image.index.v1+json", doc
ms = [m for m in doc["manifests"] if m["digest"] == sys.argv[3]]
assert len(ms) == 1 and len(doc["manifests"]) == 1, doc["manifests"]
m = ms[0]
assert m["mediaType"] == "application/vnd.oci.image.manifest.v1+json", m
assert m["size"] == os.path.getsize(sys.argv[2]), m
assert m["artifactType"] == "application/vnd.amazon.soci.index.v1+json", m
ann = m.get("annotations", {})
assert ann.get("com.amazon.soci.build-tool-identifier"), m
assert ann == index["annotations"], (ann, index["annotations"])
EOF

# 4. a second push: everything is there already
"$SOCI" push --verbose oci:"$TMP/img":t "$REG/repo:t" >"$TMP/push2.out" 2>"$TMP/push2.err" ||
    die "second push failed: $(cat "$TMP/push2.err")"
grep -E '^registry: (POST|PATCH|PUT) [^ ]*/blobs/uploads' "$TMP/push2.err" && fail "the second push uploaded blobs"
grep -E '^registry: PUT ' "$TMP/push2.err" && fail "the second push PUT something"
grep -v '^registry: ' "$TMP/push2.err" | grep . && fail "the second push wrote more than the request log to stderr"
grep -q 'successfully pushed' "$TMP/push2.out" && fail "the second push pushed: $(cat "$TMP/push2.out")"
for b in $(index_blobs "$TMP/img" "$ix"); do
    grep -q "^skipped artifact with digest: $b\$" "$TMP/push2.out" || fail "second push: no 'skipped artifact' line for $b"
done
grep -q "^pushing soci index with digest: $ix\$" "$TMP/push2.out" || fail "second push: no 'pushing soci index' line"
# the fallback index is untouched
get_manifest "$REG" repo "$tag" "$MT_INDEX" "$TMP/fallback2.json" >/dev/null
cmp -s "$TMP/fallback.json" "$TMP/fallback2.json" || fail "the second push changed the fallback index"
finish
