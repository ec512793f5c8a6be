#!/bin/sh
# tests/cli/mount_tar_padding.sh -- uncompressed tar layers with bytes
# after the end-of-archive blocks, indexed with spans smaller than them
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
# Layers: GNU tar with its default records and with 32 KiB records (-b 64),
# and Python tarfile's output followed by 3000 random bytes; each through
# ztoc-gen with spans of 512, 1000 and 4096 bytes, `soci ztoc info`, and
# get-file of every file against GNU tar's extraction; then the 32 KiB
# record layer mounted lazily (soci create --span-size 1000) and every file
# read through the mount compared with GNU tar's extraction.
. "$ROOT/tests/cli/lib/mount.sh"
REPRO=$ROOT/tests/fuzz/corpus/fuzz_layer_index/tar-tail-past-archive

mkdir -p "$TMP/src/d/e"
"$PY" - "$TMP/src" "$REPRO" "$TMP/junk.tar" "$TMP/fuzz.tar" <<'EOF' || die "cannot write the files"
import io, os, random, sys, tarfile
src, repro, junk, fuzz = sys.argv[1:5]
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
EOF
tar -C "$TMP/src" -cf "$TMP/gnu.tar" a.bin b.txt d || die "GNU tar failed"
tar -C "$TMP/src" -b 64 -cf "$TMP/gnu64.tar" a.bin b.txt d || die "GNU tar failed"

for name in gnu gnu64 junk fuzz; do
    layer=$TMP/$name.tar x=$TMP/x.$name
    mkdir -p "$x"
    tar -xf "$layer" -C "$x" 2>"$TMP/tar.err" || fail "$name: GNU tar cannot extract it: $(head -n 1 "$TMP/tar.err")"
    for span in 512 1000 4096; do
        z=$TMP/$name.$span.ztoc
        "$ZG" --span-size "$span" -o "$z" "$layer" 2>"$TMP/err" ||
            { fail "$name, spans of $span: ztoc-gen failed: $(cat "$TMP/err")"; continue; }
        "$SOCI" ztoc info "$z" >"$TMP/info" 2>"$TMP/err" ||
            { fail "$name, spans of $span: soci ztoc info refuses the ztoc: $(cat "$TMP/err")"; continue; }
        get_files_match "$z" "$layer" "$x" "$name, spans of $span"
        [ "$name" = fuzz ] || [ "$matched" -eq 4 ] || fail "$name, spans of $span: $matched files identical, want 4"
    done
    echo "ok $name ($(wc -c <"$layer") bytes): 3 span sizes, info and get-file"
done

# the mount: the 32 KiB-record layer as an uncompressed layer of a layout
$MKLAYOUT "$TMP/img" t "$TMP/gnu64.tar" >/dev/null || die "mklayout failed"
"$SOCI" create -q --min-layer-size 0 --span-size 1000 "oci:$TMP/img:t" >"$TMP/create.out" 2>&1 ||
    die "soci create failed: $(cat "$TMP/create.out")"
L=$(layer_digests "$TMP/img" t)
mkdir -p "$TMP/mp"
mount_fg "$TMP/mp" "$TMP/mount.log" --no-background-fetch --cache-dir "$TMP/cache" "oci:$TMP/img:t" --layer "$L" ||
    die "the layer does not mount"
n=0
for f in a.bin b.txt d/c.bin d/e/f.bin; do
    if cmp -s "$TMP/mp/$f" "$TMP/x.gnu64/$f"; then
        n=$((n + 1))
    else
        fail "$f read through the mount differs from GNU tar's extraction"
    fi
done
echo "ok mount: $n of 4 files identical to GNU tar's"
unmount "$TMP/mp" "$MPID" || fail "fusermount3 -u did not end soci-mount"
finish
