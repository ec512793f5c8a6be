#!/bin/sh
# tests/cli/registry_create_remote.sh -- indexing an image straight from a
# registry gives the same bytes as indexing its OCI layout:
#   (the sample layout is pushed with skopeo copy oci:... docker://...; the
#   registry keeps the manifest digest)
#   1. soci create REG/src:t --layout L1 and soci create oci:COPY:t write the
#      same SOCI index blob and the same ztoc blobs (cmp), and the same
#      index.json; the per-layer lines are the same;
#   2. soci-layers REG/src:t | ztoc-gen | soci-pack oci:L2:t writes the same
#      index, ztocs and index.json; on stderr only soci-pack's one note that
#      the layout lacks the image's config and layers (registry_pipeline_note);
#   3. with -j 1 and with the default jobs, the same again (L3);
#   4. soci create REG/src:t --push: the index goes up (byte for byte),
#      and soci index list --remote REG/src:t finds it via the fallback tag.
. "$ROOT/tests/cli/lib/regtest.sh"
need skopeo

start_registry "$TMP/reg"
sample "$TMP/img" t --big-mib $SPARSE_MIB
skopeo copy -q --dest-tls-verify=false oci:"$TMP/img":t "docker://$REG/src:t" >"$TMP/skopeo.err" 2>&1 ||
    die "skopeo copy failed: $(cat "$TMP/skopeo.err")"
img=$(tagged "$TMP/img" t)
code=$(get_manifest "$REG" src t "$MT_MANIFEST" "$TMP/man.got")
[ "$code" = 200 ] && cmp -s "$TMP/man.got" "$(blob "$TMP/img" "$img")" || die "skopeo changed the manifest (HTTP $code)"

cp -a "$TMP/img" "$TMP/copy"
"$SOCI" create --min-layer-size $MIN oci:"$TMP/copy":t >"$TMP/local.out" 2>"$TMP/local.err" ||
    die "soci create oci:COPY:t failed: $(cat "$TMP/local.err")"
ix=$(soci_entries "$TMP/copy")
[ -n "$ix" ] || die "the local create made no index"
want_blobs=$(index_blobs "$TMP/copy" "$ix")

# same_as_local DIR WHAT: DIR has the local layout's index and ztocs, byte
# for byte, and the same index.json
same_as_local() {
    [ "$(soci_entries "$1")" = "$ix" ] || { fail "$2: SOCI index $(soci_entries "$1"), want $ix"; return 1; }
    for b in "$ix" $want_blobs; do
        cmp -s "$(blob "$1" "$b")" "$(blob "$TMP/copy" "$b")" || fail "$2: blob $b differs or is missing"
    done
    cmp -s "$1/index.json" "$TMP/copy/index.json" || fail "$2: index.json differs: $(cat "$1/index.json")"
    $CHECK "$1" --expect 1 --min-layer-size $MIN --subject "$img" --quiet || fail "$2: check_soci.py"
}

# 1. soci create from the registry
"$SOCI" create --min-layer-size $MIN --layout "$TMP/L1" "$REG/src:t" >"$TMP/remote.out" 2>"$TMP/remote.err" ||
    fail "soci create REG/src:t failed: $(cat "$TMP/remote.err")"
[ -s "$TMP/remote.err" ] && fail "remote create wrote to stderr: $(cat "$TMP/remote.err")"
same_as_local "$TMP/L1" "remote create"
cmp -s "$TMP/local.out" "$TMP/remote.out" || { fail "remote and local create print different lines"; diff "$TMP/local.out" "$TMP/remote.out"; }

# 2. the pipeline from the registry into a new layout
LAYERS_OPTS="--min-layer-size $MIN" ZG_OPTS="--min-layer-size $MIN" pipeline "$REG/src:t" oci:"$TMP/L2":t ||
    fail "pipeline from the registry failed ($rc1 $rc2 $rc3): $(cat "$TMP/p.err")"
grep -v "^soci-pack: note: " "$TMP/p.err" | grep -q . && fail "the pipeline wrote to stderr: $(cat "$TMP/p.err")"
same_as_local "$TMP/L2" "pipeline"

# 3. one layer at a time
"$SOCI" create -q -j 1 --min-layer-size $MIN --layout "$TMP/L3" "$REG/src:t" >"$TMP/j1.out" 2>&1 ||
    fail "soci create -j 1 REG/src:t failed: $(cat "$TMP/j1.out")"
same_as_local "$TMP/L3" "remote create -j 1"

# 4. --push
"$SOCI" create -q --push --min-layer-size $MIN --layout "$TMP/L4" "$REG/src:t" >"$TMP/push.out" 2>"$TMP/push.err" ||
    fail "soci create --push failed: $(cat "$TMP/push.err")"
[ "$(cat "$TMP/push.out")" = "$ix" ] || fail "create -q --push printed: $(cat "$TMP/push.out")"
code=$(get_manifest "$REG" src "$ix" "$MT_MANIFEST" "$TMP/ix.got")
[ "$code" = 200 ] && cmp -s "$TMP/ix.got" "$(blob "$TMP/copy" "$ix")" || fail "create --push: the index is not in the registry (HTTP $code)"
"$SOCI" index list --remote "$REG/src:t" >"$TMP/list.out" 2>"$TMP/list.err" || fail "index list --remote: $(cat "$TMP/list.err")"
grep -q "^$ix .* $img .*v1 .*fallback-tag" "$TMP/list.out" || fail "index list --remote does not find the pushed index: $(cat "$TMP/list.out")"
finish
