#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""API tests of jit-apid: every endpoint, the one-grant rule under 50
concurrent requests, bad input refused with 4xx and nothing stored,
authentication and host isolation.  Prints "ok - ..." lines; exits 1 on
the first failure.

  apid-test.py URL CERTDIR DB [OPENAPI.yaml]

DB: sqlite:PATH (or a path) or postgresql:CONNINFO.
"""
import concurrent.futures
import http.client
import json
import ssl
import subprocess
import threading
import time
import urllib.parse

from apidtest import (ALICE, BOB, BOSS, CAROL, CERTS, CTX, HOST1, HOST2,
                      SPEC, URL, count, expect, fail, ok)
# This script reads the answers' headers (ETag, ...) throughout.
from apidtest import call_with_headers as call


# --- authentication and host isolation ---
for auth in (None, "Bearer nope-nope-nope-nope", "Basic x", ALICE):
    st, doc, _ = call("GET", "/v1/hosts/web01.test/grants", auth)
    expect("host list with %r" % auth, st, 401)
st, _, _ = call("GET", "/v1/hosts/web02.test/grants", HOST1)
expect("web01 reading web02's list", st, 401)
st, _, _ = call("GET", "/v1/hosts/web02.test/grants/alice", HOST1)
expect("web01 reading web02's grant", st, 401)
st, _, _ = call("GET", "/v1/grants", HOST1)
expect("a host on the people side", st, 401)
st, _, _ = call("GET", "/v1/grants", None)
expect("no token on the people side", st, 401)
ok("no token, a wrong one, a person's on the host side, another host's: 401")

# --- host side, empty ---
st, doc, h = call("GET", "/v1/hosts/web01.test/grants", HOST1)
expect("empty list", (st, doc), (200, {"grants": []}))
etag0 = h["ETag"]
st, _, _ = call("GET", "/v1/hosts/web01.test/grants/alice", HOST1)
expect("no grant", st, 404)
st, _, _ = call("GET", "/v1/hosts/web01.test/grants?wait=0", HOST1,
                headers={"If-None-Match": etag0})
expect("unchanged list, no wait", st, 304)
ok("empty list with an ETag; 404 by name; 304 when unchanged")

# --- a request, auto-approved; the host sees it; the long poll wakes ---
box = {}


sent = threading.Event()


def poll():
    # (http.client, not call(): the request is known to be sent before
    # the answer is waited for)
    u = urllib.parse.urlsplit(URL)
    conn = http.client.HTTPSConnection(u.hostname, u.port, context=CTX,
                                       timeout=70)
    t0 = time.time()
    conn.request("GET", "/v1/hosts/web01.test/grants?wait=20",
                 headers={"Authorization": HOST1, "If-None-Match": etag0})
    sent.set()
    r = conn.getresponse()
    text = r.read()
    box["poll"] = (r.status, json.loads(text) if text else None, r.headers)
    box["end"] = time.time()
    box["poll_s"] = box["end"] - t0
    conn.close()


def poll_read():
    """jit-apid has read the poll: every connection to it is open with
    nothing left unread (Recv-Q 0 on jit-apid's side)."""
    out = subprocess.run(["ss", "-tnH", "state", "established",
                          "( sport = :%d )" % urllib.parse.urlsplit(URL).port],
                         capture_output=True, text=True, check=True).stdout
    rows = [r.split() for r in out.splitlines() if r.strip()]
    return bool(rows) and all(r[0] == "0" for r in rows)


with concurrent.futures.ThreadPoolExecutor(1) as ex:
    fut = ex.submit(poll)
    # The change comes once jit-apid holds the poll, not after a pause.
    if not sent.wait(30):
        fail("the long poll was not sent within 30 s")
    end = time.monotonic() + 30
    while not poll_read():
        if time.monotonic() > end or fut.done():
            fail("jit-apid did not take the long poll: %r" % (box,))
        time.sleep(0.01)
    posted = time.time()
    st, g, _ = call("POST", "/v1/grants", ALICE, {
        "credential": "db-admin", "host_group": "web", "duration": 1800,
        "reason": "INC-1 restart replica",
        "ssh_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDHkdrpAIOzm8kahQ+kwMFzo5hwUPnBeolqDxfp/ZNY5 alice@laptop"]})
    fut.result()
expect("request", st, 201)
expect("auto-approved", (g["status"], g["username"], g["hosts"], g["groups"]),
       ("active", "alice", ["web01.test", "web02.test"], ["users", "video"]))
