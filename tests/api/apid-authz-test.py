#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Authorization tests of jit-apid, the trust edges between people and
between hosts: an account name is the requester's own (the policy's
template filled with their identity; a free choice only where a policy
allows one, never a name another person holds or is entitled to, kept
for the life of the account), and an event belongs to its grant's hosts
(a host writes only into a grant that lists it, for that grant's
account).  Runs after apid-test.py on the same jit-apid (start_apid of
tests/integration/lib/apid.sh: its people and policies); every case is
independent of the others, and all are run: the failures are listed at
the end.  Prints "ok - ..." lines; exits 1 if any case failed.

  apid-authz-test.py URL CERTDIR DB [OPENAPI.yaml]

DB: sqlite:PATH (or a path) or postgresql:CONNINFO.
"""
import concurrent.futures
import sys

from apidtest import (ALICE, ALICE2, BOB, BOSS, CAROL, CERTS, DAVE, FAILED,
                      HOST1, HOST2, call, case, count, want)

PEOPLE = {ALICE: "alice@EXAMPLE.COM", BOB: "bob@EXAMPLE.COM",
          CAROL: "carol@EXAMPLE.COM", DAVE: "dave@EXAMPLE.COM",
          ALICE2: "alice@OTHER.TEST"}


def request(who, credential, host, reason, **more):
    body = {"credential": credential, "host": host, "duration": 600,
            "reason": reason}
    body.update(more)
    return call("POST", "/v1/grants", who, body)


def undo(st, doc):
    """A grant that should not have been made is revoked at once (by the
    approver), so that the cases after it start from the same state."""
    if st == 201 and isinstance(doc, dict) and doc.get("status") in (
            "active", "pending"):
        call("POST", "/v1/grants/%s/revoke" % doc["id"], BOSS,
             {"reason": "test: undo"})


def refused(problems, what, st, doc, code, field="username"):
    """A refusal with code whose message names the field, and no other
    person's identity in it."""
    undo(st, doc)
    if st != code:
        problems.append("%s: got %r %r, want %d" % (what, st, doc, code))
        return
    msg = doc.get("message", "") if isinstance(doc, dict) else ""
    if not msg.startswith(field + ":"):
        problems.append("%s: the message names no field %s: %r" %
                        (what, field, msg))


def clean_slate():
    """Earlier tests leave grants behind: each person's active and pending
    ones are revoked, so that the one-grant rule refuses nothing here."""
    for who in PEOPLE:
        st, doc = call("GET", "/v1/grants", who)
        if st != 200:
            print("FAIL: listing the grants of %s: %r %r" % (PEOPLE[who], st,
                                                              doc))
            sys.exit(1)
        for g in doc["grants"]:
            if g["status"] in ("active", "pending"):
                call("POST", "/v1/grants/%s/revoke" % g["id"], who,
                     {"reason": "test: clean slate"})


clean_slate()

# ---- Part 2: account names ----

# bob holds his own name (template {user}) on web01; alice asks for it on
# web02, where no live grant has it: the name is bob's all the same.
st, bob_g = request(BOB, "db-admin", "web01.test", "bob's own")
if (st, bob_g.get("username") if isinstance(bob_g, dict) else None) != (
        201, "bob"):
    print("FAIL: setup: bob's grant: %r %r" % (st, bob_g))
    sys.exit(1)
p = []
st, doc = request(ALICE, "db-admin", "web02.test", "take bob's name",
                  username="bob")
refused(p, "alice asking for bob's name (a policy without choice)", st, doc,
        403)
st, doc = request(ALICE, "pick", "web02.test", "take bob's name",
                  username="bob")
refused(p, "alice asking for bob's name (a policy with choice)", st, doc, 409)
want(p, "grants of alice named bob",
     count("SELECT count(*) FROM grants WHERE username = 'bob'"
           " AND requester <> 'bob@EXAMPLE.COM'"), 0)
case("alice cannot obtain bob's name, which bob holds (403 without choice,"
     " 409 with)", p)

# Nobody holds boss's name, nor dave-adm: the templates give them to boss
# and to dave.
p = []
for name in ("boss", "dave-adm"):
    st, doc = request(ALICE, "pick", "web02.test", "take a name",
                      username=name)
    refused(p, "alice asking for %s under a policy with choice" % name, st,
            doc, 409)
    if isinstance(doc, dict) and "EXAMPLE.COM" in doc.get("message", ""):
        p.append("the refusal says whose name it is: %r" % doc)
    st, doc = request(ALICE, "db-admin", "web02.test", "take a name",
                      username=name)
    refused(p, "alice asking for %s under a policy without choice" % name,
            st, doc, 403)
