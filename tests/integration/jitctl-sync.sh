#!/bin/sh
# SPDX-License-Identifier: MIT
# jitctl sync reserves the accounts of this host's active grants, so they
# resolve before the first login (sshd needs that); jitctl authorized-keys
# prints an active grant's keys and nothing for anyone else.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
setup_env
setup_pam
G=$T/api/grants
grant_json alice > "$G/alice.json"
grant_json dave > "$G/dave.json"
grant_json bob 'host="db02.test"' > "$G/bob.json"
grant_json carol 'groups=["sudo"]' > "$G/carol.json"

out=$("$JITCTL" -c "$CONF" sync 2>"$T/sync.err")
expect_eq "sync summary" "$out" "sync: 3 grants: 2 reserved, 0 updated, 0 unchanged, 1 refused, 0 gone"
grep -q 'event="sync" result="deny" reason="group_not_allowed" user="carol"' "$T/sync.err" \
    || fail "no audit line for carol: $(cat "$T/sync.err")"
grep -q 'event="sync" result="allow" reason="reserved" user="alice" requester="alice@EXAMPLE.COM" credential="db-admin" grant="g-alice"' "$T/sync.err" \
    || fail "no audit line for alice: $(cat "$T/sync.err")"
ok "audit lines for reserved and refused grants"
expect_eq "alice resolves before any login" "$(in_ns getent passwd alice | cut -d: -f1,3)" "alice:70000"
expect_eq "dave too" "$(in_ns getent passwd dave | cut -d: -f1)" "dave"
if in_ns getent passwd bob; then fail "another host's grant was reserved"; fi
expect_eq "state reserved (no home yet)" "$("$JITCTL" -c "$CONF" show alice --json | grep '"state"' | tr -d ' ,')" '"state":"reserved"'
[ ! -e "$T/home/alice" ] || fail "sync made a home"

out=$("$JITCTL" -c "$CONF" sync 2>/dev/null)
expect_eq "second sync: the list's ETag has not changed" "$out" "sync: the list has not changed since the last sync"

# A grant not valid yet is looked at again when it becomes valid, not at
# every sync (that would be a busy loop for a daemon): until then the
# same list is not asked for again.
grant_json erin "not_before=\"$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)\"" > "$G/erin.json"
out=$("$JITCTL" -c "$CONF" sync 2>/dev/null)
expect_eq "erin not valid yet" "$out" "sync: 4 grants: 0 reserved, 0 updated, 2 unchanged, 2 refused, 0 gone"
out=$("$JITCTL" -c "$CONF" sync 2>/dev/null)
expect_eq "same list again: not asked for before erin's time" "$out" "sync: the list has not changed since the last sync"
rm "$G/erin.json"
out=$("$JITCTL" -c "$CONF" sync 2>/dev/null)
expect_eq "erin's grant gone" "$out" "sync: 3 grants: 0 reserved, 0 updated, 2 unchanged, 1 refused, 0 gone"

keys=$("$JITCTL" -c "$CONF" authorized-keys alice)
expect_eq "authorized-keys alice" "$keys" "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDHkdrpAIOzm8kahQ+kwMFzo5hwUPnBeolqDxfp/ZNY5 alice@laptop"
expect_eq "authorized-keys root: nothing" "$("$JITCTL" -c "$CONF" authorized-keys root; echo "rc=$?")" "rc=0"
expect_eq "authorized-keys of a name nobody has: nothing" "$("$JITCTL" -c "$CONF" authorized-keys zed; echo "rc=$?")" "rc=0"
expect_eq "authorized-keys of an invalid name: nothing" "$("$JITCTL" -c "$CONF" authorized-keys '../x'; echo "rc=$?")" "rc=0"

# The API failing changes nothing.
echo hang > "$T/api/faults/dave"
sed "s|^api_url = .*|api_url = https://127.0.0.1:1/|" "$CONF" > "$T/down.conf"; chmod 600 "$T/down.conf"
rc=0; "$JITCTL" -c "$T/down.conf" sync >/dev/null 2>"$T/sync.err" || rc=$?
expect_eq "sync with the API down fails" "$rc" 1
grep -q 'the API failed (unreachable); nothing changed' "$T/sync.err" || fail "$(cat "$T/sync.err")"
expect_eq "accounts kept" "$("$JITCTL" -c "$CONF" list --json | grep -c '"name"')" 2

# A grant that leaves the API's list: marked revoked by sync, torn down by
# reap (a sync alone deletes nothing).
rm "$T/api/faults/dave" "$G/dave.json"
out=$("$JITCTL" -c "$CONF" sync 2>"$T/sync.err")
expect_eq "sync after dave's grant went" "$out" "sync: 2 grants: 0 reserved, 0 updated, 1 unchanged, 1 refused, 1 gone"
grep -q 'event="sync" result="revoke" reason="grant_gone" user="dave"' "$T/sync.err" \
    || fail "audit: $(cat "$T/sync.err")"
in_ns getent passwd dave >/dev/null || fail "sync deleted dave by itself"
out=$("$JITCTL" -c "$CONF" reap 2>/dev/null)
expect_eq "reap takes dave" "$out" "tore down dave: revoked
reap: 1 due, 0 failed"
if in_ns getent passwd dave; then fail "dave still resolves"; fi

# After the grant's end, no keys (sshd falls back to its own files).  The
# end is the test's clock (end_now): a grant ending 4 s ahead ran out
# mid-test under load.
expect_eq "authorized-keys before the end" "$("$JITCTL" -c "$CONF" authorized-keys alice)" \
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDHkdrpAIOzm8kahQ+kwMFzo5hwUPnBeolqDxfp/ZNY5 alice@laptop"
end_now alice
expect_eq "authorized-keys after expiry: nothing" "$("$JITCTL" -c "$CONF" authorized-keys alice)" ""
