#!/usr/bin/python3
"""check_soci.py LAYOUT [options] -- check the SOCI indexes an OCI layout holds

Independent of the C code: Python's json module and a re-implementation of
Go encoding/json's output for image-spec types (docs/format.md §4.2-4.3).

For every SOCI index v1 entry of LAYOUT/index.json (artifactType v1):
  - the entry: OCI manifest media type, the size and digest of its blob,
    annotation com.amazon.soci.image-manifest-digest = the subject;
  - the blob is byte for byte what Go would marshal from its parsed JSON
    (key order schemaVersion, mediaType, config, layers, subject,
    annotations; descriptors mediaType, digest, size, annotations; sorted
    annotation keys; compact; no top-level artifactType);
  - config {v1 artifact type, the digest of "{}", 2} and the "{}" blob;
  - subject = an image manifest of the layout, with the media type its
    parent descriptor (index.json or image index) gives it;
  - one ztoc descriptor per indexed layer, in the image's layer order, each
    with exactly the annotations image-layer-digest, image-layer-mediaType
    (as in the image manifest) and span-size (plus disable-xattrs only
    with --xattr), its blob present with that size and digest;
  - with --min-layer-size M: the indexed layers are exactly the image's
    layers of at least M bytes;
  - annotations {build-tool-identifier}.
Also checks that index.json itself is Go-canonical (the tools rewrite it).

Options: --expect N (exactly N v1 indexes), --span-size S (default 4194304),
--min-layer-size M, --xattr, --subject DIGEST (repeatable: the subjects
must be exactly these), --quiet.
Prints one line per index, then "OK N"; exit 1 with FAIL lines otherwise.
"""
import hashlib
import json
import os
import sys

V1 = "application/vnd.amazon.soci.index.v1+json"
V2 = "application/vnd.amazon.soci.index.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
EMPTY = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
ANN_LAYER_DIGEST = "com.amazon.soci.image-layer-digest"
ANN_LAYER_MT = "com.amazon.soci.image-layer-mediaType"
ANN_SPAN = "com.amazon.soci.span-size"
ANN_XATTR = "com.amazon.soci.disable-xattrs"
ANN_TOOL = "com.amazon.soci.build-tool-identifier"
ANN_ENTRY = "com.amazon.soci.image-manifest-digest"
REF_NAME = "org.opencontainers.image.ref.name"

# Go struct field order (image-spec v1.1); everything here is omitempty
# except Descriptor.mediaType/digest/size, Manifest.schemaVersion/config/layers
# and Index.schemaVersion/manifests
FIELDS = {
    "manifest": ["schemaVersion", "mediaType", "artifactType", "config", "layers", "subject", "annotations"],
    "index": ["schemaVersion", "mediaType", "artifactType", "manifests", "subject", "annotations"],
    "desc": ["mediaType", "digest", "size", "urls", "annotations", "data", "platform", "artifactType"],
    "platform": ["architecture", "os", "os.version", "os.features", "variant"],
}
ALWAYS = {"manifest": {"schemaVersion", "config", "layers"}, "index": {"schemaVersion", "manifests"},
          "desc": {"mediaType", "digest", "size"}, "platform": {"architecture", "os"}}
CHILD = {("manifest", "config"): "desc", ("manifest", "layers"): "desc[]", ("manifest", "subject"): "desc",
         ("index", "manifests"): "desc[]", ("index", "subject"): "desc", ("desc", "platform"): "platform"}


