#!/bin/sh
# SPDX-License-Identifier: MIT
# pam_jit through the real libpam (pam_start_confdir, tests/helpers/pam-run) against the
# fault-injecting test API: every allow and deny case asserts the PAM
# result and the audit line; every fault denies, ended by the timeout.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
command -v openssl >/dev/null || skip "needs openssl"
setup_env
setup_pam
G=$T/api/grants
F=$T/api/faults

# expect_pam WHAT WANT USER OP...: run, check the PAM result (0 for
# success, or the PAM code whose pam_strerror text pam-run printed) and
# the time bound.
expect_pam() {
    what=$1 want=$2 user=$3
    shift 3
    t0=$(date +%s%N)
    rc=0
    pam_op "$user" "$@" || rc=$?
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    case $want in
        0) [ "$rc" = 0 ] || fail "$what: pam-run rc $rc: $(cat "$T/pam.out")" ;;
        PAM_PERM_DENIED) grep -q '^pam-run: [a-z_]*: Permission denied$' "$T/pam.out" \
            || fail "$what: want $want: $(cat "$T/pam.out")" ;;
        PAM_SESSION_ERR) grep -q '^pam-run: [a-z_]*: Cannot make/remove an entry for the specified session$' "$T/pam.out" \
            || fail "$what: want $want: $(cat "$T/pam.out")" ;;
    esac
    # The bound is the feature for the faults (hang would hold the login
    # an hour, slow 100 s; the audit reason shows the timeout ended it):
    # their timeout (2 s) + 10 s for the namespace and a busy machine,
    # where a plain login took up to 1.6 s and a hang 3 s.
    [ $ms -le 12000 ] || fail "$what took $ms ms (timeout 2 s + 10 s, and the namespace)"
    ok "$what ($want, ${ms} ms)"
}
requests() { cat "$T/api/requests.log" 2>/dev/null | grep -c " /v1/hosts/web01.test/grants/$1 " || true; }

# --- users of other sources are not ours: PAM_IGNORE, no API call
# (doc/design.md, R7) ---
echo hang > "$F/root"
expect_pam "local root: ignored (the stack's pam_permit decides)" 0 root acct_mgmt open_session close_session
[ "$(requests root)" = 0 ] || fail "the API was asked about root"
ok "no API call for a local user"
if grep -q 'event=' "$T/pam.out"; then fail "audit line for an ignored user: $(cat "$T/pam.out")"; fi

# --- the whole life: grant, login, account, session, logout, delete ---
grant_json alice > "$G/alice.json"
expect_pam "alice: account + session with an active grant" 0 alice acct_mgmt open_session
audit_has 'event="login" result="allow" reason="reserved" user="alice" requester="alice@EXAMPLE.COM" credential="db-admin" grant="g-alice" service="jittest" rhost="192.0.2.7" tty="ssh" expires="2036-01-01T00:00:00Z"'
audit_has 'event="account.created" result="ok" reason="reserved" user="alice"'
audit_has 'event="session.opened" result="allow" reason="home_created" user="alice"'
expect_eq "getent passwd alice" "$(in_ns getent passwd alice)" \
    "alice:x:70000:70000:JIT db-admin:$T/home/alice:/bin/bash"
expect_eq "id alice: the grant's groups through NSS" "$(in_ns id alice)" \
    "uid=70000(alice) gid=70000(alice) groups=70000(alice),100(users),44(video)"
expect_eq "home 0700, owned by alice" "$(stat -c '%a %u %g %F' "$T/home/alice")" \
    "700 70000 70000 directory"
expect_eq "skel copied and owned" "$(stat -c '%u %n' "$T/home/alice/.profile" "$T/home/alice/.config/app" | sed "s|$T/home/alice/||" | tr '\n' ' ')" \
    "70000 .profile 70000 .config/app "
