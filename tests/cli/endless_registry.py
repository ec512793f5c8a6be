#!/usr/bin/python3
"""endless_registry.py PORTFILE -- TEST-ONLY registry whose one layer never ends

A test double, never a registry: listens on 127.0.0.1 (a free port, written
to PORTFILE), serves /v2/, the manifest of big:t (one gzip layer whose
descriptor says 2000000 bytes, and a config), the config blob, and for the
layer an endless chunked body of zeros: a registry streaming a layer past
its declared size.  Standard library only; stopped by the test (SIGTERM).
"""
import hashlib
import http.server
import json
import sys

CONFIG = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
CONFIG_D = "sha256:" + hashlib.sha256(CONFIG).hexdigest()
LAYER_D = "sha256:" + "ab" * 32
MANIFEST = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": CONFIG_D, "size": len(CONFIG)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": LAYER_D, "size": 2000000}],
}).encode()
MANIFEST_D = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, body, ctype, extra=None):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):
        p = self.path.split("?")[0]
        if p == "/v2/":
            return self.answer(b"{}", "application/json")
        if p in ("/v2/big/manifests/t", "/v2/big/manifests/" + MANIFEST_D):
            return self.answer(MANIFEST, "application/vnd.oci.image.manifest.v1+json",
                               {"Docker-Content-Digest": MANIFEST_D})
        if p == "/v2/big/blobs/" + CONFIG_D:
            return self.answer(CONFIG, "application/octet-stream")
        if p == "/v2/big/blobs/" + LAYER_D:
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b"\0" * 65536
            try:
                while True:
                    self.wfile.write(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):
                return
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = do_GET


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
srv.daemon_threads = True
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
srv.serve_forever()
