#!/bin/sh
# SPDX-License-Identifier: MIT
# A grant refused under one configuration is examined again under the
# next: its refusal is on record (logged once) and the list's ETag says
# "not changed", so without more a group allowed later would never let
# it in.  A changed configuration (the file edited before a jitctl sync,
# a SIGHUP to the daemon) forgets the refusals and the ETag; jitctl sync
# --full does it on demand.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
setup_env
setup_pam
# This test's uids (setup_pam's default range is shared by the tests
# whose processes never outlive a step; this one runs a daemon).
sed -i -e 's/^uid_min = .*/uid_min = 99200/' -e 's/^uid_max = .*/uid_max = 99299/' "$CONF"
G=$T/api/grants
grant_json alice > "$G/alice.json"
grant_json carol 'groups=["users", "audio"]' > "$G/carol.json"
sync() { "$JITCTL" -c "$CONF" sync "$@" 2>>"$T/sync.err"; }
denials() { grep -c 'event="sync" result="deny" reason="group_not_allowed" user="carol"' "$T/sync.err" || true; }

out=$(sync)
expect_eq "first sync" "$out" "sync: 2 grants: 1 reserved, 0 updated, 0 unchanged, 1 refused, 0 gone"
expect_eq "carol's refusal logged" "$(denials)" 1
out=$(sync)
expect_eq "second sync: nothing to look at" "$out" "sync: the list has not changed since the last sync"
expect_eq "carol's refusal not logged again" "$(denials)" 1
ok "carol refused (audio not in allowed_groups), once"

# --full: every grant again, the refusal logged again (once).
out=$(sync --full)
expect_eq "sync --full" "$out" "sync: 2 grants: 0 reserved, 0 updated, 1 unchanged, 1 refused, 0 gone"
expect_eq "sync --full: carol's refusal logged again" "$(denials)" 2
out=$(sync)
expect_eq "after --full, unchanged again" "$out" "sync: the list has not changed since the last sync"
rc=0; "$JITCTL" -c "$CONF" list --full >/dev/null 2>&1 || rc=$?
expect_eq "--full is sync's only" "$rc" 2
ok "jitctl sync --full examines every grant again"

# The file changes: the next sync sees it and lets carol in.
sed -i 's/^allowed_groups = .*/allowed_groups = users,video,audio/' "$CONF"
out=$(sync)
expect_eq "sync after allowed_groups grew" "$out" "sync: 2 grants: 1 reserved, 0 updated, 1 unchanged, 0 refused, 0 gone"
grep -q 'sync: the configuration changed; every grant is examined again' "$T/sync.err" \
    || fail "no line on the change: $(cat "$T/sync.err")"
grep -q 'event="sync" result="allow" reason="reserved" user="carol"' "$T/sync.err" \
    || fail "carol not reserved: $(cat "$T/sync.err")"
in_ns getent passwd carol >/dev/null || fail "carol does not resolve"
out=$(sync)
expect_eq "the same file again: nothing to look at" "$out" "sync: the list has not changed since the last sync"
ok "a changed jit.conf: the next sync re-examines and reserves carol"

# The daemon: dave refused; the file changes and SIGHUP lets him in,
# within the round the reload cancels (no wait for the long poll's end).
grant_json dave 'groups=["users", "plugdev"]' > "$G/dave.json"
start_daemon
dave_denied() { grep -q 'event="sync" result="deny" reason="group_not_allowed" user="dave"' "$T/daemon.err"; }
wait_for 20 dave_denied >/dev/null || fail "dave not refused: $(cat "$T/daemon.err")"
polls() { [ "$(grep -c 'grants?wait=[1-9]' "$T/api/requests.log" 2>/dev/null)" -ge 1 ]; }
wait_for 20 polls >/dev/null || fail "the daemon never waits on the list: $(cat "$T/daemon.err")"
sed -i 's/^allowed_groups = .*/allowed_groups = users,video,audio,plugdev/' "$CONF"
kill -HUP "$D"
dave_in() { in_ns getent passwd dave >/dev/null; }
ms=$(wait_for 20 dave_in) || fail "dave never reserved after SIGHUP: $(cat "$T/daemon.err")"
grep -q 'event="sync" result="allow" reason="reserved" user="dave"' "$T/daemon.err" \
    || fail "no audit line for dave: $(cat "$T/daemon.err")"