expect_pam "alice: second session" 0 alice acct_mgmt open_session
audit_has 'event="login" result="allow" reason="grant" user="alice"'
audit_has 'event="session.opened" result="allow" reason="grant" user="alice"'
if grep -q 'account.created' "$T/pam.out"; then fail "account.created twice"; fi
expect_pam "alice: one logout of two keeps the account" 0 alice close_session
audit_has 'event="session.closed" result="ok" reason="sessions_left" user="alice"'
in_ns getent passwd alice >/dev/null || fail "alice vanished with a session left"
expect_pam "alice: last logout with on_logout delete" 0 alice close_session
audit_has 'event="session.closed" result="ok" reason="last_logout" user="alice"'
audit_has 'event="account.deleted" result="ok" reason="logout" user="alice"'
if in_ns getent passwd alice; then fail "alice still resolves after delete"; fi
[ ! -e "$T/home/alice" ] || fail "alice's home is still there"
ok "account and home gone after the last logout"
n=$("$JITCTL" -c "$CONF" list --json | grep -c '"name"' || true)
expect_eq "no accounts left in the store" "$n" 0

# --- an extended grant moves the account's end (and its shadow expiry) ---
grant_json pia 'on_logout="keep"' > "$G/pia.json"
expect_pam "pia: login" 0 pia acct_mgmt open_session close_session
exp1=$(in_ns getent shadow pia | cut -d: -f8)
grant_json pia 'on_logout="keep"' 'expires_at="2037-06-01T00:00:00Z"' > "$G/pia.json"
expect_pam "pia: the same grant, extended" 0 pia acct_mgmt open_session close_session
audit_has 'event="login" result="allow" reason="updated" user="pia"'
if grep -q 'account.enabled\|account.created' "$T/pam.out"; then fail "an extension is not a new account"; fi
exp2=$(in_ns getent shadow pia | cut -d: -f8)
[ "$exp2" -gt "$exp1" ] || fail "shadow expiry did not move: $exp1 -> $exp2"
ok "shadow expiry follows the grant: day $exp1 -> day $exp2"

# --- a teardown that cannot finish: disable_failed, an event, a log line ---
if command -v chattr >/dev/null && touch "$T/home/.attr-probe" && chattr +i "$T/home/.attr-probe" 2>/dev/null; then
    chattr -i "$T/home/.attr-probe"; rm -f "$T/home/.attr-probe"
    grant_json quinn > "$G/quinn.json"
    expect_pam "quinn: login" 0 quinn acct_mgmt open_session
    touch "$T/home/quinn/stuck"
    chattr +i "$T/home/quinn/stuck"
    expect_pam "quinn: last logout, home cannot be removed" PAM_SESSION_ERR quinn close_session
    chattr -i "$T/home/quinn/stuck"
    audit_has 'event="account.disable_failed" result="fail" reason="logout" user="quinn"'
    grep -q 'teardown of quinn: removing .*/home/quinn: Operation not permitted' "$T/pam.out" \
        || fail "no reason logged: $(cat "$T/pam.out")"
    expect_eq "quinn left in disable_failed" \
        "$("$JITCTL" -c "$CONF" show quinn --json | grep '"state"' | tr -d ' ,')" '"state":"disable_failed"'
    expect_pam "quinn: no login while disable_failed" PAM_PERM_DENIED quinn acct_mgmt
    audit_has 'reason="account_disabling" user="quinn"'
else
    skip_case "the immutable-file teardown case: no chattr +i on $T"
fi

# --- the same message for "no grant" and "no such user" ---
expect_pam "bob: no grant" PAM_PERM_DENIED bob acct_mgmt
audit_has 'event="login" result="deny" reason="no_grant" user="bob"'
msg_bob=$(grep '^Access denied' "$T/pam.out")
echo 404 > "$F/nobody-here"
expect_pam "unknown user" PAM_PERM_DENIED nobody-here acct_mgmt
msg_unknown=$(grep '^Access denied' "$T/pam.out")
expect_eq "one message for both" "$msg_bob" "$msg_unknown"


# --- the grant cannot choose home or shell, nor forge a field
# (doc/design.md, threats D4, G1) ---
grant_json rick 'home="/"' 'shell="/bin/evil"' 'dir="/etc"' \
    'requester="rick@EXAMPLE.COM\" user=\"root\" result=\"allow"' > "$G/rick.json"
