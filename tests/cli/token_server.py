#!/usr/bin/python3
"""token_server.py -- TEST-ONLY Docker-registry-style token server.

    token_server.py --port-file F --key KEY.pem --cert CERT.pem [--issuer S]
                    [--service S] [--ttl SECS] [--ttl-file F] [--users FILE]
                    [--require-auth] [--log FILE]

NOT FOR PRODUCTION: it exists only for tests/cli/registry_bearer.sh.  It has
no TLS, keeps plaintext test passwords, and grants whatever scope is asked.

Listens on 127.0.0.1 only, on a free port chosen by the kernel, and writes
that port to --port-file once it accepts connections.  Stop it with SIGTERM
(or SIGINT) by its PID.

GET /token?service=S&scope=repository:NAME:ACTIONS[&scope=...] answers
{"token", "access_token", "expires_in", "issued_at"} with a JWT that
distribution 2.8's registry/auth/token accepts when the registry is set up
with
    auth:
      token:
        realm: http://127.0.0.1:PORT/token
        service: S            (--service, default test-registry)
        issuer: I             (--issuer, default test-issuer)
        rootcertbundle: CERT.pem
That code (registry/auth/token/token.go) wants:
  - claims iss = the issuer, aud = the service (a string), exp / nbf
    checked with a 60 s leeway each way, access = [{type, name, actions}];
  - a header with x5c (the signing certificate chain, standard base64 DER,
    verified against rootcertbundle; a self-signed certificate that is in
    the bundle verifies as its own root), or jwk, or a kid that is the
    libtrust fingerprint of a key in the bundle.  We send x5c and kid.
Because of the 60 s leeway, a token meant to live --ttl seconds gets
exp = now + ttl - 60, so that the registry really refuses it ttl seconds
after it was issued (exp may be before iat; the registry does not care).
--ttl-file F: when F exists, the number in it overrides --ttl, read at
every request (so a test changes token lifetimes without a restart).

Credentials: --users FILE holds "user:password" lines.  Basic credentials,
when the request has them, must match a line (else 401).  Without them the
request is anonymous: granted too, unless --require-auth.  The requested
scope is granted as asked.

--log FILE: one JSON line per request: time, user, scopes, status.
Signing: PyJWT (python3-jwt) when python3-cryptography is there, else the
same RS256 signature made with `openssl dgst -sha256 -sign`.
"""
import argparse
import base64
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LEEWAY = 60  # distribution's registry/auth/token Leeway


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pem_to_der(pem_text):
    lines = [l for l in pem_text.splitlines() if l and not l.startswith("-----")]
    return base64.b64decode("".join(lines))


def libtrust_kid(spki_der):
    """libtrust's key ID: base32 of the first 240 bits of sha256(SPKI DER),
    in 12 groups of 4 separated by ':'"""
    s = base64.b32encode(hashlib.sha256(spki_der).digest()[:30]).decode().rstrip("=")
    return ":".join(s[i:i + 4] for i in range(0, len(s), 4))


class Signer:
    def __init__(self, key_path, cert_path):
        self.key_path = key_path
        with open(key_path) as f:
            self.key_pem = f.read()
        with open(cert_path) as f:
            cert_pem = f.read()
        # the first certificate of the file is the leaf
        first = cert_pem.split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----"
        self.cert_der = pem_to_der(first)
        spki = subprocess.run(["openssl", "x509", "-noout", "-pubkey"], input=first.encode(),
                              capture_output=True, check=True).stdout.decode()
        self.kid = libtrust_kid(pem_to_der(spki))
        self.x5c = [base64.b64encode(self.cert_der).decode()]
        self.alg = "ES256" if "EC PRIVATE KEY" in self.key_pem or self._is_ec() else "RS256"
        try:
            import jwt  # python3-jwt
            from jwt.algorithms import has_crypto
            self.jwt = jwt if has_crypto else None
        except ImportError:
            self.jwt = None
        if self.jwt is None and self.alg != "RS256":
            raise SystemExit("token_server.py: an EC key needs python3-cryptography")

    def _is_ec(self):
        out = subprocess.run(["openssl", "pkey", "-in", self.key_path, "-noout", "-text"],
                             capture_output=True).stdout
        return b"ASN1 OID" in out or b"NIST CURVE" in out

    def sign(self, claims):
        headers = {"typ": "JWT", "alg": self.alg, "kid": self.kid, "x5c": self.x5c}
        if self.jwt is not None:
            tok = self.jwt.encode(claims, self.key_pem, algorithm=self.alg, headers=headers)
            return tok if isinstance(tok, str) else tok.decode()
        # fallback without python3-cryptography: RS256 = RSASSA-PKCS1-v1_5 with SHA-256
        signing_input = b64url(json.dumps(headers, separators=(",", ":")).encode()) + "." + \
            b64url(json.dumps(claims, separators=(",", ":")).encode())
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.key_path],
                             input=signing_input.encode(), capture_output=True, check=True).stdout
        return signing_input + "." + b64url(sig)


