#!/bin/sh
# tests/cli/packer_commands.sh -- soci index list|info|rm and soci ztoc
# list|info|get-file on an OCI layout.
#
# On the sample image indexed with both layers (--min-layer-size 0):
#   - every command works given the layout as --layout DIR and as an
#     oci:DIR argument, with the same output;
#   - index list shows the index with its tag, platform and version;
#     --json parses and says the same; -q prints the digest alone;
#   - index info prints the index blob's JSON document;
#   - ztoc list shows both ztocs with their layers, in layer order; --json
#     parses; ztoc info of each parses, with the right build tool, span
#     size, size and files; get-file returns files of both layers byte for
#     byte (to stdout and with -o);
#   - index info of a ztoc digest and ztoc info of an index digest fail
#     with upstream's one-line messages; unknown digests fail with one line;
#   - index rm DIGEST removes the index.json entry, the index blob and its
#     ztoc blobs and prints the digest; the image is intact (skopeo inspect)
#     and the layout is as before indexing but for the shared "{}" blob;
#     index rm --ref TAG does the same.
. "$ROOT/tests/cli/lib/packer.sh"

sample "$TMP/orig" t --big-mib 3
L=$TMP/img
cp -a "$TMP/orig" "$L"
"$SOCI" create -q --min-layer-size 0 "oci:$L:t" || die "soci create failed"
ix=$(soci_entries "$L")
manifest=$(tagged "$L" t)
small=$(layer_digests "$L" t | sed -n 1p)
big=$(layer_digests "$L" t | sed -n 2p)

# same_both NAME CMD ARGS...: run `soci CMD --layout L ARGS` and `soci CMD
# oci:L ARGS`; they must succeed with the same output, left in $TMP/NAME
same_both() {
    name=$1 cmd=$2 sub=$3
    shift 3
    "$SOCI" "$cmd" "$sub" --layout "$L" "$@" >"$TMP/$name" 2>"$TMP/err" || fail "$cmd $sub --layout $*: $(cat "$TMP/err")"
    "$SOCI" "$cmd" "$sub" "oci:$L" "$@" >"$TMP/$name.oci" 2>"$TMP/err" || fail "$cmd $sub oci:DIR $*: $(cat "$TMP/err")"
    cmp -s "$TMP/$name" "$TMP/$name.oci" || fail "$cmd $sub: --layout and oci:DIR print different things"
}

# index list
same_both list index list
grep -q "^$ix  *[0-9][0-9]*  *t  *linux/amd64  *application/vnd.oci.image.manifest.v1+json  *v1 " "$TMP/list" ||
    fail "index list: $(cat "$TMP/list")"
head -n 1 "$TMP/list" | grep -q '^DIGEST  *SIZE  *IMAGE REF  *PLATFORM  *MEDIA TYPE  *MANIFEST VERSION  *CREATED' ||
    fail "index list header: $(head -n 1 "$TMP/list")"
same_both list.q index list -q
[ "$(cat "$TMP/list.q")" = "$ix" ] || fail "index list -q: $(cat "$TMP/list.q")"
same_both list.json index list --json
json_ok "$TMP/list.json" "index list --json" &&
    "$PY" - "$TMP/list.json" "$ix" "$manifest" "$(stat -c %s "$(blob "$L" "$ix")")" <<'EOF' || fail "index list --json: $(cat "$TMP/list.json")"
import json, sys
rows = json.load(open(sys.argv[1]))
assert len(rows) == 1, rows
r = rows[0]
assert (r["digest"], r["imageManifest"], r["size"]) == (sys.argv[2], sys.argv[3], int(sys.argv[4])), r
assert (r["imageRef"], r["platform"], r["manifestVersion"], r["ztocs"]) == ("t", "linux/amd64", "v1", 2), r
EOF
"$SOCI" index list -q "oci:$L:nope" >"$TMP/none" 2>&1 && [ ! -s "$TMP/none" ] || fail "index list of another tag: $(cat "$TMP/none")"

# index info
same_both info index info "$ix"
"$PY" -c 'import json, sys
assert json.load(open(sys.argv[1])) == json.load(open(sys.argv[2], "rb"))' "$TMP/info" "$(blob "$L" "$ix")" ||
    fail "index info does not print the index: $(head -c 300 "$TMP/info")"

# ztoc list
same_both zlist ztoc list
same_both zlist.json ztoc list --json
json_ok "$TMP/zlist.json" "ztoc list --json" &&
    "$PY" - "$TMP/zlist.json" "$(blob "$L" "$ix")" <<'EOF' || fail "ztoc list --json: $(cat "$TMP/zlist.json")"
import json, sys
rows = json.load(open(sys.argv[1]))
ix = json.load(open(sys.argv[2]))
want = [(z["digest"], z["size"], z["annotations"]["com.amazon.soci.image-layer-digest"], 4194304) for z in ix["layers"]]
assert [(r["digest"], r["size"], r["layerDigest"], r["spanSize"]) for r in rows] == want, rows
EOF
same_both zlist.q ztoc list -q
z1=$(sed -n 1p "$TMP/zlist.q")
z2=$(sed -n 2p "$TMP/zlist.q")
[ "$(wc -l <"$TMP/zlist.q")" -eq 2 ] || fail "ztoc list -q: $(cat "$TMP/zlist.q")"
grep -q "^$z1  *[0-9]*  *$small" "$TMP/zlist" && grep -q "^$z2  *[0-9]*  *$big" "$TMP/zlist" ||
    fail "ztoc list: $(cat "$TMP/zlist")"
