#!/bin/sh
# tests/cli/registry_pipeline_note.sh -- the index pipeline fed from a
# registry leaves a layout soci push cannot push from (the record stream
# carries the image's manifest, not its config or layers), and soci-pack
# says so in one line instead of leaving push to fail later:
#   - soci-layers REG/r:t | ztoc-gen | soci-pack oci:DIR (no tag) and
#     oci:DIR:t: exit 0, the index is written, and soci-pack's stderr is
#     exactly one note naming the layout, the image and
#     'soci create REG/r:t --push';
#   - what the note says holds: soci push from either layout fails;
#   - the same pipeline from a local layout: no note.
. "$ROOT/tests/cli/lib/regtest.sh"

sample_indexed "$TMP/img" t
start_registry "$TMP/reg"
"$SOCI" push --plain-http -q "oci:$TMP/img:t" "$REG/r:t" >"$TMP/push.out" 2>&1 ||
    die "soci push of the sample image failed: $(cat "$TMP/push.out")"
LAYERS_OPTS="--min-layer-size $MIN --plain-http"
ZG_OPTS="--min-layer-size $MIN"

for dest in "oci:$TMP/untagged" "oci:$TMP/tagged:t"; do
    dir=${dest#oci:}
    dir=${dir%:t}
    pipeline "$REG/r:t" "$dest" || fail "$dest: the pipeline failed ($rc1 $rc2 $rc3): $(cat "$TMP/p.err")"
    [ -n "$(soci_entries "$dir")" ] || fail "$dest: no SOCI index was written"
    [ -s "$TMP/p.err1" ] || [ -s "$TMP/p.err2" ] && fail "$dest: soci-layers or ztoc-gen wrote to stderr: $(cat "$TMP/p.err1" "$TMP/p.err2")"
    want="soci-pack: note: $dir holds the manifest of $REG/r:t but not its config or layers, so soci push cannot push this index from it; 'soci create $REG/r:t --push' indexes and pushes a registry image"
    [ "$(cat "$TMP/p.err3")" = "$want" ] && [ "$(lines "$TMP/p.err3")" -eq 1 ] ||
        fail "$dest: soci-pack's stderr is not the one note: $(cat "$TMP/p.err3")"
    "$SOCI" push --plain-http -q "oci:$dir:t" "$REG/copy:t" >/dev/null 2>"$TMP/push.err" &&
        fail "$dest: soci push oci:DIR:t succeeded, the note says it cannot"
    "$SOCI" push --plain-http -q --layout "$dir" "$REG/r:t" >/dev/null 2>"$TMP/push.err" &&
        fail "$dest: soci push --layout DIR REG/r:t succeeded, the note says it cannot"
done

# from a layout: the layout has everything, nothing to say
LAYERS_OPTS="--min-layer-size $MIN"
pipeline "oci:$TMP/img:t" || fail "local pipeline failed: $(cat "$TMP/p.err")"
[ -s "$TMP/p.err" ] && fail "local pipeline wrote to stderr: $(cat "$TMP/p.err")"
finish