def parse_scope(s):
    """repository:NAME:a,b -> {type, name, actions}; NAME may hold ':'"""
    first = s.find(":")
    last = s.rfind(":")
    if first < 0 or last <= first:
        return None
    return {"type": s[:first], "name": s[first + 1:last],
            "actions": [a for a in s[last + 1:].split(",") if a]}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "test-token-server"

    def log_message(self, fmt, *args):  # quiet: the --log file is the record
        pass

    def answer(self, status, obj, extra=None):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def record(self, user, scopes, status):
        cfg = self.server.cfg
        if not cfg.log:
            return
        line = json.dumps({"t": round(time.time(), 3), "user": user, "scopes": scopes, "status": status})
        with self.server.lock:
            with open(cfg.log, "a") as f:
                f.write(line + "\n")

    def do_GET(self):
        cfg = self.server.cfg
        u = urlsplit(self.path)
        if u.path != "/token":
            self.answer(404, {"errors": [{"code": "NOT_FOUND", "message": "only /token here"}]})
            return
        q = parse_qs(u.query)
        scopes = []
        for s in q.get("scope", []):
            scopes.extend(x for x in s.split(" ") if x)
        service = q.get("service", [""])[0]
        user = ""
        auth = self.headers.get("Authorization", "")
        if auth.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(auth[6:].strip()).decode().partition(":")
            except Exception:  # noqa: BLE001 -- any garbage is a failed login
                user, password = "?", None
            if self.server.users.get(user) is None or self.server.users.get(user) != password:
                self.record(user, scopes, 401)
                self.answer(401, {"errors": [{"code": "UNAUTHORIZED", "message": "invalid credentials"}]},
                            {"WWW-Authenticate": 'Basic realm="test-token-server"'})
                return
        elif cfg.require_auth:
            self.record("", scopes, 401)
            self.answer(401, {"errors": [{"code": "UNAUTHORIZED", "message": "credentials required"}]},
                        {"WWW-Authenticate": 'Basic realm="test-token-server"'})
            return
        if service != cfg.service:
            self.record(user, scopes, 400)
            self.answer(400, {"errors": [{"code": "DENIED", "message": "unknown service %r" % service}]})
            return
        access = [a for a in (parse_scope(s) for s in scopes) if a]
        ttl = cfg.ttl
        if cfg.ttl_file:
            try:
                with open(cfg.ttl_file) as f:
                    ttl = int(f.read().strip())
            except (OSError, ValueError):
                pass
        now = int(time.time())
        claims = {
            "iss": cfg.issuer,
            "sub": user,
            "aud": cfg.service,
            "exp": now + ttl - LEEWAY,
            "nbf": now - 1,
            "iat": now,
            "jti": secrets.token_hex(12),
            "access": access,
        }
        token = self.server.signer.sign(claims)
        self.record(user, scopes, 200)
        self.answer(200, {"token": token, "access_token": token, "expires_in": ttl,
                          "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))})


def main():
    ap = argparse.ArgumentParser(description="TEST-ONLY registry token server (127.0.0.1)")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--issuer", default="test-issuer")
    ap.add_argument("--service", default="test-registry")
    ap.add_argument("--ttl", type=int, default=300)
    ap.add_argument("--ttl-file")
    ap.add_argument("--users")
    ap.add_argument("--require-auth", action="store_true")
    ap.add_argument("--log")
    cfg = ap.parse_args()

    users = {}
    if cfg.users:
        with open(cfg.users) as f:
            for line in f:
                line = line.rstrip("\n")
                if ":" in line:
                    u, _, p = line.partition(":")
                    users[u] = p
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)  # 127.0.0.1 only, kernel-chosen free port
    srv.daemon_threads = True
    srv.cfg = cfg
    srv.users = users
    srv.signer = Signer(cfg.key, cfg.cert)
    srv.lock = threading.Lock()

    def stop(signum, frame):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    tmp = cfg.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.replace(tmp, cfg.port_file)
    srv.serve_forever(poll_interval=0.2)
    srv.server_close()


if __name__ == "__main__":
    sys.exit(main())
