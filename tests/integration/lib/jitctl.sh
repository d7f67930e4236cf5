# SPDX-License-Identifier: MIT
# The host's own side outside PAM: jitctl daemon in the background, and
# a grant ended now in the store (a clock the test controls).  Sourced
# by ../lib.sh.

# end_now NAME: NAME's account and its grant end now, in the store: a
# clock the test controls.  (A grant ending a few seconds ahead ran out
# before a slow setup was done; a wide margin makes every run wait.)
end_now() {
    /usr/bin/python3 -c '
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1]); now = int(time.time())
db.execute("UPDATE grants SET expires_at = ? WHERE id = (SELECT grant_id FROM accounts WHERE name = ?)", (now, sys.argv[2]))
n = db.execute("UPDATE accounts SET expires = ? WHERE name = ?", (now, sys.argv[2])).rowcount
db.commit()
sys.exit(0 if n == 1 else 1)' "$STATE/state.db" "$1" || fail "end_now: no account $1"
}

# start_daemon: jitctl daemon on $CONF in the background; D is its pid,
# its log $T/daemon.err.
start_daemon() {
    "$JITCTL" -c "$CONF" daemon 2>"$T/daemon.err" &
    D=$!
    TEST_PIDS="$TEST_PIDS $D"
}
