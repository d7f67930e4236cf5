#!/bin/sh
# SPDX-License-Identifier: MIT
# Teardowns that cannot finish: a process of the uid that the uid cannot
# signal (root's process acting as the uid: effective uid only), and a home
# on a read-only bind mount.  Each ends in disable_failed, with an
# account.disable_failed event in the outbox and the account in jitctl
# list, and is retried (after its backoff) once the obstacle is gone.
# Also: a process that ignores TERM is killed after the grace period, and
# so is one whose first thread exited alone.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
command -v setpriv >/dev/null || skip "needs setpriv"
setup_env
setup_pam
G=$T/api/grants
for u in ivy jack kim lou mae; do
    grant_json $u 'on_logout="keep"' > "$G/$u.json"
    pam_op $u acct_mgmt open_session || fail "$u: $(cat "$T/pam.out")"
done

sql() { /usr/bin/python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1]); r = db.execute(sys.argv[2], sys.argv[3:]).fetchall(); db.commit()
print(" ".join(str(x) for row in r for x in row))' "$STATE/state.db" "$@"; }
expire() { sql "UPDATE accounts SET expires = 1 WHERE name = ?" "$1" >/dev/null; }
retry_now() { sql "UPDATE accounts SET retry_at = 0 WHERE name = ?" "$1" >/dev/null; }
state_of() { sql "SELECT state || ' ' || failures FROM accounts WHERE name = ?" "$1"; }
events_of() { sql "SELECT type FROM events WHERE username = ? AND type LIKE 'account.d%' ORDER BY rowid" "$1"; }

# 1. ivy: a process whose effective uid is ivy's but whose real and saved
# uids are root's.  ivy cannot signal it; the reaper does not kill root's
# processes.  The teardown stops at the process step after its deadline.
uid=$(in_ns id -u ivy)
/usr/bin/python3 -c '
import os, sys, time
u = int(sys.argv[1])
os.setresgid(0, u, 0); os.setresuid(0, u, 0)
open(sys.argv[2], "w").close()
time.sleep(300)' "$uid" "$T/home/ivy/ready" &
P=$!
TEST_PIDS="$TEST_PIDS $P"
# (ready once it has become ivy: under load that can take a while)
wait_for 30 test -e "$T/home/ivy/ready" >/dev/null || fail "ivy's process did not start"
expire ivy
# The 5 s deadline is the feature: the reaper gives up on time.  It runs
# with every sleep overrunning (slow_sleeps), as on a loaded machine: a
# deadline made of counted 10 ms pauses took 13 s under two busy loops.
# The upper bound leaves 10 s for the rest of the reap (store, /proc
# scans, the signalling child), which scheduling cannot eat; a counted
# deadline under slow_sleeps takes 30 s.
t0=$(date +%s%N)
rc=0; out=$(slow_sleeps "$JITCTL" -c "$CONF" reap 2>"$T/reap.err") || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq "ivy: teardown fails" "$rc:$out" "1:tore down ivy: expired
  failed: processes of uid $uid: still running (left in disable_failed)
reap: 1 due, 1 failed"
[ $ms -ge 5000 ] && [ $ms -le 15000 ] || fail "ivy: gave up after $ms ms (deadline 5 s)"
grep -q "teardown of ivy: processes of uid $uid: still running" "$T/reap.err" \
    || fail "ivy: log: $(cat "$T/reap.err")"
grep -q 'event="account.disable_failed" result="fail" reason="expired" user="ivy"' "$T/reap.err" \
    || fail "ivy: audit: $(cat "$T/reap.err")"
expect_eq "ivy: state" "$(state_of ivy)" "disable_failed 1"
expect_eq "ivy: event" "$(events_of ivy)" "account.disable_failed"
"$JITCTL" -c "$CONF" list | grep -q '^ivy .*disable_failed' || fail "ivy not listed: $("$JITCTL" -c "$CONF" list)"
in_ns getent passwd ivy >/dev/null || fail "ivy no longer resolves while her process runs"
ok "ivy: a process the uid cannot signal: disable_failed after $ms ms, event, listed"
kill "$P"; wait "$P" 2>/dev/null || true
retry_now ivy
out=$("$JITCTL" -c "$CONF" reap 2>/dev/null)
expect_eq "ivy: retried" "$out" "tore down ivy: retry
reap: 1 due, 0 failed"
expect_eq "ivy: events" "$(events_of ivy)" "account.disable_failed account.deleted"
ok "ivy: the retry succeeds once the process is gone"

