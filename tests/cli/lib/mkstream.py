#!/usr/bin/python3
# tests/cli/lib/mkstream.py -- hostile record streams (docs/format.md §5) for
# the stream tests, written to stdout.  A small msgpack encoder of its own
# (Debian's python3 has no msgpack module installed): WIDE=1 encodes every
# map as map32 and every string as str32, the widest forms a writer may use.
#
#   mkstream.py notlayer-inline CHUNKS   an inline layer whose media type is
#                                        not a layer's, then CHUNKS 1 MiB chunks
#   mkstream.py inline-flood N           N inline layers opened, none closed
#   mkstream.py huge-array               a record declaring 2^32-1 array entries
#   mkstream.py huge-map                 a record declaring 2^32-1 map entries
#   mkstream.py deep                     arrays nested 100000 deep
#   mkstream.py empty-image              header, one image of no layers, end
#   mkstream.py path-layer PATH SIZE     one layer named by path (gzip type)
import os
import struct
import sys

WIDE = os.environ.get("WIDE") == "1"


def enc(v):
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if v < 128:
            return bytes([v])
        return b"\xcf" + struct.pack(">Q", v)
    if isinstance(v, str):
        b = v.encode()
        if WIDE:
            return b"\xdb" + struct.pack(">I", len(b)) + b
        if len(b) < 32:
            return bytes([0xA0 | len(b)]) + b
        return b"\xd9" + bytes([len(b)]) + b if len(b) < 256 else b"\xda" + struct.pack(">H", len(b)) + b
    if isinstance(v, bytes):
        return b"\xc6" + struct.pack(">I", len(v)) + v
    if isinstance(v, dict):
        if WIDE:
            out = b"\xdf" + struct.pack(">I", len(v))
        else:
            out = bytes([0x80 | len(v)])
        for k, x in v.items():
            out += enc(k) + enc(x)
        return out
    if isinstance(v, list):
        out = b"\xdc" + struct.pack(">H", len(v))
        for x in v:
            out += enc(x)
        return out
    raise TypeError(v)


def w(*recs):
    for r in recs:
        sys.stdout.buffer.write(enc(r))


HEADER = {"t": "soci-stream", "v": 1}
DIG = "sha256:" + "ab" * 32


def image(nlayers):
    return {"t": "image", "image": 0, "layout": "", "ref": "r",
            "manifest": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": DIG, "size": 10},
            "platform": "linux/amd64", "layers": nlayers}


def desc(mt, size):
    return {"mediaType": mt, "digest": DIG, "size": size}


GZ = "application/vnd.oci.image.layer.v1.tar+gzip"
what = sys.argv[1]
if what == "notlayer-inline":
    n = int(sys.argv[2])
    w(HEADER, image(1),
      {"t": "layer", "image": 0, "n": 0, "desc": desc("application/vnd.oci.image.config.v1+json", n << 20),
       "inline": True})
    chunk = b"\0" * (1 << 20)
    for _ in range(n):
        w({"t": "chunk", "image": 0, "n": 0, "data": chunk})
    w({"t": "layer_end", "image": 0, "n": 0}, {"t": "image_end", "image": 0}, {"t": "end"})
elif what == "inline-flood":
    n = int(sys.argv[2])
    w(HEADER, image(n))
    for i in range(n):
        w({"t": "layer", "image": 0, "n": i, "desc": desc(GZ, 20 << 20), "inline": True})
    w({"t": "image_end", "image": 0}, {"t": "end"})
elif what == "huge-array":
    w(HEADER)
    sys.stdout.buffer.write(b"\x82" + enc("t") + enc("image") + enc("x") + b"\xdd\xff\xff\xff\xff")
elif what == "huge-map":
    w(HEADER)
    sys.stdout.buffer.write(b"\xdf\xff\xff\xff\xff" + enc("t") + enc("image"))
elif what == "deep":
    w(HEADER)
    sys.stdout.buffer.write(b"\x82" + enc("t") + enc("image") + enc("x") + b"\x91" * 100000 + b"\xc0")
elif what == "empty-image":
    w(HEADER, image(0), {"t": "image_end", "image": 0}, {"t": "end"})
elif what == "path-layer":
    w(HEADER, image(1),
      {"t": "layer", "image": 0, "n": 0, "desc": desc(GZ, int(sys.argv[3])), "path": sys.argv[2]},
      {"t": "image_end", "image": 0}, {"t": "end"})
else:
    sys.exit("unknown stream " + what)
