#!/usr/bin/python3
"""mklayout.py DIR TAG LAYER... -- an OCI image layout holding one image
(linux/amd64) whose layers are the given files, bottom first.

A file ending in .tgz or .gz is a gzip layer (application/vnd.oci.image.
layer.v1.tar+gzip), anything else an uncompressed tar layer (...tar).  The
layout may already exist: blobs are added, TAG is (re)pointed at the new
image.  Prints the image manifest digest.  Standard library only.
"""
import hashlib
import json
import os
import sys
import zlib


def blob(layout, data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", d[7:]), "wb") as f:
        f.write(data)
    return d, len(data)


def diff_id(data, gz):
    if not gz:
        return "sha256:" + hashlib.sha256(data).hexdigest()
    h = hashlib.sha256()
    d = zlib.decompressobj(47)
    rest = data
    while rest:
        h.update(d.decompress(rest))
        if d.eof:
            rest = d.unused_data
            d = zlib.decompressobj(47)
        else:
            break
    return "sha256:" + h.hexdigest()


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    layout, tag, files = sys.argv[1], sys.argv[2], sys.argv[3:]
    os.makedirs(os.path.join(layout, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    layers, diff_ids = [], []
    for path in files:
        data = open(path, "rb").read()
        gz = path.endswith(".tgz") or path.endswith(".gz")
        d, n = blob(layout, data)
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if gz else ""),
                       "digest": d, "size": n})
        diff_ids.append(diff_id(data, gz))
    config = {"architecture": "amd64", "os": "linux", "created": "2023-11-14T22:13:20Z",
              "config": {"Cmd": ["/bin/sh"]}, "rootfs": {"type": "layers", "diff_ids": diff_ids},
              "history": []}
    cd, cn = blob(layout, json.dumps(config, separators=(",", ":"), sort_keys=True).encode())
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
                "layers": layers}
    md, mn = blob(layout, json.dumps(manifest, separators=(",", ":")).encode())
    ipath = os.path.join(layout, "index.json")
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []}
    if os.path.exists(ipath):
        index = json.load(open(ipath))
        index["manifests"] = [m for m in index["manifests"]
                              if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != tag]
    index["manifests"].append({"mediaType": manifest["mediaType"], "digest": md, "size": mn,
                               "annotations": {"org.opencontainers.image.ref.name": tag}})
    with open(ipath, "w") as f:
        json.dump(index, f, separators=(",", ":"))
    print(md)


if __name__ == "__main__":
    main()
