#!/usr/bin/python3
"""fault_proxy.py -- TEST-ONLY fault-injecting HTTP proxy in front of a registry.

    fault_proxy.py --upstream 127.0.0.1:PORT --port-file F --control FILE [--log FILE]
                   [--connections FILE]

NOT FOR PRODUCTION: it exists only for the tests in tests/cli/.  Listens on
127.0.0.1 only, on a free port written to --port-file; SIGTERM stops it.

Every request is forwarded to the upstream unchanged (see proxylib.py)
unless a rule of the control file says otherwise.  The control file is JSON
and is read again whenever it changes, which also resets every rule's
counters -- so a test picks the faults of each run by rewriting it:

    {"rules": [
       {"match": "^PUT /v2/.*/blobs/uploads/",   regex on "METHOD /path?query"
        "action": "status",                      see below
        "after": 0,                              let the first `after` matches through
        "count": 2,                              then fault this many (-1: every one)
        "status": 503, "retry_after": 1,         for "status" (with "code" and
        "code": "DENIED", "message": "...",      "message" for its error body)
        "delay": 1.5,                            seconds, for "slow", "stall" and "trickle"
        "rate": 2048,                            bytes/s, for "trickle"
        "fraction": 0.5,                         for "truncate"
        "flip": 1, "at": 0.5}                    for "corrupt"
    ]}

A missing or empty file means no faults.  The first rule whose regex
matches and whose window covers this match applies; each rule counts its
own matches (faulted or not).

Actions:
  reset        close the connection with a TCP RST before forwarding (the
               registry never sees the request; a body is not read)
  reset_after  forward (the registry acts on it), then RST instead of the
               answer: the client cannot know whether it happened
  status       answer `status` (500, 503, 429 ...) with a registry-style
               JSON error and, if given, Retry-After; the request is
               drained, not forwarded
  slow         sleep `delay` seconds, then forward
  stall        sleep `delay` seconds, then close without answering
  norange      forward without the Range header: the registry answers
               200 with the whole blob, as a server without ranges would
  reorder_scope  forward; in a WWW-Authenticate challenge, list each
               scope's actions in reverse alphabetical order ("push,pull"),
               which distribution itself does at random (it names them in
               Go map order)
  trickle      forward; send the answer's headers with its real
               Content-Length, then its body at `rate` bytes/s (default
               2048) in tenths of a second, until the client hangs up or
               `delay` seconds (default 600) have passed
  truncate     forward; send the answer's headers with its real
               Content-Length but only `fraction` of its body, then close
               (answers without a body are passed through and not counted)
  corrupt      forward; send a 200 or 206 answer's headers unchanged and
               its body with `flip` bytes (default 1) inverted (XOR 0xff),
               starting at `at` (default 0.5) of the body's length: same
               length, wrong bytes (answers without a body, or other
               statuses, are passed through and not counted)

--log FILE gets one line per request: time, counter, METHOD path, the
action taken ("pass" when none) and the status sent.
"""
import argparse
import json
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import proxylib  # noqa: E402

SCOPE_RE = re.compile(r'(scope="[^"]*:)([^":]*)"')


class Rules:
    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.stamp = None
        self.rules = []
        self.counts = []
        self.total = 0

    def _reload(self):
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        if stamp == self.stamp:
            return
        self.stamp = stamp
        rules = []
        if stamp is not None:
            with open(self.path) as f:
                text = f.read().strip()
            if text:
                rules = json.loads(text).get("rules", [])
        for r in rules:
            r["_re"] = re.compile(r.get("match", ""))
        self.rules = rules
        self.counts = [0] * len(rules)

    def pick(self, line):
        """the rule to apply to this request (or None), and the request's number"""
        with self.lock:
            self._reload()
            self.total += 1
            chosen = None
            for i, r in enumerate(self.rules):
                if not r["_re"].search(line):
                    continue
                k = self.counts[i]
                self.counts[i] += 1
                after, count = int(r.get("after", 0)), int(r.get("count", -1))
                if chosen is None and k >= after and (count < 0 or k < after + count):
                    chosen = r
            return chosen, self.total

    def uncount(self, rule):
        """a truncate rule that found no body to cut: give the match back"""
        with self.lock:
            for i, r in enumerate(self.rules):
                if r is rule:
                    self.counts[i] -= 1


