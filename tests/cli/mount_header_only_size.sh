#!/bin/sh
# tests/cli/mount_header_only_size.sh -- a lazy mount of a layer whose
# directories carry a size in their tar headers
#
# GNU tar, like Go's reader, skips no data after a directory, whatever its
# size field says; the TOC records that size (as upstream's does).  The
# mount checks every span's tar headers against the TOC before serving a
# byte of it (ztoc_check_headers): until the checker gave header-only
# entries no data bytes, this layer's ztoc was refused (sizes over 512) or
# its headers looked for at the wrong place (see ztoc_header_only_size.sh).
# The layer: a 2.5 MiB file (the spans are 1 MiB), directories of sizes
# 700, 512 and 100, each followed by a file whose name uses the ustar
# prefix field, one of them across a span boundary.  Every file read
# through the mount must equal GNU tar's extraction.
. "$ROOT/tests/cli/lib/mount.sh"

"$PY" - "$TMP/layer.tar" "$ROOT/tests/cli/lib" <<'EOF' || die "cannot write the layer"
import random, sys
sys.path.insert(0, sys.argv[2])
from rawtar import pad, ustar_header as header

def body(n, k):
    # random bytes: deflate blocks stay small, so checkpoints fall every span
    return pad(random.Random(k).randbytes(n))

big = 2621440 + 300
t = header(b"big.bin", big, b"0") + body(big, 3)
t += header(b"d/", 700, b"5") + header(b"file.txt", 1000, b"0", prefix=b"d/p/q") + body(1000, 7)
t += header(b"e/", 512, b"5") + header(b"g.txt", 600000, b"0", prefix=b"e") + body(600000, 13)
t += header(b"f/", 100, b"5") + header(b"h.txt", 5, b"0", prefix=b"f") + body(5, 17)
t += b"\0" * 1024
open(sys.argv[1], "wb").write(t)
EOF

span_layout "$TMP/layer.tar"
"$SOCI" ztoc info "$Z" >"$TMP/info" 2>"$TMP/info.err" || fail "soci ztoc info refuses the ztoc: $(cat "$TMP/info.err")"
spans=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["num_spans"])' "$TMP/info" 2>/dev/null)
[ "${spans:-0}" -ge 3 ] || fail "the layer has ${spans:-no} spans, want 3 or more"

mkdir -p "$TMP/mp"
mount_fg "$TMP/mp" "$TMP/mount.log" --no-background-fetch --cache-dir "$TMP/cache" "oci:$TMP/img:t" --layer "$L" ||
    die "the layer does not mount"
n=0
for f in big.bin d/p/q/file.txt e/g.txt f/h.txt; do
    if cmp -s "$TMP/mp/$f" "$TMP/ref/$f"; then
        n=$((n + 1))
    else
        fail "$f read through the mount differs from GNU tar's extraction ($(cmp "$TMP/mp/$f" "$TMP/ref/$f" 2>&1 | head -n 1))"
    fi
done
for d in d e f; do
    [ -d "$TMP/mp/$d" ] || fail "directory $d missing from the mount"
done
echo "ok: $n files identical to GNU tar's, $spans spans"
unmount "$TMP/mp" "$MPID" || fail "fusermount3 -u did not end soci-mount"
finish
