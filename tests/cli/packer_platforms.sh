#!/bin/sh
# tests/cli/packer_platforms.sh -- a multi-platform image gets one SOCI
# index per platform asked for.
#
# A layout whose tag names an OCI image index of two platform images,
# linux/amd64 and linux/arm64 (made by make-sample-image.py twice, with
# different data layers, and an image index written here):
#   - no flag: one index, for the host's platform;
#   - --platform linux/arm64: one index, for the arm64 image;
#   - --all-platforms: two indexes, one per image;
#   - --platform linux/s390x: one line, exit 1, nothing written;
# each time `soci create` and the pipeline write identical layouts, the
# subjects are the platform manifests (not the image index), ztocs follow
# each image's own layers (check_soci.py), `soci index list` shows each
# index's platform, and skopeo inspect still reads the image.
. "$ROOT/tests/cli/lib/packer.sh"

case $(uname -m) in
x86_64) host=amd ;;
aarch64) host=arm ;;
*) host="" ;;
esac

# small images; --min-layer-size below their layers indexes both layers
sample "$TMP/base" amd --big-mib 3 --platform linux/amd64
sample "$TMP/base" arm --big-mib 4 --platform linux/arm64
amd=$(tagged "$TMP/base" amd)
arm=$(tagged "$TMP/base" arm)
[ -n "$host" ] && want=$(tagged "$TMP/base" $host)
"$PY" - "$TMP/base" <<'EOF' || die "cannot write the image index"
import hashlib, json, sys
d = sys.argv[1]
idx = json.load(open(d + "/index.json"))
plat = {"amd": "amd64", "arm": "arm64"}
mans = [{"mediaType": m["mediaType"], "digest": m["digest"], "size": m["size"],
         "platform": {"architecture": plat[m["annotations"]["org.opencontainers.image.ref.name"]], "os": "linux"}}
        for m in idx["manifests"]]
ii = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": mans}, separators=(",", ":")).encode()
h = hashlib.sha256(ii).hexdigest()
open(d + "/blobs/sha256/" + h, "wb").write(ii)
idx["manifests"] = [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": "sha256:" + h,
                     "size": len(ii), "annotations": {"org.opencontainers.image.ref.name": "multi"}}]
json.dump(idx, open(d + "/index.json", "w"), separators=(",", ":"))
EOF
[ "$amd" != "$arm" ] || die "the two platform images are the same"

# run NAME "OPTIONS" SUBJECTS...: index a copy both ways with OPTIONS
run() {
    name=$1 opts=$2
    shift 2
    c=$TMP/$name.create p=$TMP/$name.pipe
    cp -a "$TMP/base" "$c"
    cp -a "$TMP/base" "$p"
    # shellcheck disable=SC2086
    "$SOCI" create --min-layer-size 1000 $opts "oci:$c:multi" </dev/null >/dev/null 2>"$TMP/err" ||
        fail "$name: create: $(cat "$TMP/err")"
    LAYERS_OPTS=$opts ZG_OPTS="--min-layer-size 1000" pipeline "oci:$p:multi" || fail "$name: pipeline: $(cat "$TMP/p.err")"
    diff -r "$c" "$p" >/dev/null || fail "$name: create and the pipeline differ"
    subjects=""
    for s in "$@"; do subjects="$subjects --subject $s"; done
    # shellcheck disable=SC2086
    $CHECK "$c" --expect $# --min-layer-size 1000 $subjects --quiet || fail "$name: check_soci.py"
    skopeo_ok "$c"
}

skopeo_ok() {
    command -v skopeo >/dev/null 2>&1 || return 0
    skopeo inspect "oci:$1:multi" >/dev/null 2>"$TMP/err" || fail "$1: skopeo inspect: $(cat "$TMP/err")"
}

if [ -n "$host" ]; then
    run host "" "$want"
fi
run arm64 "--platform linux/arm64" "$arm"
run all "--all-platforms" "$amd" "$arm"

# index list: the platform of each
"$SOCI" index list --json "oci:$TMP/all.create" >"$TMP/list.json" || fail "index list --json failed"
"$PY" - "$TMP/list.json" "$amd" "$arm" <<'EOF' || fail "index list does not show the platforms: $(cat "$TMP/list.json")"
import json, sys
rows = json.load(open(sys.argv[1]))
got = sorted((r["imageManifest"], r["platform"], r["imageRef"], r["manifestVersion"]) for r in rows)
want = sorted([(sys.argv[2], "linux/amd64", "multi", "v1"), (sys.argv[3], "linux/arm64", "multi", "v1")])
assert got == want, got
EOF
n=$("$SOCI" index list -q --platform linux/arm64 "oci:$TMP/all.create" | wc -l)
[ "$n" -eq 1 ] || fail "index list --platform linux/arm64 shows $n indexes"

# a platform the image does not have
d=$TMP/none
cp -a "$TMP/base" "$d"
snap "$d" >"$TMP/before"
"$SOCI" create --platform linux/s390x "oci:$d:multi" </dev/null >/dev/null 2>"$TMP/err" && fail "s390x: create succeeded"
one_line "$TMP/err" "s390x: create" "platform"
LAYERS_OPTS="--platform linux/s390x" pipeline "oci:$d:multi" && fail "s390x: the pipeline succeeded"
one_line "$TMP/p.err" "s390x: pipeline" "platform"
snap "$d" >"$TMP/after"
cmp -s "$TMP/before" "$TMP/after" || fail "s390x: the layout changed"
finish
