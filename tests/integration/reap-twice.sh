#!/bin/sh
# SPDX-License-Identifier: MIT
# Two reapers at once (the daemon and an admin's jitctl reap, say) over
# 200 expired accounts: every account goes, each with exactly one
# account.deleted event, and no teardown is reported failed because the
# other reaper got there first.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
setup_env
setup_pam
N=200
for i in $(seq -w 1 $N); do
    grant_json "r$i" 'on_logout="keep"' > "$T/api/grants/r$i.json"
done
out=$("$JITCTL" -c "$CONF" sync 2>/dev/null)
case $out in "sync: $N grants: $N reserved,"*) ;; *) fail "sync: $out" ;; esac
sql() { /usr/bin/python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1]); r = db.execute(sys.argv[2]).fetchall(); db.commit()
print(" ".join(str(x) for row in r for x in row))' "$STATE/state.db" "$1"; }
for n in $(sql "SELECT name || ':' || uid FROM accounts"); do
    mkdir -p "$T/home/${n%%:*}/sub"; echo x > "$T/home/${n%%:*}/sub/f"
    chown -R "${n#*:}" "$T/home/${n%%:*}"
done
sql "UPDATE accounts SET expires = 1" >/dev/null
"$JITCTL" -c "$CONF" reap > "$T/reap1.out" 2>"$T/reap1.err" &
p1=$!
"$JITCTL" -c "$CONF" reap > "$T/reap2.out" 2>"$T/reap2.err" &
p2=$!
rc1=0; wait $p1 || rc1=$?
rc2=0; wait $p2 || rc2=$?
expect_eq "both reapers succeed" "$rc1 $rc2" "0 0"
expect_eq "accounts left" "$(sql "SELECT count(*) FROM accounts")" 0
expect_eq "homes left" "$(ls "$T/home" | wc -l)" 0
expect_eq "account.deleted events, distinct accounts" \
    "$(sql "SELECT count(*), count(DISTINCT username) FROM events WHERE type = 'account.deleted'")" "$N $N"
expect_eq "account.disable_failed events" \
    "$(sql "SELECT count(*) FROM events WHERE type = 'account.disable_failed'")" 0
expect_eq "quarantine rows" "$(sql "SELECT count(*) FROM uid_history")" "$N"
ok "two reapers at once: $(grep -c '^tore down' "$T/reap1.out") and $(grep -c '^tore down' "$T/reap2.out") teardowns reported, each account deleted once"