case("alice cannot obtain a name another person is entitled to by a"
     " template (boss, dave-adm), though no one holds it yet", p)

p = []
st, doc = request(ALICE, "root-ish", "web01.test", "be carol",
                  username="carol-adm")
refused(p, "alice asking for carol-adm under {user}-adm", st, doc, 403)
if st == 403 and "alice-adm" not in doc.get("message", ""):
    p.append("the refusal does not say which name is alice's: %r" % doc)
st, doc = request(ALICE, "root-ish", "web01.test", "be alice",
                  username="alice-adm")
want(p, "alice asking for her own alice-adm",
     (st, doc.get("username") if isinstance(doc, dict) else doc),
     (201, "alice-adm"))
undo(st, doc)
case("alice cannot obtain carol-adm under {user}-adm; she may name her own",
     p)

# A name stays with its account: a re-enable keeps it.
p = []
st, g = request(ALICE, "root-ish", "web01.test", "to re-enable")
want(p, "alice's root-ish grant", (st, g.get("username")),
     (201, "alice-adm"))
st, _ = call("POST", "/v1/grants/%s/revoke" % g["id"], ALICE,
             {"reason": "done"})
want(p, "revoked", st, 200)
st, doc = call("POST", "/v1/grants/%s/enable" % g["id"], ALICE,
               {"reason": "again", "duration": 60, "username": "zed-adm"})
refused(p, "re-enable under another name", st, doc, 400)
if st == 400 and doc.get("message") != "username: kept from grant %s" % (
        g["id"]):
    p.append("message: %r" % doc)
st, doc = call("POST", "/v1/grants/%s/enable" % g["id"], ALICE,
               {"reason": "again", "duration": 60, "username": "alice-adm"})
want(p, "re-enable naming the same name",
     (st, doc.get("username") if isinstance(doc, dict) else doc,
      doc.get("previous") if isinstance(doc, dict) else None),
     (201, "alice-adm", g["id"]))
undo(st, doc)
# The same under a policy with choice: the chosen name is the account's.
st, g = request(ALICE, "pick", "web01.test", "chosen, then re-enabled",
                username="alice-re")
want(p, "alice's chosen name", (st, g.get("username")), (201, "alice-re"))
call("POST", "/v1/grants/%s/revoke" % g.get("id"), ALICE, {"reason": "done"})
st, doc = call("POST", "/v1/grants/%s/enable" % g.get("id"), ALICE,
               {"reason": "again", "duration": 60, "username": "alice-re2"})
refused(p, "re-enable under another chosen name", st, doc, 400)
st, doc = call("POST", "/v1/grants/%s/enable" % g.get("id"), ALICE,
               {"reason": "again", "duration": 60})
want(p, "re-enable, no name given",
     (st, doc.get("username") if isinstance(doc, dict) else doc),
     (201, "alice-re"))
undo(st, doc)
case("alice cannot change her account's name at re-enable (400 kept from"
     " grant X); the same name, or none, is fine", p)

p = []
st, doc = request(ALICE, "pick", "web01.test", "a free name",
                  username="alice-tools")
want(p, "alice choosing a free name",
     (st, doc.get("username") if isinstance(doc, dict) else doc),
     (201, "alice-tools"))
st, doc = request(BOB, "pick", "web02.test", "alice's chosen name",
                  username="alice-tools")
refused(p, "bob choosing alice's chosen name (another host)", st, doc, 409)
# Held whatever the grant's status: revoked, the name is still alice's.
st, mine = call("GET", "/v1/grants?credential=pick&status=active", ALICE)
for x in mine.get("grants", []) if isinstance(mine, dict) else []:
    call("POST", "/v1/grants/%s/revoke" % x["id"], ALICE, {"reason": "done"})
st, doc = request(BOB, "pick", "web02.test", "alice's revoked name",
                  username="alice-tools")
refused(p, "bob choosing alice's name after her grant was revoked", st, doc,
        409)
st, doc = request(ALICE, "pick", "web01.test", "no choice here",
                  username="root")
refused(p, "a reserved name under a policy with choice", st, doc, 400)
case("a policy with username_choice lets alice choose a free name, and"
     " refuses one that another person holds, even after its grant ended",
     p)

# Two principals with one local part: the template gives both "alice";
# the name is the first's, the second is told only that it is taken.
p = []
st, doc = request(ALICE, "db-admin", "web01.test", "alice's own")
want(p, "alice@EXAMPLE.COM's template name",
     (st, doc.get("username") if isinstance(doc, dict) else doc),
     (201, "alice"))
