# SPDX-License-Identifier: MIT
"""What the API tests of jit-apid share (apid-test.py, apid-contract-test.py,
apid-authz-test.py, apid-attack-test.py): their command line, the tokens
of start_apid's people and hosts (tests/integration/lib/apid.sh), a call to the
API, a number from the store, and the "ok - ..." / "FAIL: ..." lines they
print.  One copy, so that the scripts cannot drift apart in how they ask
or what they count as passing.

Each script takes  URL CERTDIR DB [OPENAPI.yaml]  (DB: sqlite:PATH, or a
path, or postgresql:CONNINFO) and imports this module, which reads them.
It is found next to the script: python3 puts a script's own directory
first on sys.path, which is how tests/integration/apid*.sh run them.
"""
import json
import sqlite3
import ssl
import subprocess
import sys
import urllib.error
import urllib.request

URL, CERTS, DB = sys.argv[1:4]
SPEC = sys.argv[4] if len(sys.argv) > 4 else None
CTX = ssl.create_default_context(cafile=CERTS + "/ca.pem")

HOST1 = "Bearer host-token-web01-xxxxxxxx"
HOST2 = "Bearer host-token-web02-xxxxxxxx"
ALICE = "Bearer alice-token-xxxxxxxxxx"
ALICE2 = "Bearer alice-other-token-xxxxxx"   # alice@OTHER.TEST
BOB = "Bearer bob-token-xxxxxxxxxxxx"
CAROL = "Bearer carol-token-xxxxxxxxxx"
DAVE = "Bearer dave-token-xxxxxxxxxxx"
BOSS = "Bearer boss-token-xxxxxxxxxxx"

# The cases that failed, for the scripts that run every case and fail at
# the end (case() below; apid-contract-test.py's refused()).
FAILED = []


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def ok(msg):
    print("ok - " + msg)


def case(msg, problems):
    """One case: ok, or each of its problems listed (the run goes on)."""
    if problems:
        for p in problems:
            print("FAIL: %s: %s" % (msg, p))
        FAILED.append(msg)
    else:
        ok(msg)


def expect(what, got, want):
    """Stop at the first difference (apid-test.py's, contract's style)."""
    if got != want:
        fail("%s: got %r, want %r" % (what, got, want))


def want(problems, what, got, wanted):
    """Note a difference in problems, for case() (authz's, attack's)."""
    if got != wanted:
        problems.append("%s: got %r, want %r" % (what, got, wanted))


def call_with_headers(method, path, auth=None, body=None, headers=None,
                      raw=None, ctx=None):
    """One request: body as JSON, or raw bytes as they are.  Returns the
    status, the answer's JSON (its bytes if it is no JSON; None if
    empty) and its headers.  Errors are answers too, never exceptions."""
    data = raw if raw is not None else (
        json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(URL + path, data=data, method=method)
    if auth:
        req.add_header("Authorization", auth)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, context=ctx or CTX, timeout=70) as r:
            text = r.read()
            return r.status, (json.loads(text) if text else None), r.headers
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            doc = json.loads(text) if text else None
        except ValueError:
            doc = text
        return e.code, doc, e.headers


def call(method, path, auth=None, body=None, raw=None, headers=None):
    """call_with_headers without the headers: (status, JSON)."""
    st, doc, _ = call_with_headers(method, path, auth, body, headers, raw)
    return st, doc


def count(sql):
    """One number from the store: DB is sqlite:PATH or postgresql:CONNINFO
    (through psql)."""
    if DB.startswith("postgresql:"):
        out = subprocess.run(["psql", "-At", "-d", DB[len("postgresql:"):],
                              "-c", sql], capture_output=True, text=True,
                             check=True).stdout
        return int(out.strip())
    db = sqlite3.connect(DB[len("sqlite:"):] if DB.startswith("sqlite:")
                         else DB)
    try:
        return db.execute(sql).fetchone()[0]
    finally:
        db.close()
