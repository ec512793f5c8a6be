#!/bin/sh
# tests/cli/mount_tar_padding.sh -- tar and gzip layers with bytes after
# the end-of-archive blocks, indexed with spans smaller than them
#
# A tar ztoc's spans are slices of the whole blob, but its
# uncompressed_archive_size ends at the second end-of-archive block (where
# Go's reader stops, as upstream records it).  GNU tar pads its output to
# whole records (10 KiB by default), and any tar may carry trailing bytes.
# With spans smaller than that tail, a span before the last one ended past
# the archive's end, and the ztoc check refused the ztoc ztoc-gen had just
# written ("span 1 lies outside the archive"): `soci ztoc info`, get-file
# and the mount all failed.  fuzz_layer_index found it with ISA-L and zlib
# alike (its input is one of the layers here).  Now a tar span's
# uncompressed side stops at the archive's end.
#
# Gzip layers had the same fault one level down: their checkpoints go on
# to the end of the inflated stream (upstream's do too), so a deflate block
# or gzip member starting past the archive's end put a span boundary there,
# and the check refused the ztoc ("span 0 lies outside the archive": the
# fuzzer's layer was 1024 zero bytes, i.e. an empty archive, then 2900
# bytes more in further members).  A gzip span's uncompressed side is now
# capped at the archive's end too.
#
# Layers: GNU tar with its default records and with 32 KiB records (-b 64),
# Python tarfile's output followed by 3000 random bytes, and as gzip: GNU
# tar's 32 KiB records in deflate blocks of 700 bytes (full flushes), the
# tarfile layer with its trailing bytes in a second member of 700-byte
# blocks, and an empty archive (two zero blocks) followed by more zeros and
# members of random bytes, as the fuzzer found it; each through
# ztoc-gen with spans of 512, 1000 and 4096 bytes, `soci ztoc info`, and
# get-file of every file against GNU tar's extraction; then the 32 KiB
# record layer mounted lazily (soci create --span-size 1000), as tar and as
# gzip, and every file read through the mount compared with GNU tar's
# extraction.
. "$ROOT/tests/cli/lib/mount.sh"
REPRO=$ROOT/tests/fuzz/corpus/fuzz_layer_index/tar-tail-past-archive

mkdir -p "$TMP/src/d/e"
"$PY" - "$TMP/src" "$REPRO" "$TMP/junk.tar" "$TMP/fuzz.tar" "$TMP/junk.tgz" "$TMP/empty.tgz" <<'EOF' ||
import gzip, io, os, random, sys, tarfile, zlib
src, repro, junk, fuzz, junk_gz, empty_gz = sys.argv[1:7]
r = random.Random(5)
for name, n in (("a.bin", 5000), ("b.txt", 6), ("d/c.bin", 20000), ("d/e/f.bin", 1500)):
    with open(os.path.join(src, name), "wb") as f:
        f.write(r.randbytes(n))
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
    for name in ("a.bin", "b.txt", "d/c.bin", "d/e/f.bin"):
        t.add(os.path.join(src, name), arcname=name)
with open(junk, "wb") as f:
    f.write(buf.getvalue() + r.randbytes(3000))
with open(repro, "rb") as f:
    raw = f.read()
if raw[0] % 3 != 0:
    raise SystemExit("the reproducer is no longer a mode-0 input")
with open(fuzz, "wb") as f:
    f.write(raw[5:])

def flushed(data, every):
    """one gzip member whose deflate blocks end every `every` bytes"""
    c = zlib.compressobj(6, zlib.DEFLATED, 31)
    out = [c.compress(data[i:i + every]) + c.flush(zlib.Z_FULL_FLUSH) for i in range(0, len(data), every)]
    return b"".join(out) + c.flush()

tail = r.randbytes(3000)
with open(junk_gz, "wb") as f:
    # the archive with its record padding, then the tail in a member of its own
    f.write(gzip.compress(buf.getvalue(), mtime=0) + flushed(tail, 700))
