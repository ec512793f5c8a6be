#!/bin/sh
# tests/cli/store_commands.sh -- the guide's commands as written, with no
# layout named: the store (SOCI_ROOT / soci --root) against a real registry
# (Debian's docker-registry on 127.0.0.1, images put there by skopeo):
#   1. soci create REG/app:t writes the store layout of REG/app (root made
#      0700; says where on stderr); its SOCI index and ztocs are the bytes a
#      local create of the same image writes;
#   2. soci create REG/lib/other:t: a second repository, a second layout;
#      index list shows both images (as REG/REPO:TAG), --ref narrows it;
#   3. index info DIGEST prints the index blob of whichever layout has it;
#      ztoc list lists every ztoc once (the busybox layer's is shared);
#      ztoc info DIGEST is the ztoc's; ztoc get-file DIGEST PATH gives the
#      bytes GNU tar extracts from the layer (the store has no copy of the
#      layer: the spans come from the registry);
#   4. --root overrides SOCI_ROOT (both spellings);
#   5. soci push REG/app:t pushes the index from the store: the registry
#      serves it byte for byte and lists it under the fallback tag; a
#      repository the store lacks is one line, exit 1;
#   6. index rm DIGEST removes it from its layout only; a digest in no
#      layout is one line, exit 1 (index info, ztoc info, get-file, rm).
. "$ROOT/tests/cli/lib/regtest.sh"
need skopeo tar

M="--min-layer-size 1000"
start_registry "$TMP/reg"
sample "$TMP/app" t --big-mib 8
sample "$TMP/other" t --big-mib 3
for x in app other; do
    repo=$x
    [ $x = other ] && repo=lib/other
    skopeo copy -q --dest-tls-verify=false oci:"$TMP/$x":t "docker://$REG/$repo:t" >"$TMP/skopeo.err" 2>&1 ||
        die "skopeo copy $x failed: $(cat "$TMP/skopeo.err")"
done
cp -a "$TMP/app" "$TMP/app.local"
"$SOCI" create -q $M "oci:$TMP/app.local:t" >/dev/null 2>&1 || die "local create failed"
ix_local=$(soci_entries "$TMP/app.local")

SOCI_ROOT=$TMP/root
export SOCI_ROOT
APP=$TMP/root/layouts/127.0.0.1_$PORT/app
OTHER=$TMP/root/layouts/127.0.0.1_$PORT/lib+other

# 1. create into the store
"$SOCI" create $M "$REG/app:t" >"$TMP/c1.out" 2>"$TMP/c1.err" || die "soci create REG/app:t: $(cat "$TMP/c1.err")"
[ "$(tail -n 1 "$TMP/c1.err")" = "soci: SOCI index stored in oci:$APP:t" ] ||
    fail "create does not say where it stored the index: $(cat "$TMP/c1.err")"
[ "$(stat -c %a "$TMP/root")" = 700 ] || fail "the store root is mode $(stat -c %a "$TMP/root"), want 700"
ix=$(soci_entries "$APP")
[ -n "$ix" ] && [ "$ix" = "$ix_local" ] || fail "store layout's index \"$ix\", local create's \"$ix_local\""
for b in "$ix" $(index_blobs "$TMP/app.local" "$ix_local"); do
    cmp -s "$(blob "$APP" "$b")" "$(blob "$TMP/app.local" "$b")" || fail "store blob $b differs from the local create's"
done
[ "$(tagged "$APP" t)" = "$(tagged "$TMP/app" t)" ] || fail "the store layout does not tag the image t"

# 2. a second repository
"$SOCI" create -q $M "$REG/lib/other:t" >/dev/null 2>"$TMP/c2.err" || die "soci create REG/lib/other:t: $(cat "$TMP/c2.err")"
ix2=$(soci_entries "$OTHER")
[ -n "$ix2" ] && [ "$ix2" != "$ix" ] || die "no second index in $OTHER: \"$ix2\""
"$SOCI" index list >"$TMP/list.out" 2>"$TMP/list.err" || fail "index list: $(cat "$TMP/list.err")"
grep -q "^$ix .* $REG/app:t " "$TMP/list.out" || fail "index list lacks $REG/app:t: $(cat "$TMP/list.out")"
grep -q "^$ix2 .* $REG/lib/other:t " "$TMP/list.out" || fail "index list lacks $REG/lib/other:t: $(cat "$TMP/list.out")"
[ "$(lines "$TMP/list.out")" -eq 3 ] || fail "index list: want a header and 2 rows: $(cat "$TMP/list.out")"
[ "$("$SOCI" index list -q --ref "$REG/lib/other:t")" = "$ix2" ] || fail "index list --ref REG/lib/other:t is not just $ix2"
"$SOCI" index list --json >"$TMP/list.json" && json_ok "$TMP/list.json" "index list --json"

