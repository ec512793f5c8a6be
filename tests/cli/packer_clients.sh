#!/bin/sh
# tests/cli/packer_clients.sh -- layouts written by real tools are indexed,
# and those tools still read what we wrote.
#
#   1. skopeo copy oci:SAMPLE:t oci:NEW:t (skopeo's index.json has no
#      mediaType): create and the pipeline agree byte for byte, the index
#      checks out (tests/cli/lib/check_soci.py), index.json keeps skopeo's
#      shape, and skopeo inspect still works;
#   2. skopeo copy --format v2s2 (Docker manifest and layer media types):
#      indexed the same both ways, the subject and the
#      layer annotations carry the Docker media types, nothing of the image
#      changed.  (skopeo 1.9 cannot read Docker-typed manifests out of an
#      OCI layout at all, before or after indexing, so it is not asked to.)
#   3. umoci init/new/insert of a rootfs with a 12 MB file (umoci writes
#      manifests without mediaType and blobs of mode 0600): create and the
#      pipeline agree, the index checks out, and afterwards umoci ls, stat,
#      unpack and gc still work, gc keeps every SOCI blob, and skopeo
#      inspect works.
. "$ROOT/tests/cli/lib/packer.sh"
need skopeo umoci

# both DIR TAG [create options]: index DIR:TAG with create, and a copy with
# the pipeline; they must agree
both() {
    d=$1 tag=$2
    shift 2
    rm -rf "$d.pipe"
    cp -a "$d" "$d.pipe"
    "$SOCI" create "$@" "oci:$d:$tag" </dev/null >"$TMP/create.out" 2>"$TMP/create.err" ||
        fail "$d: soci create: $(cat "$TMP/create.err")"
    ZG_OPTS="$*" pipeline "oci:$d.pipe:$tag" || fail "$d: pipeline: $(cat "$TMP/p.err")"
    diff -r "$d" "$d.pipe" >/dev/null || fail "$d: pipeline and create differ"
    cmp -s "$TMP/create.out" "$TMP/p.out" || fail "$d: pipeline and create print different lines"
}

# unchanged_image BEFORE AFTER: every file of BEFORE is in AFTER unchanged,
# except index.json, which only gained entries
unchanged_image() {
    (cd "$1" && find . -type f ! -name index.json -exec sha256sum {} +) >"$TMP/sums"
    (cd "$2" && sha256sum --quiet -c "$TMP/sums") || fail "$2: files of the image changed"
    "$PY" - "$1/index.json" "$2/index.json" <<'EOF' || fail "$2: index.json lost or changed entries"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
assert b["manifests"][:len(a["manifests"])] == a["manifests"], "entries changed"
assert {k: v for k, v in a.items() if k != "manifests"} == {k: v for k, v in b.items() if k != "manifests"}
EOF
}

sample "$TMP/sample" t --big-mib 24

# 1. skopeo's OCI copy
skopeo --insecure-policy copy -q "oci:$TMP/sample:t" "oci:$TMP/sk:t" || die "skopeo copy failed"
cp -a "$TMP/sk" "$TMP/sk.orig"
both "$TMP/sk" t
$CHECK "$TMP/sk" --expect 1 --min-layer-size 10485760 || fail "skopeo layout: check_soci.py"
unchanged_image "$TMP/sk.orig" "$TMP/sk"
grep -q '"mediaType":"application/vnd.oci.image.index' "$TMP/sk/index.json" &&
    fail "index.json gained a top-level mediaType skopeo did not write"
skopeo inspect "oci:$TMP/sk:t" >"$TMP/inspect" 2>"$TMP/inspect.err" || fail "skopeo inspect after indexing: $(cat "$TMP/inspect.err")"
grep -q "$(tagged "$TMP/sk" t)" "$TMP/inspect" || fail "skopeo inspect shows another image"

# 2. Docker media types
skopeo --insecure-policy copy -q --format v2s2 "oci:$TMP/sample:t" "oci:$TMP/v2s2:t" || die "skopeo copy --format v2s2 failed"
d=$TMP/v2s2
cp -a "$d" "$d.orig"
both "$d" t
$CHECK "$d" --expect 1 --min-layer-size 10485760 --quiet || fail "$d: check_soci.py"
unchanged_image "$d.orig" "$d"
"$PY" - "$d" <<'EOF' || fail "$d: the index does not carry the Docker media types"
import json, sys
d = sys.argv[1]
idx = json.load(open(d + "/index.json"))
e = [m for m in idx["manifests"] if m.get("artifactType")][0]
ix = json.load(open(d + "/blobs/sha256/" + e["digest"][7:]))
assert ix["subject"]["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json", ix["subject"]
for z in ix["layers"]:
    assert z["annotations"]["com.amazon.soci.image-layer-mediaType"] == \
        "application/vnd.docker.image.rootfs.diff.tar.gzip", z
EOF

# 3. umoci
u=$TMP/umoci
umoci init --layout "$u" && umoci new --image "$u:t" || die "umoci init/new failed"
mkdir -p "$TMP/rootfs/bin" "$TMP/rootfs/data" && cp /bin/busybox "$TMP/rootfs/bin/" &&
    head -c 12000000 /dev/urandom >"$TMP/rootfs/data/big.bin" &&
    echo "hello from umoci" >"$TMP/rootfs/data/hello" || die "cannot make the rootfs"
umoci insert --image "$u:t" "$TMP/rootfs" / >/dev/null || die "umoci insert failed"
"$PY" -c 'import json, sys
m = json.load(open(sys.argv[1]))
assert "mediaType" not in m, "umoci wrote a mediaType after all"' "$(blob "$u" "$(tagged "$u" t)")" ||
    echo "note: this umoci writes manifests with a mediaType"
cp -a "$u" "$u.orig"
both "$u" t
$CHECK "$u" --expect 1 --min-layer-size 10485760 || fail "umoci layout: check_soci.py"
unchanged_image "$u.orig" "$u"
[ "$(umoci ls --layout "$u")" = t ] || fail "umoci ls after indexing: $(umoci ls --layout "$u" 2>&1)"
umoci stat --image "$u:t" >/dev/null 2>"$TMP/err" || fail "umoci stat after indexing: $(cat "$TMP/err")"
umoci unpack --image "$u:t" "$TMP/bundle" >/dev/null 2>"$TMP/err" || fail "umoci unpack after indexing: $(cat "$TMP/err")"
cmp -s "$TMP/bundle/rootfs/data/big.bin" "$TMP/rootfs/data/big.bin" || fail "umoci unpack: data/big.bin differs"
z=$("$SOCI" ztoc list -q "oci:$u")
"$SOCI" ztoc get-file --layout "$u" "$z" data/hello >"$TMP/hello" 2>"$TMP/err" || fail "get-file: $(cat "$TMP/err")"
grep -q "hello from umoci" "$TMP/hello" || fail "get-file data/hello: $(cat "$TMP/hello")"
umoci gc --layout "$u" || fail "umoci gc failed"
$CHECK "$u" --expect 1 --quiet >/dev/null || fail "umoci gc removed SOCI blobs"
skopeo inspect "oci:$u:t" >/dev/null 2>"$TMP/err" || fail "skopeo inspect of the umoci image: $(cat "$TMP/err")"
finish