undo(st, doc)
st, doc = request(ALICE2, "db-admin", "web02.test", "the other alice")
refused(p, "alice@OTHER.TEST's template name, alice's already", st, doc, 409)
if isinstance(doc, dict) and "EXAMPLE.COM" in doc.get("message", ""):
    p.append("the refusal says whose name it is: %r" % doc)
case("two principals whose template names collide: the second gets 409,"
     " not who holds it", p)

# 50 concurrent requests by two people for one free name (on different
# hosts, so that no rule about live names on a host decides it).
def race(i):
    who, host = (CAROL, "web01.test") if i % 2 else (DAVE, "web02.test")
    st, doc = request(who, "pick", host, "race %d" % i, username="raced")
    return st


p = []
with concurrent.futures.ThreadPoolExecutor(50) as ex:
    codes = list(ex.map(race, range(50)))
want(p, "answers", (codes.count(201), codes.count(409), len(codes)),
     (1, 49, 50))
want(p, "people holding the name raced in the store",
     count("SELECT count(DISTINCT requester) FROM grants"
           " WHERE username = 'raced'"), 1)
case("50 concurrent requests by two people for one free name bind it to"
     " exactly one person", p)

# One person, two credentials whose templates give one name: one host
# never gets two live grants of one account, whatever stores the grant's
# hosts (a revocation leaves them as they were; the grant's status
# decides).
clean_slate()
p = []
st, first = request(DAVE, "db-admin", "web01.test", "dave's db-admin")
want(p, "dave's db-admin grant", (st, first.get("username")
                                  if isinstance(first, dict) else first),
     (201, "dave"))
st, doc = request(DAVE, "pick", "web01.test", "the same name on web01")
undo(st, doc)
want(p, "pick on web01 while db-admin's dave is live there", st, 409)
if isinstance(doc, dict) and "web01.test" not in doc.get("message", ""):
    p.append("the refusal names no host: %r" % doc)
st, other = request(DAVE, "pick", "web02.test", "the same name on web02")
want(p, "pick on web02 (no live dave there)", st, 201)
undo(st, other)
undo(201, first)
st, doc = request(DAVE, "pick", "web01.test", "after the revocation")
want(p, "pick on web01 once db-admin's grant is revoked", st, 201)
undo(st, doc)
case("one person's two credentials giving one name: 409 on a host where"
     " that name's grant is live, 201 elsewhere and once it ended", p)

# ---- Part 3: events belong to their grant's hosts ----

st, ag = request(ALICE, "db-admin", "web01.test", "events on web01")
if st != 201 or ag["hosts"] != ["web01.test"]:
    print("FAIL: setup: alice's web01 grant: %r %r" % (st, ag))
    sys.exit(1)


def event(eid, host, grant, username, type_="account.deleted",
          requester="alice@EXAMPLE.COM"):
    return {"id": eid, "type": type_, "time": "2026-11-24T10:00:00Z",
            "host": host, "grant": grant, "username": username,
            "requester": requester, "detail": {"cause": "expired"}}


def stored(*ids):
    return count("SELECT count(*) FROM events WHERE id IN (%s)" %
                 ", ".join("'%s'" % i for i in ids))


def alerts_for(*ids):
    return count("SELECT count(*) FROM alerts WHERE event_id IN (%s)" %
                 ", ".join("'%s'" % i for i in ids))


p = []
st, doc = call("POST", "/v1/hosts/web02.test/events", HOST2, {"events": [
    event("authz-foreign-1", "web02.test", ag["id"], "alice",
          "account.created")]})
want(p, "web02 posting into alice's web01 grant", st, 403)
want(p, "stored", stored("authz-foreign-1"), 0)
want(p, "alerts queued", alerts_for("authz-foreign-1"), 0)
st, doc = call("GET", "/v1/grants/%s" % ag["id"], ALICE)
want(p, "events on alice's grant", [e["id"] for e in doc.get("events", [])],
     [])
case("web02 cannot post into a web01-only grant: 403, nothing stored, no"
     " alert queued", p)

p = []
batch = [event("authz-own-1", "web01.test", ag["id"], "alice"),
         event("authz-name-1", "web01.test", ag["id"], "bob")]
st, doc = call("POST", "/v1/hosts/web01.test/events", HOST1,
               {"events": batch})
want(p, "web01 posting bob's name into alice's grant (after a good event)",
     st, 403)
