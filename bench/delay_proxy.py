#!/usr/bin/python3
"""delay_proxy.py --listen HOST:PORT --upstream HOST:PORT [--rtt-ms 20] [--port-file F]

A TCP proxy that adds latency, for benchmarks on machines without netem:
every byte is held for half the round-trip time in each direction (the
client's request rtt/2 on the way in, the answer rtt/2 on the way out), so
a request/response exchange costs one extra round trip of --rtt-ms.  A new
connection also pays one round trip before its first bytes go upstream,
standing in for the TCP handshake the kernel answered at once.  Delay is
added without limiting throughput: data keeps flowing while earlier bytes
wait (up to --max-queue bytes in flight per direction, then the reader
stops, which is TCP's own back pressure).

One thread per direction and connection; runs until SIGTERM/SIGINT.
Standard library only.
"""
import argparse
import collections
import signal
import socket
import sys
import threading
import time


def parse_addr(s):
    host, _, port = s.rpartition(":")
    return host, int(port)


class Pipe:
    """src -> dst, every chunk delivered `delay` seconds after it was read."""

    def __init__(self, src, dst, delay, first_extra, max_queue, on_close):
        self.src, self.dst, self.delay = src, dst, delay
        self.first_extra = first_extra
        self.max_queue = max_queue
        self.q = collections.deque()
        self.queued = 0
        self.eof = False
        self.cv = threading.Condition()
        self.on_close = on_close
        threading.Thread(target=self.reader, daemon=True).start()
        threading.Thread(target=self.writer, daemon=True).start()

    def reader(self):
        extra = self.first_extra
        try:
            while True:
                with self.cv:
                    while self.queued >= self.max_queue:
                        self.cv.wait()
                data = self.src.recv(262144)
                if not data:
                    break
                due = time.monotonic() + self.delay + extra
                extra = 0.0
                with self.cv:
                    self.q.append((due, data))
                    self.queued += len(data)
                    self.cv.notify_all()
        except OSError:
            pass
        with self.cv:
            self.eof = True
            self.cv.notify_all()

    def writer(self):
        try:
            while True:
                with self.cv:
                    while not self.q and not self.eof:
                        self.cv.wait()
                    if not self.q:
                        break
                    due, data = self.q[0]
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                self.dst.sendall(data)
                with self.cv:
                    self.q.popleft()
                    self.queued -= len(data)
                    self.cv.notify_all()
            try:
                self.dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        except OSError:
            pass
        self.on_close()


def serve(args):
    rtt = args.rtt_ms / 1000.0
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(parse_addr(args.listen))
    ls.listen(128)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % ls.getsockname()[1])
        import os
        os.rename(args.port_file + ".tmp", args.port_file)
    up = parse_addr(args.upstream)
    while True:
        c, _ = ls.accept()
        try:
            u = socket.create_connection(up, timeout=10)
            u.settimeout(None)
        except OSError:
            c.close()
            continue
        for s in (c, u):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        closed = [0]
        lock = threading.Lock()

        def on_close(c=c, u=u, closed=closed, lock=lock):
            with lock:
                closed[0] += 1
                if closed[0] == 2:
                    c.close()
                    u.close()

        Pipe(c, u, rtt / 2, rtt, args.max_queue, on_close)
        Pipe(u, c, rtt / 2, 0.0, args.max_queue, on_close)


def main():
    p = argparse.ArgumentParser(description="TCP proxy adding a fixed round-trip delay")
    p.add_argument("--listen", required=True, help="HOST:PORT (port 0: any, see --port-file)")
    p.add_argument("--upstream", required=True, help="HOST:PORT")
    p.add_argument("--rtt-ms", type=float, default=20.0)
    p.add_argument("--max-queue", type=int, default=8 << 20)
    p.add_argument("--port-file")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        serve(args)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
