#!/bin/sh
# tests/cli/packer_convert.sh -- `soci convert` writes a SOCI-enabled (v2)
# image (docs/format.md §4.5).
#
# soci convert oci:SRC:t oci:DST:soci on the sample image, then checks:
#   - DST:soci names an OCI image index, Go-canonical, holding the
#     rewritten image manifest (OCI media types, annotation
#     com.amazon.soci.index-digest = the SOCI index, platform linux/amd64,
#     descriptor annotations = the manifest's) and after it the SOCI index
#     descriptor (artifactType v2, annotation
#     com.amazon.soci.image-manifest-digest = the new manifest, platform);
#   - the rewritten manifest is Go-canonical and differs from the original
#     only by that annotation; the SOCI index is v2 (no subject), its ztocs
#     and every blob of the image are in DST;
#   - converting again, into the same tag, a new tag or a new layout, and
#     converting the converted image, all give the same digest;
#   - skopeo inspect reads the converted image; `soci index list` shows v2;
#     `soci index rm` refuses a v2 index with one line;
#   - converting within the source layout leaves the source tag alone.
. "$ROOT/tests/cli/lib/packer.sh"

sample "$TMP/src" t --big-mib 24
orig=$(tagged "$TMP/src" t)
cp -a "$TMP/src" "$TMP/src.orig"

"$SOCI" convert "oci:$TMP/src:t" "oci:$TMP/dst:soci" </dev/null >"$TMP/out" 2>"$TMP/err" ||
    die "soci convert failed: $(cat "$TMP/err")"
[ -s "$TMP/err" ] && fail "convert wrote to stderr: $(cat "$TMP/err")"
conv=$(tagged "$TMP/dst" soci)
grep -q "^converted image oci:$TMP/src:t -> .* $conv\$" "$TMP/out" || fail "convert's last line: $(tail -n 1 "$TMP/out")"
diff -r "$TMP/src.orig" "$TMP/src" >/dev/null || fail "convert changed the source layout"

"$PY" - "$TMP/dst" "$conv" "$orig" "$TMP/src" "$LIB" <<'EOF' || fail "the converted image is not as §4.5 says"
import hashlib, json, os, sys
d, conv, orig, src, lib = sys.argv[1:]
sys.path.insert(0, lib)
from check_soci import go_marshal

def raw(digest, layout=d):
    b = open(layout + "/blobs/sha256/" + digest[7:], "rb").read()
    assert "sha256:" + hashlib.sha256(b).hexdigest() == digest, digest
    return b

def canonical(b, kind):
    doc = json.loads(b)
    assert go_marshal(doc, kind).encode() == b, "not Go-canonical: %s" % b[:200]
    return doc