# 2. jack: the home on a read-only bind mount (in a namespace of its own,
# where the reaper runs).
expire jack
rc=0
out=$(unshare -m --propagation private sh -c '
    mount --bind "$1/home/jack" "$1/home/jack" &&
    mount -o remount,bind,ro "$1/home/jack" &&
    exec "$2" -c "$3" reap' sh "$T" "$JITCTL" "$CONF" 2>"$T/reap.err") || rc=$?
expect_eq "jack: teardown fails" "$rc:$out" "1:tore down jack: expired
  failed: removing $T/home/jack: Read-only file system (left in disable_failed)
reap: 1 due, 1 failed"
grep -q "teardown of jack: .*Read-only file system" "$T/reap.err" || fail "jack: log: $(cat "$T/reap.err")"
expect_eq "jack: state" "$(state_of jack)" "disable_failed 1"
expect_eq "jack: event" "$(events_of jack)" "account.disable_failed"
[ -d "$T/home/jack" ] || fail "jack's home went"
ok "jack: a home on a read-only bind mount: disable_failed, event, home kept"
out=$("$JITCTL" -c "$CONF" reap 2>/dev/null)
expect_eq "jack: not before the backoff" "$out" "reap: 0 due, 0 failed"
retry_now jack
out=$("$JITCTL" -c "$CONF" reap 2>/dev/null)
expect_eq "jack: retried" "$out" "tore down jack: retry
reap: 1 due, 0 failed"
[ ! -e "$T/home/jack" ] || fail "jack's home is still there"
expect_eq "jack: events" "$(events_of jack)" "account.disable_failed account.deleted"
ok "jack: the retry removes the home once the mount is gone"

# 3. kim: a process that ignores TERM: KILL after the 2 s grace.
uid=$(in_ns id -u kim)
setpriv --reuid="$uid" --regid="$uid" --clear-groups sh -c 'trap "" TERM; touch "$1"; while :; do sleep 1; done' sh "$T/home/kim/ready" &
P=$!
TEST_PIDS="$TEST_PIDS $P"
# (ready once TERM is ignored: under load that can take longer than a
# fixed pause, and a TERM before the trap ends it at once)
wait_for 30 test -e "$T/home/kim/ready" >/dev/null || fail "kim's process did not start"
expire kim
t0=$(date +%s%N)
out=$("$JITCTL" -c "$CONF" reap 2>/dev/null)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq "kim" "$out" "tore down kim: expired
reap: 1 due, 0 failed"
[ $ms -ge 1900 ] || fail "kim: done in $ms ms, before the grace"
kill -0 "$P" 2>/dev/null && fail "kim's process survived"
ok "kim: a process that ignores TERM is killed after the grace ($ms ms)"

# 4. lou: a process that ignores TERM and stops every process lou may
# signal, in a loop: the child that signals as lou is stopped (or killed)
# by it once it is lou.  The teardown neither hangs nor fails: that child
# goes, and the signal goes from root to each process lou may signal.
# Before, the reaper waited for the stopped child for ever (timeout 60:
# a hang shows as 124).
uid=$(in_ns id -u lou)
setpriv --reuid="$uid" --regid="$uid" --clear-groups /usr/bin/python3 -c '
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
open(sys.argv[1], "w").close()
# (it ignores TERM: should the test fail, it ends by itself)
end = time.monotonic() + 120
while time.monotonic() < end:
    try:
        os.kill(-1, signal.SIGSTOP)
    except OSError:
        pass' "$T/home/lou/ready" &
P=$!
TEST_PIDS="$TEST_PIDS $P"
wait_for 30 test -e "$T/home/lou/ready" >/dev/null || fail "lou's process did not start"
expire lou
t0=$(date +%s%N)
rc=0; out=$(timeout 60 "$JITCTL" -c "$CONF" reap 2>"$T/reap.err") || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq "lou" "$rc:$out" "0:tore down lou: expired
reap: 1 due, 0 failed"
wait "$P" 2>/dev/null || true
forget_pid "$P"
ok "lou: a process that stops every process of its uid: torn down in $ms ms"

# 5. mae: a process whose first thread exits alone (pthread_exit), its
# other thread running on as mae.  /proc shows the process by that first
# thread, a zombie; the teardown took it for dead, deleted the account and
# left the thread running with the uid.  Now it is killed first.
uid=$(in_ns id -u mae)
lone_thread "$uid" "$T/home/mae/ready" --clear-groups
P=$lone
expire mae
rc=0; out=$(timeout 60 "$JITCTL" -c "$CONF" reap 2>"$T/reap.err") || rc=$?
expect_eq "mae" "$rc:$out" "0:tore down mae: expired
reap: 1 due, 0 failed"
# Every live thread on the host with the uid as its real, effective or
# saved uid (a zombie not yet reaped by this shell runs nothing).
# (cat file by file: a thread gone meanwhile is skipped, where mawk, given
# the files, stops at the first it cannot open)
left=$(for f in /proc/[0-9]*/task/[0-9]*/status; do cat "$f" 2>/dev/null; done \
    | awk -v u="$uid" '/^Name:/ { z = 0 } /^State:/ { z = ($2 == "Z") }
        /^Uid:/ && !z && ($2 == u || $3 == u || $4 == u) { n++ }
        END { print n + 0 }')
expect_eq "mae: threads left with the uid" "$left" 0
wait "$P" 2>/dev/null || true
forget_pid "$P"
ok "mae: a process whose first thread exited alone: killed before the account went"

expect_eq "outbox: disable_failed events" \
    "$(sql "SELECT count(*) FROM events WHERE type = 'account.disable_failed'")" 2
