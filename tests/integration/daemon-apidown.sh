#!/bin/sh
# SPDX-License-Identifier: MIT
# The API goes down with the daemon running: an account still goes at its
# end (local expiry), nothing else is deleted, its events wait in the
# outbox, and when the API is back they are delivered exactly once.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
setup_env
setup_pam
G=$T/api/grants
API_PID=${TEST_PIDS##* }
grant_json stay > "$G/stay.json"
# 20 s: the daemon's first sync and stopping the API come before the end
# (4 s ran out before the first sync under load); the test checks it.
soon=$(date -u -d '+20 seconds' +%Y-%m-%dT%H:%M:%SZ)
end=$(date -d "$soon" +%s)
grant_json carol "expires_at=\"$soon\"" > "$G/carol.json"
start_daemon
wait_for 15 resolves carol >/dev/null || fail "carol never resolved: $(cat "$T/daemon.err")"

kill "$API_PID"; wait "$API_PID" 2>/dev/null || true
ok "API stopped"
[ "$(date +%s)" -lt "$end" ] || fail "the setup outlasted carol's 20 s grant"
wait_for 40 gone carol >/dev/null || fail "carol not reaped with the API down: $(cat "$T/daemon.err")"
delay=$(( $(date +%s%N) / 1000000 - end * 1000 ))
# The point is local time with the API down (daemon.sh holds the tight
# expiry bound); 5 s leaves room for a busy machine.
[ $delay -le 5000 ] || fail "carol went $delay ms after her end"
ok "API down: carol went $delay ms after her end anyway"
in_ns getent passwd stay >/dev/null || fail "an account was deleted for want of an answer"
ok "the other account stays"
waiting=$(/usr/bin/python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM events").fetchone()[0])' "$STATE/state.db")
[ "$waiting" -ge 1 ] || fail "no events waiting"
ok "$waiting events wait in the outbox"
case $("$JITCTL" -c "$CONF" status) in *"api:          unreachable"*) ;; *) fail "status: $("$JITCTL" -c "$CONF" status)" ;; esac
ok "jitctl status: api unreachable"

# The API comes back on the same port.
/usr/bin/python3 "$top_srcdir/tests/api/jit-test-api.py" --dir "$T/api" --port "$API_PORT" \
    --cert "$T/certs/server.pem" --key "$T/certs/server.key" --token s3cret-token \
    >/dev/null 2>"$T/api2.err" </dev/null &
TEST_PIDS="$TEST_PIDS $!"
outbox_left() { /usr/bin/python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM events").fetchone()[0])' "$STATE/state.db"; }
outbox_empty() { [ "$(outbox_left)" = 0 ]; }
wait_for 60 outbox_empty >/dev/null || true
left=$(outbox_left)
[ "$left" = 0 ] || fail "outbox not empty once the API is back: $left; $(cat "$T/daemon.err")"
ok "outbox empty once the API is back"
dups=$(/usr/bin/python3 -c '
import json, sys
ids = [json.loads(l)["id"] for l in open(sys.argv[1])]
print(len(ids) - len(set(ids)), len(ids))' "$T/api/events.jsonl")
case $dups in "0 "*) ok "delivered exactly once by id: ${dups#* } events" ;; *) fail "duplicates: $dups" ;; esac
grep -q '"type": "account.deleted", "username": "carol"\|"username": "carol"' "$T/api/events.jsonl" \
    || fail "carol's deletion not delivered"
kill -TERM $D; wait $D || fail "daemon exit status"
