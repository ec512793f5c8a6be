#!/usr/bin/python3
"""storage_redirect.py -- TEST-ONLY registry front that sends blob downloads
to a separate "storage" URL, as registries backed by object storage do.

    storage_redirect.py --upstream 127.0.0.1:PORT --port-file F --log FILE
                        [--upstream-user U:P] [--expire-every N]

NOT FOR PRODUCTION: a test double for tests/cli/registry_storage_redirect.sh.
In front of Debian's docker-registry (which serves blobs itself):

  - GET /v2/NAME/blobs/DIGEST: answered here with 307 to
    http://localhost:PORT/storage/NAME/DIGEST?exp=T&n=K -- this server
    again, but under another host name, so a client must treat it as a
    different host (never send it the registry's Authorization).  Redirect
    number K (counting from 1) carries an exp already past, like an expired
    pre-signed URL, when K % N == 1 for --expire-every N (default 3: the
    1st, 4th, 7th ...; 1: every one);
  - GET /storage/NAME/DIGEST?exp=T: 403 (an S3-style XML body) when T is
    past; 400 when the request carries an Authorization header (a leaked
    credential: logged as AUTH-LEAK); else the blob from the registry
    (fetched with --upstream-user's Basic credentials, the client's Range
    passed on), relayed;
  - everything else (manifests, HEAD of blobs, uploads, /v2/): forwarded
    unchanged (proxylib.py).

Listens on 127.0.0.1 only, on a free port written to --port-file; SIGTERM
stops it.  --log FILE: one line per redirect and per storage answer.
"""
import argparse
import base64
import os
import re
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proxylib  # noqa: E402

BLOB_RE = re.compile(r"^/v2/(.+)/blobs/(sha256:[0-9a-f]{64})$")
STORAGE_RE = re.compile(r"^/storage/(.+)/(sha256:[0-9a-f]{64})$")


class StorageHandler(proxylib.ProxyHandler):
    def exchange(self):
        srv = self.server
        u = urlsplit(self.path)
        m = BLOB_RE.match(u.path)
        if m and self.command == "GET":
            self.drain_body()
            with srv.lock:
                srv.redirects += 1
                k = srv.redirects
            expired = k % srv.expire_every == 1 % srv.expire_every
            exp = int(time.time()) + (-10 if expired else 600)
            loc = "http://localhost:%d/storage/%s/%s?exp=%d&n=%d" % (srv.server_address[1], m.group(1),
                                                                    m.group(2), exp, k)
            srv.note("redirect #%d %s -> %s" % (k, m.group(2)[:19], "expired" if expired else "valid"))
            self.answer(307, b"", [("Location", loc)])
            return
        m = STORAGE_RE.match(u.path)
        if m and self.command in ("GET", "HEAD"):
            self.drain_body()
            if self.headers.get("Authorization") is not None:
                srv.note("AUTH-LEAK %s %s" % (self.command, u.path))
                self.answer(400, b"credentials sent to storage", [("Content-Type", "text/plain")])
                return
            exp = int(parse_qs(u.query).get("exp", ["0"])[0])
            if exp < time.time():
                srv.note("storage 403 expired %s" % m.group(2)[:19])
                body = b"<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code>" \
                       b"<Message>Request has expired</Message></Error>"
                self.answer(403, body, [("Content-Type", "application/xml")])
                return
            self.path = "/v2/%s/blobs/%s" % (m.group(1), m.group(2))
            if srv.upstream_auth:  # the client sent none (checked above)
                self.headers["Authorization"] = srv.upstream_auth
            up = self.forward()
            srv.note("storage %d %s range=%s" % (up.status, m.group(2)[:19], self.headers.get("Range")))
            self.relay(up)
            return
        self.relay(self.forward())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    ap.add_argument("--upstream-user")
    ap.add_argument("--expire-every", type=int, default=3)
    a = ap.parse_args()
    srv = proxylib.ProxyServer(StorageHandler, a.upstream, a.log)
    srv.lock = threading.Lock()
    srv.redirects = 0
    if a.expire_every < 1:
        sys.exit("storage_redirect.py: --expire-every must be at least 1")
    srv.expire_every = a.expire_every
    srv.upstream_auth = None
    if a.upstream_user:
        srv.upstream_auth = "Basic " + base64.b64encode(a.upstream_user.encode()).decode()
    proxylib.serve(srv, a.port_file)


if __name__ == "__main__":
    main()