ok "SIGHUP with plugdev allowed: dave reserved $ms ms later"

# A reload that changes nothing forgets nothing: no second look, no
# second refusal line.
grant_json erin 'groups=["users", "sudo"]' > "$G/erin.json"
erin_denied() { [ "$(grep -c 'reason="group_not_allowed" user="erin"' "$T/daemon.err")" -ge 1 ]; }
wait_for 20 erin_denied >/dev/null || fail "erin not refused: $(cat "$T/daemon.err")"
n=$(grep -c 'daemon: configuration reloaded' "$T/daemon.err")
kill -HUP "$D"
reloaded() { [ "$(grep -c 'daemon: configuration reloaded' "$T/daemon.err")" -gt "$n" ]; }
wait_for 10 reloaded >/dev/null || fail "no reload: $(cat "$T/daemon.err")"
kill -TERM "$D"; wait "$D" || fail "daemon exit status $?"
expect_eq "erin's refusal after a reload of the same file" "$(grep -c 'reason="group_not_allowed" user="erin"' "$T/daemon.err")" 1
expect_eq "no re-examination line for the same file" "$(grep -c 'configuration changed' "$T/daemon.err")" 1
ok "the same file reloaded: nothing re-examined, nothing logged twice"

# audit_format = json (a change too): each line one JSON object, the kv
# line's keys in its order; erin's refusal, logged again, parses.
echo 'audit_format = json' >> "$CONF"
SHIM=$top_builddir/tests/helpers/.libs/libsyslog-shim.so
LD_PRELOAD="${PRELOAD:+$PRELOAD }$SHIM" "$JITCTL" -c "$CONF" sync >/dev/null 2>"$T/json.err" || fail "sync: $(cat "$T/json.err")"
/usr/bin/python3 - "$T/json.err" <<'PY' || fail "JSON audit lines: $(cat "$T/json.err")"
import json, sys
objs = []
for line in open(sys.argv[1]):
    if line.startswith("SYSLOG("):
        objs.append(json.loads(line.split(": ", 1)[1]))
assert objs, "no syslog lines"
assert any(o.get("message", "").startswith("sync: the configuration changed") for o in objs), objs
erin = [o for o in objs if o.get("user") == "erin"]
assert len(erin) == 1, erin
order = ["event", "result", "reason", "user", "requester", "credential",
         "grant", "service", "rhost", "tty", "expires", "detail"]
assert list(erin[0]) == [k for k in order if k in erin[0]], erin
assert all(isinstance(v, str) for v in erin[0].values()), erin
assert (erin[0]["event"], erin[0]["result"], erin[0]["reason"]) == ("sync", "deny", "group_not_allowed"), erin
PY
ok "audit_format = json: one JSON object per line, erin's refusal among them"

# pam_jit writes the same: alice's account step, one JSON object.
rc=0; pam_op alice acct_mgmt || rc=$?
[ "$rc" = 0 ] || fail "alice's account step: $rc: $(cat "$T/pam.out")"
/usr/bin/python3 - "$T/pam.out" <<'PY' || fail "pam_jit's JSON line: $(cat "$T/pam.out")"
import json, sys
# "SYSLOG(5): pam_jit(jittest:account): {...}"
objs = [json.loads(l[l.index(": {") + 2:]) for l in open(sys.argv[1])
        if l.startswith("SYSLOG(") and ": {" in l]
login = [o for o in objs if o.get("event") == "login"]
assert len(login) == 1, objs
assert (login[0]["result"], login[0]["user"], login[0]["service"]) == ("allow", "alice", "jittest"), login
PY
ok "pam_jit with audit_format = json: the login line is one JSON object"
