#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""jit-apid's grant contract with the hosts: a request that would give a
grant some host refuses (lib/core/grant.c) is a 400 naming the field, and
nothing is stored; a request at the hosts' limits is stored and the host
sees it as asked.  Prints "ok - ..." lines; exits 1 on the first failure.

  apid-contract-test.py URL CERTDIR DB [OPENAPI.yaml]

Runs after apid-test.py against the same server (tests/integration/apid.sh,
apid-pg.sh), with the people and policies of start_apid
(tests/integration/lib/apid.sh).
The helpers are tests/api/apidtest.py's, as for the other API tests.
"""
from apidtest import (BOSS, DAVE, FAILED, HOST1, call, count, expect, fail,
                      ok)

ED25519 = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDHkdrpAIOzm8kahQ+kwMFzo5hwU"
           "PnBeolqDxfp/ZNY5 alice@laptop")
ECDSA = ("ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYA"
         "AABBBAmIX3ooAgBdg37yNoDyeQmOFQc2dfU8/d6BbUMMn11YzsF1K0pGIVJqVby+3ZOP"
         "1d6k6XFZLO6ZMR5F+hJVycU= e")


def request(**edit):
    body = {"credential": "db-admin", "host": "web01.test", "duration": 600,
            "reason": "INC-11 contract"}
    body.update(edit)
    return body


def refused(what, body=None, raw=None, message=None):
    """A 400 whose message starts with message; nothing stored.  Every
    case runs (a grant wrongly made is revoked), so that a run shows each
    hole; the script fails at the end if any is open."""
    n0 = count("SELECT count(*) FROM grants")
    st, doc = call("POST", "/v1/grants", DAVE, body, raw=raw)
    msg = doc.get("message", "") if isinstance(doc, dict) else repr(doc)
    n1 = count("SELECT count(*) FROM grants")
    if st == 201:
        call("POST", "/v1/grants/%s/revoke" % doc["id"], DAVE)
    if st != 400 or not msg.startswith(message) or n1 != n0:
        print("FAIL: %s: got %s %r (%d grant(s) stored), want 400 %r..."
              % (what, st, msg if st != 201 else "", n1 - n0, message))
        FAILED.append(what)
        return
    ok("%s: 400 \"%s\", nothing stored" % (what, msg))


def clear(cred):
    """End dave's open grants on cred, whatever ran before."""
    st, doc = call("GET", "/v1/grants?credential=" + cred, DAVE)
    expect("dave's grants", st, 200)
    for g in doc["grants"]:
        if g["status"] in ("active", "pending"):
            call("POST", "/v1/grants/%s/revoke" % g["id"], DAVE)


clear("db-admin")
clear("root-ish")
# --- the holes: grants jit-apid stored and every host then refused ---
refused("a group listed twice", request(groups=["users", "users"]),
        message="groups[1]: listed twice")
refused("a key listed twice", request(ssh_keys=[ED25519, ED25519]),
        message="ssh_keys[1]: listed twice")
refused("key data that is not base64", request(ssh_keys=["ssh-rsa notbase64"]),
        message="ssh_keys[0]: key data is not base64")
refused("a key that is not a key", request(ssh_keys=[ECDSA, "hello world"]),
        message="ssh_keys[1]: does not start with a known key type")
refused("a key of a type the hosts do not take",
        request(ssh_keys=["ssh-dss AAAAB3NzaC1kc3MAAACBAP8= old"]),
        message="ssh_keys[0]: does not start with a known key type")
refused("an ed25519 key whose data is an RSA key's",
        request(ssh_keys=["ssh-rsa " + ED25519.split()[1]]),
        message="ssh_keys[0]: key data is not a key of its type")
refused("a C1 control (NEL) in the reason",
        request(reason="restart\u0085user=root"),
        message="reason: contains control characters")
refused("a C1 CSI in the reason", request(reason="\u009b31mred"),
        message="reason: contains control characters")
# No policy may name such a credential (refused when policies load), so
# today it was a 403 "no policy"; it is the credential that is wrong.
refused("':' in the credential", request(credential="db:admin"),
        message="credential: only letters, digits and ._@+/- allowed")
refused("a reason one byte over the hosts' limit", request(reason="x" * 1025),
        message="reason: must be 1 to 1024 bytes")
refused("invalid UTF-8 in the reason",
        raw=b'{"credential": "db-admin", "host": "web01.test", '
            b'"duration": 600, "reason": "caf\xc3\x28"}',
        message="reason: is not valid UTF-8")
refused("more keys than a grant holds",
        request(ssh_keys=[ED25519] * 33),
        message="ssh_keys: more than 32 entries")
refused("root's group", request(groups=["root"]),
        message="groups[0]: root's group can never be granted")

# --- at the limits: stored, and the host sees exactly what was asked ---
if FAILED:
    fail("%d request(s) that hosts would refuse: %s" % (len(FAILED),
                                                        "; ".join(FAILED)))
# dave on root-ish (approval by an approver).
# 1000 + 3 + 4 + 17 bytes: 2-, 3- and 4-byte characters, at the limit.
reason = "\u00e9" * 500 + "\u20ac" + "\U0001f511" + "x" * 17
expect("reason bytes", len(reason.encode()), 1024)
st, g = call("POST", "/v1/grants", DAVE, {
    "credential": "root-ish", "host": "web01.test", "duration": 600,
    "reason": reason, "ssh_keys": [ED25519, ECDSA], "groups": ["users"]})
expect("a request at the limits", st, 201)
st, _ = call("POST", "/v1/grants/%s/approve" % g["id"], BOSS)
expect("approved", st, 200)
st, hv = call("GET", "/v1/hosts/web01.test/grants/%s" % g["username"], HOST1)
expect("the host's view", st, 200)
expect("the host's reason", hv["reason"], reason)
expect("the host's keys", hv["ssh_keys"], [ED25519, ECDSA])
st, _ = call("POST", "/v1/grants/%s/revoke" % g["id"], DAVE)
expect("revoked", st, 200)
ok("a 1024-byte reason of 2-, 3- and 4-byte characters and two key types:"
   " stored, and the host sees them as asked")