expect_pam "rick: a grant with home, shell and a forging requester" 0 rick acct_mgmt open_session
expect_eq "home and shell are ours, not the grant's" "$(in_ns getent passwd rick | cut -d: -f6,7)" \
    "$T/home/rick:/bin/bash"
n=$(grep -c 'event="login"' "$T/pam.out")
expect_eq "one audit line for the decision" "$n" 1
audit_has 'requester="rick@EXAMPLE.COM\\" user=\\"root\\" result=\\"allow" credential="db-admin"'
line=$(grep 'event="login"' "$T/pam.out" | sed 's/^.*SYSLOG([0-9]*): //')
fields=$(printf '%s\n' "$line" | /usr/bin/python3 -c '
import re, sys
line = sys.stdin.read().strip()
pairs = re.findall(r"(\w+)=\"((?:[^\"\\]|\\.)*)\"", line)
print(" ".join(k for k, v in pairs), "|", dict(pairs)["user"], "|", dict(pairs)["result"])')
expect_eq "a key=value parser recovers the fields" "$fields" \
    "event result reason user requester credential grant service rhost tty expires | rick | allow"

# --- the environment is not honoured: proxies, CA bundles (doc/design.md,
# threat A2) ---
grant_json sam > "$G/sam.json"
set +e
in_ns env https_proxy=http://127.0.0.1:1 HTTPS_PROXY=http://127.0.0.1:1 ALL_PROXY=http://127.0.0.1:1 \
    CURL_CA_BUNDLE=/nonexistent SSL_CERT_FILE=/nonexistent JIT_CONFIG=/nonexistent \
    LD_PRELOAD="${PRELOAD:+$PRELOAD }$SYSLOG_SHIM" \
    "$PAMRUN" "$T/pam.d" jittest sam acct_mgmt > "$T/pam.out" 2>&1
rc=$?
set -e
[ $rc = 0 ] || fail "proxy/CA variables changed the result: $(cat "$T/pam.out")"
ok "proxy and CA variables in the environment are ignored"

# --- a name we could never create: denied without asking the API ---
expect_pam "invalid name x/.." PAM_PERM_DENIED 'x/..' acct_mgmt
audit_has 'event="login" result="deny" reason="bad_name" user="x/.."'
n=$(cat "$T/api/requests.log" | grep -c 'grants/x' || true)
expect_eq "no API call for an invalid name" "$n" 0

# --- grants that do not fit ---
deny_case() { # WHAT USER REASON [field=value...]
    what=$1 u=$2 reason=$3
    shift 3
    grant_json "$u" "$@" > "$G/$u.json"
    expect_pam "$what" PAM_PERM_DENIED "$u" acct_mgmt
    audit_has "event=\"login\" result=\"deny\" reason=\"$reason\" user=\"$u\""
    if in_ns getent passwd "$u" >/dev/null; then fail "$u was reserved"; fi
}
deny_case "grant for another host" carol wrong_host 'host="db02.test"'
deny_case "grant naming another user" dave wrong_user 'username="mallory"'
deny_case "expired grant" erin grant_expired 'expires_at="2026-01-02T00:00:00Z"'
deny_case "grant with status expired" frank grant_expired 'status="expired"'
deny_case "revoked grant" grace grant_revoked 'status="revoked"'
deny_case "grant not yet valid" heidi not_yet_valid 'not_before="2035-01-01T00:00:00Z"'
deny_case "group not on the allow-list" ivan group_not_allowed 'groups=["sudo"]'
deny_case "name of an existing group (fax)" fax name_taken
# A grant just inside the clock-skew allowance is accepted.
near=$(date -u -d '+30 seconds' +%Y-%m-%dT%H:%M:%SZ)
grant_json judy "not_before=\"$near\"" > "$G/judy.json"
expect_pam "not_before 30 s ahead (clock_skew 60)" 0 judy acct_mgmt
far=$(date -u -d '+300 seconds' +%Y-%m-%dT%H:%M:%SZ)
grant_json kim "not_before=\"$far\"" > "$G/kim.json"
expect_pam "not_before 300 s ahead" PAM_PERM_DENIED kim acct_mgmt
audit_has 'reason="not_yet_valid" user="kim"'

# --- every fault of the API denies, within timeout + 10 s ---
# (hang and slow through a jit.conf with a 2 s timeout: the setup's 15 s
# is for a busy machine, where 2 s timed out a plain 500 answer)
sed -e 's/^timeout = .*/timeout = 2/' -e 's/^connect_timeout = .*/connect_timeout = 1/' "$CONF" > "$T/short.conf"
chmod 600 "$T/short.conf"
for f in 500:http_error malformed:malformed empty:malformed deep:malformed \
         huge:too_large huge-nolength:too_large redirect:http_error \
         hang:timeout slow:timeout; do
    kind=${f%%:*}
    u=f$kind
    echo "$kind" > "$F/$u"
    case $kind in hang|slow) sed -i "s|config=$CONF|config=$T/short.conf|" "$T/pam.d/jittest" ;; esac
    expect_pam "API fault $kind" PAM_PERM_DENIED "$u" acct_mgmt
    sed -i "s|config=$T/short.conf|config=$CONF|" "$T/pam.d/jittest"
    audit_has "event=\"login\" result=\"deny\" reason=\"${f#*:}\" user=\"$u\""