want(p, "stored of the batch", stored("authz-own-1", "authz-name-1"), 0)
st, doc = call("POST", "/v1/hosts/web01.test/events", HOST1, {"events": [
    event("authz-name-2", "web01.test", bob_g["id"], "alice")]})
want(p, "web01 posting alice's name into bob's grant", st, 403)
st, doc = call("POST", "/v1/hosts/web01.test/events", HOST1, {"events": [
    event("authz-name-3", "web01.test", ag["id"], "alice",
          requester="bob@EXAMPLE.COM")]})
want(p, "web01 posting another requester into alice's grant", st, 403)
want(p, "stored", stored("authz-name-2", "authz-name-3"), 0)
case("web01 cannot post an event with another grant's username (or"
     " requester): 403, nothing of the batch stored", p)

p = []
st, none = call("POST", "/v1/hosts/web01.test/events", HOST1, {"events": [
    event("authz-none-1", "web01.test", "g-000000000000000000000000",
          "alice")]})
want(p, "an event of a grant that does not exist", st, 403)
st, foreign = call("POST", "/v1/hosts/web02.test/events", HOST2, {"events": [
    event("authz-none-2", "web02.test", ag["id"], "alice")]})
if isinstance(none, dict) and isinstance(foreign, dict) and (
        none.get("message", "").replace("g-000000000000000000000000", "X")
        != foreign.get("message", "").replace(ag["id"], "X")):
    p.append("a missing grant and another host's are told apart: %r, %r"
             % (none, foreign))
want(p, "stored", stored("authz-none-1", "authz-none-2"), 0)
case("an event for a grant id that does not exist is 403, answered as for"
     " another host's grant", p)

p = []
st, doc = call("POST", "/v1/hosts/web01.test/events", HOST1, {"events": [
    event("authz-own-2", "web01.test", ag["id"], "alice", "account.created"),
    event("authz-own-3", "web01.test", ag["id"], "alice", "session.opened"),
    event("authz-own-4", "web01.test", None, "nosuchuser", "login.denied",
          requester=None)]})
want(p, "web01's own events", (st, doc), (200, {"accepted": 3}))
want(p, "stored", stored("authz-own-2", "authz-own-3", "authz-own-4"), 3)
want(p, "a login.denied without a grant, attached to none",
     count("SELECT count(*) FROM events WHERE id = 'authz-own-4'"
           " AND grant_id IS NULL"), 1)
st, doc = call("GET", "/v1/grants/%s" % ag["id"], ALICE)
want(p, "events on alice's grant",
     sorted(e["id"] for e in doc.get("events", [])),
     ["authz-own-2", "authz-own-3"])
for t in ("account.deleted", "session.opened"):
    st, doc = call("POST", "/v1/hosts/web01.test/events", HOST1, {"events": [
        event("authz-nogrant-" + t, "web01.test", None, "alice", t)]})
    want(p, "%s without a grant" % t, st, 400)
want(p, "stored", stored("authz-nogrant-account.deleted",
                         "authz-nogrant-session.opened"), 0)
case("web01's own events are 200; a login.denied may name no grant (an"
     " unknown name), account and session events need one", p)

# ---- Look-alike names, and a name squatted before its person came ----
#
# (Cases as functions, each calling clean_slate() first, so that they
# stand alone; their imports here, to keep them in one piece.)
import os  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402


def lookalikes_of_others_refused():
    """A chosen name whose skeleton (jit-apid(8), ACCOUNT NAMES) is that of
    a name another person holds or is entitled to is 403, nothing stored,
    the message naming the field and no person."""
    clean_slate()
    p = []
    # alice-tools: alice holds it (chosen above), no template gives it.
    # boss, dave-adm: templates give them; no one holds them.  bob: held
    # and given by a template.
    tries = [(BOB, n) for n in ("alicetools", "alice_tools", "a1ice-tools",
                                "alice.tools-", "alice-t00ls")]
    tries += [(ALICE, n) for n in ("b0ss", "bo55", "b-o-s-s", "boss.",
                                   "dave-adrn", "dave_adm", "b0b", "bob-",
                                   "b_o_b", "bob.")]
    for who, name in tries:
        st, doc = request(who, "pick", "web02.test", "a look-alike",
                          username=name)
        refused(p, "%s choosing %s" % (PEOPLE[who], name), st, doc, 403)
        msg = doc.get("message", "") if isinstance(doc, dict) else ""
        if "@" in msg:
            p.append("the refusal of %s names a person: %r" % (name, msg))
        if st == 403 and doc.get("error") != "username_not_allowed":
            p.append("%s: error %r" % (name, doc.get("error")))
    want(p, "grants under the look-alike names",
         count("SELECT count(*) FROM grants WHERE username IN (%s)" %
               ", ".join("'%s'" % n for _, n in tries)), 0)
    want(p, "look-alike names bound to anyone",
         count("SELECT count(*) FROM account_names WHERE username IN (%s)" %
               ", ".join("'%s'" % n for _, n in tries)), 0)
    case("a chosen name that looks like another person's (held or given by"
         " a template: . - _ dropped, 0 1 3 5 rn read o l e s m) is 403,"
         " nothing stored", p)