# 3. info, ztoc list / info / get-file
"$SOCI" index info "$ix2" >"$TMP/info.json" 2>"$TMP/info.err" || fail "index info: $(cat "$TMP/info.err")"
"$PY" - "$TMP/info.json" "$(blob "$OTHER" "$ix2")" <<'EOF' || fail "index info is not the index blob"
import json, sys
assert json.load(open(sys.argv[1])) == json.load(open(sys.argv[2]))
EOF
"$SOCI" ztoc list -q >"$TMP/ztocs" 2>"$TMP/zl.err" || fail "ztoc list: $(cat "$TMP/zl.err")"
want=$( (index_blobs "$APP" "$ix" | sed 1d; index_blobs "$OTHER" "$ix2" | sed 1d) | sort -u)
[ "$(sort "$TMP/ztocs")" = "$want" ] || fail "ztoc list: $(cat "$TMP/ztocs"), want every ztoc once: $want"
[ "$(sort -u "$TMP/ztocs" | wc -l)" -eq "$(wc -l <"$TMP/ztocs")" ] || fail "ztoc list lists a ztoc twice"
[ "$(wc -l <"$TMP/ztocs")" -eq 3 ] || fail "want 3 ztocs (busybox shared, two data layers): $(cat "$TMP/ztocs")"
# the data layer of app: its ztoc, a file in it, and GNU tar's bytes of it
data=$(layer_digests "$TMP/app" t | sed -n 2p)
z=$("$SOCI" ztoc list --json | "$PY" -c 'import json,sys; print([z["digest"] for z in json.load(sys.stdin) if z["layerDigest"] == sys.argv[1]][0])' "$data")
"$SOCI" ztoc info "$z" >"$TMP/zinfo.json" 2>"$TMP/zinfo.err" || fail "ztoc info: $(cat "$TMP/zinfo.err")"
file=$("$PY" - "$TMP/zinfo.json" <<'EOF'
import json, sys
files = [f for f in json.load(open(sys.argv[1]))["files"] if f["type"] == "reg"]
print(max(files, key=lambda f: f["size"])["filename"])
EOF
) || fail "ztoc info is not upstream's JSON"
mkdir "$TMP/x" && tar -C "$TMP/x" -xzf "$(blob "$TMP/app" "$data")" || die "GNU tar cannot extract the layer"
[ -n "$file" ] && [ -s "$TMP/x/$file" ] || die "no regular file \"$file\" in the layer"
"$SOCI" ztoc get-file -o "$TMP/got" "$z" "$file" 2>"$TMP/gf.err" || fail "ztoc get-file: $(cat "$TMP/gf.err")"
cmp "$TMP/got" "$TMP/x/$file" || fail "get-file $file: not GNU tar's bytes"
[ -e "$(blob "$APP" "$data")" ] && fail "the store holds a copy of the layer: get-file did not read the registry"

# 4. --root over SOCI_ROOT
mkdir "$TMP/empty"
[ "$(SOCI_ROOT=$TMP/empty "$SOCI" --root "$TMP/root" index list -q | sort)" = "$(printf '%s\n' "$ix" "$ix2" | sort)" ] ||
    fail "--root DIR does not override SOCI_ROOT"
[ -z "$(SOCI_ROOT=$TMP/root "$SOCI" --root="$TMP/empty" index list -q)" ] || fail "--root=DIR does not override SOCI_ROOT"

# 5. push from the store
"$SOCI" push "$REG/app:t" >"$TMP/push.out" 2>"$TMP/push.err" || fail "soci push REG/app:t: $(cat "$TMP/push.err")"
grep -q "^pushing soci index with digest: $ix\$" "$TMP/push.out" || fail "push: no 'pushing soci index' line: $(cat "$TMP/push.out")"
code=$(get_manifest "$REG" app "$ix" "$MT_MANIFEST" "$TMP/ix.got")
[ "$code" = 200 ] && cmp -s "$TMP/ix.got" "$(blob "$APP" "$ix")" || fail "the registry lacks the index (HTTP $code)"
code=$(get_manifest "$REG" app "$(fallback_tag "$(tagged "$APP" t)")" "$MT_INDEX" "$TMP/fb.json")
[ "$code" = 200 ] && grep -q "$ix" "$TMP/fb.json" || fail "the fallback tag does not list the index (HTTP $code)"
"$SOCI" index list --remote "$REG/app:t" | grep -q "^$ix " || fail "index list --remote does not find the pushed index"
"$SOCI" push "$REG/nothere:t" </dev/null >/dev/null 2>"$TMP/e"
rc=$?
[ $rc -eq 1 ] || fail "push of a repository not in the store: exit $rc"
one_line "$TMP/e" "push REG/nothere:t" "nothere"

# 6. rm from the right layout; digests in no layout
snap "$APP" >"$TMP/app.before"
"$SOCI" index rm "$ix2" >"$TMP/rm.out" 2>"$TMP/rm.err" || fail "index rm: $(cat "$TMP/rm.err")"
[ "$(cat "$TMP/rm.out")" = "$ix2" ] || fail "index rm printed: $(cat "$TMP/rm.out")"
[ -z "$(soci_entries "$OTHER")" ] || fail "index rm left the index in $OTHER"
[ -e "$(blob "$OTHER" "$ix2")" ] && fail "index rm left the index blob"
snap "$APP" >"$TMP/app.after"
cmp -s "$TMP/app.before" "$TMP/app.after" || fail "index rm of the other repository's index changed $APP"
[ "$("$SOCI" index list -q)" = "$ix" ] || fail "after rm, index list is not just $ix: $("$SOCI" index list -q)"
none=sha256:$(printf '%064d' 0)
for c in "index info $none" "index info $ix2" "ztoc info $none" "ztoc get-file $none a" "index rm $none"; do
    # shellcheck disable=SC2086
    "$SOCI" $c </dev/null >"$TMP/o" 2>"$TMP/e"
    rc=$?
    [ $rc -eq 1 ] || fail "soci $c: exit $rc, want 1"
    one_line "$TMP/e" "soci $c" "in the store"
    [ -s "$TMP/o" ] && fail "soci $c wrote to stdout"
done
snap "$APP" >"$TMP/app.after"
cmp -s "$TMP/app.before" "$TMP/app.after" || fail "a failed rm changed $APP"
finish