st, doc, h = box["poll"]
if st != 200 or box["poll_s"] > 3 or len(doc["grants"]) != 1:
    fail("long poll: %r after %.1f s" % (box["poll"], box["poll_s"]))
ok("a grant: the waiting long poll answered %.2f s after it" %
   (box["end"] - posted))
hg = doc["grants"][0]
want_keys = {"id", "credential", "requester", "username", "host", "groups",
             "not_before", "expires_at", "reason", "status", "on_logout",
             "ssh_keys"}
expect("host grant fields", set(hg), want_keys)
expect("host grant host", hg["host"], "web01.test")
st, one, _ = call("GET", "/v1/hosts/web01.test/grants/alice", HOST1)
expect("grant by name", (st, one), (200, hg))
st, doc, _ = call("GET", "/v1/hosts/web02.test/grants/alice", HOST2)
expect("on web02 too", (st, doc["host"]), (200, "web02.test"))
ok("the host's view: the contract's fields, its own host name, by name too")

# --- the one-grant rule ---
st, doc, _ = call("POST", "/v1/grants", ALICE, {
    "credential": "db-admin", "host": "web01.test", "duration": 60,
    "reason": "again"})
expect("second grant, same person and credential", (st, doc["error"]),
       (409, "conflict"))
if "already holds" not in doc["message"]:
    fail("message: %r" % doc)
st, b, _ = call("POST", "/v1/grants", BOB, {
    "credential": "db-admin", "host": "web01.test", "duration": 60,
    "reason": "bob too"})
expect("another person on the same credential", (st, b["username"]),
       (201, "bob"))
ok("one active grant per person and credential (409 with a clear message);"
   " another person gets an independent account")


def carol_request(i):
    return call("POST", "/v1/grants", CAROL, {
        "credential": "db-admin", "host": "web02.test", "duration": 60,
        "reason": "race %d" % i})[0]


with concurrent.futures.ThreadPoolExecutor(50) as ex:
    codes = list(ex.map(carol_request, range(50)))
expect("50 concurrent requests", (codes.count(201), codes.count(409)),
       (1, 49))
expect("carol's active grants in the database",
       count("SELECT count(*) FROM grants WHERE requester ="
             " 'carol@EXAMPLE.COM' AND status = 'active'"), 1)
ok("50 concurrent requests of one person: exactly one granted, 49 refused")

# --- approval ---
st, p, _ = call("POST", "/v1/grants", ALICE, {
    "credential": "root-ish", "host": "web01.test", "duration": 300,
    "reason": "need root"})
expect("pending", (st, p["status"], p["username"], p["on_logout"]),
       (201, "pending", "alice-adm", "delete"))
st, doc, _ = call("GET", "/v1/hosts/web01.test/grants/alice-adm", HOST1)
expect("pending is not on the host", st, 404)
for who, code in ((ALICE, 403), (BOB, 403)):
    st, _, _ = call("POST", "/v1/grants/%s/approve" % p["id"], who)
    expect("approve by a requester", st, code)
st, doc, _ = call("POST", "/v1/grants/%s/approve" % p["id"], BOSS)
expect("approve by the approver", (st, doc["status"], doc["decided_by"]),
       (200, "active", "boss@EXAMPLE.COM"))
st, _, _ = call("GET", "/v1/hosts/web01.test/grants/alice-adm", HOST1)
expect("approved is on the host", st, 200)
st, _, _ = call("POST", "/v1/grants/%s/approve" % p["id"], BOSS)
expect("approve twice", st, 409)
ok("a policy with an approver: pending until approved by someone else")

# --- revoke and re-enable ---
st, _, _ = call("POST", "/v1/grants/%s/revoke" % p["id"], BOB)
expect("bob revokes alice's grant", st, 403)
st, doc, _ = call("POST", "/v1/grants/%s/revoke" % p["id"], ALICE,
                  {"reason": "done"})
expect("alice revokes her own", (st, doc["status"]), (200, "revoked"))
st, _, _ = call("GET", "/v1/hosts/web01.test/grants/alice-adm", HOST1)
expect("revoked is off the host", st, 404)
st, doc, _ = call("POST", "/v1/grants/%s/enable" % p["id"], ALICE,
                  {"reason": "again please", "duration": 120})
expect("re-enable", (st, doc["status"], doc["previous"], doc["username"]),
       (201, "pending", p["id"], "alice-adm"))
st, doc, _ = call("POST", "/v1/grants/%s/enable" % g["id"], ALICE,
                  {"reason": "x", "duration": 60})
