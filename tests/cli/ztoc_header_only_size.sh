#!/bin/sh
# tests/cli/ztoc_header_only_size.sh -- entries of a header-only type (dir,
# fifo, symlink, ...) whose header carries a non-zero size
#
# A tar reader skips no data after such an entry, but reports (and the TOC
# records, as upstream's does) the size field.  fuzz_layer_index found
# ztoc-gen writing such a TOC and `soci ztoc` then refusing it ("has no room
# for its tar header"): the next header was placed after the bogus size.
# Each layer here goes through ztoc-gen (tar and gzip), then must pass:
#   - tests/corpus/check_ztoc.py, the independent oracle (flatc and Python
#     tarfile, which skips data after header-only entries as Go does), with
#     `soci ztoc info` and a get-file per span compared with the tar's bytes;
#   - `soci ztoc get-file` of each regular file, compared with what GNU tar
#     extracts (dir_size) or with Python tarfile's bytes (fifo_link_size:
#     GNU tar skips a fifo's or a link's size field as data, Go and tarfile
#     do not, so GNU tar is no counterpart there);
#   - the fuzzer's own input (tests/fuzz/corpus/fuzz_layer_index/
#     header-only-with-size: a fifo of size 32 before a ustar-prefixed file).
. "$ROOT/tests/cli/lib/ztoc_oracle.sh"
REPRO=$ROOT/tests/fuzz/corpus/fuzz_layer_index/header-only-with-size

# the layers, and per layer the regular files: name <TAB> expected bytes file
"$PY" - "$TMP" "$REPRO" "$ROOT/tests/cli/lib" <<'EOF' || { echo "cannot generate the layers"; exit 1; }
import io, os, sys, tarfile

d, repro = sys.argv[1], sys.argv[2]
sys.path.insert(0, sys.argv[3])
from rawtar import pad, ustar_header as header

def body(n, k):
    return bytes((i * k + 3) % 251 for i in range(n))

END = b"\0" * 1024
layers = {
    # directories: GNU tar, like Go, skips no data after them.  700 > 512:
    # upstream's own loader refuses this TOC; 512: it puts the next header
    # one block late; 100 is the case the fuzzer found
    "dir_size": header(b"d/", 700, b"5") +
                header(b"file.txt", 1000, b"0", prefix=b"p/q/r") + pad(body(1000, 7)) +
                header(b"e/", 512, b"5") + header(b"f/", 100, b"5") +
                header(b"g.txt", 600, b"0", prefix=b"f") + pad(body(600, 13)) + END,
    # a fifo and links with sizes, each followed by a ustar-prefixed file
    "fifo_link_size": header(b"fifo", 32, b"6") +
                header(b"a.txt", 300, b"0", prefix=b"x/y") + pad(body(300, 5)) +
                header(b"s", 600, b"2", linkname=b"x/y/a.txt") +
                header(b"b.txt", 2000, b"0", prefix=b"x") + pad(body(2000, 11)) +
                header(b"h", 100, b"1", linkname=b"x/b.txt") + header(b"c", 5, b"3") + END,
}
# the fuzzer's input: mode byte 0 (the payload is the layer) and 4 seed bytes
with open(repro, "rb") as f:
    raw = f.read()
if raw[0] % 3 != 0:
    raise SystemExit("the reproducer is no longer a mode-0 input")
layers["fuzz_repro"] = raw[5:]

for name, tar in layers.items():
    with open(os.path.join(d, name + ".tar"), "wb") as f:
        f.write(tar)
    with open(os.path.join(d, name + ".files"), "w") as lst:
        with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
            for i, m in enumerate(tf.getmembers()):
                if m.isreg():
                    want = os.path.join(d, "%s.want%d" % (name, i))
                    with open(want, "wb") as w:
                        w.write(tf.extractfile(m).read())
                    lst.write("%s\t%s\n" % (m.name, want))
EOF

# GNU tar's extraction of the layer where GNU tar reads it as Go does
mkdir -p "$TMP/x"
tar -xf "$TMP/dir_size.tar" -C "$TMP/x" || fail "GNU tar cannot extract dir_size.tar"

for name in dir_size fifo_link_size fuzz_repro; do
    for layer in $(plain_and_gzip "$TMP/$name.tar"); do
        index_checked "$layer" || continue
        n=0
        while IFS="$(printf '\t')" read -r file want; do
            if ! "$SOCI" ztoc get-file -o "$TMP/got" "$z" "$layer" "$file" 2>"$TMP/err"; then
                fail "$lname: get-file \"$file\" failed: $(cat "$TMP/err")"
                continue
            fi
            cmp -s "$TMP/got" "$want" || fail "$lname: get-file \"$file\" differs from Python tarfile's bytes"
            if [ "$name" = dir_size ]; then
                cmp -s "$TMP/got" "$TMP/x/$file" || fail "$lname: get-file \"$file\" differs from GNU tar's extraction"
            fi
            n=$((n + 1))
        done <"$TMP/$name.files"
        [ "$n" -gt 0 ] || fail "$lname: no regular file compared"
        [ "$failures" -eq "$before" ] &&
            echo "ok $lname: oracle clean, $n files read back, $(grep -c '"filename"' "$TMP/info") TOC entries"
    done
done

finish