def go_str(s):
    out = ['"']
    for ch in s:
        c = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif c < 0x20 or ch in "<>&" or c in (0x2028, 0x2029):
            out.append("\\u%04x" % c)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_value(v):
    """a value with no struct type: maps sorted by key"""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return go_str(v)
    if isinstance(v, list):
        return "[" + ",".join(go_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(go_str(k) + ":" + go_value(v[k]) for k in sorted(v, key=lambda k: k.encode())) + "}"
    raise ValueError("unexpected JSON value %r" % (v,))


def empty(v):
    return v is None or v == "" or v == 0 or v == [] or v == {} or v is False


def go_marshal(v, kind):
    """what Go's json.Marshal writes for v parsed into image-spec type `kind`
    (unknown fields dropped, omitempty fields dropped when empty)"""
    if kind.endswith("[]"):
        if v is None:
            return "null"
        return "[" + ",".join(go_marshal(x, kind[:-2]) for x in v) + "]"
    if not isinstance(v, dict):
        raise ValueError("%s is not an object" % kind)
    parts = []
    for f in FIELDS[kind]:
        if f not in v:
            if f in ALWAYS[kind]:
                parts.append(go_str(f) + ":" + ("null" if f in ("layers", "manifests") else
                                                 '""' if f == "mediaType" else "0" if f in ("size", "schemaVersion")
                                                 else '""' if f == "digest" else "null"))
            continue
        if f not in ALWAYS[kind] and empty(v[f]):
            continue
        child = CHILD.get((kind, f))
        parts.append(go_str(f) + ":" + (go_marshal(v[f], child) if child else go_value(v[f])))
    return "{" + ",".join(parts) + "}"


class Checker:
    def __init__(self, layout, quiet=False):
        self.layout = layout
        self.failures = 0
        self.quiet = quiet

    def fail(self, msg):
        print("FAIL: " + msg)
        self.failures += 1

    def blob_path(self, digest):
        return os.path.join(self.layout, "blobs", "sha256", digest[len("sha256:"):])

    def blob(self, desc, what):
        """the bytes of a descriptor's blob, checked against its digest and size"""
        p = self.blob_path(desc["digest"])
        if not os.path.isfile(p):
            self.fail("%s: blob %s is missing" % (what, desc["digest"]))
            return None
        data = open(p, "rb").read()
        if "sha256:" + hashlib.sha256(data).hexdigest() != desc["digest"]:
            self.fail("%s: blob %s does not match its digest" % (what, desc["digest"]))
        if len(data) != desc.get("size"):
            self.fail("%s: blob %s has %d bytes, its descriptor says %s" % (what, desc["digest"], len(data),
                                                                           desc.get("size")))
        return data

    def canonical(self, data, kind, what):
        try:
            doc = json.loads(data)
        except ValueError as e:
            self.fail("%s: not JSON: %s" % (what, e))
            return None
        want = go_marshal(doc, kind).encode()
        if want != data:
            self.fail("%s is not Go's canonical JSON:\n  have %s\n  want %s" % (what, data.decode(errors="replace"),
                                                                              want.decode()))
        return doc

    def image_manifests(self, index):
        """digest -> (parent descriptor media type, manifest JSON) for every image manifest reachable"""
        found = {}

        def walk(desc, depth):
            if depth > 4 or desc.get("artifactType") in (V1, V2):
                return
            p = self.blob_path(desc.get("digest", "sha256:"))
            if not os.path.isfile(p):
                return
            try:
                doc = json.loads(open(p, "rb").read())
            except ValueError:
                return
            mt = desc.get("mediaType") or doc.get("mediaType") or OCI_MANIFEST
            if "manifests" in doc:
                for d in doc["manifests"]:
                    walk(d, depth + 1)
            elif "layers" in doc and doc.get("config", {}).get("mediaType") not in (V1, V2):
                found[desc["digest"]] = (mt, doc)

        for d in index["manifests"]:
            walk(d, 0)
        return found

    def run(self, opts):
        data = open(os.path.join(self.layout, "index.json"), "rb").read()
        index = self.canonical(data, "index", "index.json")
        if index is None:
            return
        images = self.image_manifests(index)
        entries = [m for m in index["manifests"] if m.get("artifactType") == V1]
        if opts["expect"] is not None and len(entries) != opts["expect"]:
            self.fail("index.json holds %d SOCI v1 indexes, want %d" % (len(entries), opts["expect"]))
        subjects = []
        for e in entries:
            self.check_index(e, images, opts)
            subjects.append(e.get("annotations", {}).get(ANN_ENTRY, ""))
        if len(set(subjects)) != len(subjects):
            self.fail("two index.json entries index the same image: %s" % subjects)
        if opts["subjects"] is not None and sorted(subjects) != sorted(opts["subjects"]):
            self.fail("indexed images %s, want %s" % (sorted(subjects), sorted(opts["subjects"])))
        return len(entries)

    def check_index(self, e, images, opts):
        what = "SOCI index %s" % e.get("digest")
        if e.get("mediaType") != OCI_MANIFEST:
            self.fail("%s: index.json entry mediaType %r" % (what, e.get("mediaType")))
        data = self.blob(e, what)
        if data is None:
            return
        ix = self.canonical(data, "manifest", what)
        if ix is None:
            return
        if "artifactType" in ix:
            self.fail("%s has a top-level artifactType" % what)
        if ix.get("schemaVersion") != 2 or ix.get("mediaType") != OCI_MANIFEST:
            self.fail("%s: schemaVersion/mediaType %r %r" % (what, ix.get("schemaVersion"), ix.get("mediaType")))
        if ix.get("config") != {"mediaType": V1, "digest": EMPTY, "size": 2}:
            self.fail("%s: config %r" % (what, ix.get("config")))
        elif self.blob(ix["config"], what + " config") != b"{}":
            self.fail("%s: the config blob is not {}" % what)
        tool = ix.get("annotations", {})
        if list(tool) != [ANN_TOOL] or not tool[ANN_TOOL]:
            self.fail("%s: annotations %r" % (what, tool))
        subj = ix.get("subject")
        if not isinstance(subj, dict) or subj.get("digest") not in images:
            self.fail("%s: subject %r is not an image manifest of the layout" % (what, subj))
            return
        if e.get("annotations", {}).get(ANN_ENTRY) != subj["digest"]:
            self.fail("%s: index.json entry annotations %r, subject %s" % (what, e.get("annotations"),
                                                                         subj["digest"]))
        parent_mt, manifest = images[subj["digest"]]
        raw = open(self.blob_path(subj["digest"]), "rb").read()
        if subj.get("mediaType") != parent_mt or subj.get("size") != len(raw) or set(subj) != {"mediaType", "digest", "size"}:
            self.fail("%s: subject %r, want mediaType %s size %d" % (what, subj, parent_mt, len(raw)))
        layers = manifest["layers"]
        pos = {l["digest"]: i for i, l in enumerate(layers)}
        last = -1
        indexed = []
        for z in ix.get("layers") or []:
            zw = "%s ztoc %s" % (what, z.get("digest"))
            ann = z.get("annotations", {})
            keys = {ANN_LAYER_DIGEST, ANN_LAYER_MT, ANN_SPAN}
            if opts["xattr"] and ANN_XATTR in ann:
                keys.add(ANN_XATTR)
            if set(ann) != keys:
                self.fail("%s: annotations %s, want %s" % (zw, sorted(ann), sorted(keys)))
            if z.get("mediaType") != "application/octet-stream" or set(z) != {"mediaType", "digest", "size", "annotations"}:
                self.fail("%s: descriptor %r" % (zw, z))
            ld = ann.get(ANN_LAYER_DIGEST)
            if ld not in pos:
                self.fail("%s: layer %s is not a layer of the image" % (zw, ld))
                continue
            if pos[ld] <= last:
                self.fail("%s: ztocs are not in the image's layer order" % what)
            last = pos[ld]
            indexed.append(ld)
            if ann.get(ANN_LAYER_MT) != layers[pos[ld]]["mediaType"]:
                self.fail("%s: layer mediaType %r, the image says %r" % (zw, ann.get(ANN_LAYER_MT),
                                                                        layers[pos[ld]]["mediaType"]))
            if ann.get(ANN_SPAN) != str(opts["span"]):
                self.fail("%s: span-size %r, want %d" % (zw, ann.get(ANN_SPAN), opts["span"]))
            self.blob(z, zw)
        if not indexed:
            self.fail("%s has no ztocs" % what)
        if opts["min"] is not None:
            want = [l["digest"] for l in layers if l["size"] >= opts["min"]]
            if indexed != want:
                self.fail("%s: indexed layers %s, want those of at least %d bytes: %s" % (what, indexed, opts["min"], want))
        if not self.quiet:
            print("%s: image %s (%s), %d of %d layers" % (what, subj["digest"], subj["mediaType"], len(indexed),
                                                          len(layers)))


def main():
    args = sys.argv[1:]
    opts = {"expect": None, "span": 4194304, "min": None, "xattr": False, "subjects": None}
    quiet = False
    pos = []
    while args:
        a = args.pop(0)
        if a == "--expect":
            opts["expect"] = int(args.pop(0))
        elif a == "--span-size":
            opts["span"] = int(args.pop(0))
        elif a == "--min-layer-size":
            opts["min"] = int(args.pop(0))
        elif a == "--xattr":
            opts["xattr"] = True
        elif a == "--subject":
            opts["subjects"] = (opts["subjects"] or []) + [args.pop(0)]
        elif a == "--quiet":
            quiet = True
        else:
            pos.append(a)
    if len(pos) != 1:
        raise SystemExit(__doc__)
    c = Checker(pos[0], quiet)
    n = c.run(opts)
    if c.failures:
        sys.exit(1)
    print("OK %d" % n)


if __name__ == "__main__":
    main()