expect("re-enable an active grant", st, 409)
ok("revoke (own, not someone else's); re-enable with a new reason and"
   " duration")

# --- bad input: 4xx and nothing stored ---
before = count("SELECT count(*) FROM grants")
bad = [
    ({"credential": "db-admin", "host": "web01.test", "duration": 60,
      "reason": "two\nlines"}, 400),
    ({"credential": "db-admin", "host": "web01.test", "duration": 60,
      "reason": "x" * 1025}, 400),
    ({"credential": "db-admin", "host": "web01.test", "duration": 60,
      "reason": "tab\there"}, 400),
    ({"credential": "db-admin", "host": "web01.test", "duration": "60",
      "reason": "r"}, 400),
    ({"credential": "db-admin", "host": "web01.test", "duration": 99999,
      "reason": "r"}, 400),
    ({"credential": 7, "host": "web01.test", "duration": 60,
      "reason": "r"}, 400),
    ({"credential": "db-admin", "host": "web01.test", "duration": 60,
      "reason": "r", "groups": ["wheel"]}, 403),
    ({"credential": "db-admin", "host": "web01.test", "duration": 60,
      "reason": "r", "groups": "users"}, 400),
    ({"credential": "db-admin", "host": "elsewhere.test", "duration": 60,
      "reason": "r"}, 403),
    ({"credential": "db-admin", "host": "web01.test", "host_group": "web",
      "duration": 60, "reason": "r"}, 400),
    ({"credential": "db-admin", "host": "web01.test", "duration": 60,
      "reason": "r", "username": "root"}, 400),
    ({"credential": "db-admin", "host": "web01.test", "duration": 60,
      "reason": "r", "ssh_keys": ["a\nb"]}, 400),
]
for body, code in bad:
    st, doc, _ = call("POST", "/v1/grants", "Bearer dave-token-xxxxxxxxxxx",
                      body)
    if st != code or not isinstance(doc, dict) or "error" not in doc:
        fail("bad request %r: got %r %r, want %d" % (body, st, doc, code))
for raw, code in ((b"{", 400), (b"[]", 400), (b"null", 400),
                  (b'{"a": 1, "a": 2}', 400), (b"x" * (2 << 20), 413)):
    st, doc, _ = call("POST", "/v1/grants", "Bearer dave-token-xxxxxxxxxxx",
                      raw=raw)
    expect("raw body %r" % raw[:20], st, code)
expect("grants stored by bad requests",
       count("SELECT count(*) FROM grants"), before)
ok("%d bad requests (control characters, types, limits, policy, malformed,"
   " oversized): 4xx, nothing stored" % (len(bad) + 5))

# --- events ---
ev = {"id": "ev-1", "type": "account.created", "time": "2026-11-24T10:00:00Z",
      "host": "web01.test", "grant": g["id"], "username": "alice",
      "requester": "alice@EXAMPLE.COM", "detail": {"uid": 70000}}
for _ in range(2):
    st, doc, _ = call("POST", "/v1/hosts/web01.test/events", HOST1,
                      {"events": [ev]})
    expect("events", (st, doc), (200, {"accepted": 1}))
expect("stored once", count("SELECT count(*) FROM events WHERE id = 'ev-1'"),
       1)
before = count("SELECT count(*) FROM events")
for body in ({"events": [dict(ev, id="ev-2"), dict(ev, id="ev-3",
                                                    type="bogus")]},
             {"events": [dict(ev, id="ev-4", host="web02.test")]},
             {"events": [dict(ev, id="ev 5")]},
             {"events": [dict(ev, id="ev-6", time="yesterday")]},
             {"events": [dict(ev, id="ev-7", detail="text")]},
             {"events": "no"}, {}):
    st, _, _ = call("POST", "/v1/hosts/web01.test/events", HOST1, body)
    expect("bad events %r" % body, st, 400)
expect("events stored by bad batches", count("SELECT count(*) FROM events"),
       before)
ok("events: idempotent by id; a batch with one bad event stores nothing")

# --- listing and the operations log ---
st, doc, _ = call("GET", "/v1/grants", ALICE)
if st != 200 or {x["requester"] for x in doc["grants"]} != {
        "alice@EXAMPLE.COM"}:
    fail("alice's list: %r" % doc)
st, doc, _ = call("GET", "/v1/grants?requester=bob@EXAMPLE.COM", ALICE)
if {x["requester"] for x in doc["grants"]} - {"alice@EXAMPLE.COM"}:
    fail("alice sees bob's grants")
