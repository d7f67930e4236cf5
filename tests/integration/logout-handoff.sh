#!/bin/sh
# SPDX-License-Identifier: MIT
# A last logout hands its teardown to jitctl daemon (doc/design.md, F9):
# the logout returns once the daemon has taken it, and the daemon's
# teardown thread ends the account's processes and removes the account,
# audited and reported with cause "logout", once.  A daemon with another
# teardown configuration, a stopped daemon and no daemon leave the
# teardown to the logout itself; a request naming an account that is not
# tearing_down tears nothing down.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
command -v setpriv >/dev/null || skip "needs setpriv"
setup_env
setup_pam
sed -i 's/^uid_max = .*/uid_max = 99749/' "$CONF"
G=$T/api/grants
SOCK=$STATE/relay
sed "s|config=$CONF|config=$CONF debug|" "$T/pam.d/jittest" > "$T/pam.d/jitdebug"
# An argument that changes what a teardown does: the daemon refuses it.
sed "s|config=$CONF|config=$CONF debug home_policy=keep|" "$T/pam.d/jittest" > "$T/pam.d/jitkeep"
dead() { ! kill -0 "$1" 2>/dev/null || [ "$(ps -o stat= -p "$1" | cut -c1)" = Z ]; }
for u in alice bob carol dave erin; do grant_json "$u" > "$G/$u.json"; done

start_daemon
wait_for 30 grep -q 'daemon: started' "$T/daemon.err" >/dev/null || fail "daemon: $(cat "$T/daemon.err")"
test -S "$SOCK" || fail "no relay socket: $(cat "$T/daemon.err")"

# --- handed over: the logout returns, the daemon ends process and account ---
PAM_SVC=jitdebug pam_op alice acct_mgmt open_session || fail "alice: $(cat "$T/pam.out")"
uid=$(in_ns id -u alice)
setpriv --reuid="$uid" --regid="$uid" --clear-groups sleep 300 &
P=$!
TEST_PIDS="$TEST_PIDS $P"
wait_uid "$P" "$uid"
PAM_SVC=jitdebug pam_op alice close_session || fail "alice's logout: $(cat "$T/pam.out")"
audit_has 'event="session.closed" result="ok" reason="last_logout" user="alice"'
grep -q 'teardown of alice handed to jitctl daemon' "$T/pam.out" || fail "not handed over: $(cat "$T/pam.out")"
if grep -q 'event="account.deleted"' "$T/pam.out"; then fail "the logout tore down itself too: $(cat "$T/pam.out")"; fi
gone_and_ended() { gone alice && dead "$P"; }
wait_for 20 gone_and_ended >/dev/null || fail "alice not torn down: $(cat "$T/daemon.err")"
wait "$P" 2>/dev/null || true
forget_pid "$P"
test ! -e "$T/home/alice" || fail "alice's home left"
wait_for 10 grep -q 'event="account.deleted" result="ok" reason="logout" user="alice"' "$T/daemon.err" >/dev/null \
    || fail "no audit line of the daemon: $(cat "$T/daemon.err")"
expect_eq "one account.deleted line for alice" \
    "$(grep -c 'event="account.deleted" result="ok" reason="[a-z]*" user="alice"' "$T/daemon.err")" 1
delivered() { grep '"account.deleted"' "$T/api/events.jsonl" 2>/dev/null | grep '"alice"' | grep -q '"logout"'; }
wait_for 20 delivered >/dev/null || fail "account.deleted (logout) of alice not delivered: $(cat "$T/api/events.jsonl" 2>/dev/null)"
ok "alice's logout handed over: her process, home and account gone, audited and reported once as a logout"

# --- another teardown configuration: the logout tears down itself ---
PAM_SVC=jitkeep pam_op bob acct_mgmt open_session close_session || fail "bob: $(cat "$T/pam.out")"
grep -q 'the relay refused: settings; the teardown of bob is this logout' "$T/pam.out" \
    || fail "bob's teardown handed to a daemon that would remove his home: $(cat "$T/pam.out")"
audit_has 'event="account.deleted" result="ok" reason="logout" user="bob"'
test -d "$T/home/bob" || fail "bob's home not kept (home_policy=keep)"
ok "a logout whose home_policy differs from the daemon's tears down itself"