def lookalikes_of_own_allowed():
    """A person may choose a look-alike of their own names."""
    clean_slate()
    p = []
    for who, name in ((ALICE, "alice.tools"), (CAROL, "car0l")):
        st, doc = request(who, "pick", "web01.test", "my own look-alike",
                          username=name)
        want(p, "%s choosing %s" % (PEOPLE[who], name),
             (st, doc.get("username") if isinstance(doc, dict) else doc),
             (201, name))
        undo(st, doc)
    case("a person may choose a look-alike of a name of their own", p)


def apid_log():
    with open(os.path.join(os.path.dirname(CERTS), "apid", "log")) as f:
        return f.read()


def reload_people(text):
    """The people file rewritten, then SIGHUP to this jit-apid (the one
    process started with its configuration) and its reload seen in its
    log; a problem, or None."""
    conf = os.path.join(os.path.dirname(CERTS), "apid", "apid.conf")
    pids = []
    for d in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                args = f.read().split(b"\0")
        except (OSError, ValueError):
            continue
        if d.isdigit() and conf.encode() in args:
            pids.append(int(d))
    if len(pids) != 1:
        return "jit-apid's process for %s: %r" % (conf, pids)
    before = apid_log().count("jit-apid: reloaded policies and tokens")
    with open(os.path.join(os.path.dirname(conf), "people"), "w") as f:
        f.write(text)
    os.kill(pids[0], signal.SIGHUP)
    end = time.monotonic() + 30
    while apid_log().count("jit-apid: reloaded policies and tokens") == before:
        if time.monotonic() > end:
            return "no reload within 30 s: %r" % apid_log()[-300:]
        time.sleep(0.05)  # (the poll's interval)
    return None


def squatted_name_said_plainly():
    """A name no listed person was entitled to is chosen by alice; erin,
    added to the people file later, gets it from the template and is
    refused it: the answer says plainly that her own name is held by
    another person and an administrator must resolve it, not by whom; the
    server's log names both."""
    clean_slate()
    p = []
    people = os.path.join(os.path.dirname(CERTS), "apid", "people")
    with open(people) as f:
        orig = f.read()
    erin = "Bearer erin-token-xxxxxxxxxxx"
    st, doc = request(ALICE, "pick", "web01.test", "before erin came",
                      username="erin")
    want(p, "alice choosing erin (no one's yet)",
         (st, doc.get("username") if isinstance(doc, dict) else doc),
         (201, "erin"))
    undo(st, doc)
    why = reload_people(orig + "erin@EXAMPLE.COM requester %s\n" %
                        erin.split()[1])
    if why is not None:
        p.append(why)
    else:
        st, doc = request(erin, "db-admin", "web02.test", "erin's own")
        refused(p, "erin asking for her template name erin", st, doc, 409)
        msg = doc.get("message", "") if isinstance(doc, dict) else ""
        for w in ("erin", "db-admin-web", "another person", "administrator"):
            if w not in msg:
                p.append("the refusal does not say %r: %r" % (w, msg))
        if "alice" in msg or "@" in msg:
            p.append("the refusal says who holds the name: %r" % msg)
        lines = [ln for ln in apid_log().splitlines()
                 if "erin@EXAMPLE.COM" in ln and "alice@EXAMPLE.COM" in ln]
        if len(lines) != 1:
            p.append("server log lines naming erin and alice: %r" % lines)
        want(p, "grants of erin",
             count("SELECT count(*) FROM grants"
                   " WHERE requester = 'erin@EXAMPLE.COM'"), 0)
    why = reload_people(orig)
    if why is not None:
        p.append("restoring the people file: " + why)
    case("a name taken before its person was listed: the person is told"
         " plainly their own name is held by another (not whom), the log"
         " names both", p)


lookalikes_of_others_refused()
lookalikes_of_own_allowed()
squatted_name_said_plainly()

if FAILED:
    print("FAIL: %d case(s): %s" % (len(FAILED), "; ".join(FAILED)))
    sys.exit(1)