class FaultHandler(proxylib.ProxyHandler):
    def exchange(self):
        line = "%s %s" % (self.command, self.path)
        rule, n = self.server.rules.pick(line)
        action = rule.get("action") if rule else "pass"
        log = self.server.note
        if action == "reset":
            log("#%d %s -> RESET" % (n, line))
            self.reset()
            return
        if action == "stall":
            time.sleep(float(rule.get("delay", 30)))
            log("#%d %s -> STALL then close" % (n, line))
            self.reset()
            return
        if action == "status":
            self.drain_body()
            status = int(rule.get("status", 503))
            extra = []
            if rule.get("retry_after") is not None:
                extra.append(("Retry-After", str(rule["retry_after"])))
            log("#%d %s -> STATUS %d" % (n, line, status))
            code = rule.get("code", "TOOMANYREQUESTS" if status == 429 else "UNAVAILABLE")
            self.answer_error(status, code, rule.get("message", "injected by fault_proxy.py"), extra)
            return
        if action == "slow":
            time.sleep(float(rule.get("delay", 1)))
        up = self.forward(drop=("range",) if action == "norange" else ())
        if action == "reset_after":
            up.read_all()
            log("#%d %s -> upstream %d, RESET instead" % (n, line, up.status))
            self.reset()
            return
        if action == "reorder_scope":
            ch = up.header("WWW-Authenticate")
            if ch:
                up.set_header("WWW-Authenticate", SCOPE_RE.sub(
                    lambda m: m.group(1) + ",".join(sorted(m.group(2).split(","), reverse=True)) + '"', ch))
        if action == "trickle":
            length = up.header("Content-Length")
            if self.command != "HEAD" and length is not None and int(length) > 0:
                data = up.read_all()
                rate = max(1, int(rule.get("rate", 2048)))
                step = max(1, rate // 10)
                self.send_head(up.status, up.reason, up.headers, len(data))
                log("#%d %s -> %d TRICKLE %d bytes at %d B/s" % (n, line, up.status, len(data), rate))
                deadline = time.time() + float(rule.get("delay", 600))
                for off in range(0, len(data), step):  # until the client gives up (BrokenPipe) or the deadline
                    self.wfile.write(data[off:off + step])
                    self.wfile.flush()
                    if time.time() > deadline:
                        break
                    time.sleep(0.1)
                self.hang_up()
                return
            self.server.rules.uncount(rule)
            action = "pass (nothing to trickle)"
        if action == "truncate":
            length = up.header("Content-Length")
            if self.command != "HEAD" and length is not None and int(length) > 1:
                data = up.read_all()
                cut = max(1, min(len(data) - 1, int(len(data) * float(rule.get("fraction", 0.5)))))
                self.send_head(up.status, up.reason, up.headers, len(data))
                self.wfile.write(data[:cut])
                log("#%d %s -> %d TRUNCATED %d of %d bytes" % (n, line, up.status, cut, len(data)))
                self.hang_up()
                return
            self.server.rules.uncount(rule)
            action = "pass (nothing to truncate)"
        if action == "corrupt":
            length = up.header("Content-Length")
            if self.command != "HEAD" and up.status in (200, 206) and length is not None and int(length) > 0:
                data = bytearray(up.read_all())
                flip = max(1, int(rule.get("flip", 1)))
                at = min(len(data) - 1, max(0, int(len(data) * float(rule.get("at", 0.5)))))
                for i in range(at, min(len(data), at + flip)):
                    data[i] ^= 0xFF
                self.send_head(up.status, up.reason, up.headers, len(data))
                self.wfile.write(bytes(data))
                log("#%d %s -> %d CORRUPTED %d byte(s) at %d of %d" % (n, line, up.status, flip, at, len(data)))
                return
            self.server.rules.uncount(rule)
            action = "pass (nothing to corrupt)"
        log("#%d %s -> %d %s" % (n, line, up.status, action))
        self.relay(up)


def main():
    ap = argparse.ArgumentParser(description="TEST-ONLY fault-injecting registry proxy (127.0.0.1)")
    ap.add_argument("--upstream", required=True, help="127.0.0.1:PORT of the registry")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--control", required=True)
    ap.add_argument("--log")
    ap.add_argument("--connections", help="file kept holding the number of client connections accepted")
    a = ap.parse_args()
    srv = proxylib.ProxyServer(FaultHandler, a.upstream, a.log)
    srv.connections_file = a.connections
    srv.rules = Rules(a.control)
    return proxylib.serve(srv, a.port_file)


if __name__ == "__main__":
    sys.exit(main())
