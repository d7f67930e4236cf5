#!/bin/sh
# SPDX-License-Identifier: MIT
# Events reach the API within a second, oldest first, and the API's
# return after an outage is noticed within a few seconds.  A process that
# adds to the outbox (a login, jitctl revoke) wakes the daemon through the
# FIFO state_dir/wake, even in the middle of a long poll; the outbox is a
# queue (nothing overtakes an older event that waits for a retry); after
# a fault the daemon asks again within 4 s.  The FIFO is root's alone, a
# flood of wake-ups costs a bounded number of requests, a full FIFO blocks
# no login, and a file or symlink left at its path is neither written
# into nor followed.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
command -v setpriv >/dev/null || skip "needs setpriv"
setup_env
setup_pam
API_PID=${TEST_PIDS##* }
G=$T/api/grants
for u in alice bob carol dave erin; do grant_json $u > "$G/$u.json"; done
# The list's ETag in the store: the daemon's first poll is a long one.
"$JITCTL" -c "$CONF" sync >/dev/null 2>&1 || fail "sync"
EV=$T/api/events.jsonl
got() { grep -q "\"type\": \"$2\", \"username\": \"$1\"" "$EV" 2>/dev/null; }
polls() { grep -c 'grants?wait=[1-9]' "$T/api/requests.log" 2>/dev/null || true; }
polls_ge() { [ "$(polls)" -ge "$1" ]; }
# The API's last request is a long poll: the daemon waits in it.
in_poll() { tail -n 1 "$T/api/requests.log" | grep -q 'grants?wait=[1-9]'; }
gets() { grep -c '^GET /v1/hosts/web01.test/grants' "$T/api/requests.log"; }
start_api_again() {
    /usr/bin/python3 "$top_srcdir/tests/api/jit-test-api.py" --dir "$T/api" --port "$API_PORT" \
        --cert "$T/certs/server.pem" --key "$T/certs/server.key" --token s3cret-token \
        >/dev/null 2>>"$T/api2.err" </dev/null &
    API_PID=$!
    TEST_PIDS="$TEST_PIDS $API_PID"
}

start_daemon
wait_for 10 polls_ge 1 >/dev/null || fail "no long poll: $(cat "$T/daemon.err")"

# The FIFO: root's, 0600; nobody else may open it, or make anything in
# the state directory.
[ -p "$STATE/wake" ] || fail "no FIFO $STATE/wake: $(ls -l "$STATE")"
expect_eq "wake FIFO owner and mode" "$(stat -c '%u %a' "$STATE/wake")" "0 600"
for how in O_WRONLY O_RDONLY; do
    out=$(setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c '
import os, sys
try:
    os.open(sys.argv[1], getattr(os, sys.argv[2]) | os.O_NONBLOCK)
    print("opened")
except OSError as e:
    print(os.strerror(e.errno))' "$STATE/wake" $how)
    expect_eq "nobody opens the FIFO $how" "$out" "Permission denied"
done
if setpriv --reuid=65534 --regid=65534 --clear-groups touch "$STATE/x" 2>/dev/null; then
    fail "nobody created a file in the state directory"
fi
ok "nobody cannot create anything in the state directory"

# A login's events while the daemon is in a long poll: delivered within a
# second (bound 3 s: busy machines), not at the end of the poll.
n=$(polls)
pam_op alice acct_mgmt open_session || fail "alice's login: $(cat "$T/pam.out")"
ms=$(wait_for 20 got alice session.opened) || fail "alice's events not delivered: $(cat "$T/daemon.err")"
[ "$ms" -le 3000 ] || fail "alice's events took $ms ms (bound 3 s)"
ok "a login's events reach the API $ms ms after the login, during a long poll"
"$JITCTL" -c "$CONF" revoke alice --reason "INC-2 wake test" >/dev/null 2>&1 || fail "revoke"
ms=$(wait_for 20 got alice account.deleted) || fail "alice's deletion not delivered"
[ "$ms" -le 3000 ] || fail "jitctl revoke's events took $ms ms (bound 3 s)"
ok "jitctl revoke's events reach the API after $ms ms"

# The events endpoint fails: bob's login events wait.  It comes back, and
# at once bob is revoked and the outbox flushed: his account.created still
# goes before his account.deleted (oldest first), and the first delivery
# comes within a few seconds of the return, not after the events' backoff
# (30 s).
echo 500 > "$T/api/faults/_events"
fails() { grep -c 'outbox: .* not delivered' "$T/daemon.err" || true; }
f0=$(fails)
pam_op bob acct_mgmt open_session || fail "bob's login: $(cat "$T/pam.out")"
# Tried and failed (by the daemon, woken, or this flush, as a timer
# would run it): bob's events are backed off (30 s).
"$JITCTL" -c "$CONF" flush >/dev/null 2>&1 || true
# The outage lasts until the daemon has tried twice (or 10 s).
tried() { [ "$(fails)" -ge "$((f0 + 2))" ]; }
wait_for 10 tried >/dev/null || true
rm "$T/api/faults/_events"
t0=$(date +%s%N)
"$JITCTL" -c "$CONF" revoke bob --reason "INC-3 order test" >/dev/null 2>&1 || fail "revoke bob"
# A flush now (as jit-sync.timer runs it) must not send bob's new events
# past his account.created, which waits for its retry.
"$JITCTL" -c "$CONF" flush >/dev/null 2>&1 || true
wait_for 40 got bob account.deleted >/dev/null || fail "bob's deletion not delivered: $(cat "$T/daemon.err")"
wait_for 40 got bob account.created >/dev/null || fail "bob's creation not delivered"
order=$(grep '"username": "bob"' "$EV" | sed 's/.*"type": "\([a-z.]*\)".*/\1/' | tr '\n' ' ')
expect_eq "bob's events oldest first" "$order" "account.created session.opened account.revoked account.deleted "
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -le 6000 ] || fail "the first delivery after the events endpoint came back took $ms ms (bound 6 s): $(tail -20 "$T/daemon.err")"
ok "events endpoint back: bob's events delivered in order, all within $ms ms"

# The whole API goes away for 20 s (the old pause would have grown to
# 16 s, then 30 s): carol's revocation waits; once the API is back it is
# delivered within a few seconds.
kill "$API_PID"; wait "$API_PID" 2>/dev/null || true
"$JITCTL" -c "$CONF" revoke carol --reason "INC-4 outage test" >/dev/null 2>&1 || fail "revoke carol"
down0=$(date +%s)
unreachable() { [ "$(grep -c 'sync: API: unreachable' "$T/daemon.err")" -ge 1 ]; }
wait_for 10 unreachable >/dev/null || fail "the daemon never saw the API gone"
later() { [ $(( $(date +%s) - down0 )) -ge 20 ]; }
wait_for 30 later >/dev/null
start_api_again
t0=$(date +%s%N)
ms=$(wait_for 40 got carol account.deleted) || fail "carol's deletion never delivered: $(tail -5 "$T/daemon.err")"
[ "$ms" -le 8000 ] || fail "after a 20 s outage the first delivery took $ms ms (bound 8 s)"
ok "API back after a 20 s outage: carol's events delivered after $ms ms"

# A flood of wake-ups (root's: nobody else can write the FIFO, but any
# login adds events) costs a bounded number of requests, starves neither
# the sync (a new grant still resolves) nor the events.
wait_for 40 in_poll >/dev/null || fail "no long poll after the outage"
g0=$(gets)
/usr/bin/python3 - "$STATE/wake" 4 > "$T/flood.out" <<'PY' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_NONBLOCK)
end, n = time.time() + float(sys.argv[2]), 0
while time.time() < end:
    try:
        os.write(fd, b"x")
        n += 1
    except BlockingIOError:
        pass