done
echo '{"id": "g-x", "credential": 5}' > "$G/mal.json"
expect_pam "grant with a mistyped field" PAM_PERM_DENIED mal acct_mgmt
audit_has 'reason="malformed" user="mal"'

# TLS: a server whose certificate names another host; nothing listening.
start_api wrong wrongname
sed "s|^api_url = .*|api_url = https://127.0.0.1:$API_PORT/|" "$CONF" > "$T/wrong.conf"
chmod 600 "$T/wrong.conf"
sed -i "s|config=$CONF|config=$T/wrong.conf|" "$T/pam.d/jittest"
grant_json alice > "$T/wrong/grants/alice.json"
expect_pam "certificate for another name" PAM_PERM_DENIED alice acct_mgmt
audit_has 'reason="tls_error" user="alice"'
sed -i "s|^api_url = .*|api_url = https://127.0.0.1:1/|" "$T/wrong.conf"
expect_pam "API unreachable" PAM_PERM_DENIED alice acct_mgmt
audit_has 'reason="unreachable" user="alice"'
expect_pam "API unreachable: local root still ignored" 0 root acct_mgmt
sed -i "s|config=$T/wrong.conf|config=$CONF|" "$T/pam.d/jittest"

# --- the state store held by another writer past the wait: deny
# (doc/design.md, threat A4) ---
# The holder keeps the lock until it is killed, and the login starts once
# it holds it (a fixed pause let the login in first under load).  The
# 10 s wait (JIT_STORE_LOCK_WAIT_MS) is the feature, so the login runs
# with every sleep overrunning (slow_sleeps), as on a loaded machine: a
# wait summed from its 5 ms pauses then lasts minutes.  The upper bound
# leaves 15 s for the namespace and the API call, which took 1.6 s at
# most under two busy loops.
grant_json tess > "$G/tess.json"
# hold_lock MARKER: a process ($holder, in TEST_PIDS) that takes the
# writers' lock, touches MARKER and keeps the lock until killed by its pid
# (one process holds it, so killing it frees the lock); returns once
# MARKER exists.  Its "sleep infinity" is its lifetime, not a wait, so no
# slow test can outlast it.
hold_lock() {
    sh -c 'exec 9<"$1"; flock 9; touch "$2"; exec sleep infinity' sh "$STATE/lock" "$1" &
    holder=$!
    TEST_PIDS="$TEST_PIDS $holder"
    wait_for 10 test -e "$1" >/dev/null || fail "the lock holder did not start"
}
hold_lock "$T/locked"
t0=$(date +%s%N)
rc=0; slow_sleeps pam_op tess acct_mgmt || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true
[ $rc != 0 ] && grep -q '^pam-run: [a-z_]*: Permission denied$' "$T/pam.out" || fail "locked store: $(cat "$T/pam.out")"
n=$(grep -c 'event="login"' "$T/pam.out")
expect_eq "locked store: one audit line" "$n" 1
audit_has 'event="login" result="deny" reason="store_error" user="tess"'
[ $ms -ge 10000 ] && [ $ms -le 25000 ] || fail "locked store: denied after $ms ms (lock wait 10 s)"
ok "state store locked by another writer: denied after $ms ms, reason store_error"

