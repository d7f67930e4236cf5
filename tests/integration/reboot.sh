#!/bin/sh
# SPDX-License-Identifier: MIT
# Sessions counted before a reboot never log out through PAM.  In the
# next boot, the first transaction that counts sessions sets every count
# to zero: a delete-on-logout account left with none is torn down by the
# reaper (account.deleted, reason no_sessions), while one logged into
# again since keeps its new session, and a kept account stays.  The same
# boot again changes nothing.  The other boot is a file bound over
# /proc/sys/kernel/random/boot_id in the processes run under it.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
setup_env
setup_pam
G=$T/api/grants
grant_json ivy 'on_logout="delete"' > "$G/ivy.json"
grant_json jack 'on_logout="delete"' > "$G/jack.json"
grant_json kim 'on_logout="keep"' > "$G/kim.json"
for u in ivy jack kim; do
    pam_op $u acct_mgmt open_session || fail "$u: $(cat "$T/pam.out")"
done
sql() { /usr/bin/python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1]); r = db.execute(sys.argv[2]).fetchall()
print(" ".join(str(x) for row in r for x in row))' "$STATE/state.db" "$1"; }
counts() { sql "SELECT name || ':' || state || ':' || sessions FROM accounts ORDER BY name"; }
expect_eq "one session each" "$(counts)" "ivy:active:1 jack:active:1 kim:active:1"
expect_eq "this boot recorded" "$(sql "SELECT value FROM kv WHERE key = 'boot_id'")" \
    "$(cat /proc/sys/kernel/random/boot_id)"
out=$("$JITCTL" -c "$CONF" reap 2>&1)
expect_eq "the same boot: nothing due" "$out" "reap: 0 due, 0 failed"
expect_eq "the same boot: counts kept" "$(counts)" "ivy:active:1 jack:active:1 kim:active:1"
ok "in the boot that counted them, sessions stay counted"

cat > "$T/otherboot" <<EOF
#!/bin/sh
mount --bind "$T/boot_id" /proc/sys/kernel/random/boot_id || exit 99
exec "\$@"
EOF
chmod 755 "$T/otherboot"
echo 00000000-0000-4000-8000-00000000b007 > "$T/boot_id"
PAM_UNDER="unshare -m $T/otherboot" pam_op jack acct_mgmt open_session \
    || fail "jack after the reboot: $(cat "$T/pam.out")"
grep -q "the host booted again since the last session was counted: the session counts of 3 accounts set to 0" \
    "$T/pam.out" || fail "no word of the reset: $(cat "$T/pam.out")"
expect_eq "after jack's login in the new boot" "$(counts)" \
    "ivy:active:0 jack:active:1 kim:active:0"
expect_eq "a session.closed for each session the reboot ended" \
    "$(sql "SELECT username FROM events WHERE type = 'session.closed' AND json_extract(detail, '$.reason') = 'reboot' ORDER BY username")" \
    "ivy jack kim"
ok "the first login after the reboot set the old counts to 0, and counted its own"

out=$(unshare -m "$T/otherboot" "$JITCTL" -c "$CONF" reap --dry-run 2>&1)
expect_eq "dry run in the new boot" "$out" "would tear down ivy: no_sessions
reap: 1 due, 0 failed (dry run: nothing changed)"
out=$(unshare -m "$T/otherboot" "$JITCTL" -c "$CONF" reap 2>"$T/reap.err")
expect_eq "reap in the new boot" "$out" "tore down ivy: no_sessions
reap: 1 due, 0 failed"
grep -q 'event="account.deleted" result="ok" reason="no_sessions" user="ivy"' \
    "$T/reap.err" || fail "ivy's audit line: $(cat "$T/reap.err")"
gone ivy || fail "ivy still resolves"
resolves jack || fail "jack was torn down with a session of this boot"
resolves kim || fail "kim (on_logout keep) was torn down"
expect_eq "ivy's account.deleted" \
    "$(sql "SELECT count(*) FROM events WHERE type = 'account.deleted' AND username = 'ivy' AND json_extract(detail, '$.cause') = 'no_sessions'")" 1
ok "ivy, delete on logout with no session left, torn down (no_sessions); jack and kim stay"

out=$(unshare -m "$T/otherboot" "$JITCTL" -c "$CONF" reap 2>/dev/null)
expect_eq "the new boot again: nothing due" "$out" "reap: 0 due, 0 failed"
PAM_UNDER="unshare -m $T/otherboot" pam_op jack close_session \
    || fail "jack's logout: $(cat "$T/pam.out")"
gone jack || fail "jack's last logout of the new boot did not tear him down"
ok "jack's last logout in the new boot tears him down as usual"
