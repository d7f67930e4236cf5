#!/bin/sh
# SPDX-License-Identifier: MIT
# jitctl flush delivers the outbox to POST /v1/hosts/{host}/events:
# nothing is dropped while the API fails, a failed batch backs off, and a
# batch whose answer was lost is sent again and kept once (by event id).
. "$top_srcdir/tests/integration/lib.sh"
require_ns
setup_env
setup_pam
grant_json alice > "$T/api/grants/alice.json"
pam_op alice acct_mgmt open_session close_session || fail "login: $(cat "$T/pam.out")"
sql() { /usr/bin/python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1]); r = db.execute(sys.argv[2]).fetchall(); db.commit()
print(" ".join(str(x) for row in r for x in row))' "$STATE/state.db" "$1"; }
expect_eq "four events in the outbox" "$(sql 'SELECT count(*) FROM events')" 4

echo 500 > "$T/api/faults/_events"
rc=0; out=$("$JITCTL" -c "$CONF" flush 2>"$T/flush.err") || rc=$?
expect_eq "API failing: flush fails" "$rc" 1
expect_eq "API failing: nothing lost" "$out" \
    "flush: 0 delivered, 4 not delivered (http_error), 4 left in the outbox"
now=$(date +%s)
expect_eq "backed off: one attempt, next in 30 s or more" \
    "$(sql "SELECT count(*) FROM events WHERE attempts = 1 AND next_attempt >= $now + 29")" 4
out=$("$JITCTL" -c "$CONF" flush 2>/dev/null)
expect_eq "nothing due during the backoff" "$out" \
    "flush: 0 delivered, 0 not delivered (none failed), 4 left in the outbox"

echo store-then-500 > "$T/api/faults/_events"
sql 'UPDATE events SET next_attempt = 0' >/dev/null
rc=0; "$JITCTL" -c "$CONF" flush >/dev/null 2>&1 || rc=$?
expect_eq "answer lost: flush fails, events kept" "$rc:$(sql 'SELECT count(*) FROM events')" "1:4"
expect_eq "the API kept them" "$(wc -l < "$T/api/events.jsonl")" 4

rm "$T/api/faults/_events"
sql 'UPDATE events SET next_attempt = 0' >/dev/null
out=$("$JITCTL" -c "$CONF" flush 2>/dev/null)
expect_eq "API back: delivered" "$out" \
    "flush: 4 delivered, 0 not delivered (none failed), 0 left in the outbox"
expect_eq "sent twice, kept once (by id)" "$(wc -l < "$T/api/events.jsonl")" 4
got=$(/usr/bin/python3 - "$T/api/events.jsonl" <<'PY'
import json, re, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
for e in evs:
    assert set(e) == {"id", "type", "time", "host", "grant", "username", "requester", "detail"}, e
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", e["time"]), e
    assert e["host"] == "web01.test" and e["grant"] == "g-alice" and e["username"] == "alice", e
    assert e["requester"] == "alice@EXAMPLE.COM" and isinstance(e["detail"], dict), e
print(" ".join(sorted(e["type"] for e in evs)))
PY
)
expect_eq "event objects as the contract says" "$got" "account.created account.deleted session.closed session.opened"
grep -q '^POST /v1/hosts/web01.test/events Bearer s3cret-token$' "$T/api/requests.log" \
    || fail "path or token: $(cat "$T/api/requests.log")"
ok "POST /v1/hosts/{host}/events with the bearer token"

# The outbox stays within outbox_max: login.denied and session events go
# first (oldest first), account events never.
{ cat "$CONF"; echo 'outbox_max = 100'; } > "$T/small.conf"; chmod 600 "$T/small.conf"
/usr/bin/python3 - "$STATE/state.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for i in range(120):
    db.execute("INSERT INTO events (id, type, time, username) VALUES (?, 'login.denied', ?, 'x')", ("d%03d" % i, 1000 + i))
for i in range(30):
    db.execute("INSERT INTO events (id, type, time, username) VALUES (?, 'account.created', ?, 'y')", ("a%03d" % i, 1000 + i))
db.commit()
PY
echo 500 > "$T/api/faults/_events"
"$JITCTL" -c "$T/small.conf" flush >/dev/null 2>"$T/flush.err" || true
grep -q 'outbox: over outbox_max (100): dropped the 50 oldest login.denied and session events; account events are kept' "$T/flush.err" \
    || fail "no drop warning: $(cat "$T/flush.err")"
grep -q 'outbox: 100 events wait for the API (outbox_max 100)' "$T/flush.err" \
    || fail "no size warning: $(cat "$T/flush.err")"
counts=$(sql "SELECT type, count(*), min(id) FROM events GROUP BY type ORDER BY type")
expect_eq "what is kept" "$counts" "account.created 30 a000 login.denied 70 d050"
rm "$T/api/faults/_events"

# An event the API refuses for what it holds (400 for any batch with one
# of y's events) holds back nothing: the batch goes again one event at a
# time, x's events are delivered, y's are kept out of the queue's way and
# tried again later; an event added after them goes at once.
echo y > "$T/api/faults/_events_refuse"
sql 'UPDATE events SET next_attempt = 0' >/dev/null
: > "$T/api/events.jsonl"
"$JITCTL" -c "$CONF" flush >/dev/null 2>"$T/flush.err" || true
expect_eq "x's events delivered past y's" "$(grep -c '"username": "x"' "$T/api/events.jsonl")" 70
expect_eq "y's events kept" "$(sql "SELECT count(*) FROM events WHERE username = 'y' AND refused = 1")" 30
grep -q 'outbox: event a000 (account.created of y, grant -) refused by the API (HTTP 400): kept, tried again later, the others go on' "$T/flush.err" \
    || fail "no refusal line: $(head -3 "$T/flush.err")"
/usr/bin/python3 - "$STATE/state.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("INSERT INTO events (id, type, time, username) VALUES ('z1', 'session.opened', 2000, 'z')")
db.commit()
PY
"$JITCTL" -c "$CONF" flush >/dev/null 2>&1 || fail "flush of z's event"
grep -q '"username": "z"' "$T/api/events.jsonl" || fail "z's event held back by y's refused ones"
ok "an event the API refuses holds back no other"
rm "$T/api/faults/_events_refuse"
sql 'UPDATE events SET next_attempt = 0' >/dev/null
out=$("$JITCTL" -c "$CONF" flush 2>/dev/null)
expect_eq "y's events once the API takes them" "$out" \
    "flush: 30 delivered, 0 not delivered (none failed), 0 left in the outbox"
