#!/bin/sh
# SPDX-License-Identifier: MIT
# jit-apid on PostgreSQL (a server of Debian's packages on loopback): the
# same API tests as on SQLite, then two jit-apid instances on one
# database, as behind a load balancer: 50 concurrent requests of one
# person spread over both give exactly one grant (the rule lives in the
# database), as do 50 requests of two people for one free account name,
# a host long-polling one instance sees a grant made at the other
# within its one-second re-check, and 50 requests of one person's two
# credentials that give one name on one host store one grant.
. "$top_srcdir/tests/integration/lib.sh"
# The API scripts import tests/api/apidtest.py from their own directory;
# leave no bytecode cache of it in the source tree.
PYTHONDONTWRITEBYTECODE=1; export PYTHONDONTWRITEBYTECODE
[ "$(id -u)" = 0 ] || skip "needs root (to run PostgreSQL as its own user)"
command -v psql >/dev/null || skip "needs psql (package postgresql-client)"
setup_env
start_pg
ok "PostgreSQL on 127.0.0.1:$PG_PORT"
APID_DATABASE="postgresql:$PG_CONNINFO"
start_apid
A_URL=$APID_URL
/usr/bin/python3 "$top_srcdir/tests/api/apid-test.py" "$APID_URL" "$T/certs" "$APID_DATABASE" \
    "$top_srcdir/contrib/openapi.yaml" || fail "API tests on PostgreSQL (log: $(tail -5 "$T/apid/log"))"
/usr/bin/python3 "$top_srcdir/tests/api/apid-contract-test.py" "$APID_URL" "$T/certs" "$APID_DATABASE" "$top_srcdir/contrib/openapi.yaml" || fail "grant contract tests on PostgreSQL (log: $(tail -5 "$T/apid/log"))"
/usr/bin/python3 "$top_srcdir/tests/api/apid-authz-test.py" "$APID_URL" "$T/certs" "$APID_DATABASE" "$top_srcdir/contrib/openapi.yaml" || fail "authorization tests on PostgreSQL (log: $(tail -5 "$T/apid/log"))"
/usr/bin/python3 "$top_srcdir/tests/api/apid-attack-test.py" "$APID_URL" "$T/certs" "$APID_DATABASE" "$top_srcdir/contrib/openapi.yaml" || fail "attack tests on PostgreSQL (log: $(tail -5 "$T/apid/log"))"

# A second instance on the same database.
sed "s|^database = .*|database = $APID_DATABASE|" "$T/apid/apid.conf" > "$T/apid/b.conf"
chmod 600 "$T/apid/b.conf"
"$APID" -c "$T/apid/b.conf" 2>"$T/apid/b.log" </dev/null &
TEST_PIDS="$TEST_PIDS $!"
wait_for 30 grep -q 'serving on' "$T/apid/b.log" >/dev/null || true
B_URL=https://127.0.0.1:$(sed -n 's/^jit-apid: serving on 127.0.0.1://p' "$T/apid/b.log")
[ "$B_URL" != "https://127.0.0.1:" ] || fail "second instance: $(cat "$T/apid/b.log")"
ok "a second jit-apid on the same database: $B_URL"

/usr/bin/python3 - "$A_URL" "$B_URL" "$T/certs/ca.pem" <<'PY' || fail "two instances"
import concurrent.futures, http.client, json, ssl, subprocess, sys, threading, time
import urllib.error, urllib.parse, urllib.request
a, b, ca = sys.argv[1:4]
ctx = ssl.create_default_context(cafile=ca)
def call(url, method, path, token, body=None, headers=None):
    req = urllib.request.Request(url + path, method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers=dict({"Authorization": "Bearer " + token}, **(headers or {})))
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers
DAVE = "dave-token-xxxxxxxxxxx"
HOST = "host-token-web02-xxxxxxxx"
def ask(i):
    return call(a if i % 2 else b, "POST", "/v1/grants", DAVE,
                {"credential": "db-admin", "host": "web02.test",
                 "duration": 600, "reason": "race %d" % i})[0]
with concurrent.futures.ThreadPoolExecutor(50) as ex:
    codes = list(ex.map(ask, range(50)))
if (codes.count(201), codes.count(409)) != (1, 49):
    print("FAIL: 50 requests over two instances: %r" % codes); sys.exit(1)
