#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Attacks on jit-apid from a hostile requester (a person with a token), a
hostile host (web02 with its own token) and a client without
credentials: each case is what such a one would try, and what jit-apid
must answer.  Runs after apid-authz-test.py on the same jit-apid
(start_apid of tests/integration/lib/apid.sh: its people, hosts and policies);
every case is independent of the others, and all are run: the failures
are listed at the end.  Prints "ok - ..." lines; exits 1 if any failed.

  apid-attack-test.py URL CERTDIR DB [OPENAPI.yaml]

DB: sqlite:PATH (or a path) or postgresql:CONNINFO.
"""
import json
import os
import ssl
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

import apidtest
from apidtest import (ALICE, BOB, BOSS, CERTS, FAILED, HOST1, HOST2, URL,
                      case, want)

PEOPLE = (ALICE, BOB)
RUN = os.urandom(4).hex()


def call(method, path, auth=None, body=None, raw=None):
    """apidtest.call, with the Content-Type a client sends with a body."""
    sends = raw is not None or body is not None
    return apidtest.call(method, path, auth, body, raw, headers={
        "Content-Type": "application/json"} if sends else None)


def alive(problems):
    st, _ = call("GET", "/v1/grants", ALICE)
    want(problems, "jit-apid still answers", st, 200)


def clean_slate():
    for who in PEOPLE:
        st, doc = call("GET", "/v1/grants", who)
        if st != 200:
            print("FAIL: setup: listing grants: %r %r" % (st, doc))
            sys.exit(1)
        for g in doc["grants"]:
            if g["status"] in ("active", "pending"):
                call("POST", "/v1/grants/%s/revoke" % g["id"], who,
                     {"reason": "test: clean slate"})


def grant(who, host):
    st, doc = call("POST", "/v1/grants", who, {
        "credential": "db-admin", "host": host, "duration": 600,
        "reason": "attack test"})
    if st != 201:
        print("FAIL: setup: a grant on %s: %r %r" % (host, st, doc))
        sys.exit(1)
    return doc


def event(eid, host, g, type_="session.opened"):
    return {"id": eid, "type": type_, "time": "2026-11-24T10:00:00Z",
            "host": host, "grant": g["id"], "username": g["username"],
            "requester": g["requester"], "detail": {}}


def event_ids(g):
    st, doc = call("GET", "/v1/grants/%s" % g["id"], BOSS)
    return st, sorted(e["id"] for e in (doc or {}).get("events", []))


clean_slate()
ag = grant(ALICE, "web01.test")
bg = grant(BOB, "web02.test")

# ---- a hostile host ----

p = []
eid = "attack-shared-" + RUN
st, _ = call("POST", "/v1/hosts/web02.test/events", HOST2,
             {"events": [event(eid, "web02.test", bg)]})
want(p, "web02's own event", st, 200)
st, _ = call("POST", "/v1/hosts/web01.test/events", HOST1,
             {"events": [event(eid, "web01.test", ag)]})
got = event_ids(ag)
# Either web01's event is stored under its own grant, or web01 is told
# (a 409 its outbox retries and logs); never a 200 for an event dropped as
# a redelivery of another host's.
if st == 200 and eid not in got[1]:
    p.append("web01's event %s answered 200 but not stored (events of"
             " alice's grant: %r): web02 took its id first" % (eid, got))
st, _ = call("POST", "/v1/hosts/web02.test/events", HOST2,
             {"events": [event(eid, "web02.test", bg)]})
want(p, "web02's redelivery of its own event", st, 200)
case("an event id another host used first does not drop this host's event"
     " as a redelivery", p)

p = []
for path in ("/v1/hosts/web02.test/grants", "/v1/hosts/web02.test%2F..%2F"
             "web01.test/grants", "/v1/hosts/web02.test/../web01.test/grants",
             "/v1/hosts/WEB01.test/grants", "/v1/hosts/web01.test./grants"):
    st, doc = call("GET", path, HOST1)
    if st not in (401, 404):
        p.append("web01's token on %s: %r %r" % (path, st, doc))
e = event("attack-hostfield-" + RUN, "web01.test", ag)
st, _ = call("POST", "/v1/hosts/web02.test/events", HOST2, {"events": [e]})
want(p, "web02 posting an event that says host web01", st, 400)
st, _ = call("POST", "/v1/hosts/web01.test/events", HOST2, {"events": [e]})
want(p, "web02's token on web01's path", st, 401)
case("a host's token is for its own path only (case, trailing dot, %2F,"
     " ..), and an event's host is the path's", p)

p = []
e = event("attack-deep-" + RUN, "web01.test", ag)
e["detail"] = "DEEP"
raw = json.dumps({"events": [e]}).replace(
    '"DEEP"', '{"a": ' * 5000 + '{}' + '}' * 5000).encode()
st, _ = call("POST", "/v1/hosts/web01.test/events", HOST1, raw=raw)
want(p, "detail nested 5000 deep", st, 400)
e["detail"] = {"x": "y" * 5000}
st, _ = call("POST", "/v1/hosts/web01.test/events", HOST1, {"events": [e]})
want(p, "detail of 5000 bytes", st, 400)
e["detail"] = [1, 2]
st, _ = call("POST", "/v1/hosts/web01.test/events", HOST1, {"events": [e]})
want(p, "detail a list", st, 400)
e = event("attack-nogrant-" + RUN, "web01.test", ag, "account.deleted")
e["grant"] = None
st, _ = call("POST", "/v1/hosts/web01.test/events", HOST1, {"events": [e]})
want(p, "account.deleted with grant null", st, 400)
raw = ('{"events": [%s], "events": []}' % json.dumps(
    event("attack-dup-" + RUN, "web01.test", ag))).encode()
st, _ = call("POST", "/v1/hosts/web01.test/events", HOST1, raw=raw)
want(p, "a batch with the key events twice", st, 400)
alive(p)
case("event details deep, large or not an object, grantless account"
     " events and duplicate keys are refused", p)

p = []
st, doc = call("GET", "/v1/hosts/web01.test/grants/" + bg["username"], HOST1)
want(p, "web01 reading bob's web02-only grant by its name", st, 404)
case("a host reads no grant that does not list it", p)


def wildcard_cert(d, san):
    """A clientAuth, CA:FALSE certificate from the test CA naming san."""
    def q(*a):
        subprocess.run(a, check=True, capture_output=True, cwd=d)
    q("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "w.key",
      "-out", "w.csr", "-subj", "/CN=" + san.split(":")[1])
    with open(d + "/w.ext", "w") as f:
        f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=clientAuth\n" % san)
    q("openssl", "x509", "-req", "-in", "w.csr", "-CA", CERTS + "/ca.pem",
      "-CAkey", CERTS + "/ca.key", "-CAcreateserial", "-CAserial",
      d + "/ca.srl", "-out", "w.pem", "-days", "2", "-extfile", "w.ext")


p = []
with tempfile.TemporaryDirectory() as d:
    # GnuTLS matches a wildcard only with two labels after it: web01.test
    # is safe from *.test, web01.corp.test is not from *.corp.test.
    for san in ("DNS:*.corp.test", "DNS:web0*.corp.test", "DNS:*.test"):
        wildcard_cert(d, san)
        cctx = ssl.create_default_context(cafile=CERTS + "/ca.pem")
        cctx.load_cert_chain(d + "/w.pem", d + "/w.key")
        for h in ("web01.corp.test", "web02.corp.test", "web01.test"):
            req = urllib.request.Request(URL + "/v1/hosts/%s/grants" % h)
            try:
                with urllib.request.urlopen(req, context=cctx,
                                            timeout=70) as r:
                    p.append("a certificate for %s authenticates %s: %d" %
                             (san, h, r.status))
            except urllib.error.HTTPError as e:
                if e.code != 401:
                    p.append("%s as %s: %d" % (san, h, e.code))
            except (urllib.error.URLError, ssl.SSLError, OSError):
                pass  # refused in the handshake: as good
case("a client certificate with a wildcard name (*.corp.test,"
     " web0*.corp.test, *.test) authenticates no host", p)

# ---- a client without credentials ----

p = []
for auth in (ALICE + "x", ALICE[:-1], "Bearer  " + ALICE[7:],
             "Bearer " + ALICE[7:] + " ", "Bearer\t" + ALICE[7:],
             "Basic " + ALICE[7:], "Negotiate", "Negotiate AAAA",
             "Negotiate " + "YII" * 3000, HOST1):
    st, _ = call("GET", "/v1/grants", auth)
    if st != 401:
        p.append("people endpoint with %r...: %r" % (auth[:30], st))
for auth in (HOST1 + "x", "Negotiate YIIBIjCCAR4=", "Bearer", ALICE):
    st, _ = call("GET", "/v1/hosts/web01.test/grants", auth)
    if st != 401:
        p.append("host endpoint with %r...: %r" % (auth[:30], st))
alive(p)
case("tokens with a character more or less, odd spacing, other schemes and"
     " Negotiate garbage are 401", p)

# ---- a hostile requester ----

p = []
for q in ("status=active'%20OR%20'1'='1", "status=active%27--",
          "requester=bob@EXAMPLE.COM", "requester=%25", "host=%25",
          "status=active&status=pending"):
    st, doc = call("GET", "/v1/grants?" + q, ALICE)
    if st == 200:
        others = [g["id"] for g in doc["grants"]
                  if g["requester"] != "alice@EXAMPLE.COM"]
        if others:
            p.append("?%s shows others' grants: %r" % (q, others))
    elif st != 400:
        p.append("?%s: %r %r" % (q, st, doc))
case("query strings (quotes, %, repeated keys, another's name) show a"
     " requester only their own grants", p)

p = []
for dur in (2 ** 63 - 1, 2 ** 63, 2 ** 64 + 5, -1, 0, 1e3, "600",
            4102444800):
    st, doc = call("POST", "/v1/grants", BOB, {
        "credential": "db-admin", "host": "web01.test", "duration": dur,
        "reason": "attack test"})
    if st == 201:
        call("POST", "/v1/grants/%s/revoke" % doc["id"], BOB,
             {"reason": "undo"})
    want(p, "duration %r" % (dur,), st, 400)
raw = (b'{"credential": "db-admin", "host": "web01.test", "duration": 60,'
       b' "reason": "dup", "duration": 999999999}')
st, doc = call("POST", "/v1/grants", BOB, raw=raw)
if st == 201:
    call("POST", "/v1/grants/%s/revoke" % doc["id"], BOB, {"reason": "undo"})
    if doc["expires_at"] > "2100":
        p.append("duplicate duration key took the large one: %r" % doc)
elif st != 400:
    p.append("duplicate duration key: %r %r" % (st, doc))
alive(p)
case("durations past the policy, past INT64 or not integers, and a body"
     " saying duration twice, are refused", p)

p = []
for name in ("Alice", "аlice", "alice\u200b", "bob", "BOB", "root",
             "users", "alice\n", "a" * 40, "-bob", "bob-adm", ""):
    st, doc = call("POST", "/v1/grants", ALICE, {
        "credential": "pick", "host": "web02.test", "duration": 60,
        "reason": "attack test", "username": name})
    if st == 201:
        call("POST", "/v1/grants/%s/revoke" % doc["id"], BOSS,
             {"reason": "undo"})
        p.append("alice got the account %r" % name)
case("a chosen name that is another's, upper case, a look-alike, a"
     " reserved name or not a name is refused", p)

p = []
st, _ = call("POST", "/v1/grants/%s/revoke" % ag["id"], BOB,
             {"reason": "bob revokes alice"})
want(p, "bob revoking alice's grant", st, 403)
call("POST", "/v1/grants/%s/revoke" % ag["id"], ALICE, {"reason": "done"})
st, doc = call("POST", "/v1/grants/%s/enable" % ag["id"], BOB,
               {"duration": 60, "reason": "bob re-enables alice's"})
want(p, "bob re-enabling alice's revoked grant", st, 403)
st, doc = call("POST", "/v1/grants/%s/enable" % ag["id"], ALICE,
               {"duration": 60, "reason": "again", "username": "bob"})
want(p, "alice re-enabling her grant as bob", st, 400)
st, doc = call("POST", "/v1/grants/%s/enable" % ag["id"], ALICE,
               {"duration": 60, "reason": "again", "policy": "pick-web"})
if st == 201:
    if doc["username"] != ag["username"] or doc["requester"] != \
            ag["requester"]:
        p.append("re-enable under pick-web changed the account: %r" % doc)
    call("POST", "/v1/grants/%s/revoke" % doc["id"], ALICE, {"reason": "x"})
st, doc = call("POST", "/v1/grants/%s/enable" % ag["id"], ALICE,
               {"duration": 60, "reason": "again", "policy": "root-web"})
if st == 201:
    call("POST", "/v1/grants/%s/revoke" % doc["id"], ALICE, {"reason": "x"})
    p.append("re-enable under root-web (another credential): %r" % doc)
case("another's grant is neither revoked nor re-enabled, and a re-enable"
     " keeps its account, credential and person whatever policy it names",
     p)

p = []
st, doc = call("POST", "/v1/grants", BOSS, {
    "credential": "root-ish", "host": "web01.test", "duration": 60,
    "reason": "boss for boss"})
if st == 201:
    st2, d2 = call("POST", "/v1/grants/%s/approve" % doc["id"], BOSS,
                   {"reason": "self"})
    want(p, "boss approving boss's own grant", st2, 403)
    call("POST", "/v1/grants/%s/revoke" % doc["id"], BOSS, {"reason": "x"})
st, doc = call("POST", "/v1/grants", BOB, {
    "credential": "root-ish", "host": "web01.test", "duration": 60,
    "reason": "bob approves bob"})
if st == 201:
    st2, _ = call("POST", "/v1/grants/%s/approve" % doc["id"], BOB,
                  {"reason": "self"})
    want(p, "a requester approving", st2, 403)
    call("POST", "/v1/grants/%s/revoke" % doc["id"], BOB, {"reason": "x"})
case("nobody approves their own grant, and a requester approves none", p)

if FAILED:
    print("FAIL: %d case(s): %s" % (len(FAILED), "; ".join(FAILED)))
    sys.exit(1)
