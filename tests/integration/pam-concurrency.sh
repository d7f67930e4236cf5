#!/bin/sh
# SPDX-License-Identifier: MIT
# 50 parallel logins of different requesters on one credential: 50
# distinct accounts, uids and homes, no lost or duplicate rows.  Ten
# parallel logins of one requester under ten names on one credential:
# exactly one account.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
setup_env
setup_pam
# Through the real libpam with pam_start_confdir, all in one namespace,
# audit lines through a syslog sink at /dev/log: pam_wrapper cannot run
# 50 processes at once (its /tmp/pam.X config copies collide).
start_syslog
N=50
for i in $(seq -w 1 $N); do
    grant_json "u$i" 'on_logout="keep"' > "$T/api/grants/u$i.json"
done
# parallel OPS USER...: one pam-run per user at once in the namespace;
# prints the number that failed.
parallel() {
    _ops=$1
    shift
    cat > "$T/parallel.sh" <<RUN
#!/bin/sh
set -e
$(ns_devlog)
pids=
for u in $*; do
    $top_builddir/tests/helpers/pam-run $T/pam.d jittest \$u $_ops > $T/out.\$u 2>&1 &
    pids="\$pids \$!"
done
failed=0
for p in \$pids; do wait \$p || failed=\$((failed + 1)); done
echo \$failed
RUN
    chmod 755 "$T/parallel.sh"
    in_ns "$T/parallel.sh"
}
users=$(for i in $(seq -w 1 $N); do printf 'u%s ' "$i"; done)
failed=$(parallel "acct_mgmt open_session" $users)
[ "$failed" = 0 ] || fail "$failed of $N parallel logins failed: $(grep -hv ': Success' "$T"/out.u* | head -5) $(grep 'result="deny"' "$T/syslog" | head -3)"
ok "$N parallel logins succeeded"

rows=$(/usr/bin/python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("SELECT count(*), count(DISTINCT uid), count(DISTINCT home), sum(sessions) FROM accounts").fetchone())
print(db.execute("PRAGMA integrity_check").fetchone()[0])
' "$STATE/state.db" | tr '\n' ' ')
expect_eq "accounts, distinct uids, distinct homes, sessions; integrity" "$rows" "($N, $N, $N, $N) ok "
n=$(in_ns getent passwd | grep -c '^u[0-9][0-9]:')
expect_eq "all $N resolve through NSS" "$n" "$N"
homes=$(for i in $(seq -w 1 $N); do stat -c '%a:%u' "$T/home/u$i"; done | sort -u | wc -l)
expect_eq "$N homes, each 0700 and its own uid" "$homes" "$N"
bad=$(for i in $(seq -w 1 $N); do
    uid=$(in_ns id -u "u$i"); [ "$(stat -c '%a %u' "$T/home/u$i")" = "700 $uid" ] || echo "u$i"
done)
expect_eq "every home matches its account" "$bad" ""
created=$(grep -c 'event="account.created"' "$T/syslog" || true)
expect_eq "one account.created per account" "$created" "$N"

# One requester, ten names, one credential, all at once.
for c in a b c d e f g h i j; do
    grant_json "dup$c" 'requester="dup@EXAMPLE.COM"' > "$T/api/grants/dup$c.json"
done
parallel acct_mgmt dupa dupb dupc dupd dupe dupf dupg duph dupi dupj >/dev/null
allowed=$(grep 'event="login" result="allow"' "$T/syslog" | grep -c 'user="dup' || true)
expect_eq "one requester on one credential: allowed" "$allowed" 1
dups=$(grep 'reason="duplicate_grant"' "$T/syslog" | grep -c 'user="dup' || true)
expect_eq "the other nine denied as duplicate_grant" "$dups" 9
n=$(/usr/bin/python3 -c '
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM accounts WHERE requester = ?", ("dup@EXAMPLE.COM",)).fetchone()[0])
' "$STATE/state.db")
expect_eq "one account for that requester" "$n" 1
