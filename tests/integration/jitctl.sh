#!/bin/sh
# SPDX-License-Identifier: MIT
# jitctl as an admin uses it: check-config, list (table and --json), show,
# and its errors; untrusted grant fields reach the terminal escaped
# (doc/design.md, threat G1).
. "$top_srcdir/tests/integration/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (the state store is root's)"
setup_env
PY=/usr/bin/python3

"$JITCTL" --help | grep -q '^Usage: jitctl' || fail "--help"
"$JITCTL" --version | grep -q '^jitctl ' || fail "--version"
set +e
"$JITCTL" --config "$CONF" frobnicate 2>"$T/err"; rc=$?
set -e
expect_eq "unknown command exit" "$rc" "2"
grep -q 'frobnicate: unknown command' "$T/err" || fail "unknown command message"

"$JITCTL" --config "$CONF" check-config > "$T/eff"
grep -qx 'api_url = https://jit.test.invalid' "$T/eff" || fail "effective api_url"
grep -qx 'timeout = 5' "$T/eff" || fail "effective default timeout"
grep -qx '# timeout: default' "$T/eff" || fail "origin of timeout"
grep -qx '# api_url: file' "$T/eff" || fail "origin of api_url"
ok "check-config prints the effective configuration"

printf 'api_url = http://x\ntimeout = 1e3\nfoo = 1\n' > "$T/bad.conf"
chmod 600 "$T/bad.conf"
set +e
"$JITCTL" --config "$T/bad.conf" check-config >"$T/out" 2>"$T/err"; rc=$?
set -e
expect_eq "check-config on a bad file exits" "$rc" "1"
[ ! -s "$T/out" ] || fail "bad config printed a config"
grep -qx "jitctl: $T/bad.conf:1: api_url: must be an https:// URL" "$T/err" || fail "line 1 error"
grep -qx "jitctl: $T/bad.conf:2: timeout: must be a plain decimal number" "$T/err" || fail "line 2 error"
grep -qx "jitctl: $T/bad.conf:3: foo: unknown option" "$T/err" || fail "line 3 error"
ok "check-config names file, line and key of every error"
chmod 666 "$T/bad.conf"
set +e; "$JITCTL" --config "$T/bad.conf" check-config 2>"$T/err"; rc=$?; set -e
[ $rc = 1 ] && grep -q 'must not be group- or world-writable' "$T/err" \
    || fail "world-writable config accepted"
ok "a world-writable config is refused"

"$JITCTL" --config "$CONF" list > "$T/list"
expect_eq "empty list" "$(cat "$T/list")" \
    "NAME  UID  REQUESTER  CREDENTIAL  GRANT  STATE  CREATED  EXPIRES  LEFT  SESSIONS"

"$FIXTURE" --config "$CONF" add alice --groups users >/dev/null
# A requester carrying a newline, an escape sequence and a forged field.
"$FIXTURE" --config "$CONF" add mallory --credential web \
    --requester "$(printf 'm@X\n\033[31mroot user=root')" >/dev/null
"$JITCTL" --config "$CONF" list > "$T/list"
expect_eq "list lines" "$(wc -l < "$T/list")" "3"
grep -q '^alice  *70000  *alice@EXAMPLE.COM  *db-admin  *g-alice  *reserved  *20[0-9-]*T[0-9:]*Z  *20[0-9-]*T[0-9:]*Z  *[0-9][0-9hms]*  *0$' "$T/list" \
    || fail "alice row: $(cat "$T/list")"
grep -qF 'm@X\n\x1b[31mroot user=root' "$T/list" || fail "mallory's requester not escaped"
if grep -q "$(printf '\033')" "$T/list"; then fail "raw escape on the terminal"; fi
ok "list: a table, untrusted fields escaped"

"$JITCTL" --config "$CONF" list --json > "$T/json"
$PY - "$T/json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
a = {x["name"]: x for x in d["accounts"]}
assert set(a) == {"alice", "mallory"}, a
assert a["alice"]["uid"] == 70000 and a["alice"]["state"] == "reserved"
assert a["alice"]["groups"] == ["users"]
assert a["mallory"]["requester"] == "m@X\n\x1b[31mroot user=root"
for k in ("name", "uid", "requester", "credential", "grant", "state",
          "created", "expires", "sessions"):
    assert k in a["alice"], k
PY
ok "list --json is JSON with every field, values unescaped"

"$JITCTL" --config "$CONF" show alice > "$T/show"
grep -qx 'uid:        70000' "$T/show" || fail "show uid: $(cat "$T/show")"
grep -qx 'home:       /home/jit/alice' "$T/show" || fail "show home"
grep -q '^groups:  *users (' "$T/show" || fail "show groups"
"$JITCTL" --config "$CONF" show alice --json | $PY -c 'import json,sys; assert json.load(sys.stdin)["name"] == "alice"'
ok "show NAME, with --json"

for bad in nosuch '$(id)' 'x;id' '../x' '-rf'; do
    set +e
    "$JITCTL" --config "$CONF" show -- "$bad" >/dev/null 2>"$T/err"; rc=$?
    set -e
    [ $rc = 1 ] || fail "show '$bad' exit $rc"
done
grep -q 'not a valid account name' "$T/err" || fail "invalid name message"
ok "show refuses unknown and invalid names with exit 1"
