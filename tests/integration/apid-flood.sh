#!/bin/sh
# SPDX-License-Identifier: MIT
# jit-apid under a connection flood (jit-apid(8), "Connections"): with
# max_connections_per_address = 50 and request_timeout = 2, idle TCP
# connections from one address beyond that limit, and a connection that
# trickles a header byte a second, are closed by the server (EOF within
# the deadline plus a margin for a busy machine), while grant checks from
# another address all succeed meanwhile; 300 long polls (wait=30) from 30
# other addresses are held to their end, not cut, and cost no thread each
# (jit-apid's Threads: stays under 20).  Loopback accepts any 127/8
# source address, so each client binds its own.
. "$top_srcdir/tests/integration/lib.sh"
setup_env
APID_EXTRA='max_connections_per_address = 50
request_timeout = 2'
start_apid
ok "jit-apid serving on port $APID_PORT (50 connections an address, 2 s to send a request)"

api POST /v1/grants alice-token-xxxxxxxxxx \
    '{"credential": "db-admin", "host_group": "web", "duration": 3600, "reason": "INC-7 flood"}' >/dev/null
expect_eq "grant for alice" "$(cat "$T/api.status")" 201

/usr/bin/python3 - "$APID_PORT" "$T/certs/ca.pem" "$APID_PID" <<'PY' || fail "flood (log: $(tail -5 "$T/apid/log"))"
import asyncio, socket, ssl, sys, threading, time
port, ca, pid = int(sys.argv[1]), sys.argv[2], sys.argv[3]
HOST1 = "Bearer host-token-web01-xxxxxxxx"
IDLE, POLLS, POLL_ADDRS, WAIT = 80, 300, 30, 30
# The server's deadline is 2 s; the margin is for a machine whose cores
# are busy with other work.  Without a deadline a connection stays (an
# idle one up to libmicrohttpd's idle timeout, a trickling one for ever).
DEADLINE = 2 + 13
ctx = ssl.create_default_context(cafile=ca)


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def ok(msg):
    print("ok - " + msg, flush=True)


