#!/bin/sh
# tests/cli/ztoc_bad_input.sh -- ztoc-gen refuses broken layers cleanly
#
# For each broken layer: a non-zero exit, exactly one line on stderr naming
# the problem and where it is, and nothing written: no output file, no
# temporary file left beside it, nothing on stdout when writing there.
# The inputs are generated here from one small tar (python3, gzip).
set -u
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
GEN=$BIN/ztoc-gen
IN=$TMP/in
OUTD=$TMP/out
mkdir -p "$IN" "$OUTD"
failures=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# inputs, and a manifest: name <TAB> expected text <TAB> more expected text
"$PY" - "$IN" <<'EOF' || { echo "cannot generate inputs"; exit 1; }
import gzip, io, os, sys, tarfile, zlib

d = sys.argv[1]
manifest = []

def put(name, data, *expect):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    if expect:
        manifest.append("\t".join((name,) + expect))

def header(name, size_field, typeflag=b"0"):
    h = bytearray(512)
    h[0:len(name)] = name
    h[100:108] = b"0000644\0"
    h[108:116] = b"0000000\0"
    h[116:124] = b"0000000\0"
    h[124:136] = size_field
    h[136:148] = b"14524000000\0"
    h[156:157] = typeflag
    h[257:265] = b"ustar\x0000"
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\0 " % sum(h)
    return bytes(h)

def pad(data):
    return data + b"\0" * (-len(data) % 512)

# a layer: two small files, one big compressible file (many deflate blocks), one more
seed = 1
words = [b"layer ", b"span ", b"checkpoint ", b"inflate ", b"window\n", b"gzip ", b"tar "]
big = bytearray()
while len(big) < 300000:
    seed = (seed * 1103515245 + 12345) % 2**31
    big += words[(seed >> 16) % len(words)]
buf = io.BytesIO()
tf = tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT)
for name, data in ((b"first.txt", b"a" * 100), (b"second.txt", b"b" * 10),
                   (b"big.txt", bytes(big)), (b"last.txt", b"c" * 5)):
    t = tarfile.TarInfo(name.decode())
    t.size = len(data)
    t.mtime = 1700000000
    tf.addfile(t, io.BytesIO(data))
tf.close()
tar = buf.getvalue()[:tf.offset]
gz = gzip.compress(tar, mtime=0)
put("good.tar.gz", gz)
n = len(gz)

