#!/bin/sh
# tests/cli/packer_hostile_files.sh -- local files that are not what the
# layout says they are: every reader ends in bounded time with one line.
#   - a layer blob that is a symlink to /dev/zero, or a FIFO: `soci create`
#     and the pipeline refuse it (it is not a regular file) instead of
#     reading forever or blocking;
#   - a FIFO as the image manifest or as index.json: `soci create`,
#     `soci index list` and `soci-layers` refuse it at once;
#   - a stream `path` that is a FIFO: ztoc-gen refuses it;
#   - a layer blob replaced by another file of the same size: a digest
#     mismatch, not whatever the indexer trips on first;
#   - a manifest listing one layer 100,000 times: refused before any work,
#     in little memory;
#   - an oci-layout of an unknown imageLayoutVersion: refused;
#   - a manifest without mediaType and of no known shape: not said to have
#     an "unsupported" media type its descriptor names correctly.
# Each run is bounded by timeout: a hang fails the check (exit 124).
. "$ROOT/tests/cli/lib/packer.sh"

sample "$TMP/base" t --big-mib 3
M="--min-layer-size 1000"
manifest=$(tagged "$TMP/base" t)
big=$(layer_digests "$TMP/base" t | sed -n 2p)
[ -n "$manifest" ] && [ -n "$big" ] || die "cannot read the sample image"

# run_one WHAT WANT CMD...: CMD exits 1 within 20 s with exactly WANT on stderr
run_one() {
    what=$1 want=$2
    shift 2
    timeout -k 5 20 "$@" </dev/null >"$TMP/out" 2>"$TMP/err"
    rc=$?
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        fail "$what: still running after 20 s"
        return
    fi
    [ $rc -eq 1 ] || fail "$what: exit $rc, want 1"
    if [ "$(cat "$TMP/err")" != "$want" ]; then
        fail "$what: stderr is not the one expected line:"
        sed 's/^/    | /' "$TMP/err"
        echo "    want: $want"
    fi
}

# run_pipe WHAT WANT: the pipeline on $d; soci-pack fails and the stage that
# found the problem prints WANT, the only line of all three stages
run_pipe() {
    timeout -k 5 20 sh -c '"$1" "oci:$4:t" </dev/null 2>"$5.1" | "$2" -q --min-layer-size 1000 2>"$5.2" |
        "$3" "oci:$4:t" >/dev/null 2>"$5.3"' sh "$LAYERS" "$ZG" "$PACK" "$d" "$TMP/pe"
    rc=$?
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        fail "$1 (pipeline): still running after 20 s"
        return
    fi
    [ $rc -ne 0 ] || fail "$1 (pipeline): soci-pack succeeded"
    cat "$TMP/pe.1" "$TMP/pe.2" "$TMP/pe.3" >"$TMP/pe"
    if [ "$(cat "$TMP/pe")" != "$2" ]; then
        fail "$1 (pipeline): stderr is not the one expected line:"
        sed 's/^/    | /' "$TMP/pe"
        echo "    want: $2"
    fi
}

fresh() {
    d=$TMP/case
    rm -rf "$d"
    cp -a "$TMP/base" "$d"
}

# 1. the big layer's blob: a symlink to /dev/zero, then a FIFO
for kind in devzero fifo; do
    fresh
    bp=$(blob "$d" "$big")
    rm "$bp"
    if [ $kind = devzero ]; then ln -s /dev/zero "$bp"; else mkfifo "$bp"; fi
    run_one "layer blob $kind" "soci: layer $big: $bp: not a regular file" "$SOCI" create -q $M "oci:$d:t"
    run_pipe "layer blob $kind" "ztoc-gen: layer $big: $bp: not a regular file"
done

