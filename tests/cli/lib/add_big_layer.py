#!/usr/bin/python3
"""add_big_layer.py LAYOUT TAG MIB -- append a big, incompressible layer to an image

Test helper (tests/cli/registry_*.sh): a layer of one file of MIB MiB that
gzip cannot shrink -- one seeded pseudo-random MiB repeated (the repeats are
farther apart than deflate's 32 KiB window) -- in a gzip stream of stored
blocks (so the blob is a little over MIB MiB: above the client's 64 MiB
chunked-upload threshold for MIB >= 65), is added
to the image TAG of the OCI layout LAYOUT (made by make-sample-image.py):
new layer blob, config (diff_ids), manifest, and index.json entry.  Fast
(no compressor runs: stored blocks are framing around the bytes) and
deterministic.  Prints the
new manifest digest.
"""
import hashlib
import io
import json
import os
import random
import sys
import struct
import tarfile
import zlib

REF = "org.opencontainers.image.ref.name"


def put(layout, data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", d[7:]), "wb") as f:
        f.write(data)
    return d, len(data)


def get(layout, digest):
    with open(os.path.join(layout, "blobs", "sha256", digest[7:]), "rb") as f:
        return f.read()


def gzip_stored(raw):
    """a gzip member (no name, mtime 0) whose deflate stream is stored blocks"""
    out = [b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"]
    step = 65535
    for at in range(0, len(raw), step):
        block = raw[at:at + step]
        final = 1 if at + step >= len(raw) else 0
        out.append(struct.pack("<BHH", final, len(block), len(block) ^ 0xFFFF))
        out.append(block)
    if not raw:
        out.append(struct.pack("<BHH", 1, 0, 0xFFFF))
    out.append(struct.pack("<II", zlib.crc32(raw) & 0xFFFFFFFF, len(raw) & 0xFFFFFFFF))
    return b"".join(out)


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    layout, tag, mib = sys.argv[1], sys.argv[2], int(sys.argv[3])
    payload = random.Random(7).randbytes(1 << 20) * mib
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        ti = tarfile.TarInfo("big/random.bin")
        ti.mtime = 1700000000
        ti.mode = 0o644
        ti.uname = ti.gname = "root"
        ti.size = len(payload)
        tf.addfile(ti, io.BytesIO(payload))
    raw = buf.getvalue()
    gz = gzip_stored(raw)

    index_path = os.path.join(layout, "index.json")
    index = json.load(open(index_path))
    entry = [m for m in index["manifests"] if m.get("annotations", {}).get(REF) == tag][0]
    manifest = json.loads(get(layout, entry["digest"]))
    config = json.loads(get(layout, manifest["config"]["digest"]))
    ld, ln = put(layout, gz)
    manifest["layers"].append({"mediaType": manifest["layers"][0]["mediaType"], "digest": ld, "size": ln})
    config["rootfs"]["diff_ids"].append("sha256:" + hashlib.sha256(raw).hexdigest())
    cd, cn = put(layout, json.dumps(config, separators=(",", ":"), sort_keys=True).encode())
    manifest["config"]["digest"], manifest["config"]["size"] = cd, cn
    md, mn = put(layout, json.dumps(manifest, separators=(",", ":")).encode())
    entry["digest"], entry["size"] = md, mn
    with open(index_path, "w") as f:
        json.dump(index, f, separators=(",", ":"))
    print(md)


if __name__ == "__main__":
    main()
