#!/usr/bin/python3
"""referrers_proxy.py -- TEST-ONLY referrers API in front of a registry without one.

    referrers_proxy.py --upstream 127.0.0.1:PORT --port-file F [--log FILE] [--ignore-filter]

NOT FOR PRODUCTION: a test double for tests/cli/registry_referrers_api.sh.
Debian's docker-registry (distribution 2.8) has no referrers API; this
proxy adds just enough of the OCI distribution spec 1.1 one:

  - PUT /v2/NAME/manifests/REF of a manifest with a `subject`: forwarded;
    when the registry stores it (201) the proxy remembers its descriptor
    (mediaType, digest, size, artifactType = the manifest's artifactType,
    else its config's mediaType, annotations) and adds `OCI-Subject:
    <subject digest>` to the answer, which tells clients not to maintain
    the sha256-<hex> fallback tag;
  - DELETE /v2/NAME/manifests/DIGEST: forwarded; on success the digest is
    forgotten;
  - GET /v2/NAME/referrers/DIGEST[?artifactType=T]: answered here, never
    forwarded: 200, Content-Type application/vnd.oci.image.index.v1+json,
    an image index of the descriptors remembered for that subject, filtered
    by artifactType with `OCI-Filters-Applied: artifactType` (unless
    --ignore-filter: then everything, no such header, and the client has
    to filter);
  - everything else: forwarded unchanged (proxylib.py).

Only manifests pushed through this proxy while it runs are known.  Listens
on 127.0.0.1 only, on a free port written to --port-file; SIGTERM stops it.
--log FILE: one line per referrers query and per OCI-Subject answer.
"""
import argparse
import hashlib
import json
import os
import re
import sys
import threading
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proxylib  # noqa: E402

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MAX_MANIFEST = 4 << 20
MANIFEST_RE = re.compile(r"^/v2/(.+)/manifests/([^/]+)$")
REFERRERS_RE = re.compile(r"^/v2/(.+)/referrers/([^/]+)$")
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")


class ReferrersHandler(proxylib.ProxyHandler):
    def exchange(self):
        u = urlsplit(self.path)
        m = REFERRERS_RE.match(u.path)
        if m and self.command == "GET":
            self.drain_body()
            self.referrers(m.group(1), m.group(2), parse_qs(u.query).get("artifactType", [None])[0])
            return
        m = MANIFEST_RE.match(u.path)
        if m and self.command == "PUT":
            self.put_manifest(m.group(1))
            return
        if m and self.command == "DELETE":
            up = self.forward()
            if 200 <= up.status < 300:
                self.server.forget(m.group(1), m.group(2))
            self.relay(up)
            return
        self.relay(self.forward())

    def referrers(self, name, digest, artifact_type):
        if not DIGEST_RE.match(digest):
            self.answer_error(400, "DIGEST_INVALID", "bad digest %r" % digest)
            return
        descs = self.server.referrers_of(name, digest)
        headers = [("Content-Type", OCI_INDEX)]
        if artifact_type and not self.server.ignore_filter:
            descs = [d for d in descs if d.get("artifactType") == artifact_type]
            headers.append(("OCI-Filters-Applied", "artifactType"))
        body = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descs},
                          separators=(",", ":")).encode()
        self.server.note("referrers %s %s artifactType=%s -> %d" % (name, digest, artifact_type, len(descs)))
        self.answer(200, body, headers)

    def put_manifest(self, name):
        length = int(self.headers.get("Content-Length") or -1)
        if length < 0 or length > MAX_MANIFEST:
            self.relay(self.forward())
            return
        body = self.read_body()
        up = self.forward(body)
        subject = None
        if up.status == 201:
            try:
                doc = json.loads(body)
            except ValueError:
                doc = None
            if isinstance(doc, dict) and isinstance(doc.get("subject"), dict):
                subject = doc["subject"].get("digest")
            if subject and DIGEST_RE.match(subject):
                desc = {
                    "mediaType": doc.get("mediaType") or (self.headers.get("Content-Type") or "").split(";")[0],
                    "digest": "sha256:" + hashlib.sha256(body).hexdigest(),
                    "size": len(body),
                }
                at = doc.get("artifactType") or (doc.get("config") or {}).get("mediaType")
                if at:
                    desc["artifactType"] = at
                if doc.get("annotations"):
                    desc["annotations"] = doc["annotations"]
                self.server.remember(name, subject, desc)
                up.set_header("OCI-Subject", subject)
                self.server.note("OCI-Subject %s %s -> %s" % (name, desc["digest"], subject))
            else:
                subject = None
        self.relay(up)


class ReferrersServer(proxylib.ProxyServer):
    def __init__(self, upstream, log_path, ignore_filter):
        super().__init__(ReferrersHandler, upstream, log_path)
        self.ignore_filter = ignore_filter
        self.lock = threading.Lock()
        self.by_subject = {}  # (name, subject digest) -> [descriptor], in push order

    def remember(self, name, subject, desc):
        with self.lock:
            lst = self.by_subject.setdefault((name, subject), [])
            if all(d["digest"] != desc["digest"] for d in lst):
                lst.append(desc)

    def forget(self, name, digest):
        with self.lock:
            for key, lst in self.by_subject.items():
                if key[0] == name:
                    lst[:] = [d for d in lst if d["digest"] != digest]

    def referrers_of(self, name, subject):
        with self.lock:
            return [dict(d) for d in self.by_subject.get((name, subject), [])]


def main():
    ap = argparse.ArgumentParser(description="TEST-ONLY referrers API proxy (127.0.0.1)")
    ap.add_argument("--upstream", required=True, help="127.0.0.1:PORT of the registry")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    ap.add_argument("--ignore-filter", action="store_true", help="do not apply ?artifactType=")
    a = ap.parse_args()
    return proxylib.serve(ReferrersServer(a.upstream, a.log, a.ignore_filter), a.port_file)


if __name__ == "__main__":
    sys.exit(main())
