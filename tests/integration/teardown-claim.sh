#!/bin/sh
# SPDX-License-Identifier: MIT
# One teardown of an account at a time (doc/design.md, F9): the process
# that holds the claim on the uid tears it down, and every other one
# leaves it to it.  A last logout whose teardown outlasts a wake of
# jitctl daemon keeps its own home_policy (the daemon's reaper does not
# take the account up beside it); a last logout while the reaper tears
# the account down for its end leaves it to the reaper (one
# account.deleted, reason expired); the daemon's reaper looks again
# within seconds at an account it left to a holder that then let go; and
# jitctl revoke beside a holder leaves the account to it, and once the
# holder dies the reaper takes it up.  And jitctl reap says "left" only
# for an account another process has: a step that fails with ENOENT is a
# failure.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
command -v setpriv >/dev/null || skip "needs setpriv"
setup_env
setup_pam
sed -i 's/^uid_max = .*/uid_max = 99749/' "$CONF"
G=$T/api/grants
sed "s|config=$CONF|config=$CONF debug home_policy=keep|" "$T/pam.d/jittest" > "$T/pam.d/jitkeep"
for u in alice bob carol; do grant_json "$u" > "$G/$u.json"; done
state_of() { /usr/bin/python3 -c 'import sqlite3, sys
r = sqlite3.connect(sys.argv[1]).execute("SELECT state FROM accounts WHERE name = ?", (sys.argv[2],)).fetchone()
print(r[0] if r else "none")' "$STATE/state.db" "$1"; }
# A process of uid $1 that ignores TERM: a teardown then waits out its
# 2 s grace before the KILL, holding its claim all that time.  (Its
# sleep is the process's life, ended by the teardown, not a wait: the
# test waits on its uid with wait_uid.)
stubborn() {
    setpriv --reuid="$1" --regid="$1" --clear-groups sh -c 'trap "" TERM; sleep 300' &
    P=$!
    TEST_PIDS="$TEST_PIDS $P"
    wait_uid "$P" "$1"
}
dead() { ! kill -0 "$1" 2>/dev/null || [ "$(ps -o stat= -p "$1" | cut -c1)" = Z ]; }
deleted_lines() { cat "$T/pam.out" "$T/daemon.err" 2>/dev/null | grep -c "event=\"account.deleted\" result=\"ok\" reason=\"[a-z_]*\" user=\"$1\"" || true; }

start_daemon
wait_for 30 grep -q 'daemon: started' "$T/daemon.err" >/dev/null || fail "daemon: $(cat "$T/daemon.err")"

# --- a logout's teardown beside a daemon woken by its commit ---
PAM_SVC=jitkeep pam_op bob acct_mgmt open_session || fail "bob: $(cat "$T/pam.out")"
stubborn "$(in_ns id -u bob)"
PAM_SVC=jitkeep pam_op bob close_session || fail "bob's logout: $(cat "$T/pam.out")"
forget_pid "$P"
audit_has 'event="account.deleted" result="ok" reason="logout" user="bob"'
gone bob || fail "bob still resolves"
test -d "$T/home/bob" || fail "bob's home removed: the daemon tore him down beside his logout, with its own home_policy: $(cat "$T/daemon.err")"
if grep -Eq 'event="account\.(deleted|disable_failed)".* user="bob"' "$T/daemon.err"; then
    fail "the daemon tore bob down too: $(grep bob "$T/daemon.err")"
fi
ok "a logout's teardown (home_policy=keep) is its own: the home kept, the daemon left it alone"

# --- a last logout while the reaper tears the account down at its end ---
pam_op alice acct_mgmt open_session || fail "alice: $(cat "$T/pam.out")"
stubborn "$(in_ns id -u alice)"
AP=$P
end_now alice
kill -HUP $D # the loop wakes and reaps: alice is due
marked() { [ "$(state_of alice)" != active ]; }
wait_for 20 marked >/dev/null || fail "the reaper never took alice: $(cat "$T/daemon.err")"
pam_op alice close_session || fail "alice's logout: $(cat "$T/pam.out")"
wait_for 20 gone alice >/dev/null || fail "alice not torn down: $(cat "$T/daemon.err")"
wait "$AP" 2>/dev/null || true
forget_pid "$AP"
if grep -q 'teardown of alice: begun already by another process' "$T/pam.out"; then
    how="the logout left it to the reaper"
elif grep -q 'event="session.closed"' "$T/pam.out"; then
    fail "alice's logout: $(cat "$T/pam.out")"
else
    how="the reaper was done before the logout"
fi
wait_for 10 grep -q 'event="account.deleted" result="ok" reason="expired" user="alice"' "$T/daemon.err" >/dev/null \
    || fail "no expiry audit line: $(cat "$T/daemon.err")"
expect_eq "one account.deleted line for alice" "$(deleted_lines alice)" 1
if grep -q 'reason="logout" user="alice"' "$T/pam.out" "$T/daemon.err"; then fail "alice's end recorded as a logout"; fi
ok "an account ending while its last session closes is torn down once, as expired ($how)"
# A holder of the claim (as a logout's, taken before its transaction):
# python holding the same lock, with no teardown to do.
cat > "$T/hold.py" <<'PY'
import fcntl, os, signal, struct, sys
F_OFD_SETLK = 37
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.fcntl(fd, F_OFD_SETLK, struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, int(sys.argv[2]), 1, 0))
open(sys.argv[3], "w").close()
signal.pause()
PY
hold() {
    rm -f "$T/held"
    /usr/bin/python3 "$T/hold.py" "$STATE/lock" "$1" "$T/held" &
    H=$!
    TEST_PIDS="$TEST_PIDS $H"
    wait_for 10 test -e "$T/held" >/dev/null || fail "the holder did not start"
}

