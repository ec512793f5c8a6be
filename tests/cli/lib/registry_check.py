#!/usr/bin/python3
"""registry_check.py -- look at what a test registry holds (plain HTTP, no auth)

  registry_check.py pushed REG REPO LAYOUT TAG [--fallback yes|no]
      The image TAG of the OCI layout LAYOUT and its SOCI v1 indexes are in
      REG/REPO exactly: the tag names the layout's manifest (same bytes),
      each index manifest is there by digest (same bytes), every blob of
      the image and of each index answers HEAD with 200 and its size.  With
      --fallback yes (the default) the sha256-<hex> referrers tag of the
      image holds an image index listing each index (artifactType v1);
      with --fallback no there must be no such tag.

  registry_check.py consistent REG STORAGE
      Whatever happened before: every manifest the registry holds -- every
      tag (fallback tags included) of every repository, and every manifest
      revision in its storage (STORAGE: the registry's rootdirectory), so
      untagged ones too -- names only blobs (config, layers) and manifests
      (image index entries, a subject) that the repository has.

Prints FAIL lines and exits 1 on a problem; else one OK line.
"""
import hashlib
import json
import os
import sys
import urllib.error
import urllib.request

ACCEPT = ", ".join([
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
])
SOCI_V1 = "application/vnd.amazon.soci.index.v1+json"
REF = "org.opencontainers.image.ref.name"
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def request(reg, path, method="GET", accept=None):
    req = urllib.request.Request("http://%s%s" % (reg, path), method=method)
    if accept:
        req.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def manifest(reg, repo, ref):
    status, body, _ = request(reg, "/v2/%s/manifests/%s" % (repo, ref), accept=ACCEPT)
    return body if status == 200 else None


def blob_size(reg, repo, digest):
    status, _, headers = request(reg, "/v2/%s/blobs/%s" % (repo, digest), method="HEAD")
    if status != 200:
        return None
    return int(headers.get("Content-Length", "-1"))


def has_manifest(reg, repo, digest):
    status, _, _ = request(reg, "/v2/%s/manifests/%s" % (repo, digest), method="HEAD", accept=ACCEPT)
    return status == 200


def layout_blob(layout, digest):
    with open(os.path.join(layout, "blobs", "sha256", digest[7:]), "rb") as f:
        return f.read()


def check_blobs(reg, repo, doc, what):
    for d in [doc.get("config")] + list(doc.get("layers") or []):
        if not d:
            continue
        size = blob_size(reg, repo, d["digest"])
        if size is None:
            fail("%s names blob %s, which %s does not have" % (what, d["digest"], repo))
        elif size != d["size"]:
            fail("%s: blob %s has %d bytes in %s, the descriptor says %d" % (what, d["digest"], size, repo,
                                                                             d["size"]))


def pushed(reg, repo, layout, tag, fallback):
    index = json.load(open(os.path.join(layout, "index.json")))
    entry = [m for m in index["manifests"] if m.get("annotations", {}).get(REF) == tag]
    if not entry:
        fail("no tag %s in %s" % (tag, layout))
        return
    want = layout_blob(layout, entry[0]["digest"])
    got = manifest(reg, repo, tag)
    if got != want:
        fail("%s:%s is not the layout's manifest %s" % (repo, tag, entry[0]["digest"]))
        return
    image = json.loads(want)
    check_blobs(reg, repo, image, "%s:%s" % (repo, tag))
    indexes = [m for m in index["manifests"] if m.get("artifactType") == SOCI_V1 and
               m.get("annotations", {}).get("com.amazon.soci.image-manifest-digest") == entry[0]["digest"]]
    if not indexes:
        fail("the layout has no SOCI index for %s" % entry[0]["digest"])
    for ix in indexes:
        body = manifest(reg, repo, ix["digest"])
        if body != layout_blob(layout, ix["digest"]):
            fail("the SOCI index %s is not in %s (or differs)" % (ix["digest"], repo))
            continue
        check_blobs(reg, repo, json.loads(body), "SOCI index %s" % ix["digest"])
    ftag = "sha256-" + entry[0]["digest"][7:]
    fb = manifest(reg, repo, ftag)
    if fallback:
        if fb is None:
            fail("no fallback tag %s in %s" % (ftag, repo))
            return
        listed = {m.get("digest"): m for m in json.loads(fb).get("manifests", [])}
        for ix in indexes:
            m = listed.get(ix["digest"])
            if m is None or m.get("artifactType") != SOCI_V1:
                fail("the fallback tag %s does not list %s as a SOCI v1 index" % (ftag, ix["digest"]))
    elif fb is not None:
        fail("%s has the fallback tag %s, which it should not" % (repo, ftag))
    if not failures:
        print("OK %s:%s: image, %d SOCI index(es), blobs%s" % (repo, tag, len(indexes),
                                                              ", fallback tag" if fallback else ", no fallback tag"))


def consistent(reg, storage):
    base = os.path.join(storage, "docker", "registry", "v2", "repositories")
    repos = []
    for dirpath, dirnames, _ in os.walk(base):
        if "_manifests" in dirnames:
            repos.append(os.path.relpath(dirpath, base))
            dirnames[:] = [d for d in dirnames if not d.startswith("_")]
    seen = 0
    for repo in sorted(repos):
        refs = set()
        status, body, _ = request(reg, "/v2/%s/tags/list" % repo)
        if status == 200:
            refs.update(json.loads(body).get("tags") or [])
        rev = os.path.join(base, repo, "_manifests", "revisions", "sha256")
        if os.path.isdir(rev):
            refs.update("sha256:" + h for h in os.listdir(rev) if os.path.exists(os.path.join(rev, h, "link")))
        for ref in sorted(refs):
            body = manifest(reg, repo, ref)
            if body is None:
                continue  # deleted (a replaced fallback index), or a tag without a manifest
            seen += 1
            what = "%s@%s" % (repo, ref if ref.startswith("sha256:") else ref + " (" + "sha256:" +
                                 hashlib.sha256(body).hexdigest() + ")")
            doc = json.loads(body)
            if "manifests" in doc:
                for m in doc["manifests"]:
                    if not has_manifest(reg, repo, m["digest"]):
                        fail("%s lists manifest %s, which %s does not have" % (what, m["digest"], repo))
            else:
                check_blobs(reg, repo, doc, what)
            subj = doc.get("subject")
            if subj and not has_manifest(reg, repo, subj["digest"]):
                fail("%s has subject %s, which %s does not have" % (what, subj["digest"], repo))
    if not failures:
        print("OK consistent: %d manifests in %d repositories" % (seen, len(repos)))


def main():
    a = sys.argv[1:]
    if a[:1] == ["pushed"] and len(a) in (5, 7):
        fallback = True
        if len(a) == 7:
            if a[5] != "--fallback" or a[6] not in ("yes", "no"):
                raise SystemExit(__doc__)
            fallback = a[6] == "yes"
        pushed(a[1], a[2], a[3], a[4], fallback)
    elif a[:1] == ["consistent"] and len(a) == 3:
        consistent(a[1], a[2])
    else:
        raise SystemExit(__doc__)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
