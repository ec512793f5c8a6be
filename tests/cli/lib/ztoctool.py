#!/usr/bin/python3
"""ztoctool.py -- read and rewrite ztocs, and hand-make SOCI indexes, for tests.

Independent of the C code: the ztoc is read by hand as FlatBuffers
(docs/format.md §1.1: root Ztoc, compressed_archive_size = field 2,
compression_info = field 5 -> CompressionInfo.checkpoints = field 3, the
gzip zInfo blob of §2.1).

  ztoctool.py spans ZTOC
      JSON: {"compressed_archive_size", "span_size", "spans": [{"id",
      "cstart", "cend", "ustart"}]} -- span i's compressed bytes are
      [cstart, cend) (§2.3: C[i].in minus one if C[i].bits, to C[i+1].in or
      the archive size).  Gzip ztocs only.
  ztoctool.py set-size ZTOC OUT N
      OUT = ZTOC with compressed_archive_size = N (same length, in place).
  ztoctool.py set-checkpoint-in ZTOC OUT K N
      OUT = ZTOC with checkpoint K's "in" (compressed offset) = N.
  ztoctool.py set-checkpoint-out ZTOC OUT K N
      OUT = ZTOC with checkpoint K's "out" (uncompressed offset) = N.
  ztoctool.py set-usize ZTOC OUT N
      OUT = ZTOC with uncompressed_archive_size (field 3) = N.
  ztoctool.py set-entry ZTOC OUT NAME offset|size N
      OUT = ZTOC with the TOC entry NAME's uncompressed_offset (FileMetadata
      field 2) or uncompressed_size (field 3) = N; the field must be stored.
  ztoctool.py replace ZTOC OUT OLD NEW
      OUT = ZTOC with the one occurrence of the string OLD replaced by NEW
      (same length: e.g. a span digest).
  ztoctool.py index LAYOUT TAG LAYER_DIGEST=FILE...
      adds each FILE to LAYOUT as a blob and writes a SOCI index v1 (Go's
      byte layout, §4.2) whose ztoc descriptors map LAYER_DIGEST to that
      blob (digest and size of the file as it is), subject = TAG's image
      manifest; adds it to index.json (artifactType v1, untagged) and
      prints its digest.  Any bytes will do as a ztoc: sizes and digests in
      the index always match the blobs, so a layout check cannot be what
      rejects them.
"""
import hashlib
import json
import os
import struct
import sys

CKPT = 8 + 8 + 1 + 32768


def u32(b, p):
    return struct.unpack_from("<I", b, p)[0]


def field(b, table, fid):
    """absolute position of a table field, or None when absent"""
    vt = table - struct.unpack_from("<i", b, table)[0]
    vsize = struct.unpack_from("<H", b, vt)[0]
    if 4 + 2 * fid + 2 > vsize:
        return None
    off = struct.unpack_from("<H", b, vt + 4 + 2 * fid)[0]
    return table + off if off else None


def checkpoints_pos(b):
    """(position of the zInfo blob's first byte, its length)"""
    root = u32(b, 0)
    f = field(b, root, 5)
    ci = f + u32(b, f)
    f = field(b, ci, 3)
    vec = f + u32(b, f)
    return vec + 4, u32(b, vec)


def size_pos(b):
    f = field(b, u32(b, 0), 2)
    if f is None:
        raise SystemExit("ztoctool: the ztoc stores no compressed_archive_size")
    return f


def usize_pos(b):
    f = field(b, u32(b, 0), 3)
    if f is None:
        raise SystemExit("ztoctool: the ztoc stores no uncompressed_archive_size")
    return f


def entry_field_pos(b, name, fid):
    """position of FileMetadata field fid of the TOC entry called name"""
    f = field(b, u32(b, 0), 4)
    toc = f + u32(b, f)
    f = field(b, toc, 0)
    vec = f + u32(b, f)
    for i in range(u32(b, vec)):
        at = vec + 4 + 4 * i
        ent = at + u32(b, at)
        nf = field(b, ent, 0)
        s = nf + u32(b, nf)
        if b[s + 4:s + 4 + u32(b, s)] == name.encode():
            pos = field(b, ent, fid)
            if pos is None:
                raise SystemExit("ztoctool: entry %s does not store field %d" % (name, fid))
            return pos
    raise SystemExit("ztoctool: no entry %s" % name)


def checkpoint_pos(b, k):
    """position of checkpoint k's record (its "in"; "out" follows)"""
    pos, n = checkpoints_pos(b)
    if 12 + (k + 1) * CKPT > n:
        raise SystemExit("ztoctool: no checkpoint %d" % k)
    return pos + 12 + k * CKPT