print("ok - 50 concurrent requests of one person over two instances: one grant, 49 refused")
# Two people, one free name, both instances: the name is bound in the
# database, so exactly one person gets it.
ALICE = "alice-token-xxxxxxxxxx"
BOB = "bob-token-xxxxxxxxxxxx"
BOSS = "boss-token-xxxxxxxxxxx"
def pick(i):
    return call(a if i % 2 else b, "POST", "/v1/grants",
                ALICE if i % 4 < 2 else BOB,
                {"credential": "pick", "host": "web01.test" if i % 4 < 2
                 else "web02.test", "duration": 600,
                 "reason": "name race %d" % i, "username": "raced-two"})[0]
with concurrent.futures.ThreadPoolExecutor(50) as ex:
    codes = list(ex.map(pick, range(50)))
holders = {g["requester"] for g in json.loads(call(a, "GET",
           "/v1/grants?credential=pick", BOSS)[1])["grants"]
           if g["username"] == "raced-two"}
if (codes.count(201), codes.count(409), len(holders)) != (1, 49, 1):
    print("FAIL: 50 requests of two people for one name over two instances:"
          " %r, held by %r" % (codes, holders)); sys.exit(1)
print("ok - 50 concurrent requests of two people for one name over two instances: one person has it")
# A host long-polls instance A; the grant is made at instance B.
st, body, h = call(a, "GET", "/v1/hosts/web02.test/grants", HOST)
etag = h["ETag"]
box = {}
sent = threading.Event()
def poll():
    # (http.client: the request is known to be sent before the answer is
    # waited for)
    u = urllib.parse.urlsplit(a)
    conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=30)
    conn.request("GET", "/v1/hosts/web02.test/grants?wait=20",
                 headers={"Authorization": "Bearer " + HOST, "If-None-Match": etag})
    sent.set()
    r = conn.getresponse()
    box["r"] = (r.status, r.read(), r.headers)
    box["end"] = time.time()
    conn.close()
def poll_read():
    # A has read the poll: its connections are open with nothing unread
    # (Recv-Q 0 on A's side).
    out = subprocess.run(["ss", "-tnH", "state", "established",
                          "( sport = :%d )" % urllib.parse.urlsplit(a).port],
                         capture_output=True, text=True, check=True).stdout
    rows = [r.split() for r in out.splitlines() if r.strip()]
    return bool(rows) and all(r[0] == "0" for r in rows)
with concurrent.futures.ThreadPoolExecutor(1) as ex:
    f = ex.submit(poll)
    # The change comes once A holds the poll, not after a pause.
    if not sent.wait(30):
        print("FAIL: the long poll at A was not sent within 30 s"); sys.exit(1)
    end = time.monotonic() + 30
    while not poll_read():
        if time.monotonic() > end or f.done():
            print("FAIL: A did not take the long poll: %r" % (box,)); sys.exit(1)
        time.sleep(0.01)
    st, body, _ = call(b, "POST", "/v1/grants/" + json.loads(
        call(b, "GET", "/v1/grants?requester=dave@EXAMPLE.COM", DAVE)[1])
        ["grants"][0]["id"] + "/revoke", DAVE, {"reason": "done"})
    revoked = time.time()
    f.result()
# From the revocation's answer: A's watcher looks once a second; 4 s more
# for a busy machine, well inside the poll's 20 s wait.
s = box["end"] - revoked
if box["r"][0] != 200 or s > 5:
    print("FAIL: long poll at A after a change at B: %r after %.1f s" % (box["r"][0], s)); sys.exit(1)
print("ok - a revocation at instance B reached a long poll at instance A after %.2f s" % max(s, 0))
# One person, two credentials whose templates give one name, one host,
# both instances at once: the name's check runs in the insert's
# transaction after claim_name's row lock, so one of the two grants is
# stored, not both (one host, two live grants of one account).
def both(i):
    return call(a if i % 2 else b, "POST", "/v1/grants", DAVE,
                {"credential": "db-admin" if i % 4 < 2 else "pick",
                 "host": "web01.test", "duration": 600,
                 "reason": "one name, two credentials %d" % i})[0]
with concurrent.futures.ThreadPoolExecutor(50) as ex:
    codes = list(ex.map(both, range(50)))
live = [g for g in json.loads(call(a, "GET",
        "/v1/grants?requester=dave@EXAMPLE.COM", BOSS)[1])["grants"]
        if g["status"] in ("active", "pending") and g["username"] == "dave"
        and "web01.test" in g["hosts"]]
if codes.count(201) != 1 or len(live) != 1:
    print("FAIL: 50 requests of one person's two credentials for one name on"
          " one host over two instances: %r, live: %r" % (codes, live))
    sys.exit(1)
print("ok - 50 concurrent requests of one person's two credentials giving one name on one host, over two instances: one grant")
PY