same_both zlist.filter ztoc list --ztoc-digest "$z2" -q
[ "$(cat "$TMP/zlist.filter")" = "$z2" ] || fail "ztoc list --ztoc-digest: $(cat "$TMP/zlist.filter")"

# ztoc info
for z in "$z1" "$z2"; do
    same_both zinfo ztoc info "$z"
    json_ok "$TMP/zinfo" "ztoc info $z" &&
        "$PY" - "$TMP/zinfo" "$(stat -c %s "$(blob "$L" "$z")")" <<'EOF' || fail "ztoc info $z: $(head -c 400 "$TMP/zinfo")"
import json, sys
i = json.load(open(sys.argv[1]))
assert list(i) == ["version", "build_tool", "size", "span_size", "num_spans", "num_files",
                   "num_multi_span_files", "files"], list(i)
assert i["size"] == int(sys.argv[2]) and i["span_size"] == 4194304 and i["version"] == "0.9", i
assert i["build_tool"] and i["num_files"] == len(i["files"]) > 0 and i["num_spans"] >= 1, i
assert all(list(f) == ["filename", "offset", "size", "type", "start_span", "end_span"] for f in i["files"])
EOF
done
grep -q '"filename": "bin/busybox"' "$TMP/zinfo.oci" && fail "ztoc info of the data layer lists bin/busybox"

# get-file, from both layers
same_both hostname ztoc get-file "$z1" etc/hostname
grep -qx 'soci-demo' "$TMP/hostname" || fail "get-file etc/hostname: $(cat "$TMP/hostname")"
same_both readme ztoc get-file "$z2" data/README
grep -qx 'generated by scripts/make-sample-image.py' "$TMP/readme" || fail "get-file data/README: $(cat "$TMP/readme")"
"$SOCI" ztoc get-file --layout "$L" -o "$TMP/busybox" "$z1" bin/busybox 2>"$TMP/err" || fail "get-file -o: $(cat "$TMP/err")"
cmp -s "$TMP/busybox" /bin/busybox || fail "get-file bin/busybox differs from /bin/busybox"
"$SOCI" ztoc get-file --layout "$L" "$z1" etc/nope >/dev/null 2>"$TMP/err" && fail "get-file of a missing file succeeded"
one_line "$TMP/err" "get-file of a missing file"

# the wrong kind of digest, and unknown digests
"$SOCI" index info --layout "$L" "$z1" >/dev/null 2>"$TMP/err" && fail "index info of a ztoc succeeded"
one_line "$TMP/err" "index info of a ztoc" "the provided digest belongs to a ztoc. Use \`soci ztoc info\`"
"$SOCI" ztoc info --layout "$L" "$ix" >/dev/null 2>"$TMP/err" && fail "ztoc info of an index succeeded"
one_line "$TMP/err" "ztoc info of an index" "the provided digest belongs to a SOCI index. Use \`soci index info\`"
unknown=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
for c in "index info" "ztoc info" "index rm"; do
    # shellcheck disable=SC2086
    "$SOCI" $c --layout "$L" $unknown >/dev/null 2>"$TMP/err" && fail "$c of an unknown digest succeeded"
    one_line "$TMP/err" "$c of an unknown digest"
done

# index rm, by digest and by tag
for how in digest ref; do
    d=$TMP/rm.$how
    cp -a "$L" "$d"
    if [ $how = digest ]; then
        "$SOCI" index rm --layout "$d" "$ix" >"$TMP/rm.out" 2>"$TMP/err" || fail "index rm: $(cat "$TMP/err")"
    else
        "$SOCI" index rm "oci:$d" --ref t >"$TMP/rm.out" 2>"$TMP/err" || fail "index rm --ref: $(cat "$TMP/err")"
    fi
    [ "$(cat "$TMP/rm.out")" = "$ix" ] || fail "index rm ($how) printed: $(cat "$TMP/rm.out")"
    for b in "$ix" "$z1" "$z2"; do
        [ -e "$(blob "$d" "$b")" ] && fail "index rm ($how) left blob $b"
    done
    [ -z "$(soci_entries "$d")" ] || fail "index rm ($how) left the index.json entry"
    [ -z "$("$SOCI" index list -q "oci:$d")" ] || fail "index list after rm ($how) still shows an index"
    rm -f "$(blob "$d" sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a)"
    # index.json was rewritten (Go-canonical): compare it as JSON
    "$PY" -c 'import json, sys
assert json.load(open(sys.argv[1])) == json.load(open(sys.argv[2]))' "$TMP/orig/index.json" "$d/index.json" ||
        fail "index rm ($how): index.json differs from before indexing"
    diff -r -x index.json "$TMP/orig" "$d" >/dev/null || fail "index rm ($how): the layout differs from before indexing"
    if command -v skopeo >/dev/null 2>&1; then
        skopeo inspect "oci:$d:t" >/dev/null 2>"$TMP/err" || fail "skopeo inspect after index rm: $(cat "$TMP/err")"
    fi
done
finish