st, doc, _ = call("GET", "/v1/grants?status=active", BOSS)
if st != 200 or len(doc["grants"]) != 3:
    fail("approver's list of active grants: %r" % doc)
st, doc, _ = call("GET", "/v1/grants/%s" % b["id"], ALICE)
expect("alice reading bob's grant", st, 404)
st, doc, _ = call("GET", "/v1/grants/%s" % g["id"], ALICE)
expect("grant with its host events", [e["id"] for e in doc["events"]],
       ["ev-1"])
st, _, _ = call("GET", "/v1/operations", ALICE)
expect("a requester's whole log", st, 403)
st, doc, _ = call("GET", "/v1/operations?grant=%s" % p["id"], ALICE)
expect("the log of alice's grant",
       [(o["action"], o["actor"]) for o in doc["operations"]],
       [("revoke", "alice@EXAMPLE.COM"), ("approve", "boss@EXAMPLE.COM"),
        ("request", "alice@EXAMPLE.COM")])
st, doc, _ = call("GET", "/v1/operations", BOSS)
actions = [o["action"] for o in doc["operations"]]
if st != 200 or actions.count("request") < 4 or "enable" not in actions:
    fail("operations: %r" % actions)
ok("lists: a requester sees their own; the operations log per grant and in"
   " all, with host events")

# --- who the API takes the caller for ---
st, doc, _ = call("GET", "/v1/whoami", ALICE)
expect("alice's whoami", (st, doc), (200, {
    "person": "alice@EXAMPLE.COM", "role": "requester",
    "authenticated_by": "token"}))
st, doc, _ = call("GET", "/v1/whoami", BOSS)
expect("boss's whoami", (st, doc["person"], doc["role"]),
       (200, "boss@EXAMPLE.COM", "approver"))
for auth in (None, "Bearer not-a-token-of-anyone", HOST1,
             "Negotiate YIIBAAAA", "negotiate !!"):
    st, doc, _ = call("GET", "/v1/whoami", auth)
    expect("whoami with %r" % auth, st, 401)
ok("GET /v1/whoami: the person, role and how they signed on; no person,"
   " a host's token, a ticket where no keytab is set: 401")

# --- client certificates (mTLS) ---
cctx = ssl.create_default_context(cafile=CERTS + "/ca.pem")
cctx.load_cert_chain(CERTS + "/client.pem", CERTS + "/client.key")
st, doc, _ = call("GET", "/v1/hosts/web01.test/grants/alice", ctx=cctx)
expect("web01's certificate for web01", st, 200)
st, doc, _ = call("GET", "/v1/hosts/web02.test/grants/alice", ctx=cctx)
expect("web01's certificate for web02", st, 401)
ok("a client certificate naming the host authenticates it, for itself only")

# --- the answers have the spec's shape ---
if SPEC:
    import yaml
    schemas = yaml.safe_load(open(SPEC))["components"]["schemas"]

    def conforms(what, obj, name):
        sch = schemas[name]
        missing = set(sch["required"]) - set(obj)
        extra = set(obj) - set(sch["properties"])
        if missing or extra:
            fail("%s vs %s: missing %s, not in the spec %s" %
                 (what, name, sorted(missing), sorted(extra)))
        for k, v in sch["properties"].items():
            if k in obj and "enum" in v and obj[k] not in v["enum"]:
                fail("%s.%s: %r not in %r" % (what, k, obj[k], v["enum"]))

    st, doc, _ = call("GET", "/v1/grants", BOSS)
    for x in doc["grants"]:
        conforms("people grant", x, "PeopleGrant")
    st, doc, _ = call("GET", "/v1/hosts/web01.test/grants", HOST1)
    for x in doc["grants"]:
        conforms("host grant", x, "Grant")
    st, doc, _ = call("GET", "/v1/grants/%s" % g["id"], BOSS)
    for x in doc["events"]:
        conforms("event", {k: v for k, v in x.items() if k != "received"},
                 "Event")
    st, doc, _ = call("POST", "/v1/grants", BOB, {"credential": 1})
    conforms("error", doc, "Error")
    who = yaml.safe_load(open(SPEC))["paths"]["/v1/whoami"]["get"][
        "responses"]["200"]["content"]["application/json"]["schema"]
    schemas["Whoami"] = who
    st, doc, _ = call("GET", "/v1/whoami", BOSS)
    conforms("whoami", doc, "Whoami")
    ok("grants, host grants, events, errors and whoami have the spec's"
       " fields and enum values")
