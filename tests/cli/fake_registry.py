#!/usr/bin/python3
"""fake_registry.py PORTFILE [--malformed-auth] -- TEST-ONLY misbehaving registry

A test double, never a registry: a tiny HTTP server on 127.0.0.1 (a free
port, written to PORTFILE once listening) that answers the registry API
wrongly on purpose, so that tests/cli/registry_fake_errors.sh can check
that the client refuses each fault with a specific message.  Only the
standard library; serves until killed (SIGTERM) by the test, by PID.

Behaviour by repository (every other path: 404 with a registry error body):
  GET /v2/                         200 {}  (with --malformed-auth: 401 and a
                                   WWW-Authenticate header whose quoted realm
                                   never ends -- on every path)
  /v2/baddigest/manifests/sha256:D the manifest below, whatever D is asked
                                   for, with Docker-Content-Digest: D (a lie)
  /v2/baddcd/manifests/TAG         the manifest below with a
                                   Docker-Content-Digest of other bytes
  /v2/loop/manifests/TAG           the manifest below, honestly
  /v2/loop/blobs/D                 307 to /v2/loop/redirect/a/D, which
                                   redirects to .../b/D, which redirects
                                   back to .../a/D: a redirect loop
"""
import hashlib
import http.server
import json
import os
import sys

LAYER = "sha256:" + "ab" * 32
CONFIG = "sha256:" + "cd" * 32
MANIFEST = json.dumps({
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": CONFIG, "size": 2},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": LAYER,
                "size": 20 << 20}],
}, separators=(",", ":")).encode()
MANIFEST_DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
OTHER_DIGEST = "sha256:" + hashlib.sha256(b"other bytes").hexdigest()
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"

MALFORMED_AUTH = False


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "fake-registry-for-tests"

    def log_message(self, fmt, *args):  # quiet: the test reads client output only
        pass

    def answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def not_found(self):
        body = json.dumps({"errors": [{"code": "NAME_UNKNOWN", "message": "not here"}]}).encode()
        self.answer(404, body, [("Content-Type", "application/json")])

    def manifest(self, digest_header):
        self.answer(200, MANIFEST, [("Content-Type", MT_MANIFEST), ("Docker-Content-Digest", digest_header)])

    def route(self):
        path = self.path.split("?", 1)[0]
        if MALFORMED_AUTH:
            # an unterminated quoted string: no parser can take this
            self.answer(401, b'{"errors":[{"code":"UNAUTHORIZED"}]}',
                        [("WWW-Authenticate", 'Bearer realm="http://127.0.0.1:1/token,service=fake')])
            return
        if path == "/v2/":
            self.answer(200, b"{}", [("Content-Type", "application/json")])
            return
        parts = path.split("/")  # ['', 'v2', repo, kind, ...]
        if len(parts) < 5:
            self.not_found()
            return
        repo, kind, rest = parts[2], parts[3], "/".join(parts[4:])
        if repo == "baddigest" and kind == "manifests" and rest.startswith("sha256:"):
            self.manifest(rest)  # whatever digest was asked for: not these bytes
        elif repo == "baddcd" and kind == "manifests":
            self.manifest(OTHER_DIGEST)
        elif repo == "loop" and kind == "manifests":
            self.manifest(MANIFEST_DIGEST)
        elif repo == "loop" and kind == "blobs":
            self.answer(307, b"", [("Location", "/v2/loop/redirect/a/" + rest)])
        elif repo == "loop" and kind == "redirect":
            side, digest = rest.split("/", 1) if "/" in rest else ("a", rest)
            other = "b" if side == "a" else "a"
            self.answer(307, b"", [("Location", "/v2/loop/redirect/%s/%s" % (other, digest))])
        else:
            self.not_found()

    do_GET = route
    do_HEAD = route
    do_POST = route
    do_PUT = route
    do_PATCH = route
    do_DELETE = route


def main():
    global MALFORMED_AUTH
    args = sys.argv[1:]
    if "--malformed-auth" in args:
        MALFORMED_AUTH = True
        args.remove("--malformed-auth")
    if len(args) != 1:
        sys.exit("usage: fake_registry.py PORTFILE [--malformed-auth]")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    tmp = args[0] + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, args[0])  # the port file appears whole, once listening
    srv.serve_forever()


if __name__ == "__main__":
    main()