# --- a grant revoked between account and session ---
grant_json mia > "$G/mia.json"
expect_pam "mia: account" 0 mia acct_mgmt
grant_json mia 'status="revoked"' > "$G/mia.json"
expect_pam "mia: session after revocation is refused" PAM_SESSION_ERR mia open_session
audit_has 'event="session.opened" result="deny" reason="grant_revoked" user="mia"'
[ ! -e "$T/home/mia" ] || fail "a home was made for a revoked grant"
# The account was usable from the account step: its account.created is
# queued then, not at a first session that never came (issue 17).
mia_ev=$(/usr/bin/python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(" ".join(r[0] for r in db.execute("SELECT type FROM events WHERE username = ? ORDER BY rowid", ("mia",))))
' "$STATE/state.db")
expect_eq "mia's events: created at the account step, no session" "$mia_ev" "account.created login.denied"

# --- an account an older version reserved (store migration 8: announced
# 0, its account.created still owed) records it at its first session ---
grant_json wren > "$G/wren.json"
expect_pam "wren: account" 0 wren acct_mgmt
/usr/bin/python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE accounts SET announced = 0 WHERE name = ?", ("wren",))
db.execute("DELETE FROM events WHERE username = ?", ("wren",))
db.commit()
' "$STATE/state.db"
expect_pam "wren: first session" 0 wren open_session
audit_has 'event="account.created" result="ok" reason="reserved" user="wren"'
expect_pam "wren: second session" 0 wren acct_mgmt open_session
if grep -q 'account.created' "$T/pam.out"; then fail "wren: account.created twice"; fi
wren_ev=$(/usr/bin/python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(" ".join(r[0] for r in db.execute("SELECT type FROM events WHERE username = ? ORDER BY rowid", ("wren",))))
' "$STATE/state.db")
expect_eq "wren's events: the owed account.created once, at the first session" "$wren_ev" \
    "account.created session.opened session.opened"

# --- on_logout keep, then a later grant re-enables the kept account ---
grant_json noah 'on_logout="keep"' 'id="g-noah-1"' > "$G/noah.json"
expect_pam "noah: login (keep)" 0 noah acct_mgmt open_session close_session
audit_has 'event="session.closed" result="ok" reason="kept" user="noah"'
in_ns getent passwd noah >/dev/null || fail "noah was deleted despite on_logout keep"
grant_json noah 'on_logout="keep"' 'id="g-noah-2"' 'status="expired"' > "$G/noah.json"
expect_pam "noah: expired grant" PAM_PERM_DENIED noah acct_mgmt
grant_json noah 'on_logout="delete"' 'id="g-noah-2"' 'reason="INC-2 again"' > "$G/noah.json"
expect_pam "noah: a later grant re-enables the kept account" 0 noah acct_mgmt open_session
audit_has 'event="login" result="allow" reason="rebound" user="noah"'
audit_has 'event="account.enabled" result="ok" reason="rebound" user="noah" requester="noah@EXAMPLE.COM" credential="db-admin" grant="g-noah-2"'
n=$(grep -c 'event="account.enabled"' "$T/pam.out" || true)
expect_eq "noah: one account.enabled for the re-enable" "$n" 1

# --- one requester, one account per credential ---
grant_json olga 'requester="noah@EXAMPLE.COM"' 'id="g-olga"' > "$G/olga.json"
expect_pam "second grant of one requester on one credential" PAM_PERM_DENIED olga acct_mgmt
audit_has 'event="login" result="deny" reason="duplicate_grant" user="olga" requester="noah@EXAMPLE.COM"'
grant_json olga 'requester="noah@EXAMPLE.COM"' 'id="g-olga"' 'credential="web-admin"' > "$G/olga.json"
expect_pam "the same requester on another credential" 0 olga acct_mgmt

# --- an account that exists with no grant now, and a name nobody has:
# the same PAM code, message and time to answer (doc/design.md, threat G4:
# medians of 9) ---
rm "$G/noah.json"
expect_pam "noah: account exists, grant gone" PAM_PERM_DENIED noah acct_mgmt
audit_has 'event="login" result="deny" reason="no_grant" user="noah"'
msg_known=$(grep '^Access denied' "$T/pam.out")
expect_eq "same message as for a name nobody has" "$msg_known" "$msg_unknown"
# The time of pam_acct_mgmt itself (pam-run's PAM_RUN_TIMES), not of the
# whole pam_op: the namespace around it takes 0.5 s and more on a busy
# machine, and its jitter drowned the milliseconds compared here.  The
# two users take turns, so a change in the machine's load hits both.
times_us() { # USER: one sample, appended to $T/lat.USER
    PAM_RUN_TIMES=1 pam_op "$1" acct_mgmt || true
    sed -n 's/^pam-run: time: acct_mgmt //p' "$T/pam.out" >> "$T/lat.$1"
}
median_ms() { sort -n "$T/lat.$1" | sed -n 5p | awk '{ printf "%d", $1 / 1000 }'; }
# Timing means little in a sanitizer build (every path is several times
# slower, the store write of a denial most); it is asserted in the plain one.
if [ -z "$PRELOAD" ]; then
    for i in 1 2 3 4 5 6 7 8 9; do times_us noah; times_us nobody-here; done
    [ "$(wc -l < "$T/lat.noah")" = 9 ] || fail "no times from pam-run: $(cat "$T/pam.out")"
    m_known=$(median_ms noah)
    m_unknown=$(median_ms nobody-here)
    d=$((m_known - m_unknown)); [ $d -ge 0 ] || d=$((-d))
    if [ -n "${JIT_TEST_UNDER_LOAD:-}" ]; then
        # Both make one fsync'd commit (the known name's event into the
        # outbox, the unknown name's count), but with the disk busy one
        # fsync's jitter alone passes 25 ms.  Under the load stage it is
        # shown, not asserted.
        echo "# JIT_TEST_UNDER_LOAD: latency (doc/design.md, threat G4) not asserted: known without grant $m_known ms, unknown $m_unknown ms (tolerance 25 ms)"
    else
        [ $d -le 25 ] || fail "known without grant: $m_known ms, unknown: $m_unknown ms"
        ok "known without grant vs unknown: medians $m_known ms and $m_unknown ms"
    fi
else
    echo "# latency comparison left to the plain build (sanitizer build)"
fi

# --- the outbox holds every event, in the store's own transactions ---
ev=$(/usr/bin/python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(" ".join("%s:%d" % r for r in db.execute("SELECT type, count(*) FROM events GROUP BY type ORDER BY type")))
' "$STATE/state.db")
case $ev in
    *account.created:*account.deleted:1*account.disable_failed:1*account.enabled:1*login.denied:*session.closed:*session.opened:*) ok "outbox: $ev" ;;
    *) fail "outbox: $ev" ;;
esac
# A name nobody knows: counted (the same durable commit as a known name's
# denial, so the time to answer does not tell them apart), never stored.
unknown=$(/usr/bin/python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("SELECT value FROM kv WHERE key = ?", ("login.denied_unknown",)).fetchone()[0],
      db.execute("SELECT count(*) FROM events WHERE username = ?", ("nobody-here",)).fetchone()[0])
' "$STATE/state.db")
set -- $unknown
[ "$1" -gt 0 ] && [ "$2" = 0 ] || fail "unknown names: $1 counted, $2 events stored"
ok "unknown names: $1 denials counted, no event stored"

# --- acct_mgmt's answer stands for open_session of the same handle ---
# (a revocation in between is the daemon's to enforce, pam_jit(8)); a
# session opened by another handle asks again (the "mia" case above).
grant_json ursula > "$G/ursula.json"
expect_pam "ursula: login in one handle" 0 ursula acct_mgmt open_session close_session
audit_has 'event="session.opened" result="allow" reason="home_created" user="ursula"'
n=$(grep -c '/grants/ursula ' "$T/api/requests.log" || true)
expect_eq "ursula: API calls of acct_mgmt + open_session in one handle" "$n" 1
ok "one handle: open_session reuses acct_mgmt's answer, one API call"

# --- a login with nothing to write takes no writer lock ---
# An account already reserved under the same, unchanged grant: acct_mgmt
# reads and allows while another process holds the writers' lock (the
# writing path would wait its 10 s and deny, as "tess" above).
grant_json viktor > "$G/viktor.json"
expect_pam "viktor: account reserved" 0 viktor acct_mgmt
hold_lock "$T/locked2"
t0=$(date +%s%N)
rc=0; pam_op viktor acct_mgmt || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ $rc = 0 ] || fail "viktor: unchanged grant with the lock held: $(cat "$T/pam.out")"
audit_has 'event="login" result="allow" reason="grant" user="viktor"'
[ $ms -lt 10000 ] || fail "viktor: unchanged grant waited for the lock ($ms ms)"
# A changed grant still writes, and so waits for the lock: denied.
grant_json viktor 'expires_at="2035-06-01T00:00:00Z"' > "$G/viktor.json"
rc=0; pam_op viktor acct_mgmt || rc=$?
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true
[ $rc != 0 ] || fail "viktor: a changed grant passed without its write"
audit_has 'event="login" result="deny" reason="store_error" user="viktor"'
expect_pam "viktor: changed grant, lock free" 0 viktor acct_mgmt
audit_has 'event="login" result="allow" reason="updated" user="viktor"'
ok "unchanged grant: allowed in $ms ms with the writer lock held; a changed one writes"