# 2. the manifest, then index.json, as a FIFO
fresh
mp=$(blob "$d" "$manifest")
rm "$mp" && mkfifo "$mp"
run_one "manifest FIFO" "soci: $mp: not a regular file" "$SOCI" create -q $M "oci:$d:t"
run_one "manifest FIFO (soci-layers)" "soci-layers: $mp: not a regular file" sh -c '"$1" "oci:$2:t" >/dev/null' sh "$LAYERS" "$d"
fresh
rm "$d/index.json" && mkfifo "$d/index.json"
run_one "index.json FIFO" "soci: $d/index.json: not a regular file" "$SOCI" create -q $M "oci:$d:t"
run_one "index.json FIFO (index list)" "soci: $d/index.json: not a regular file" "$SOCI" index list --layout "$d"
run_one "index.json FIFO (soci-layers)" "soci-layers: $d/index.json: not a regular file" \
    sh -c '"$1" "oci:$2:t" >/dev/null' sh "$LAYERS" "$d"

# 3. a record stream whose layer path is a FIFO
mkfifo "$TMP/fifo"
"$PY" "$LIB/mkstream.py" path-layer "$TMP/fifo" 20000000 >"$TMP/stream" || die "mkstream failed"
DIG=sha256:$(printf 'ab%.0s' $(seq 32))
run_one "stream path FIFO" "ztoc-gen: layer $DIG: $TMP/fifo: not a regular file" sh -c '"$1" -q <"$2" >/dev/null' sh "$ZG" "$TMP/stream"

# 4. another file of the same size in the big layer's place
fresh
bp=$(blob "$d" "$big")
size=$(stat -c %s "$bp")
head -c "$size" /dev/urandom >"$bp.new" && mv "$bp.new" "$bp"
got=sha256:$(sha256sum "$bp" | cut -d' ' -f1)
run_one "blob of another file" "soci: layer $big: the layer's content does not match its digest (content is $got)" \
    "$SOCI" create -q $M "oci:$d:t"
run_pipe "blob of another file" "ztoc-gen: layer $big: the layer's content does not match its digest (content is $got)"

# rewrite DIR PYTHON-EXPR: the tagged manifest becomes EXPR(man) (new blob, index.json updated)
rewrite() {
    "$PY" - "$1" "$2" <<'PYEOF' || die "cannot rewrite the manifest"
import hashlib, json, sys
d, expr = sys.argv[1], sys.argv[2]
idx = json.load(open(d + "/index.json"))
e = [m for m in idx["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == "t"][0]
man = json.load(open(d + "/blobs/sha256/" + e["digest"][7:]))
man = eval(expr)
b = json.dumps(man, separators=(",", ":")).encode()
h = hashlib.sha256(b).hexdigest()
open(d + "/blobs/sha256/" + h, "wb").write(b)
e["digest"], e["size"] = "sha256:" + h, len(b)
json.dump(idx, open(d + "/index.json", "w"), separators=(",", ":"))
print("sha256:" + h)
PYEOF
}

# 5. one layer listed 100,000 times
fresh
m2=$(rewrite "$d" 'dict(man, layers=man["layers"][1:2] * 100000)')
run_one "100000 layers" "soci: image $m2 has 100000 layers; at most 1000 are supported" "$SOCI" create -q $M "oci:$d:t"

# 6. an unknown imageLayoutVersion
fresh
printf '{"imageLayoutVersion":"2.0.0"}' >"$d/oci-layout"
run_one "imageLayoutVersion 2.0.0" "soci: $d/oci-layout: imageLayoutVersion \"2.0.0\" is not supported (this build reads 1.x)" \
    "$SOCI" create -q $M "oci:$d:t"

# 7. a manifest of no known shape, described as an OCI manifest
fresh
m3=$(rewrite "$d" '{"schemaVersion": 2, "hello": "world"}')
run_one "shapeless manifest" \
    "soci: $m3 is neither an image manifest nor an image index (no mediaType, no layers, no manifests)" \
    "$SOCI" create -q $M "oci:$d:t"
finish