def request(path, src="127.0.0.1", headers=None):
    """One request on a new TLS connection from src: (status, headers)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=60,
                                 source_address=(src, 0))
    t = ctx.wrap_socket(s, server_hostname="127.0.0.1")
    hdr = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
    t.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: %s\r\n"
               "%sConnection: close\r\n\r\n" % (path, HOST1, hdr)).encode())
    data = b""
    while True:
        b = t.recv(65536)
        if not b:
            break
        data += b
    t.close()
    head = data.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")
    return int(head[0].split()[1]), dict(
        l.split(": ", 1) for l in head[1:] if ": " in l)


def threads():
    for line in open("/proc/%s/status" % pid):
        if line.startswith("Threads:"):
            return int(line.split()[1])


st, h = request("/v1/hosts/web01.test/grants")
if st != 200:
    fail("host list: %d" % st)
etag = h["ETag"]

# --- 300 long polls from 30 addresses, held while the rest goes on ---
polls = []


async def one_poll(i, ramp):
    src = "127.4.0.%d" % (i % POLL_ADDRS + 1)
    # A few handshakes at a time, as a fleet's hosts do not all start in
    # the same millisecond: 300 at once on a slow (sanitizer) build would
    # outlast the 2 s deadline, which is meant for those who never send.
    for attempt in range(3):
        async with ramp:
            try:
                t0 = time.monotonic()
                r, w = await asyncio.open_connection(
                    "127.0.0.1", port, ssl=ctx, server_hostname="127.0.0.1",
                    local_addr=(src, 0))
                w.write(("GET /v1/hosts/web01.test/grants?wait=%d HTTP/1.1\r\n"
                         "Host: 127.0.0.1\r\nAuthorization: %s\r\n"
                         "If-None-Match: %s\r\nConnection: close\r\n\r\n"
                         % (WAIT, HOST1, etag)).encode())
                await w.drain()
                break
            except OSError as e:
                print("# poll %d: %r, again" % (i, e), flush=True)
    else:
        return
    sent[0] += 1
    line = await r.readline()
    polls.append((line.split()[1].decode() if line else "EOF",
                  time.monotonic() - t0))
    w.close()


sent = [0]


def run_polls():
    async def main():
        ramp = asyncio.Semaphore(8)
        await asyncio.gather(*(one_poll(i, ramp) for i in range(POLLS)))
    asyncio.run(main())


pt = threading.Thread(target=run_polls)
pt.start()
end = time.monotonic() + 60
while sent[0] < POLLS and time.monotonic() < end:
    time.sleep(0.05)  # (the poll's interval)
if sent[0] < POLLS:
    fail("only %d of %d long polls sent in 60 s" % (sent[0], POLLS))
ok("%d long polls (wait=%d) sent from %d addresses" % (POLLS, WAIT,
                                                         POLL_ADDRS))

# --- idle connections from one address, beyond its limit ---
idle = []
for i in range(IDLE):
    s = socket.socket()
    s.bind(("127.3.0.1", 0))
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    idle.append([s, time.monotonic(), None])

# --- a connection trickling its headers, a byte a second ---
tr = ctx.wrap_socket(socket.create_connection(
    ("127.0.0.1", port), timeout=60, source_address=("127.3.0.2", 0)),
    server_hostname="127.0.0.1")
tr_t0 = time.monotonic()
tr_closed = [None]


def trickle():
    msg = b"GET /v1/hosts/web01.test/grants HTTP/1.1\r\nHost: 127.0.0.1\r\n" \
          + b"X-Slow: " + b"a" * 100
    tr.settimeout(1)
    for i in range(len(msg)):
        try:
            tr.send(msg[i:i + 1])
            if tr.recv(1) == b"":
                tr_closed[0] = time.monotonic() - tr_t0
                return
        except socket.timeout:
            continue
        except (OSError, ssl.SSLError):
            tr_closed[0] = time.monotonic() - tr_t0
            return
        if time.monotonic() - tr_t0 > 40:
            return


tt = threading.Thread(target=trickle)
tt.start()

# --- logins from another address meanwhile: every one answered ---
most_threads = threads()
logins = 0
while any(c[2] is None for c in idle) and logins < 200:
    st, _ = request("/v1/hosts/web01.test/grants/alice")
    if st != 200:
        fail("grant check %d during the flood: %d" % (logins + 1, st))
    logins += 1
    most_threads = max(most_threads, threads())
    now = time.monotonic()
    for c in idle:
        if c[2] is not None:
            continue
        try:
            if c[0].recv(1) == b"":
                c[2] = now - c[1]
        except BlockingIOError:
            pass
        except OSError:
            c[2] = now - c[1]
        if c[2] is None and now - c[1] > DEADLINE:
            fail("an idle connection is still open after %.1f s" % (now - c[1]))
    time.sleep(0.05)  # (the poll's interval)
if logins < 5:
    fail("only %d grant checks before the idle connections ended" % logins)
ok("%d grant checks from 127.0.0.1 all 200 while %d idle connections from"
   " 127.3.0.1 were held" % (logins, IDLE))
ok("the %d idle connections closed by the server, the last after %.1f s"
   % (IDLE, max(c[2] for c in idle)))

tt.join(60)
if tr_closed[0] is None or tr_closed[0] > DEADLINE:
    fail("the trickling connection was not closed within %d s (%s)"
         % (DEADLINE, tr_closed[0]))
ok("a connection trickling its headers closed after %.1f s" % tr_closed[0])

while pt.is_alive():
    most_threads = max(most_threads, threads())
    pt.join(0.5)
if most_threads >= 20:
    fail("jit-apid had %d threads with %d long polls held" % (most_threads,
                                                              POLLS))
ok("jit-apid's threads at most %d with %d long polls held" % (most_threads,
                                                                POLLS))
bad = [p for p in polls if p[0] != "304" or p[1] < WAIT - 1.5
       or p[1] > WAIT + 30]
if len(polls) != POLLS or bad:
    fail("long polls: %d answered, %d not 304 after about %d s: %r"
         % (len(polls), len(bad), WAIT, bad[:5]))
ok("every long poll held to its end and answered 304 (%.1f..%.1f s)"
   % (min(p[1] for p in polls), max(p[1] for p in polls)))
PY

# The stop with long polls held: each is answered (304) or closed at once,
# not left to its wait, and the stop is quick.
/usr/bin/python3 - "$APID_PORT" "$T/certs/ca.pem" "$T/stop-polls" <<'PY' &
import socket, ssl, sys, threading, time
port, ca, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(cafile=ca)
res, conns = [], []
t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=60),
                    server_hostname="127.0.0.1")
t.sendall(b"GET /v1/hosts/web01.test/grants HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          b"Authorization: Bearer host-token-web01-xxxxxxxx\r\n"
          b"Connection: close\r\n\r\n")
head = b""
while b"\r\n\r\n" not in head:
    head += t.recv(4096)
etag = [l.split(b": ", 1)[1] for l in head.split(b"\r\n")
        if l.lower().startswith(b"etag: ")][0]
t.close()
for i in range(20):
    t = ctx.wrap_socket(socket.create_connection(
        ("127.0.0.1", port), timeout=60, source_address=("127.6.0.1", 0)),
        server_hostname="127.0.0.1")
    t.sendall(b"GET /v1/hosts/web01.test/grants?wait=30 HTTP/1.1\r\n"
              b"Host: 127.0.0.1\r\nAuthorization: Bearer host-token-web01-"
              b"xxxxxxxx\r\nIf-None-Match: " + etag
              + b"\r\nConnection: close\r\n\r\n")
    conns.append(t)
open(out + ".sent", "w").close()
t0 = time.monotonic()
for t in conns:
    try:
        line = t.recv(100).split(b"\r\n")[0].decode() or "EOF"
    except OSError as e:
        line = "error %r" % e
    res.append("%s %.1f" % (line, time.monotonic() - t0))
open(out, "w").write("\n".join(res) + "\n")
PY
POLLS_PID=$!
wait_for 30 test -e "$T/stop-polls.sent" || fail "the long polls for the stop were not sent"
stop_apid
wait "$POLLS_PID" || true
[ "$APID_STOP_MS" -lt 10000 ] || fail "the stop took $APID_STOP_MS ms with 20 long polls held"
# A poll asked for 30 s: answered within 10 s of the SIGTERM, not at its end.
bad=$(awk '$NF + 0 > 10 || ($2 != 304 && $1 != "EOF")' "$T/stop-polls")
[ -z "$bad" ] && [ "$(wc -l < "$T/stop-polls")" = 20 ] \
    || fail "long polls at the stop: $(cat "$T/stop-polls")"
ok "SIGTERM with 20 long polls held: stopped cleanly in $APID_STOP_MS ms, each answered $(sort -u -k1,2 "$T/stop-polls" | awk '{print $2}' | sort -u | tr '\n' ' ')at once"