with open(empty_gz, "wb") as f:
    f.write(gzip.compress(bytes(2424), mtime=0) + flushed(r.randbytes(1500), 500))
EOF
    die "cannot write the files"
tar -C "$TMP/src" -cf "$TMP/gnu.tar" a.bin b.txt d || die "GNU tar failed"
tar -C "$TMP/src" -b 64 -cf "$TMP/gnu64.tar" a.bin b.txt d || die "GNU tar failed"
# GNU tar's record padding in 700-byte deflate blocks of its own
"$PY" -c 'import sys, zlib
d = open(sys.argv[1], "rb").read()
c = zlib.compressobj(6, zlib.DEFLATED, 31)
sys.stdout.buffer.write(b"".join(c.compress(d[i:i + 700]) + c.flush(zlib.Z_FULL_FLUSH) for i in range(0, len(d), 700)) + c.flush())' \
    "$TMP/gnu64.tar" >"$TMP/gnu64.tgz" || die "cannot gzip gnu64.tar"

for name in gnu gnu64 junk fuzz gnu64.tgz junk.tgz empty.tgz; do
    case $name in *.tgz) layer=$TMP/$name ;; *) layer=$TMP/$name.tar ;; esac
    x=$TMP/x.$name
    mkdir -p "$x"
    tar -xf "$layer" -C "$x" 2>"$TMP/tar.err" || fail "$name: GNU tar cannot extract it: $(head -n 1 "$TMP/tar.err")"
    for span in 512 1000 4096; do
        z=$TMP/$name.$span.ztoc
        "$ZG" --span-size "$span" -o "$z" "$layer" 2>"$TMP/err" ||
            { fail "$name, spans of $span: ztoc-gen failed: $(cat "$TMP/err")"; continue; }
        "$SOCI" ztoc info "$z" >"$TMP/info" 2>"$TMP/err" ||
            { fail "$name, spans of $span: soci ztoc info refuses the ztoc: $(cat "$TMP/err")"; continue; }
        get_files_match "$z" "$layer" "$x" "$name, spans of $span"
        case $name in
        fuzz) ;;
        empty.tgz) grep -q '"num_files": 0' "$TMP/info" || fail "$name, spans of $span: files in an empty archive" ;;
        *) [ "$matched" -eq 4 ] || fail "$name, spans of $span: $matched files identical, want 4" ;;
        esac
    done
    echo "ok $name ($(wc -c <"$layer") bytes): 3 span sizes, info and get-file"
done

# the mount: the 32 KiB-record layer, as tar and as gzip, as the only layer
# of a layout
for layer in gnu64.tar gnu64.tgz; do
    $MKLAYOUT "$TMP/img.$layer" t "$TMP/$layer" >/dev/null || die "mklayout failed"
    "$SOCI" create -q --min-layer-size 0 --span-size 1000 "oci:$TMP/img.$layer:t" >"$TMP/create.out" 2>&1 ||
        die "$layer: soci create failed: $(cat "$TMP/create.out")"
    L=$(layer_digests "$TMP/img.$layer" t)
    mkdir -p "$TMP/mp"
    mount_fg "$TMP/mp" "$TMP/mount.log" --no-background-fetch --cache-dir "$TMP/cache" "oci:$TMP/img.$layer:t" \
        --layer "$L" || die "$layer: the layer does not mount"
    n=0
    for f in a.bin b.txt d/c.bin d/e/f.bin; do
        if cmp -s "$TMP/mp/$f" "$TMP/x.gnu64/$f"; then
            n=$((n + 1))
        else
            fail "$layer: $f read through the mount differs from GNU tar's extraction"
        fi
    done
    echo "ok mount of $layer: $n of 4 files identical to GNU tar's"
    unmount "$TMP/mp" "$MPID" || fail "$layer: fusermount3 -u did not end soci-mount"
done
finish