def set_int64(src, dst, where, value):
    """dst = src with the little-endian int64 at where(bytes) = value"""
    b = bytearray(open(src, "rb").read())
    struct.pack_into("<q", b, where(b), int(value))
    open(dst, "wb").write(b)


def spans(b):
    F = struct.unpack_from("<q", b, size_pos(b))[0]
    pos, n = checkpoints_pos(b)
    blob = b[pos:pos + n]
    count, span_size = struct.unpack_from("<iq", blob, 0)
    if n == 12 + count * CKPT:
        cps = [struct.unpack_from("<qqB", blob, 12 + i * CKPT) for i in range(count)]
    elif n == 12 + (count - 1) * CKPT:
        cps = [(10, 0, 0)] + [struct.unpack_from("<qqB", blob, 12 + i * CKPT) for i in range(count - 1)]
    else:
        raise SystemExit("ztoctool: not a gzip zInfo blob (%d bytes, %d checkpoints)" % (n, count))
    out = []
    for i, (cin, cout, bits) in enumerate(cps):
        out.append({"id": i, "cstart": cin - (1 if bits else 0),
                    "cend": cps[i + 1][0] if i + 1 < len(cps) else F, "ustart": cout})
    return {"compressed_archive_size": F, "span_size": span_size, "spans": out}


def blob_add(layout, data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", d[7:]), "wb") as f:
        f.write(data)
    return d, len(data)


def go_json(v):
    """Go's encoding/json for these documents: compact, HTML-escaped"""
    s = json.dumps(v, separators=(",", ":"), ensure_ascii=False)
    return s.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


def make_index(layout, tag, pairs):
    index = json.load(open(os.path.join(layout, "index.json")))
    img = [m for m in index["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag]
    if len(img) != 1:
        raise SystemExit("ztoctool: no single image tagged %s" % tag)
    img = img[0]
    man = json.load(open(os.path.join(layout, "blobs", "sha256", img["digest"][7:])))
    mts = {l["digest"]: l["mediaType"] for l in man["layers"]}
    layers = []
    for p in pairs:
        ld, path = p.split("=", 1)
        zd, zn = blob_add(layout, open(path, "rb").read())
        layers.append({"mediaType": "application/octet-stream", "digest": zd, "size": zn,
                       "annotations": {"com.amazon.soci.image-layer-digest": ld,
                                       "com.amazon.soci.image-layer-mediaType":
                                           mts.get(ld, "application/vnd.oci.image.layer.v1.tar+gzip"),
                                       "com.amazon.soci.span-size": "4194304"}})
    cd, cn = blob_add(layout, b"{}")
    doc = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
           "config": {"mediaType": "application/vnd.amazon.soci.index.v1+json", "digest": cd, "size": cn},
           "layers": layers,
           "subject": {"mediaType": img["mediaType"], "digest": img["digest"], "size": img["size"]},
           "annotations": {"com.amazon.soci.build-tool-identifier": "AWS SOCI CLI v0.2"}}
    d, n = blob_add(layout, go_json(doc))
    index["manifests"].append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d, "size": n,
                               "artifactType": "application/vnd.amazon.soci.index.v1+json"})
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump(index, f, separators=(",", ":"))
    print(d)


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    if a[0] == "spans" and len(a) == 2:
        print(json.dumps(spans(open(a[1], "rb").read())))
    elif a[0] == "set-size" and len(a) == 4:
        set_int64(a[1], a[2], size_pos, a[3])
    elif a[0] in ("set-checkpoint-in", "set-checkpoint-out") and len(a) == 5:
        set_int64(a[1], a[2], lambda b: checkpoint_pos(b, int(a[3])) + (8 if a[0].endswith("out") else 0), a[4])
    elif a[0] == "set-usize" and len(a) == 4:
        set_int64(a[1], a[2], usize_pos, a[3])
    elif a[0] == "set-entry" and len(a) == 6 and a[4] in ("offset", "size"):
        set_int64(a[1], a[2], lambda b: entry_field_pos(b, a[3], 2 if a[4] == "offset" else 3), a[5])
    elif a[0] == "replace" and len(a) == 5:
        b = open(a[1], "rb").read()
        old, new = a[3].encode(), a[4].encode()
        if len(old) != len(new) or b.count(old) != 1:
            raise SystemExit("ztoctool: \"%s\" is not in the ztoc exactly once, or lengths differ" % a[3])
        open(a[2], "wb").write(b.replace(old, new))
    elif a[0] == "index" and len(a) >= 4:
        make_index(a[1], a[2], a[3:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
