#!/bin/sh
# ztoc_isal_identical.sh -- ztoc-gen's ISA-L inflater gives the zlib path's
# ztoc, byte for byte, and its error lines.
#
# The checkpoints are zlib's Z_BLOCK stops (the first deflate block end past
# each span); the ISA-L path finds them another way (gzip_index_isal.c), so
# here both paths index the same layers and `cmp` compares the ztocs:
#   1. every gzip layer of tests/corpus/make_corpus.sh (gzip -1/-6/-9, pigz,
#      pigz -i, busybox, multi-member, header fields, stored deflate), at
#      the default span and at 64 KiB and 1 MiB;
#   2. layers made here (Python zlib) so that block ends fall exactly at,
#      one byte before and one byte after span thresholds: stored blocks
#      (level 0), tiny fixed-Huffman blocks (Z_FIXED, a Z_BLOCK or
#      Z_SYNC_FLUSH or Z_FULL_FLUSH after each short write: their 3-bit
#      headers share a byte with the end-of-block code), dynamic blocks,
#      1-byte members, empty members, many members, empty blocks first;
#      each at spans of the write size, one less and one more;
#   3. broken layers: cut at every byte of four layers' last 40 and first
#      16 bytes and at 30 points between, a wrong trailer CRC-32, a wrong
#      length, trailing garbage: the same exit status and the same stderr
#      line from both paths; and a dynamic block header with an incomplete
#      Huffman code, which zlib refuses and ISA-L alone would decode.
# Skips (77) only when ztoc-gen was built without ISA-L.
set -u
PY=/usr/bin/python3
ZG=$BIN/ztoc-gen
for tool in $PY gzip pigz busybox tar cmp; do
    command -v "$tool" >/dev/null 2>&1 || { echo "FAIL: $tool is not installed"; exit 1; }
done
printf '' | gzip -c >"$TMP/empty.gz"
if ! "$ZG" --inflater isal -o "$TMP/probe.ztoc" "$TMP/empty.gz" 2>"$TMP/probe.err"; then
    if grep -q 'invalid --inflater' "$TMP/probe.err"; then
        echo "skip: ztoc-gen was built without ISA-L"
        exit 77
    fi
fi

failures=0 compared=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# same LAYER SPAN: both inflaters, same exit status, same ztoc or same error
same() {
    layer=$1 span=$2
    "$ZG" --inflater zlib --span-size "$span" -o "$TMP/z.ztoc" "$layer" 2>"$TMP/z.err"
    rz=$?
    "$ZG" --inflater isal --span-size "$span" -o "$TMP/i.ztoc" "$layer" 2>"$TMP/i.err"
    ri=$?
    compared=$((compared + 1))
    if [ $rz != $ri ]; then
        fail "$(basename "$layer") span $span: zlib exit $rz ($(cat "$TMP/z.err")), isal exit $ri ($(cat "$TMP/i.err"))"
    elif [ $rz = 0 ]; then
        cmp -s "$TMP/z.ztoc" "$TMP/i.ztoc" ||
            fail "$(basename "$layer") span $span: the ztocs differ"
    else
        cmp -s "$TMP/z.err" "$TMP/i.err" ||
            fail "$(basename "$layer") span $span: zlib says \"$(cat "$TMP/z.err")\", isal \"$(cat "$TMP/i.err")\""
    fi
    rm -f "$TMP/z.ztoc" "$TMP/i.ztoc"
    return 0
}

# ---- 1. the corpus
sh "$ROOT/tests/corpus/make_corpus.sh" "$TMP/corpus" >/dev/null 2>&1 ||
    { echo "FAIL: make_corpus.sh failed"; exit 1; }
