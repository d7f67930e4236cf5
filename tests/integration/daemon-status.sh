#!/bin/sh
# SPDX-License-Identifier: MIT
# jitctl status tells the truth from the daemon's first moment: the status
# file is written at start, at each change of the API's state and at
# stop, not only at the end of a round (a round can be a 30 s long poll,
# during which status said "never run", or "stopped" with the pid of the
# daemon before).
. "$top_srcdir/tests/integration/lib.sh"
require_ns
setup_env
setup_pam
API_PID=${TEST_PIDS##* }
grant_json alice > "$T/api/grants/alice.json"
# status exits 3 for a daemon not running, 4 for a stale health file
# (jitctl(8), EXIT STATUS): the text is what the cases below look at,
# status_rc the code.
status() { "$JITCTL" -c "$CONF" status || true; }
status_rc() { _rc=0; "$JITCTL" -c "$CONF" status >/dev/null || _rc=$?; echo "$_rc"; }
# The list's ETag in the store: the daemon's first poll is a long one.
"$JITCTL" -c "$CONF" sync >/dev/null 2>&1 || fail "sync"
case $(status) in "daemon:       never run"*) ;; *) fail "before any start: $(status)" ;; esac
expect_eq "before any start: exit status" "$(status_rc)" 3
ok "before any start: never run"

# polls N: the daemon's long polls the API has seen (its first starts
# waiting on an unchanged list).
polls() { [ "$(grep -c 'grants?wait=[1-9]' "$T/api/requests.log" 2>/dev/null)" -ge "$1" ]; }
start_daemon
wait_for 10 polls 1 >/dev/null || fail "no long poll: $(cat "$T/daemon.err")"
out=$(status)
case $out in "daemon:       running (pid $D,"*) ;; *) fail "while the first long poll waits: $out" ;; esac
case $out in *"api:          unknown"*) ;; *) fail "api before any answer: $out" ;; esac
expect_eq "running: exit status" "$(status_rc)" 0
ok "while the first long poll waits: running (pid $D), api unknown"

kill -TERM "$D"; wait "$D" || fail "daemon exit status $?"
out=$(status)
case $out in "daemon:       stopped (pid $D,"*) ;; *) fail "after stop: $out" ;; esac
expect_eq "stopped: exit status" "$(status_rc)" 3
ok "after SIGTERM: stopped (pid $D)"

# A second daemon: running with its own pid at once, not "stopped" with
# the first one's.
n=$(grep -c 'grants?wait=[1-9]' "$T/api/requests.log")
OLD=$D
start_daemon
wait_for 10 polls $((n + 1)) >/dev/null || fail "no long poll: $(cat "$T/daemon.err")"
out=$(status)
case $out in "daemon:       running (pid $D,"*) ;; *) fail "second start (first was $OLD): $out" ;; esac
ok "a second start: running (pid $D) at once"
json=$("$JITCTL" -c "$CONF" status --json)
expect_eq "status --json pid" "$(printf '%s' "$json" | field pid)" "$D"

# The API goes away: status says so within a few seconds (the change is
# written when it happens, before any pause), and says ok again once the
# API is back.
kill "$API_PID"; wait "$API_PID" 2>/dev/null || true
unreachable() { status | grep -q '^api:          unreachable'; }
ms=$(wait_for 15 unreachable) || fail "api never unreachable: $(status)"
ok "API stopped: status says unreachable after $ms ms"
/usr/bin/python3 "$top_srcdir/tests/api/jit-test-api.py" --dir "$T/api" --port "$API_PORT" \
    --cert "$T/certs/server.pem" --key "$T/certs/server.key" --token s3cret-token \
    >/dev/null 2>"$T/api2.err" </dev/null &
TEST_PIDS="$TEST_PIDS $!"
api_ok() { status | grep -q '^api:          ok'; }
ms=$(wait_for 15 api_ok) || fail "api never ok again: $(status)"
ok "API back: status says ok after $ms ms"
kill -TERM "$D"; wait "$D" || fail "daemon exit status $?"
case $(status) in "daemon:       stopped (pid $D,"*) ;; *) fail "after the second stop: $(status)" ;; esac
ok "after the second stop: stopped (pid $D)"

# A health file that says running, for a live pid (this shell's), not
# written for longer than the two minutes: stuck, exit 4; the same file
# for a pid that is gone: dead, exit 3.  --json exits the same.
now=$(date +%s)
printf '{"pid": %d, "started": %d, "updated": %d, "last_sync": 0, "next_expiry": 0, "api": "ok", "state": "running"}' \
    $$ $((now - 1000)) $((now - 1000)) > "$STATE/daemon.status"
case $(status) in "daemon:       stuck"*) ;; *) fail "a stale health file: $(status)" ;; esac
expect_eq "stuck: exit status" "$(status_rc)" 4
rc=0; "$JITCTL" -c "$CONF" status --json >/dev/null || rc=$?
expect_eq "stuck: --json exit status" "$rc" 4
printf '{"pid": %d, "started": %d, "updated": %d, "last_sync": 0, "next_expiry": 0, "api": "ok", "state": "running"}' \
    "$D" "$now" "$now" > "$STATE/daemon.status"
case $(status) in "daemon:       dead"*) ;; *) fail "a running file for pid $D, gone: $(status)" ;; esac
expect_eq "dead: exit status" "$(status_rc)" 3
ok "status exits 4 for a stale health file (stuck), 3 for a dead daemon"
