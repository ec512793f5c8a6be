#!/bin/sh
# tests/cli/packer_identical.sh -- the pipeline and `soci create` write the
# same bytes, every time, and re-runs reuse and replace instead of adding.
#
# On the sample image (default minimum layer size: one of its two layers is
# indexed; and --min-layer-size 0: both):
#   1. `soci-layers | ztoc-gen | soci-pack` and `soci create` give layouts
#      equal under diff -r, and print the same per-layer lines;
#   2. a second run of each on a fresh copy gives the same layout again;
#   3. the SOCI index as written is what Go marshals (key order, compact,
#      sorted annotations), ztoc descriptors follow the image's layer order
#      with exactly the three annotations, subject = the image manifest
#      (tests/cli/lib/check_soci.py), and `soci index info` prints the same
#      JSON document;
#   4. re-running create (and the pipeline) on an indexed layout prints
#      "(already exists)" for every ztoc and leaves the layout byte-identical:
#      one index.json entry, not two;
#   5. create with another span size replaces the entry (still one) with
#      the new index.
. "$ROOT/tests/cli/lib/packer.sh"

sample "$TMP/base" t --big-mib 24
big_min=10485760

for mode in default all; do
    if [ $mode = all ]; then
        opt="--min-layer-size 0" min=0
    else
        opt="" min=$big_min
    fi
    for run in 1 2; do
        p=$TMP/$mode.pipe$run c=$TMP/$mode.create$run
        cp -a "$TMP/base" "$p"
        cp -a "$TMP/base" "$c"
        ZG_OPTS=$opt pipeline "oci:$p:t" || { fail "$mode: pipeline failed ($rc1 $rc2 $rc3)"; cat "$TMP/p.err"; }
        [ -s "$TMP/p.err" ] && fail "$mode: the pipeline wrote to stderr: $(cat "$TMP/p.err")"
        cp "$TMP/p.out" "$p.out"
        # shellcheck disable=SC2086
        "$SOCI" create $opt "oci:$c:t" >"$c.out" 2>"$c.err" || fail "$mode: soci create failed: $(cat "$c.err")"
        # (no -q: it would drop the per-layer lines too; no progress line off a terminal)
        diff -r "$p" "$c" >"$TMP/diff" || { fail "$mode run $run: pipeline and create layouts differ"; head "$TMP/diff"; }
        cmp -s "$p.out" "$c.out" || { fail "$mode: pipeline and create print different lines"; diff "$p.out" "$c.out"; }
    done
    diff -r "$TMP/$mode.pipe1" "$TMP/$mode.pipe2" >/dev/null || fail "$mode: two pipeline runs differ"
    diff -r "$TMP/$mode.create1" "$TMP/$mode.create2" >/dev/null || fail "$mode: two create runs differ"

    c=$TMP/$mode.create1
    $CHECK "$c" --expect 1 --min-layer-size $min || fail "$mode: check_soci.py"
    nz=$(grep -c '^layer .* -> ztoc sha256:' "$c.out")
    want=1
    [ $mode = all ] && want=2
    [ "$nz" -eq $want ] || fail "$mode: $nz ztoc lines, want $want: $(cat "$c.out")"
    [ $mode = default ] && ! grep -q '^ztoc skipped - layer sha256:.* size [0-9]* is less than min-layer-size 10485760$' "$c.out" &&
        fail "default: no skip line for the small layer: $(cat "$c.out")"

    # index info: the same document, re-indented
    ix=$(soci_entries "$c")
    "$SOCI" index info --layout "$c" "$ix" >"$TMP/info" 2>"$TMP/info.err" || fail "$mode: index info: $(cat "$TMP/info.err")"
    "$PY" - "$TMP/info" "$(blob "$c" "$ix")" <<'EOF' || fail "$mode: index info differs from the blob"
import json, sys
info, raw = open(sys.argv[1]).read(), open(sys.argv[2], "rb").read()
assert json.loads(info) == json.loads(raw)
assert info.startswith('{\n  "schemaVersion": 2,\n  "mediaType"'), info[:60]
EOF

    # re-runs: reuse every ztoc, change nothing
    for how in create pipe; do
        r=$TMP/$mode.rerun.$how
        cp -a "$c" "$r"
        if [ $how = create ]; then
            # shellcheck disable=SC2086
            "$SOCI" create $opt "oci:$r:t" >"$r.out" 2>"$r.err" || fail "$mode: create re-run failed: $(cat "$r.err")"
        else
            ZG_OPTS=$opt pipeline "oci:$r:t" || fail "$mode: pipeline re-run failed: $(cat "$TMP/p.err")"
            cp "$TMP/p.out" "$r.out"
        fi
        nre=$(grep -c '^layer .* -> ztoc sha256:[0-9a-f]* (already exists)$' "$r.out")
        [ "$nre" -eq $want ] || fail "$mode $how re-run: $nre \"(already exists)\" lines, want $want: $(cat "$r.out")"
        diff -r "$c" "$r" >/dev/null || fail "$mode $how re-run changed the layout"
        [ "$(soci_entries "$r" | wc -l)" -eq 1 ] || fail "$mode $how re-run: $(soci_entries "$r" | wc -l) SOCI entries"
    done
done

# another span size: a new index replaces the old entry
c=$TMP/default.create1
old=$(soci_entries "$c")
"$SOCI" create --span-size 1048576 "oci:$c:t" >"$TMP/span.out" 2>"$TMP/span.err" ||
    fail "create --span-size: $(cat "$TMP/span.err")"
grep -q '(already exists)' "$TMP/span.out" && fail "create --span-size reused a ztoc of another span size"
new=$(soci_entries "$c")
[ "$(echo "$new" | wc -l)" -eq 1 ] || fail "after --span-size: SOCI entries: $new"
[ "$new" != "$old" ] || fail "after --span-size: the index did not change"
$CHECK "$c" --expect 1 --span-size 1048576 --quiet || fail "check_soci.py after --span-size"
finish