n=0
for layer in "$TMP/corpus/layers"/*.tgz; do
    for span in 4194304 1048576 65536; do
        same "$layer" $span
    done
    n=$((n + 1))
done
echo "corpus: $n gzip layers, $compared comparisons, $failures failures"
[ $n -ge 10 ] || fail "only $n corpus layers"

# ---- 2. block ends at span thresholds
mkdir -p "$TMP/made"
"$PY" - "$TMP/made" <<'EOF' || { echo "FAIL: cannot make the layers"; exit 1; }
import io, os, random, struct, sys, tarfile, zlib

d = sys.argv[1]
rnd = random.Random(12)

def tar_bytes(total):
    """a tar of files mixing text, repeats and random bytes"""
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.PAX_FORMAT) as t:
        i = 0
        while b.tell() < total:
            kind = i % 3
            n = rnd.choice([0, 1, 100, 511, 512, 513, 4000, 20000, 70000])
            if kind == 0:
                data = bytes(rnd.getrandbits(8) for _ in range(n))
            elif kind == 1:
                data = (b"line %d of some text\n" % i) * (n // 20 + 1)
            else:
                data = bytes([rnd.choice(b"ab")]) * n
            ti = tarfile.TarInfo("d/f%05d" % i)
            ti.size = len(data[:n])
            t.addfile(ti, io.BytesIO(data[:n]))
            i += 1
    return b.getvalue()

def member(raw, level=6, strategy=zlib.Z_DEFAULT_STRATEGY, writes=None, flush=None,
           lead_empty=0):
    """one gzip member of raw: written in pieces of the sizes in writes
    (cycled), each followed by flush; lead_empty empty blocks first"""
    c = zlib.compressobj(level, zlib.DEFLATED, -15, 8, strategy)
    out = [b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"]
    for _ in range(lead_empty):
        out.append(c.flush(zlib.Z_SYNC_FLUSH))
    pos, k = 0, 0
    while writes and pos < len(raw):
        w = writes[k % len(writes)]
        out.append(c.compress(raw[pos:pos + w]))
        if flush is not None:
            out.append(c.flush(flush))
        pos += w
        k += 1
    out.append(c.compress(raw[pos:]))
    out.append(c.flush(zlib.Z_FINISH))
    out.append(struct.pack("<II", zlib.crc32(raw) & 0xffffffff, len(raw) & 0xffffffff))
    return b"".join(out)

def put(name, data, spans):
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    with open(os.path.join(d, name + ".spans"), "w") as f:
        f.write(" ".join(str(s) for s in spans) + "\n")

raw = tar_bytes(600000)
S = 20000
near = [S - 1, S, S + 1]
# block ends every S, S-1, S+1 bytes: thresholds land on, before and after them
for fl, fname in ((zlib.Z_SYNC_FLUSH, "sync"), (zlib.Z_FULL_FLUSH, "full"), (zlib.Z_BLOCK, "block")):
    put("dyn_%s.tgz" % fname, member(raw, 6, writes=near, flush=fl), near + [4096])
    put("fixed_%s.tgz" % fname, member(raw, 6, zlib.Z_FIXED, writes=near, flush=fl), near)
    put("stored_%s.tgz" % fname, member(raw, 0, writes=near, flush=fl), near)
# tiny fixed-Huffman blocks: 1-7 byte writes, each its own block
small = raw[:30000]
put("fixed_tiny_block.tgz", member(small, 6, zlib.Z_FIXED, writes=[1, 2, 3, 5, 7], flush=zlib.Z_BLOCK),
    [1, 2, 3, 4, 5, 6, 7, 8, 100])
put("fixed_tiny_sync.tgz", member(small, 1, zlib.Z_FIXED, writes=[1, 3, 4], flush=zlib.Z_SYNC_FLUSH),
    [1, 2, 3, 4, 5, 1000])
put("huffman_only_block.tgz", member(small, 6, zlib.Z_HUFFMAN_ONLY, writes=[9, 10, 11], flush=zlib.Z_BLOCK),
    [9, 10, 11, 31, 32])
# stored blocks of exactly the span, empty blocks at the very start (more
# checkpoints at offset 0), and a level-0 member of 64 KiB blocks
put("lead_empty.tgz", member(raw, 0, writes=[65535, 1, 65536], flush=zlib.Z_FULL_FLUSH, lead_empty=3),
    [65534, 65535, 65536, 65537])
put("stored_plain.tgz", member(raw, 0), [65535, 65536, 100000])
# members: 1-byte members, empty members, members cut at the span
def members(sizes, empties_every=0):
    out, pos, k = [], 0, 0
    while pos < len(raw):
        n = sizes[k % len(sizes)]
        out.append(member(raw[pos:pos + n], 6))
        if empties_every and k % empties_every == 0:
            out.append(member(b"", 6))
        pos += n
        k += 1
    return b"".join(out)
put("members_near.tgz", members(near), near)
put("members_empty.tgz", members([S, 1, S - 1, 1, 1], empties_every=2), near + [1, 2])
one = b"".join(member(raw[i:i + 1], 9) for i in range(3000))
put("members_1byte.tgz", member(b"", 6) + one + member(raw[3000:], 6), [1, 2, 100, 2999, 3000, 3001])
# mixed strategies per member, and a member of only empty blocks then data
put("members_mixed.tgz",
    member(raw[:200000], 0, writes=near, flush=zlib.Z_SYNC_FLUSH) +
    member(raw[200000:400000], 6, zlib.Z_FIXED, writes=[7, 13], flush=zlib.Z_BLOCK) +
    member(raw[400000:], 9, writes=near, flush=zlib.Z_FULL_FLUSH), near)
EOF
before=$compared
for layer in "$TMP/made"/*.tgz; do
    for span in $(cat "$layer.spans"); do
        same "$layer" "$span"
    done
done
echo "made layers: $(ls "$TMP/made"/*.tgz | wc -l) layers, $((compared - before)) comparisons, $failures failures so far"

# ---- 3. broken layers: the same error line
mkdir -p "$TMP/bad"
"$PY" - "$TMP/bad" "$TMP/made/fixed_tiny_block.tgz" "$TMP/made/members_empty.tgz" \
    "$TMP/corpus/layers/handmade.gz9.tgz" "$TMP/made/stored_sync.tgz" <<'EOF' || { echo "FAIL: cannot make the broken layers"; exit 1; }
import os, sys

d = sys.argv[1]
k = 0
for src in sys.argv[2:]:
    data = open(src, "rb").read()
    n = len(data)
    cuts = set(range(0, min(n, 16))) | set(range(max(0, n - 40), n))
    cuts |= set(range(16, n - 40, max(1, n // 30)))
    base = os.path.basename(src)
    for c in sorted(cuts):
        with open(os.path.join(d, "cut%05d_%s_%d" % (k, base, c)), "wb") as f:
            f.write(data[:c])
        k += 1
    for name, b in (("crc", n - 8), ("crc3", n - 5), ("len", n - 4), ("len3", n - 1)):
        bad = bytearray(data)
        bad[b] ^= 0x40
        with open(os.path.join(d, "%s_%s" % (name, base)), "wb") as f:
            f.write(bytes(bad))
    with open(os.path.join(d, "garbage_%s" % base), "wb") as f:
        f.write(data + b"\x1f")
    # a CRC-32 cut after its 4 bytes (the length missing): still checked
    bad = bytearray(data[:n - 3])
    bad[n - 8] ^= 1
    with open(os.path.join(d, "crccut_%s" % base), "wb") as f:
        f.write(bytes(bad))

# A dynamic block whose literal/length code is incomplete (two 2-bit codes:
# "a" and end-of-block): zlib refuses the header, ISA-L alone would decode
# "a".  Both paths must give zlib's error line.
bits = []
def put_bits(v, n):
    bits.extend((v >> i) & 1 for i in range(n))
order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
put_bits(1, 1); put_bits(2, 2)                  # final, dynamic
put_bits(0, 5); put_bits(0, 5); put_bits(15, 4)  # 257 lit/len, 1 distance, 19 code-length codes
for sym in order:
    put_bits(1 if sym in (0, 2) else 0, 3)       # code-length code: 0 -> "0", 2 -> "1"
for sym in range(258):
    bits.append(1 if sym in (97, 256) else 0)    # lengths 2 for "a" and end-of-block, else 0
bits.extend([0, 0, 0, 1])                        # "a" (00), end-of-block (01)
bits.extend([0] * (-len(bits) % 8))
body = bytes(sum(bits[i + j] << j for j in range(8)) for i in range(0, len(bits), 8))
with open(os.path.join(d, "incomplete_code.gz"), "wb") as f:
    f.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + body +
            (0xe8b7be43).to_bytes(4, "little") + (1).to_bytes(4, "little"))
EOF
before=$compared
for layer in "$TMP/bad"/*; do
    same "$layer" 4096
done
echo "broken layers: $((compared - before)) comparisons"

echo "$compared comparisons, $failures failures"
[ $failures -eq 0 ]