print(n)
PY
FLOOD=$!
grant_json gina > "$G/gina.json"
ms=$(wait_for 3 resolves gina) || fail "a new grant did not resolve during the flood: $(tail -3 "$T/daemon.err")"
ok "during the flood a new grant resolves after $ms ms"
pam_op dave acct_mgmt open_session || fail "dave's login: $(cat "$T/pam.out")"
wait "$FLOOD"
g1=$(gets)
[ $((g1 - g0)) -le 12 ] || fail "$((g1 - g0)) list requests during 4 s of $(cat "$T/flood.out") wake-ups"
ok "4 s of $(cat "$T/flood.out") wake-ups: $((g1 - g0)) list requests"
wait_for 5 got dave session.opened >/dev/null || fail "dave's events not delivered during the flood"
ok "dave's events delivered during the flood"

# A FIFO left full (the daemon stopped): a login neither blocks nor
# fails; the daemon, going on, empties it and delivers.
kill -STOP "$D"
/usr/bin/python3 - "$STATE/wake" > "$T/fill.out" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_NONBLOCK)
n = 0
# Whole pages while they fit, then single bytes: what the flood above
# left in the FIFO may leave less than a page of room.
for chunk in (b"x" * 4096, b"x"):
    while True:
        try:
            n += os.write(fd, chunk)
        except BlockingIOError:
            break