# --- a grant revoked on this host before its teardown marks the account ---
# (jitctl revoke commits the revocation, then tears down: a session that
# opens in between is refused by open_session itself)
grant_json xenia > "$G/xenia.json"
expect_pam "xenia: account" 0 xenia acct_mgmt
/usr/bin/python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("INSERT INTO local_revocations VALUES (?, ?, 0)", ("g-xenia", "test"))
db.commit()
' "$STATE/state.db"
expect_pam "xenia: session after a local revocation is refused" PAM_SESSION_ERR xenia open_session
audit_has 'event="session.opened" result="deny" reason="revoked_locally" user="xenia"'
[ ! -e "$T/home/xenia" ] || fail "a home was made under a grant revoked on this host"

# --- a revocation committed while open_session waits for the writers' lock ---
# open_session reads the account, makes the home, then takes the lock
# for its transaction: what was committed in between must be seen inside
# that transaction.  The home's appearing says open_session is past its
# first read and waits on the lock the holder keeps.
grant_json yvonne > "$G/yvonne.json"
expect_pam "yvonne: account" 0 yvonne acct_mgmt
hold_lock "$T/locked3"
PAM_OUT=$T/pam3.out pam_op yvonne open_session &
sess=$!
TEST_PIDS="$TEST_PIDS $sess"
wait_for 20 test -d "$T/home/yvonne" >/dev/null || fail "yvonne: open_session made no home"
/usr/bin/python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("INSERT INTO local_revocations VALUES (?, ?, 0)", ("g-yvonne", "test"))
db.commit()
' "$STATE/state.db"
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true
rc=0; wait "$sess" || rc=$?
[ $rc != 0 ] || fail "yvonne: a session opened under a grant revoked while it waited"
grep -q 'event="session.opened" result="deny" reason="revoked_locally" user="yvonne"' "$T/pam3.out" \
    || fail "yvonne: no revoked_locally denial: $(cat "$T/pam3.out")"
ok "a revocation committed between open_session's first read and its transaction: refused"
