#!/bin/sh
# tests/fuzz/make-seeds.sh OUT_DIR [ZTOC_GEN] -- write small seed inputs for
# every fuzz target into OUT_DIR/<target>/, generated here so that no binary
# seeds live in the repository.  With ZTOC_GEN (a built ztoc-gen), real ztocs
# of the sample layers seed fuzz_ztoc_decode too.
set -eu
OUT=${1:?usage: make-seeds.sh OUT_DIR [ZTOC_GEN]}
ZTOC_GEN=${2:-}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
mkdir -p "$OUT/fuzz_tar_stream" "$OUT/fuzz_layer_index" "$OUT/fuzz_ztoc_decode" "$OUT/layers"

"$PY" - "$OUT" <<'EOF'
import gzip, io, os, struct, sys, tarfile, zlib

out = sys.argv[1]

def tar_bytes(fmt, members):
    buf = io.BytesIO()
    tf = tarfile.open(fileobj=buf, mode="w", format=fmt)
    for info, data in members:
        tf.addfile(info, io.BytesIO(data) if data is not None else None)
    tf.close()
    return buf.getvalue()[:tf.offset]  # drop the record padding after the end blocks

def ti(name, type=tarfile.REGTYPE, data=b"", **kw):
    t = tarfile.TarInfo(name)
    t.type = type
    t.size = len(data) if type in (tarfile.REGTYPE, tarfile.AREGTYPE) else 0
    t.mtime = 1700000000
    t.mode = 0o644
    for k, v in kw.items():
        setattr(t, k, v)
    return (t, data if t.size else None)

tars = {
    "ustar": tar_bytes(tarfile.USTAR_FORMAT, [
        ti("dir/", tarfile.DIRTYPE, mode=0o755),
        ti("dir/file.txt", data=b"hello world\n" * 50),
        ti("dir/link", tarfile.SYMTYPE, linkname="file.txt"),
        ti("dir/hard", tarfile.LNKTYPE, linkname="dir/file.txt"),
        ti("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3),
        ti("fifo", tarfile.FIFOTYPE),
        ti("a/" * 60 + "deep.txt", data=b"x"),  # ustar prefix field
    ]),
    "gnu": tar_bytes(tarfile.GNU_FORMAT, [
        ti("long/" * 30 + "name.bin", data=bytes(range(256)) * 3),
        ti("sym", tarfile.SYMTYPE, linkname="target/" * 20),
        ti("bigid", data=b"y", uid=0o77777777 + 5, gid=3000000000),
        ti("old", data=b"z", mtime=-1),
    ]),
    "pax": tar_bytes(tarfile.PAX_FORMAT, [
        ti("caf\u00e9.txt", data=b"pax name\n",
           pax_headers={"mtime": "1700000000.123456789", "SCHILY.xattr.user.k": "v\x00w",
                        "comment": "kept as a record", "uname": "\u00fcser"}),
        ti("dir/.wh..wh..opq", data=b""),
        ti("n" * 150, data=b"long pax path"),
    ]),
}
gbuf = io.BytesIO()
gt = tarfile.open(fileobj=gbuf, mode="w", format=tarfile.PAX_FORMAT,
                  pax_headers={"comment": "global header, as git archive writes"})
info, data = ti("after-global", data=b"g")
gt.addfile(info, io.BytesIO(data))
gt.close()
tars["pax-global"] = gbuf.getvalue()[:gt.offset]
tars["empty"] = b"\0" * 1024

def write(target, name, data):
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data)

seed = struct.pack("<I", 0x9e3779b9)
for name, data in tars.items():
    write("fuzz_tar_stream", name, seed + data)
    write("layers", name + ".tar", data)
    gz = gzip.compress(data, mtime=0)
    write("layers", name + ".tar.gz", gz)
    write("fuzz_layer_index", name + "-gz", b"\0" + seed + gz)
    write("fuzz_layer_index", name + "-tar", b"\0" + seed + data)
    write("fuzz_layer_index", name + "-wrap", b"\1" + seed + data)
# one byte at a time, and a multi-member layer
write("fuzz_tar_stream", "ustar-bytewise", b"\0\0\0\0" + tars["ustar"])
two = gzip.compress(tars["ustar"][:700], mtime=0) + gzip.compress(tars["ustar"][700:], mtime=0)
write("fuzz_layer_index", "two-members", b"\0" + seed + two)
write("layers", "two-members.tar.gz", two)
write("fuzz_layer_index", "zstd", b"\0" + seed + bytes.fromhex("28b52ffd0400") + b"junk")
write("fuzz_layer_index", "truncated", b"\2" + seed + tars["pax"])

# fuzz_ztoc_decode part B: flags, sizes, a zinfo header, 17-byte records
def part_b(flags, csize, usize, n, span, records):
    body = struct.pack("<Bqq", flags, csize, usize) + struct.pack("<iq", n, span)
    for (i, o, b) in records:
        body += struct.pack("<qqB", i, o, b)
    return body + bytes(range(64))
write("fuzz_ztoc_decode", "zinfo-gzip-3", part_b(3 << 2 | 64, 4000, 90000, 3, 65536,
      [(10, 0, 0), (1000, 40000, 3), (2500, 80000, 7)]))
write("fuzz_ztoc_decode", "zinfo-gzip-v1", part_b(2 << 2 | 2, 4000, 90000, 3, 65536,
      [(1000, 40000, 3), (2500, 80000, 0)]))
write("fuzz_ztoc_decode", "zinfo-tar", struct.pack("<BqqIQ", 1 | 2 | 4, 300000, 300000, 65536, 300000 << 8) + bytes(16))
EOF

# real ztocs of the sample layers
if [ -n "$ZTOC_GEN" ] && [ -x "$ZTOC_GEN" ]; then
    # tar layers in 512-byte spans (no windows: small); gzip layers in one
    # span each, since every checkpoint carries a 32 KiB window
    for l in ustar.tar pax.tar; do
        "$ZTOC_GEN" --no-threads --span-size 512 -o "$OUT/fuzz_ztoc_decode/$l.ztoc" "$OUT/layers/$l" 2>/dev/null || true
    done
    for l in gnu.tar.gz two-members.tar.gz; do
        "$ZTOC_GEN" --no-threads -o "$OUT/fuzz_ztoc_decode/$l.ztoc" "$OUT/layers/$l" 2>/dev/null || true
    done
fi
rm -rf "$OUT/layers"

# record streams (narrow and widest encodings) and image JSON
mkdir -p "$OUT/fuzz_stream" "$OUT/fuzz_oci_json"
MK="$PY $(dirname "$0")/../cli/lib/mkstream.py"
$MK empty-image >"$OUT/fuzz_stream/empty-image"
WIDE=1 $MK empty-image >"$OUT/fuzz_stream/empty-image-wide"
$MK path-layer /blob 100 >"$OUT/fuzz_stream/path-layer"
$MK huge-array >"$OUT/fuzz_stream/huge-array"
D=sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":2}]}' \
    "$D" "$D" >"$OUT/fuzz_oci_json/manifest"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":2,"platform":{"os":"linux","architecture":"arm64","variant":"v8"},"annotations":{"org.opencontainers.image.ref.name":"t"}}]}' \
    "$D" >"$OUT/fuzz_oci_json/index"
