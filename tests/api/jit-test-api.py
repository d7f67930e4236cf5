#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A JIT API v1 server for the test suite: TLS on 127.0.0.1 only, answers
driven by files the tests write, and faults on request.

  jit-test-api.py --dir D --cert C --key K [--token T] [--client-ca CA]

D/port      written once listening (the port is chosen by the kernel)
D/grants/<username>.json   served as that user's grant (any JSON text)
D/faults/<username>        instead, a fault: 404, 500, malformed, deep,
                           huge, huge-nolength, hang, slow, empty, redirect
D/events.jsonl             events received (one per id; redeliveries dropped)
D/faults/_list             for the host list: a fault as above, or
                           busy-poll (a poll with wait > 0 is 429)
D/faults/_events           for event batches: 500 (nothing kept), or
                           store-then-500 (kept, but the answer says 500)
D/faults/_events_refuse    a username: a batch with an event of it is 400
D/requests.log             one line per request: method path auth

The host list (GET /v1/hosts/H/grants) is every grant file whose "host"
is H, with an ETag over their contents; ?wait=S holds the answer until the
ETag differs from If-None-Match or S seconds pass.
"""
import argparse
import hashlib
import http.server
import json
import os
import ssl
import threading
import time
import urllib.parse

ARGS = None
LOCK = threading.Lock()


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


LIST_CACHE = {}


def host_list(host):
    """The list and its ETag, rebuilt only when a grant file changed (by
    name, size and mtime): 10,000 grants are read once, not per request."""
    gdir = os.path.join(ARGS.dir, "grants")
    try:
        key = (host, tuple(sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns)
                                  for e in os.scandir(gdir))))
    except OSError:
        key = None
    with LOCK:
        if key is not None and LIST_CACHE.get("key") == key:
            return LIST_CACHE["value"]
    value = build_host_list(host)
    with LOCK:
        LIST_CACHE.clear()
        LIST_CACHE.update(key=key, value=value)
    return value


def build_host_list(host):
    gdir = os.path.join(ARGS.dir, "grants")
    items = []
    for name in sorted(os.listdir(gdir)) if os.path.isdir(gdir) else []:
        body = read(os.path.join(gdir, name))
        try:
            g = json.loads(body)
        except (TypeError, ValueError):
            continue
        if isinstance(g, dict) and g.get("host") == host:
            items.append(g)
    text = json.dumps({"grants": items}, sort_keys=True).encode()
    return text, '"%s"' % hashlib.sha256(text).hexdigest()[:32]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without this, delayed
    # ACK adds ~40 ms to every answer and hides our own latency.
    disable_nagle_algorithm = True

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body, ctype="application/json", headers=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def error(self, status, code):
        self.send(status, json.dumps({"error": code, "message": code}).encode())

    def authorized(self):
        auth = self.headers.get("Authorization", "")
        with LOCK, open(os.path.join(ARGS.dir, "requests.log"), "a") as f:
            f.write("%s %s %s\n" % (self.command, self.path, auth))
        if ARGS.token and auth != "Bearer " + ARGS.token:
            self.error(401, "unauthorized")
            return False
        return True

    def fault(self, kind):
        if kind == "404":
            return self.error(404, "not_found")
        if kind == "500":
            return self.error(500, "internal")
        if kind == "malformed":
            return self.send(200, b'{"id": "g-1", "username": ')
        if kind == "empty":
            return self.send(200, b"")
        if kind == "deep":
            # 100k nested arrays, well-formed: only a depth limit stops it.
            return self.send(200, b"[" * 100000 + b"]" * 100000)
        if kind == "redirect":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:1/")
            self.send_header("Content-Length", "0")
            return self.end_headers()
        if kind == "huge":
            size = 100 * 1024 * 1024
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            chunk = b" " * 65536
            try:
                for _ in range(size // len(chunk)):
                    self.wfile.write(chunk)
            except OSError:
                pass
            return None
        if kind == "huge-nolength":
            # The same without Content-Length: only counting stops it.
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            chunk = b" " * 65536
            try:
                for _ in range(100 * 1024 * 1024 // len(chunk)):
                    self.wfile.write(chunk)
            except OSError:
                pass
            return None
        if kind == "slow":
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            try:
                for _ in range(100):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(1)  # the fault: a byte a second
            except OSError:
                pass
            return None
        if kind == "hang":
            time.sleep(3600)  # the fault: no answer
            return None
        return self.error(500, "unknown_fault")

    def do_GET(self):
        if not self.authorized():
            return None
        url = urllib.parse.urlsplit(self.path)
        parts = [urllib.parse.unquote(p) for p in url.path.split("/")]
        # ['', 'v1', 'hosts', H, 'grants'(, U)]
        if len(parts) == 6 and parts[1:3] == ["v1", "hosts"] and parts[4] == "grants":
            user = parts[5]
            kind = read(os.path.join(ARGS.dir, "faults", user))
            if kind is not None:
                return self.fault(kind.decode().strip())
            body = read(os.path.join(ARGS.dir, "grants", user + ".json"))
            if body is None:
                return self.error(404, "not_found")
            return self.send(200, body)
        if len(parts) == 5 and parts[1:3] == ["v1", "hosts"] and parts[4] == "grants":
            query = urllib.parse.parse_qs(url.query)
            wait = min(float(query.get("wait", ["0"])[0]), 60.0)
            seen = self.headers.get("If-None-Match")
            deadline = time.time() + wait
            while True:
                # (looked at in the wait too: a poll already waiting
                # answers with the fault, as a broken server would)
                kind = read(os.path.join(ARGS.dir, "faults", "_list"))
                if kind is not None and kind.strip() == b"busy-poll":
                    # jit-apid beyond its long-poll budget: a poll that
                    # would wait is 429, one that does not is answered.
                    if wait > 0:
                        return self.send(429, b'{"error": "busy", "message": "busy"}',
                                         headers={"Retry-After": "5"})
                elif kind is not None:
                    return self.fault(kind.decode().strip())
                text, etag = host_list(parts[3])
                if etag != seen or time.time() >= deadline:
                    break
                time.sleep(0.05)  # the long poll's look at the list
            if etag == seen:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                return self.end_headers()
            return self.send(200, text, headers={"ETag": etag})
        return self.error(404, "no_such_path")

    def do_POST(self):
        if not self.authorized():
            return None
        parts = self.path.split("/")
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(min(length, 10 * 1024 * 1024))
        if len(parts) == 5 and parts[1:3] == ["v1", "hosts"] and parts[4] == "events":
            try:
                events = json.loads(body)["events"]
            except (ValueError, KeyError, TypeError):
                return self.error(400, "malformed")
            fault = (read(os.path.join(ARGS.dir, "faults", "_events")) or b"").strip()
            if fault == b"500":
                return self.error(500, "injected")
            refuse = (read(os.path.join(ARGS.dir, "faults", "_events_refuse")) or b"").strip()
            if refuse and any(isinstance(e, dict) and e.get("username") == refuse.decode()
                              for e in events):
                return self.error(400, "event_refused")
            path = os.path.join(ARGS.dir, "events.jsonl")
            with LOCK:
                known = set()
                for line in (read(path) or b"").splitlines():
                    known.add(json.loads(line)["id"])
                with open(path, "a") as f:
                    for e in events:
                        if e.get("id") not in known:
                            known.add(e.get("id"))
                            f.write(json.dumps(e, sort_keys=True) + "\n")
            if fault == b"store-then-500":
                return self.error(500, "injected after storing")
            return self.send(200, json.dumps({"accepted": len(events)}).encode())
        return self.error(404, "no_such_path")


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--dir", required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--token")
    p.add_argument("--client-ca")
    p.add_argument("--port", type=int, default=0,
                   help="0 (the default): one the kernel chooses")
    ARGS = p.parse_args()
    # Many logins at once: a deep backlog, and the TLS handshake done in
    # each connection's thread rather than in accept().
    http.server.ThreadingHTTPServer.request_queue_size = 256
    http.server.ThreadingHTTPServer.allow_reuse_address = True
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    srv.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(ARGS.cert, ARGS.key)
    if ARGS.client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(ARGS.client_ca)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True,
                                 do_handshake_on_connect=False)
    tmp = os.path.join(ARGS.dir, "port.tmp")
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, os.path.join(ARGS.dir, "port"))
    srv.serve_forever()


if __name__ == "__main__":
    main()