top = json.load(open(d + "/index.json"))
entry = [m for m in top["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == "soci"]
assert len(entry) == 1 and entry[0]["mediaType"] == "application/vnd.oci.image.index.v1+json", entry
ii = canonical(raw(conv), "index")
assert ii["mediaType"] == "application/vnd.oci.image.index.v1+json"
mans = ii["manifests"]
assert len(mans) == 2, mans
img, soci = mans
plat = {"architecture": "amd64", "os": "linux"}
# the image manifest
assert img["mediaType"] == "application/vnd.oci.image.manifest.v1+json" and img["platform"] == plat, img
m = canonical(raw(img["digest"]), "manifest")
assert m["annotations"] == {"com.amazon.soci.index-digest": soci["digest"]}, m.get("annotations")
assert img["annotations"] == m["annotations"], img
o = json.loads(raw(orig, src))
assert m["config"] == o["config"] and m["layers"] == o["layers"], "config or layers changed"
assert m["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
for desc in [m["config"]] + m["layers"]:
    raw(desc["digest"])
# the SOCI index descriptor and the index
assert soci["mediaType"] == "application/vnd.oci.image.manifest.v1+json", soci
assert soci["artifactType"] == "application/vnd.amazon.soci.index.v2+json", soci
assert soci["annotations"] == {"com.amazon.soci.image-manifest-digest": img["digest"]}, soci
assert soci["platform"] == plat, soci
ix = canonical(raw(soci["digest"]), "manifest")
assert ix["config"] == {"mediaType": "application/vnd.amazon.soci.index.v2+json",
                        "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2}
assert "subject" not in ix and "artifactType" not in ix, ix
assert raw(ix["config"]["digest"]) == b"{}"
assert [z["annotations"]["com.amazon.soci.image-layer-digest"] for z in ix["layers"]] == \
    [l["digest"] for l in m["layers"] if l["size"] >= 10485760], ix["layers"]
for z in ix["layers"]:
    raw(z["digest"])
print("converted: image index %s, manifest %s, SOCI index v2 %s" % (conv, img["digest"], soci["digest"]))
EOF

# the same digest, however it is converted again
again() {
    "$SOCI" convert -q "$1" "$2" </dev/null 2>"$TMP/err" || { fail "convert $1 $2: $(cat "$TMP/err")"; return; }
    d=${2#oci:}
    got=$(tagged "${d%:*}" "${d##*:}")
    [ "$got" = "$conv" ] || fail "convert $1 -> $2 gave $got, not $conv"
}
again "oci:$TMP/src:t" "oci:$TMP/dst:soci"
again "oci:$TMP/src:t" "oci:$TMP/dst:soci2"
again "oci:$TMP/src:t" "oci:$TMP/dst2:soci"
again "oci:$TMP/dst:soci" "oci:$TMP/dst:soci3"
n=$(grep -o '"org.opencontainers.image.ref.name":"soci"' "$TMP/dst/index.json" | wc -l)
[ "$n" -eq 1 ] || fail "the tag soci is in index.json $n times"
diff -r "$TMP/dst/blobs" "$TMP/dst2/blobs" >/dev/null || fail "converting into a new layout gave other blobs"

# clients and the index commands
if command -v skopeo >/dev/null 2>&1; then
    skopeo inspect "oci:$TMP/dst:soci" >"$TMP/inspect" 2>"$TMP/err" || fail "skopeo inspect: $(cat "$TMP/err")"
    grep -q '"Architecture": "amd64"' "$TMP/inspect" || fail "skopeo inspect: $(head -c 300 "$TMP/inspect")"
fi
"$SOCI" index list "oci:$TMP/dst" >"$TMP/list" 2>"$TMP/err" || fail "index list: $(cat "$TMP/err")"
grep -q ' v2 ' "$TMP/list" || fail "index list shows no v2 index: $(cat "$TMP/list")"
"$SOCI" index list --json "oci:$TMP/dst" >"$TMP/list.json" && json_ok "$TMP/list.json" "index list --json"
grep -q '"manifestVersion": "v2"' "$TMP/list.json" || fail "index list --json: $(cat "$TMP/list.json")"
v2=$("$SOCI" index list -q "oci:$TMP/dst" | head -n 1)
"$SOCI" index info --layout "$TMP/dst" "$v2" >"$TMP/info" 2>"$TMP/err" && json_ok "$TMP/info" "index info (v2)" ||
    fail "index info of the v2 index: $(cat "$TMP/err")"
snap "$TMP/dst" >"$TMP/before"
"$SOCI" index rm --layout "$TMP/dst" "$v2" </dev/null >/dev/null 2>"$TMP/err" && fail "index rm removed a v2 index"
one_line "$TMP/err" "index rm of a v2 index" "v2"
snap "$TMP/dst" >"$TMP/after"
cmp -s "$TMP/before" "$TMP/after" || fail "the refused index rm changed the layout"

# within one layout: the source tag stays as it was
cp -a "$TMP/src.orig" "$TMP/same"
"$SOCI" convert -q "oci:$TMP/same:t" "oci:$TMP/same:soci" </dev/null 2>"$TMP/err" || fail "convert in place: $(cat "$TMP/err")"
[ "$(tagged "$TMP/same" t)" = "$orig" ] || fail "convert in place moved the source tag"
[ "$(tagged "$TMP/same" soci)" = "$conv" ] || fail "convert in place gave another digest"
if command -v skopeo >/dev/null 2>&1; then
    skopeo inspect "oci:$TMP/same:t" >/dev/null 2>&1 || fail "skopeo inspect of the source tag after convert in place"
fi
finish
