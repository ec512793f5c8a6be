#!/bin/sh
# tests/cli/packer_forged_stream.sh -- soci-pack trusts no digest of the
# record stream: it recomputes what it writes and refuses what does not fit.
#
# A real stream (`soci-layers | ztoc-gen` on the sample image, every layer
# indexed) is saved, then one string of it replaced by another of the same
# length (docs/format.md §5: msgpack strings; same length, same framing):
#   - a ztoc record's ztoc digest -> a different valid digest (the bytes do
#     not match it);
#   - that digest -> "sha256:../../.." (71 characters: a path, not a digest);
#   - a ztoc record's layer digest -> a digest of no layer of the image;
#   - the image record's manifest digest -> "sha256:../..".
# For each: soci-pack exits non-zero with exactly one line on stderr naming
# the problem, and the layout is byte for byte as before.  The saved stream
# as it is: soci-pack exits 0, and every blob the new SOCI index names is
# in the layout under its digest (check_soci.py, which hashes them).
. "$ROOT/tests/cli/lib/packer.sh"

sample "$TMP/img" t --big-mib 2
"$LAYERS" "oci:$TMP/img:t" </dev/null 2>"$TMP/layers.err" | "$ZG" -q --min-layer-size 0 >"$TMP/stream" 2>"$TMP/zg.err" ||
    die "soci-layers | ztoc-gen failed: $(cat "$TMP/layers.err" "$TMP/zg.err")"
manifest=$(tagged "$TMP/img" t)
layer=$(layer_digests "$TMP/img" t | sed -n 1p)
[ -n "$manifest" ] && [ -n "$layer" ] || die "cannot read the sample image"
# the first ztoc record's ztoc digest: the only "sha256:" string of the
# stream naming no blob of the layout (ztocs are not written yet)
ztoc=$("$PY" - "$TMP/stream" "$TMP/img" <<'EOF'
import os, re, sys
b = open(sys.argv[1], "rb").read()
for m in re.finditer(rb"sha256:[0-9a-f]{64}", b):
    d = m.group().decode()
    if not os.path.exists(os.path.join(sys.argv[2], "blobs", "sha256", d[7:])):
        print(d)
        break
EOF
)
[ -n "$ztoc" ] || die "no ztoc digest in the stream"
cp -a "$TMP/img" "$TMP/before"

# forge OUT OLD NEW: the stream with the string OLD (which must be in it,
# once per record that carries it) replaced by NEW, of the same length
forge() {
    "$PY" - "$TMP/stream" "$@" <<'EOF' || die "cannot forge the stream"
import sys
b = open(sys.argv[1], "rb").read()
old, new = sys.argv[3].encode(), sys.argv[4].encode()
assert len(old) == len(new) and old in b, (sys.argv[3], sys.argv[4])
open(sys.argv[2], "wb").write(b.replace(old, new, 1))
EOF
}
path71="sha256:$(printf '../%.0s' $(seq 1 21))a"
other="sha256:$(printf '%064d' 7)"
h=${ztoc#sha256:}
case "$h" in 0*) wrong=sha256:1${h#?} ;; *) wrong=sha256:0${h#?} ;; esac
forge "$TMP/s.wrong" "$ztoc" "$wrong"
forge "$TMP/s.path" "$ztoc" "$path71"
forge "$TMP/s.layer" "$layer" "$other"
forge "$TMP/s.manifest" "$manifest" "$path71"

# refused NAME STREAM TEXT: soci-pack refuses STREAM with one line naming TEXT, layout untouched
refused() {
    "$PACK" "oci:$TMP/img:t" <"$2" >"$TMP/out" 2>"$TMP/err"
    rc=$?
    [ $rc -ne 0 ] || fail "$1: soci-pack exited 0"
    one_line "$TMP/err" "$1" "$3"
    if ! diff -r "$TMP/before" "$TMP/img" >"$TMP/diff" 2>&1; then
        fail "$1: the layout changed: $(head -n 5 "$TMP/diff")"
        rm -rf "$TMP/img" && cp -a "$TMP/before" "$TMP/img"
    fi
    echo "ok: $1: exit $rc: $(cat "$TMP/err")"
}
refused "a ztoc digest its bytes do not match" "$TMP/s.wrong" "do not match"
refused "a path as ztoc digest" "$TMP/s.path" "not a digest"
refused "a layer the image does not have" "$TMP/s.layer" "not layer"
refused "a path as manifest digest" "$TMP/s.manifest" "not a digest"

"$PACK" "oci:$TMP/img:t" <"$TMP/stream" >"$TMP/out" 2>"$TMP/err" || fail "the real stream: soci-pack failed: $(cat "$TMP/err")"
ix=$(soci_entries "$TMP/img")
[ -n "$ix" ] || fail "the real stream: no SOCI index in index.json"
$CHECK "$TMP/img" --expect 1 --min-layer-size 0 >"$TMP/check" 2>&1 || fail "the real stream: check_soci: $(cat "$TMP/check")"
finish
