#!/bin/sh
# SPDX-License-Identifier: MIT
# kill -9 of jitctl (daemon, sync or reap) at random points, CRASH_RUNS
# times (200 by default), while grants come and go and accounts expire:
# after every kill the store passes integrity_check, the snapshot loads
# and agrees with the store once it is opened again, no account is
# deleted twice, and after the last one a round finishes the work.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
setup_env
setup_pam
RUNS=${CRASH_RUNS:-200}
G=$T/api/grants
# Ten grants that stay; the others come and go, some ending soon.
for i in 0 1 2 3 4 5 6 7 8 9; do grant_json "keep$i" > "$G/keep$i.json"; done
check() { # the store and the snapshot after a kill
    [ -e "$STATE/state.db" ] || return 0  # killed before it was made
    /usr/bin/python3 - "$STATE/state.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
ok = db.execute("PRAGMA integrity_check").fetchone()[0]
if db.execute("PRAGMA user_version").fetchone()[0] == 0:
    sys.exit(0 if ok == "ok" else 1)  # killed before the schema was made
dup = db.execute("SELECT username, grant_id, count(*) FROM events"
                 " WHERE type = 'account.deleted' GROUP BY 1, 2 HAVING count(*) > 1").fetchall()
if ok != "ok" or dup:
    print("integrity:", ok, "deleted twice:", dup)
    sys.exit(1)
PY
}
i=0
while [ $i -lt "$RUNS" ]; do
    i=$((i + 1))
    # Change the API's list: a few grants appear, some leave, some end.
    n=$((i % 7))
    [ -e "$G/tmp$n.json" ] || grant_json "tmp$n" "id=\"g-tmp$n-$i\"" > "$G/tmp$n.json"
    rm -f "$G/tmp$(( (i + 3) % 7 )).json"
    if [ $((i % 5)) = 0 ]; then
        soon=$(date -u -d '+1 seconds' +%Y-%m-%dT%H:%M:%SZ)
        grant_json "short$((i % 11))" "expires_at=\"$soon\"" "id=\"g-short-$i\"" \
            > "$G/short$((i % 11)).json"
    fi
    case $((i % 3)) in
        0) set -- daemon ;;
        1) set -- sync ;;
        2) set -- reap ;;
    esac
    "$JITCTL" -c "$CONF" "$@" >/dev/null 2>&1 &
    p=$!
    # A random moment: 0 to 60 ms in.  (The pause is the feature: where
    # the kill lands; nothing waits on it.)
    sleep "0.0$(( $(od -An -N1 -tu1 /dev/urandom) % 60 ))"
    kill -9 $p 2>/dev/null || true
    wait $p 2>/dev/null || true
    check || fail "after kill $i ($*)"
    # The snapshot on disk loads as libnss_jit loads it (every check of
    # the reader: owner, mode, size, checksum, offsets, indexes).
    snap=$("$FIXTURE" --config "$CONF" check-snapshot) || fail "after kill $i ($*): $snap"
done
ok "$RUNS kills of daemon/sync/reap: integrity_check ok and no account deleted twice after each"
# Work resumes: a sync and a reap finish what was cut short.
"$JITCTL" -c "$CONF" list >/dev/null || fail "the store does not open"
# The short grants the loop made (1 s ahead) have all ended, by the
# clock, so that the reap below has their ends to finish too.
last_end=$(/usr/bin/python3 -c '
import calendar, json, sys, time
ends = [calendar.timegm(time.strptime(json.load(open(f))["expires_at"], "%Y-%m-%dT%H:%M:%SZ"))
        for f in sys.argv[1:]]
print(max(ends, default=0))' $(ls "$G"/short*.json 2>/dev/null))
past_end() { [ "$(date +%s)" -gt "$last_end" ]; }
wait_for 30 past_end >/dev/null || fail "the clock never passed $last_end"
"$JITCTL" -c "$CONF" sync >/dev/null 2>&1 || fail "sync after the kills"
"$JITCTL" -c "$CONF" reap >/dev/null 2>&1 || fail "reap after the kills"
check || fail "after the final round"
for k in 0 1 2 3 4 5 6 7 8 9; do
    in_ns getent passwd "keep$k" >/dev/null || fail "keep$k lost"
done
ok "the ten standing accounts are all there and resolve"
left=$(/usr/bin/python3 -c '
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM accounts WHERE state NOT IN (\"reserved\", \"active\")").fetchone()[0])' "$STATE/state.db")
expect_eq "no account left half torn down" "$left" 0
snap=$(in_ns getent passwd | grep -c ':JIT ')
store=$("$JITCTL" -c "$CONF" list --json | grep -c '"name"')
expect_eq "snapshot and store agree" "$snap" "$store"
