#!/bin/sh
# tests/cli/packer_bad_input.sh -- broken layouts are refused cleanly, both
# by `soci create` and by the pipeline, and never modified.
#
# For each broken layout (missing index.json, malformed index.json, an
# unknown tag, the image manifest blob missing, the big layer's blob
# missing, one byte of the big layer changed -- in the gzip header, where
# only the digest check can catch it, and in the middle of the deflate
# data --, a layer of an unsupported media type, an image with nothing to
# index (all layers zstd, which upstream skips)):
#   - `soci create` exits non-zero with exactly one line on stderr naming
#     the problem;
#   - in `soci-layers | ztoc-gen | soci-pack` (each stage's status checked,
#     as with pipefail) soci-pack exits non-zero, the stage that found the
#     problem prints exactly one line, and the others exit quietly;
#   - the layout is byte for byte as before: same files, same contents,
#     nothing added (not even an index.json or a temporary file).
. "$ROOT/tests/cli/lib/packer.sh"

# small layers, all indexed (--min-layer-size 1000)
sample "$TMP/base" t --big-mib 3
M="--min-layer-size 1000"
manifest=$(tagged "$TMP/base" t)
big=$(layer_digests "$TMP/base" t | sed -n 2p)
[ -n "$manifest" ] && [ -n "$big" ] || die "cannot read the sample image"
big_path() { blob "$1" "$big"; }

# set_layer_type DIR N MEDIATYPE: layer N of the tagged image gets MEDIATYPE
# (a new manifest blob, index.json pointing at it)
set_layer_type() {
    "$PY" - "$@" <<'EOF' || die "cannot rewrite the manifest"
import hashlib, json, os, sys
d, n, mt = sys.argv[1], int(sys.argv[2]), sys.argv[3]
idx = json.load(open(d + "/index.json"))
e = [m for m in idx["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == "t"][0]
man = json.load(open(d + "/blobs/sha256/" + e["digest"][7:]))
man["layers"][n]["mediaType"] = mt
b = json.dumps(man, separators=(",", ":")).encode()
h = hashlib.sha256(b).hexdigest()
open(d + "/blobs/sha256/" + h, "wb").write(b)
e["digest"], e["size"] = "sha256:" + h, len(b)
json.dump(idx, open(d + "/index.json", "w"), separators=(",", ":"))
EOF
}

# poke FILE OFFSET: change one byte
poke() {
    printf 'X' | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null || die "dd failed"
}

# break_layout CASE DIR: make DIR broken in the way CASE names
break_layout() {
    case "$1" in
    no-index-json) rm "$2/index.json" ;;
    bad-index-json) printf '{"schemaVersion":2,"manifests":[' >"$2/index.json" ;;
    unknown-tag) ;; # the run asks for oci:DIR:nope
    no-manifest) rm "$(blob "$2" "$manifest")" ;;
    no-layer) rm "$(big_path "$2")" ;;
    layer-digest) poke "$(big_path "$2")" 4 ;; # gzip MTIME: inflates fine, wrong digest
    layer-corrupt) poke "$(big_path "$2")" $(($(stat -c %s "$(big_path "$2")") / 2)) ;;
    unknown-media-type) set_layer_type "$2" 1 application/vnd.example.unknown+gzip ;;
    nothing-to-index)
        set_layer_type "$2" 0 application/vnd.oci.image.layer.v1.tar+zstd
        set_layer_type "$2" 1 application/vnd.oci.image.layer.v1.tar+zstd
        ;;
    esac
}

# CASE <TAB> text create's line must hold <TAB> the pipeline stage that reports
cases="no-index-json	no index.json	soci-layers
bad-index-json	malformed JSON	soci-layers
unknown-tag	no image tagged \"nope\"	soci-layers
no-manifest	$manifest is missing	soci-layers
no-layer	$big	ztoc-gen
layer-digest	does not match its digest	ztoc-gen
layer-corrupt	$big	ztoc-gen
unknown-media-type	not an image layer type	ztoc-gen
nothing-to-index	no ztocs created	soci-pack"

while IFS='	' read -r name text stage; do
    tag=t
    [ "$name" = unknown-tag ] && tag=nope
    for how in create pipeline; do
        d=$TMP/$name.$how
        cp -a "$TMP/base" "$d"
        break_layout "$name" "$d"
        snap "$d" >"$TMP/before"
        if [ $how = create ]; then
            "$SOCI" create $M "oci:$d:$tag" </dev/null >/dev/null 2>"$TMP/err"
            rc=$?
            [ $rc -ne 0 ] || fail "$name: soci create exited 0"
            one_line "$TMP/err" "$name: soci create" "$text" && echo "$name create: $(cat "$TMP/err")"
        else
            ZG_OPTS=$M pipeline "oci:$d:$tag"
            [ "$rc3" -ne 0 ] || fail "$name: soci-pack exited 0 (stages: $rc1 $rc2 $rc3)"
            one_line "$TMP/p.err" "$name: pipeline" "$text" && echo "$name pipeline: $(cat "$TMP/p.err")"
            grep -q "^$stage: " "$TMP/p.err" || fail "$name: the line is not from $stage: $(cat "$TMP/p.err")"
            # the reporting stage and every later one fail; earlier ones may succeed
            case $stage in
            soci-layers) [ "$rc1" -ne 0 ] && [ "$rc2" -ne 0 ] || fail "$name: stages exited $rc1 $rc2 $rc3" ;;
            ztoc-gen) [ "$rc2" -ne 0 ] || fail "$name: stages exited $rc1 $rc2 $rc3" ;;
            esac
        fi
        snap "$d" >"$TMP/after"
        cmp -s "$TMP/before" "$TMP/after" || {
            fail "$name: $how changed the layout"
            diff "$TMP/before" "$TMP/after" | head -n 10
        }
    done
done <<EOF
$cases
EOF
finish