# --- the reaper finds the account held; the holder lets go unfinished ---
grant_json dave > "$G/dave.json"
pam_op dave acct_mgmt open_session || fail "dave: $(cat "$T/pam.out")"
duid=$(in_ns id -u dave)
# (a process of the uid for the teardown to end; its sleep is its life,
# not a wait)
setpriv --reuid="$duid" --regid="$duid" --clear-groups sleep 300 &
DP=$!
TEST_PIDS="$TEST_PIDS $DP"
wait_uid "$DP" "$duid"
hold "$duid"
end_now dave
kill -HUP $D
dave_marked() { [ "$(state_of dave)" = tearing_down ]; }
wait_for 20 dave_marked >/dev/null || fail "the reaper never marked dave: $(cat "$T/daemon.err")"
dead "$DP" && fail "dave's process ended while another held his claim"
kill $H; wait $H 2>/dev/null || true
forget_pid $H
dave_done() { gone dave && dead "$DP"; }
# The daemon looks again within 2 s of each pass that left it.
ms=$(wait_for 20 dave_done) || fail "dave not torn down after his holder let go: $(cat "$T/daemon.err")"
wait "$DP" 2>/dev/null || true
forget_pid "$DP"
ok "an account the reaper left to a holder is torn down $ms ms after the holder lets go"

kill $D; wait $D || fail "daemon exit status $?"
forget_pid $D

# --- jitctl revoke beside a holder; the holder dies, the reaper takes it up ---
pam_op carol acct_mgmt open_session || fail "carol: $(cat "$T/pam.out")"
cuid=$(in_ns id -u carol)
hold "$cuid"
out=$("$JITCTL" -c "$CONF" revoke carol --reason "INC-9 test" 2>&1) || fail "revoke: $out"
case $out in *"being torn down by another process"*) ;; *) fail "revoke beside a holder: $out" ;; esac
expect_eq "carol tearing_down, left to the holder" "$(state_of carol)" tearing_down
kill $H; wait $H 2>/dev/null || true
forget_pid $H
out=$("$JITCTL" -c "$CONF" reap 2>&1) || fail "reap: $out"
case $out in *"tore down carol: resumed"*) ;; *) fail "reap after the holder died: $out" ;; esac
gone carol || fail "carol still resolves"
ok "jitctl revoke leaves an account held elsewhere; the holder dead, the reaper takes it up"

# --- a failing step is a failure, not "torn down by another process" ---
# (the scrub cannot defuse a set-user-id file of the uid with another
# link when /proc is hidden from it: the step fails with ENOENT)
grant_json erin 'on_logout="keep"' > "$G/erin.json"
pam_op erin acct_mgmt open_session || fail "erin: $(cat "$T/pam.out")"
euid=$(in_ns id -u erin)
echo x > "$T/scrub/suid"
chown "$euid" "$T/scrub/suid"
chmod 4755 "$T/scrub/suid"
ln "$T/scrub/suid" "$T/scrub/suid.link"
end_now erin
# (a sanitizer build reads its options from /proc/self/environ: one is
# put there, so that LeakSanitizer, which cannot work without /proc,
# stays off; anything else of /proc stays hidden)
out=$(in_ns sh -c "mount -t tmpfs tmpfs /proc; mkdir /proc/self; printf 'ASAN_OPTIONS=detect_leaks=0\\000' > /proc/self/environ; '$JITCTL' -c '$CONF' reap; echo exit=\$?" 2>"$T/reap.err")
case $out in
    *"left erin"*|*"torn down by another process"*) fail "a failing teardown reported as left to another process: $out" ;;
    *"failed:"*"exit=1"*) ;;
    *) fail "reap with a failing step: $out $(cat "$T/reap.err")" ;;
esac
expect_eq "erin left in disable_failed" "$(state_of erin)" disable_failed
rm -f "$T/scrub/suid" "$T/scrub/suid.link"
ok "a teardown step failing with ENOENT is reported as a failure"
