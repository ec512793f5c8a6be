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

# WWW-Authenticate challenges (and token answers: the same bytes go to both)
mkdir -p "$OUT/fuzz_www_auth" "$OUT/fuzz_reg_ref" "$OUT/fuzz_content_range"
A=$OUT/fuzz_www_auth
printf 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"' >"$A/bearer"
printf 'Basic realm="Registry Realm"' >"$A/basic"
printf 'Bearer realm="http://127.0.0.1:5001/t",scope="repository:a/b:pull,push",error="insufficient_scope"' >"$A/scope-comma"
printf 'bearer  realm = "a\\"b\\\\c" , service=unquoted' >"$A/escapes"
printf '{"token":"abc.def.ghi","access_token":"x","expires_in":300,"issued_at":"2023-01-01T00:00:00Z"}' >"$A/token-answer"
printf '{"access_token":"only-access"}' >"$A/access-token"

# registry references: every shape reg_ref_parse knows
R=$OUT/fuzz_reg_ref
printf 'busybox' >"$R/short"
printf 'docker.io/library/busybox:1.36' >"$R/docker-hub"
printf '127.0.0.1:5000/a/b/c:tag' >"$R/loopback-port"
printf 'localhost/x@%s' "$D" >"$R/digest"
printf '[::1]:5000/repo:v1@%s' "$D" >"$R/ipv6-tag-digest"
printf 'ghcr.io/org/img-name_x.y__z:Tag-1.2_3' >"$R/separators"

# Content-Range and multipart/byteranges: byte 0 = ranges - 1, then 8 bytes
# a range (4-byte offset mod 100000, 2-byte length mod 4096 + 1, 2 unused)
C=$OUT/fuzz_content_range
"$PY" - "$C" <<'PYEOF'
import struct, sys
out = sys.argv[1]
def rng(off, ln):
    return struct.pack(">IHH", off, ln - 1, 0)
def write(name, data):
    open(out + "/" + name, "wb").write(data)
body = b"AAAAbbbbCCCCdddd0123456789"
write("single", b"\0" + rng(0, 4) + b"bytes 0-3/26\r\n" + body)
write("star", b"\0" + rng(0, 4) + b"bytes 10-19/*\n")
write("type", b"\0" + rng(0, 4) + b"multipart/byteranges; boundary=B\n")
mp = (b"--B\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-3/26\r\n\r\nAAAA\r\n"
      b"--B\r\nContent-Range: bytes 8-11/26\r\n\r\nCCCC\r\n--B--\r\n")
write("multipart-2", b"\1" + rng(0, 4) + rng(8, 4) + mp)
mp3 = (b"\r\n--B\r\nContent-Range: bytes 4-7/*\r\n\r\nbbbb\r\n--B\r\ncontent-range: bytes 12-15/26\r\n\r\ndddd\r\n"
       b"--B\r\nContent-Range: bytes 16-25/26\r\n\r\n0123456789\r\n--B--")
write("multipart-3", b"\2" + rng(4, 4) + rng(12, 4) + rng(16, 10) + mp3)
PYEOF

# soci-snapshotter-grpc config.toml: every table and value kind the loader reads
S=$OUT/fuzz_snap_config
mkdir -p "$S"
cat >"$S/full" <<'TOML'
# top level
metrics_address = "127.0.0.1:9999"
metadata_store = 'db-multi'   # literal string
skip_check_snapshotter_supported = true
max_concurrency = -1
mount_timeout_sec = 45
[http]
DialTimeoutMsec = 1_500
MaxRetries = 3
[blob]
fetching_timeout_sec = 60
max_span_verification_retries = 2
[fuse]
attr_timeout = 5
negative_timeout = 0
[background_fetch]
disable = true
fetch_period_msec = 250
[pull_modes]
  [pull_modes.soci_v1]
    enable = true
  [pull_modes.parallel_pull_unpack.decompress_streams."gzip"]
    path = "/usr/bin/unpigz"
    args = ["-d",
            "-c", # trailing comma and a comment
           ]
[resolver.host."registry.example:5000"]
mirrors = [{host = "mirror.example", insecure = true, request_timeout_sec = 10},
           { host = "m2" }]
[resolver . host . docker-io]
mirrors = []
[snapshotter]
min_layer_size = 10_000_000
[cache]
memory_size = "64MiB"
disk_size = "4G"
dir = "/var/cache/soci \"q\" \u00e9"
TOML
printf '[resolver.host."127.0.0.1:5000"]\nmirrors = [{host = "127.0.0.1:5000", insecure = true}]\n' >"$S/plain-http"
printf '[cache]\nmemory_size = 1048576\ndisk_size = "10GiB"\ndir = '"'"'/x'"'"'\n' >"$S/cache"
printf '' >"$S/empty"
