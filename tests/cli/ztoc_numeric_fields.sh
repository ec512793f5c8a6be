#!/bin/sh
# tests/cli/ztoc_numeric_fields.sh -- tar numeric fields with bytes after
# their terminating NUL
#
# A reader takes an octal field up to its first NUL and ignores what
# follows (Go's parseOctal, GNU tar, Python tarfile): "011113\0\x18" is a
# valid checksum, "0000001274\0Z" a size of 700.  ztoc-gen read such
# headers, but the check of decoded spans against the TOC
# (ztoc_check_headers, run by get-file and by the mount before serving a
# byte) refused them: "the layer has no tar header where its ztoc puts
# ...".  fuzz_layer_index found it (its input is one of the layers here).
# Each layer goes through ztoc-gen (tar and gzip), then check_ztoc.py (the
# oracle: flatc and Python tarfile), `soci ztoc info`, and `soci ztoc
# get-file` of every regular file compared with GNU tar's extraction.
. "$ROOT/tests/cli/lib/ztoc_oracle.sh"
REPRO=$ROOT/tests/fuzz/corpus/fuzz_layer_index/checksum-after-nul

"$PY" - "$TMP" "$REPRO" "$ROOT/tests/cli/lib" <<'EOF' || { echo "cannot generate the layers"; exit 1; }
import os, random, sys

d, repro = sys.argv[1], sys.argv[2]
sys.path.insert(0, sys.argv[3])
from rawtar import checksum, pad, set_field, ustar_header

def body(n, k):
    return pad(random.Random(k).randbytes(n))

t = checksum(ustar_header(b"a.txt", 700, b"0"), tail=b"\0\x18") + body(700, 1)
t += set_field(ustar_header(b"b.txt", 700, b"0"), 124, b"0000001274\0Z") + body(700, 2)
t += checksum(ustar_header(b"d/", 0, b"5"), tail=b"\0\xff")
t += checksum(ustar_header(b"c.txt", 3000, b"0", prefix=b"d/e"), tail=b"\0\x01") + body(3000, 3)
t += b"\0" * 1024
with open(os.path.join(d, "fields.tar"), "wb") as f:
    f.write(t)
# the fuzzer's input: mode byte 0 (the payload is the layer) and 4 seed bytes
with open(repro, "rb") as f:
    raw = f.read()
if raw[0] % 3 != 0:
    raise SystemExit("the reproducer is no longer a mode-0 input")
with open(os.path.join(d, "fuzz_repro.tar"), "wb") as f:
    f.write(raw[5:])
EOF

for name in fields fuzz_repro; do
    x=$TMP/x.$name
    mkdir -p "$x"
    tar -xf "$TMP/$name.tar" -C "$x" 2>"$TMP/tar.err" || fail "$name: GNU tar cannot extract it: $(head -n 1 "$TMP/tar.err")"
    for layer in $(plain_and_gzip "$TMP/$name.tar"); do
        index_checked "$layer" || continue
        get_files_match "$z" "$layer" "$x" "$lname"
        [ "$matched" -gt 0 ] || fail "$lname: no regular file compared"
        [ "$failures" -eq "$before" ] && echo "ok $lname: oracle clean, $matched files identical to GNU tar's"
    done
done

finish