print(n)
PY
[ -s "$T/fill.out" ] || fail "could not fill the FIFO"
t0=$(date +%s%N)
pam_op erin acct_mgmt open_session || { kill -CONT "$D"; fail "erin's login with the FIFO full: $(cat "$T/pam.out")"; }
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
kill -CONT "$D"
[ "$ms" -le 5000 ] || fail "a login with the FIFO full took $ms ms"
ok "FIFO full ($(cat "$T/fill.out") bytes): a login succeeds in $ms ms"
ms=$(wait_for 10 got erin session.opened) || fail "erin's events not delivered after the full FIFO"
ok "the daemon resumed and delivered erin's events after $ms ms"
wait_for 10 in_poll >/dev/null || fail "no long poll after the full FIFO"
g0=$(gets)
t1=$(date +%s)
# (the window is the thing measured: requests over 2 s, not a wait)
while [ $(( $(date +%s) - t1 )) -lt 2 ]; do sleep 0.2; done
[ $(( $(gets) - g0 )) -le 3 ] || fail "the daemon spins after the full FIFO: $(( $(gets) - g0 )) list requests in about 2 s"
ok "the FIFO drained: the daemon waits in its long poll again"

# Left at the path with no daemon running (only root can put anything in
# the state directory): a symlink is not followed, a regular file not
# written into; the next daemon replaces either with its FIFO.
kill -TERM "$D"; wait "$D" || fail "daemon exit status $?"
grant_json fred > "$G/fred.json"
: > "$T/target"
rm -f "$STATE/wake"
ln -s "$T/target" "$STATE/wake"
pam_op fred acct_mgmt open_session close_session || fail "fred's login (symlink): $(cat "$T/pam.out")"
[ ! -s "$T/target" ] || fail "a login wrote through the symlink at the FIFO's path"
ok "a symlink at the FIFO's path: not followed"
rm "$STATE/wake"
: > "$STATE/wake"
pam_op fred acct_mgmt open_session close_session || fail "fred's login (file): $(cat "$T/pam.out")"
[ ! -s "$STATE/wake" ] || fail "a login wrote into a regular file at the FIFO's path"
ok "a regular file at the FIFO's path: not written into"
start_daemon
isfifo() { [ -p "$STATE/wake" ]; }
wait_for 10 isfifo >/dev/null || fail "the daemon did not replace the file with its FIFO: $(cat "$T/daemon.err")"
expect_eq "the new FIFO's owner and mode" "$(stat -c '%u %a' "$STATE/wake")" "0 600"
# fred's two logins went into the outbox with no daemon: delivered at
# its start; a third login's at once.
opened() { [ "$(grep -c '"type": "session.opened", "username": "fred"' "$EV")" -ge "$1" ]; }
wait_for 20 opened 2 >/dev/null || fail "fred's waiting events not delivered at the start"
pam_op fred acct_mgmt open_session || fail "fred's third login: $(cat "$T/pam.out")"
ms=$(wait_for 20 opened 3) || fail "fred's third login's events not delivered"
[ "$ms" -le 3000 ] || fail "after the FIFO was replaced, events took $ms ms"
ok "the daemon replaced the file with its FIFO; events go at once again ($ms ms)"
kill -TERM "$D"; wait "$D" || fail "daemon exit status $?"