# --- hostile requests on the socket (root's: it is 0600) ---
cat > "$T/ask.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
body = sys.argv[3].encode().decode("unicode_escape").encode("latin-1")
s.sendall(b"teardown %s %d\n" % (sys.argv[2].encode(), len(body)) + body)
s.shutdown(socket.SHUT_WR)
out = b""
while True:
    b = s.recv(4096)
    if not b: break
    out += b
print(repr(out))
PY
# carol is active, with a session and a process: a request naming her
# (with the daemon's own settings) must not end either.
PAM_SVC=jitdebug pam_op carol acct_mgmt open_session || fail "carol: $(cat "$T/pam.out")"
cuid=$(in_ns id -u carol)
setpriv --reuid="$cuid" --regid="$cuid" --clear-groups sleep 300 &
C=$!
TEST_PIDS="$TEST_PIDS $C"
wait_uid "$C" "$cuid"
mine="state_dir\\x00$STATE\\x00home_base\\x00$T/home\\x00home_policy\\x000\\x00scrub_dirs\\x00$T/scrub\\x00"
out=$(/usr/bin/python3 "$T/ask.py" "$SOCK" carol "$mine")
expect_eq "a request for carol (active) with the daemon's settings" "$out" "b'taken\\n'"
out=$(/usr/bin/python3 "$T/ask.py" "$SOCK" carol "state_dir\\x00/tmp\\x00")
expect_eq "a request with other settings" "$out" "b'refused settings\\n'"
out=$(/usr/bin/python3 "$T/ask.py" "$SOCK" "../carol" "$mine")
expect_eq "a request for a bad name" "$out" "b'refused bad_user\\n'"
# The thread takes its queue in order: once dave's handed logout is done,
# carol's request has been seen too.
PAM_SVC=jitdebug pam_op dave acct_mgmt open_session close_session || fail "dave: $(cat "$T/pam.out")"
grep -q 'teardown of dave handed to jitctl daemon' "$T/pam.out" || fail "dave not handed over: $(cat "$T/pam.out")"
wait_for 20 gone dave >/dev/null || fail "dave not torn down: $(cat "$T/daemon.err")"
resolves carol || fail "carol torn down on a bare request: $(cat "$T/daemon.err")"
kill -0 "$C" || fail "carol's process ended on a bare request"
expect_eq "carol still active" "$(/usr/bin/python3 -c 'import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT state FROM accounts WHERE name = ?", ("carol",)).fetchone()[0])' "$STATE/state.db")" active
grep -q "daemon: a logout's teardown handed over for carol, whose account is not tearing_down: left alone" "$T/daemon.err" \
    || fail "the bare request not logged: $(cat "$T/daemon.err")"
ok "a request naming an active account tears nothing down, and is logged"
kill "$C"; wait "$C" 2>/dev/null || true
forget_pid "$C"

# --- a stopped daemon: the logout tears down itself after a second ---
PAM_SVC=jitdebug pam_op erin acct_mgmt open_session || fail "erin: $(cat "$T/pam.out")"
kill -STOP $D
t0=$(date +%s%N)
PAM_SVC=jitdebug pam_op erin close_session || { kill -CONT $D; fail "erin's logout: $(cat "$T/pam.out")"; }
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
kill -CONT $D
grep -q 'the relay did not take the request in time; the teardown of erin is this logout' "$T/pam.out" \
    || fail "stopped daemon: $(cat "$T/pam.out")"
audit_has 'event="account.deleted" result="ok" reason="logout" user="erin"'
gone erin || fail "erin still resolves"
# The bound is the feature: a second for "taken" (8 s of margin).
[ $ms -le 9000 ] || fail "a logout beside a stopped daemon took $ms ms"
ok "a stopped daemon: the logout tore down itself after $ms ms"

# --- no daemon: as before ---
kill $D; wait $D || fail "daemon exit status $?"
forget_pid $D
grant_json frank > "$G/frank.json"
PAM_SVC=jitdebug pam_op frank acct_mgmt open_session close_session || fail "frank: $(cat "$T/pam.out")"
grep -q 'no relay: No such file or directory; the teardown of frank is this logout' "$T/pam.out" \
    || fail "no daemon: $(cat "$T/pam.out")"
audit_has 'event="account.deleted" result="ok" reason="logout" user="frank"'
ok "no daemon: the logout tears down itself"
