#!/bin/sh
# scripts/demo.sh BIN_DIR -- the main job on a built-in sample image:
# build an OCI layout (busybox-static rootfs + a ~96 MiB generated layer),
# index it with the pipeline and with `soci create`, show they agree, and
# show what was made.
set -eu
BIN=$(cd "${1:?usage: demo.sh BIN_DIR}" && pwd)
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$ROOT/build/demo
rm -rf "$WORK"
mkdir -p "$WORK"
step() { printf '\n== %s\n' "$*"; }

step "building a sample image into $WORK/pipeline (OCI image layout)"
/usr/bin/python3 "$ROOT/scripts/make-sample-image.py" "$WORK/pipeline" demo >/dev/null
cp -a "$WORK/pipeline" "$WORK/create"
ls -l "$WORK/pipeline/blobs/sha256"

step "indexing with the pipeline: soci-layers | ztoc-gen | soci-pack"
start=$(date +%s.%N)
"$BIN/soci-layers" "oci:$WORK/pipeline:demo" | "$BIN/ztoc-gen" | "$BIN/soci-pack" "oci:$WORK/pipeline:demo"
end=$(date +%s.%N)
awk "BEGIN{printf \"(%.2f s)\n\", $end-$start}"

step "indexing the copy with soci create"
"$BIN/soci" create "oci:$WORK/create:demo"

step "both layouts are byte-identical"
diff -r "$WORK/pipeline" "$WORK/create" && echo "identical: yes"

step "soci index list"
"$BIN/soci" index list "oci:$WORK/pipeline"
step "soci ztoc list"
"$BIN/soci" ztoc list "oci:$WORK/pipeline"

ztoc=$("$BIN/soci" ztoc list -q "oci:$WORK/pipeline" | head -n 1)
step "soci ztoc info $ztoc (first lines)"
"$BIN/soci" ztoc info --layout "$WORK/pipeline" "$ztoc" | head -n 12

step "reading one file back through the ztoc: data/README"
"$BIN/soci" ztoc get-file --layout "$WORK/pipeline" "$ztoc" data/README

step "the image still reads as an image (skopeo inspect)"
if command -v skopeo >/dev/null 2>&1; then
    skopeo inspect "oci:$WORK/pipeline:demo" | head -n 8
fi

step "a SOCI-enabled (v2) image: soci convert"
"$BIN/soci" convert -q "oci:$WORK/pipeline:demo" "oci:$WORK/converted:demo-soci"
"$BIN/soci" index list "oci:$WORK/converted"
echo
echo "demo done: layouts under $WORK"
