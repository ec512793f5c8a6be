"""proxylib.py -- TEST-ONLY plumbing shared by fault_proxy.py and referrers_proxy.py.

NOT FOR PRODUCTION.  A small HTTP/1.1 reverse proxy in front of one
upstream registry on 127.0.0.1: it forwards each request as is (the
client's Host header included, so the registry's upload Location URLs
point back at the proxy), streams bodies both ways, and lets a subclass
look at or replace any exchange.  The server listens on 127.0.0.1 only, on
a kernel-chosen free port that it writes (atomically) to a port file once
it accepts connections; SIGTERM or SIGINT stops it.
"""
import http.client
import json
import os
import signal
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
              "te", "trailer", "transfer-encoding", "upgrade", "expect"}
CHUNK = 1 << 20


class Upstream:
    """what came back from the registry: status, reason, headers (a list of
    pairs, order and repeats kept) and a body not read yet (or None)"""

    def __init__(self, status, reason, headers, resp, conn):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.resp = resp
        self.conn = conn

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def set_header(self, name, value):
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        if value is not None:
            self.headers.append((name, value))

    def read_all(self):
        data = self.resp.read()
        self.close()
        return data

    def close(self):
        try:
            self.conn.close()
        except OSError:
            pass


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "test-proxy"

    def log_message(self, fmt, *args):  # the subclasses keep their own logs
        pass

    # ---- the client's request ----

    def body_reader(self):
        """yields the request body in pieces (Content-Length or chunked)"""
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            while True:
                line = self.rfile.readline(1024)
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return
                left = size
                while left > 0:
                    piece = self.rfile.read(min(left, CHUNK))
                    if not piece:
                        raise ConnectionError("client went away mid-body")
                    left -= len(piece)
                    yield piece
                self.rfile.readline(16)
        else:
            left = int(self.headers.get("Content-Length") or 0)
            while left > 0:
                piece = self.rfile.read(min(left, CHUNK))
                if not piece:
                    raise ConnectionError("client went away mid-body")
                left -= len(piece)
                yield piece

    def read_body(self):
        return b"".join(self.body_reader())

    def drain_body(self):
        for _ in self.body_reader():
            pass

    # ---- to the registry ----

    def forward(self, body=None, drop=()):
        """send this request to the upstream; body: bytes to send instead of
        streaming the client's (which must then have been read already);
        drop: names of request headers not to pass on"""
        conn = http.client.HTTPConnection(self.server.upstream_host, self.server.upstream_port, timeout=120)
        conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        streaming = body is None
        te_chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        for k, v in self.headers.items():
            lk = k.lower()
            if lk in HOP_BY_HOP or lk in drop or (lk == "content-length" and (te_chunked or not streaming)):
                continue
            conn.putheader(k, v)
        if not streaming:
            conn.putheader("Content-Length", str(len(body)))
        elif te_chunked:
            body = self.read_body()  # rare: re-sent with a length
            conn.putheader("Content-Length", str(len(body)))
            streaming = False
        conn.endheaders()
        sent_ok = True
        if streaming:
            for piece in self.body_reader():
                if sent_ok:
                    try:
                        conn.send(piece)
                    except OSError:
                        sent_ok = False  # the registry answered early: keep draining the client
        elif body:
            conn.send(body)
        resp = conn.getresponse()
        return Upstream(resp.status, resp.reason, resp.getheaders(), resp, conn)

    # ---- back to the client ----

    def send_head(self, status, reason, headers, length):
        self.send_response_only(status, reason)
        for k, v in headers:
            if k.lower() in HOP_BY_HOP or k.lower() == "content-length":
                continue
            self.send_header(k, v)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def relay(self, up):
        """the upstream answer, streamed to the client unchanged"""
        length = up.header("Content-Length")
        if self.command == "HEAD" or up.status in (204, 304) or (100 <= up.status < 200):
            self.send_head(up.status, up.reason, up.headers, int(length) if length is not None else None)
            up.close()
            return
        if length is None:
            data = up.read_all()
            self.send_head(up.status, up.reason, up.headers, len(data))
            self.wfile.write(data)
            return
        left = int(length)
        self.send_head(up.status, up.reason, up.headers, left)
        while left > 0:
            piece = up.resp.read(min(left, CHUNK))
            if not piece:
                break
            self.wfile.write(piece)
            left -= len(piece)
        up.close()
        if left > 0:  # the registry cut us off: so do we
            self.close_connection = True

    def answer(self, status, body=b"", headers=()):
        self.send_response_only(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def answer_error(self, status, code, message, headers=()):
        body = json.dumps({"errors": [{"code": code, "message": message}]}).encode()
        self.answer(status, body, [("Content-Type", "application/json")] + list(headers))

    def reset(self):
        """drop the connection with a TCP RST, no answer"""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        try:
            self.connection.close()
        except OSError:
            pass

    def hang_up(self):
        """close the connection cleanly (FIN) after what was sent"""
        self.close_connection = True
        try:
            self.wfile.flush()
        except OSError:
            pass
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # every method goes through exchange()
    def exchange(self):
        self.relay(self.forward())

    def handle_any(self):
        try:
            self.exchange()
        except (ConnectionError, BrokenPipeError, socket.timeout, http.client.HTTPException) as e:
            self.close_connection = True
            self.server.note("error %s %s: %s" % (self.command, self.path, e))

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any


class ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, handler, upstream, log_path=None):
        super().__init__(("127.0.0.1", 0), handler)  # 127.0.0.1 only, kernel-chosen free port
        host, _, port = upstream.rpartition(":")
        if host not in ("127.0.0.1", "localhost"):
            raise SystemExit("proxy: the upstream must be on 127.0.0.1")
        self.upstream_host = "127.0.0.1"
        self.upstream_port = int(port)
        self.log_path = log_path
        self.log_lock = threading.Lock()
        self.connections = 0
        self.connections_file = None  # when set: the count of accepted connections, kept current

    def get_request(self):
        conn, addr = super().get_request()
        if self.connections_file:
            with self.log_lock:
                self.connections += 1
                tmp = self.connections_file + ".tmp"
                with open(tmp, "w") as f:
                    f.write("%d\n" % self.connections)
                os.replace(tmp, self.connections_file)
        return conn, addr

    def note(self, line):
        if not self.log_path:
            return
        with self.log_lock:
            with open(self.log_path, "a") as f:
                f.write("%.3f %s\n" % (time.time(), line))


def serve(server, port_file):
    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.replace(tmp, port_file)
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit("proxylib.py is a module for fault_proxy.py and referrers_proxy.py")