put("empty", b"", "empty input")
put("trunc-header", gz[:5], "truncated gzip: input ends at compressed byte 5, inside the gzip header")
put("trunc-last-block", gz[:n // 2],   # this text deflates to a single block
    "truncated gzip: input ends at compressed byte %d, before the end of the last block or the gzip trailer" % (n // 2))
put("trunc-trailer", gz[:-4],
    "truncated gzip: input ends at compressed byte %d, before the end of the last block or the gzip trailer" % (n - 4))

# corrupt deflate: a full flush in the middle of big.txt leaves a byte-aligned
# empty stored block (00 00 ff ff) followed by a block header on a byte
# boundary; break either, and zlib must stop right there
c = zlib.compressobj(9, zlib.DEFLATED, 31)
head = c.compress(tar[:2560 + 150000]) + c.flush(zlib.Z_FULL_FLUSH)
synced = head + c.compress(tar[2560 + 150000:]) + c.flush()
assert head.endswith(b"\0\0\xff\xff")
put("synced.tar.gz", synced)
put("trunc-middle", synced[:len(head) // 2],
    "truncated gzip: input ends at compressed byte %d, inside deflate data" % (len(head) // 2))
bad = bytearray(synced)
bad[len(head)] = (bad[len(head)] & ~7) | 6       # BTYPE 11: reserved
put("corrupt-block-type", bytes(bad), "corrupt deflate data at compressed byte", "(invalid block type)")
bad = bytearray(synced)
bad[len(head) - 2] ^= 0x01                        # LEN != ~NLEN
put("corrupt-stored-length", bytes(bad), "corrupt deflate data at compressed byte", "(invalid stored block lengths)")

bad = bytearray(gz)
bad[-8] ^= 0x55
put("bad-crc", bytes(bad), "gzip CRC mismatch: the trailer's CRC-32 at compressed byte %d" % (n - 8))
bad = bytearray(gz)
bad[-1] ^= 0x01
put("bad-isize", bytes(bad), "gzip length mismatch: the trailer's size at compressed byte %d" % (n - 4))

# tar damage, inside valid gzip
bad = bytearray(tar)
bad[1024] ^= 0x20                    # the second header's name, checksum left as is
put("tar-checksum", gzip.compress(bytes(bad), mtime=0),
    "tar header checksum mismatch at uncompressed offset 1024")
text = b"this is a text file, not a tar archive\n" * 50
put("not-tar", gzip.compress(text, mtime=0), "not a tar archive: tar header checksum mismatch at uncompressed offset 0")
put("not-tar-short", gzip.compress(text[:100], mtime=0),
    "not a tar archive: the stream ends after 100 bytes, inside the first header")
pax = b"99 path=foo\n"
put("pax-overrun", gzip.compress(header(b"PaxHeaders/x", b"%011o\0" % len(pax), b"x") + pad(pax) +
                                 header(b"x", b"%011o\0" % 0) + b"\0" * 1024, mtime=0),
    "invalid PAX record in the extended header at uncompressed offset 0",
    "its length 99 runs past the header's 12 remaining bytes")
put("negative-size", gzip.compress(header(b"neg", b"\xff" * 12) + b"\0" * 1024, mtime=0),
    "negative size in tar header at uncompressed offset 0")
put("negative-size-2nd", gzip.compress(header(b"ok", b"%011o\0" % 0) + header(b"neg", b"\xff" * 11 + b"\xfe") +
                                       b"\0" * 1024, mtime=0),
    "negative size in tar header at uncompressed offset 512")
put("absurd-size", gzip.compress(header(b"huge", b"\x80\0\0\0\x7f" + b"\xff" * 7) + b"\0" * 1024, mtime=0),
    "absurd size in tar header at uncompressed offset 0")
put("enormous-size", gzip.compress(header(b"huge.bin", b"77777777777\0") + b"\0" * 1024, mtime=0),
    "tar stream ends at uncompressed offset 1536, %d bytes before the end of \"huge.bin\"" % (0o77777777777 - 1024))
put("plain-tar-truncated", tar[:5000],
    "tar stream ends at uncompressed offset 5000, %d bytes before the end of \"big.txt\"" % (len(big) - (5000 - 2048 - 512)))
put("zstd", bytes.fromhex("28b52ffd2400050000") + b"zstd frame", "zstd magic at compressed byte 0: zstd layers are not supported")
put("trailing-garbage", gz + b"garbage", "trailing garbage after the last gzip member at compressed byte %d" % n)
put("trailing-zeros", gz + b"\0" * 1024, "trailing garbage after the last gzip member at compressed byte %d" % n)
put("trailing-half-magic", gz + b"\x1f", "trailing garbage after the last gzip member at compressed byte %d" % n)
put("trailing-bad-member", gz + b"\x1f\x8b\x09\x00junk", "bad gzip header at compressed byte")

with open(os.path.join(d, "MANIFEST"), "w") as f:
    f.write("\n".join(manifest) + "\n")
EOF

# run CMD... with stdin from $stdin_file (or /dev/null); results in $TMP/{stdout,stderr}, $rc
run() {
    "$@" <"${stdin_file:-/dev/null}" >"$TMP/stdout" 2>"$TMP/stderr"
    rc=$?
}

# the common verdict on a refused input
check_refused() {
    name=$1
    shift
    [ "$rc" -ne 0 ] || fail "$name: exit status 0"
    lines=$(wc -l <"$TMP/stderr")
    [ "$lines" -eq 1 ] || fail "$name: $lines lines on stderr: $(head -c 600 "$TMP/stderr")"
    for want in "$@"; do
        [ -z "$want" ] && continue
        grep -qF -- "$want" "$TMP/stderr" || fail "$name: stderr lacks \"$want\": $(cat "$TMP/stderr")"
    done
    grep -q '^ztoc-gen: ' "$TMP/stderr" || fail "$name: not prefixed with the program name"
    [ -z "$(ls -A "$OUTD")" ] || fail "$name: left files behind: $(ls -A "$OUTD")"
    rm -rf "$OUTD" && mkdir -p "$OUTD"
}

# sanity: the good layer indexes, to a file and to stdout
run "$GEN" -o "$OUTD/out.ztoc" "$IN/good.tar.gz"
[ "$rc" -eq 0 ] && [ -s "$OUTD/out.ztoc" ] || fail "good layer: exit $rc, $(cat "$TMP/stderr")"
[ "$(ls -A "$OUTD")" = "out.ztoc" ] || fail "good layer: stray files $(ls -A "$OUTD")"
rm -rf "$OUTD" && mkdir -p "$OUTD"
stdin_file=$IN/good.tar.gz run "$GEN"
[ "$rc" -eq 0 ] && [ -s "$TMP/stdout" ] && [ ! -s "$TMP/stderr" ] || fail "good layer on stdin: exit $rc"

n=0
tab=$(printf '\t')
while IFS=$tab read -r name want1 want2; do
    [ -n "$name" ] || continue
    n=$((n + 1))
    run "$GEN" -o "$OUTD/out.ztoc" "$IN/$name"
    check_refused "$name" "$want1" "${want2:-}" "ztoc-gen: $IN/$name: "
    # the same from stdin: nothing may reach stdout
    stdin_file=$IN/$name run "$GEN" --no-threads
    [ ! -s "$TMP/stdout" ] || fail "$name (stdin): $(wc -c <"$TMP/stdout") bytes written to stdout"
    check_refused "$name (stdin)" "$want1" "${want2:-}" "ztoc-gen: stdin: "
done <"$IN/MANIFEST"
[ "$n" -ge 20 ] || fail "only $n bad inputs in the manifest"

# a digest that does not match: refused after indexing, nothing written
actual=sha256:$(sha256sum "$IN/good.tar.gz" | cut -d' ' -f1)
zero=sha256:0000000000000000000000000000000000000000000000000000000000000000
run "$GEN" --expect-digest "$zero" -o "$OUTD/out.ztoc" "$IN/good.tar.gz"
check_refused "expect-digest" "layer digest mismatch: expected $zero, got $actual"
stdin_file=$IN/good.tar.gz run "$GEN" --expect-digest "$zero"
[ ! -s "$TMP/stdout" ] || fail "expect-digest (stdin): wrote to stdout"
check_refused "expect-digest (stdin)" "layer digest mismatch"
# ... and the right one passes
run "$GEN" --expect-digest "$actual" -o "$OUTD/out.ztoc" "$IN/good.tar.gz"
[ "$rc" -eq 0 ] && [ -s "$OUTD/out.ztoc" ] || fail "expect-digest with the right digest: exit $rc"
rm -rf "$OUTD" && mkdir -p "$OUTD"

# an output directory that does not exist: one line, nothing created
run "$GEN" -o "$OUTD/no/such/dir/out.ztoc" "$IN/good.tar.gz"
check_refused "missing output directory" "$OUTD/no/such/dir/out.ztoc"

if [ "$failures" -ne 0 ]; then
    echo "$failures failures"
    exit 1
fi
echo "all $n bad inputs refused cleanly"
