#!/bin/sh
# SPDX-License-Identifier: MIT
# jitctl doctor against the test API and a system image in $T/root
# (--root: nsswitch.conf, pam.d, the PAM module directory, login.defs,
# subuid, passwd and group read there, never this machine's /etc): all ok
# on a good setup; a wrong token, a token others can read, a stopped
# daemon, the API down and jit before files each a `fail` line naming
# what to do, with exit status 1; --json parses.
. "$top_srcdir/tests/integration/lib.sh"
: "${JIT_PAM_MODDIR:?run through make check}"
: "${JIT_LOGIN_BACKEND_BUILTIN:?run through make check}"
setup_env
setup_pam
API_PID=${TEST_PIDS##* }
grant_json alice > "$T/api/grants/alice.json"

# The image: what the packages and an admin would have put there.
R=$T/root
mkdir -p "$R/etc/pam.d" "$R$JIT_PAM_MODDIR" "$R$(dirname "$JIT_STATE_DIR_BUILTIN")"
cp "$T/nsswitch.conf" "$R/etc/nsswitch.conf"
install -m 644 "$PAMSO" "$R$JIT_PAM_MODDIR/pam_jit.so"
mkdir -p "$R$(dirname "$JIT_LOGIN_BACKEND_BUILTIN")"
install -m 644 "$PAMBACKEND" "$R$JIT_LOGIN_BACKEND_BUILTIN"
install -m 644 "$PAMNET" "$(dirname "$R$JIT_LOGIN_BACKEND_BUILTIN")/pam_jit_net.so"
# As pam-auth-update writes them (contrib/pam-configs/jit, priority 257).
cat > "$R/etc/pam.d/common-account" <<'PAM'
account	[success=ok ignore=ignore default=die]	pam_jit.so
account	[success=1 new_authtok_reqd=done default=ignore]	pam_unix.so
account	requisite	pam_deny.so
account	required	pam_permit.so
PAM
cat > "$R/etc/pam.d/common-session" <<'PAM'
session	[default=1]	pam_permit.so
session	requisite	pam_deny.so
session	required	pam_permit.so
session	[success=ok ignore=ignore default=die]	pam_jit.so
session	required	pam_unix.so
PAM
printf 'UID_MIN 1000\nUID_MAX 60000\nSYS_UID_MAX 999\nGID_MIN 1000\nGID_MAX 60000\n' \
    > "$R/etc/login.defs"
echo 'admin:100000:65536' > "$R/etc/subuid"
echo 'admin:100000:65536' > "$R/etc/subgid"
printf 'root:x:0:0:root:/root:/bin/sh\nadmin:x:1000:1000::/home/admin:/bin/sh\n' > "$R/etc/passwd"
printf 'root:x:0:\nusers:x:100:\nvideo:x:44:\nadmin:x:1000:\n' > "$R/etc/group"
# nss_jit's built-in state directory, in the image, is the test's.
ln -s "$STATE" "$R$JIT_STATE_DIR_BUILTIN"

doctor() { "$JITCTL" -c "$CONF" doctor --root "$R" "$@"; }

# The daemon runs and has heard from the API (it wrote the snapshot).
start_daemon
api_ok() { "$JITCTL" -c "$CONF" status | grep -q '^api:          ok'; }
wait_for 30 api_ok >/dev/null || fail "daemon never reached the API: $(cat "$T/daemon.err")"

# A good setup: every line ok, status 0.
set +e
out=$(doctor); rc=$?
set -e
[ "$rc" = 0 ] || fail "good setup: status $rc: $out"
bad=$(printf '%s\n' "$out" | grep -v '^ok ' || true)
[ -z "$bad" ] || fail "good setup: not ok: $bad"
for c in nsswitch pam-module pam-backend pam.d files state snapshot api clock daemon \
         outbox login.defs subuid subgid local-ids groups caches; do
    printf '%s\n' "$out" | grep -q "^ok   $c: " || fail "good setup: no ok line for $c: $out"
done
ok "good setup: $(printf '%s\n' "$out" | wc -l) lines, all ok, status 0"

# --json parses, and says the same.
doctor --json > "$T/doctor.json" || fail "--json: status $?"
/usr/bin/python3 -m json.tool "$T/doctor.json" >/dev/null || fail "--json does not parse"
expect_eq "--json result" "$(field result < "$T/doctor.json")" ok
n=$(/usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["checks"]))' < "$T/doctor.json")
expect_eq "--json has every line" "$n" "$(printf '%s\n' "$out" | wc -l)"

# expect_fail WHAT PATTERN: doctor exits 1 with a fail line matching.
expect_fail() {
    set +e
    out=$(doctor); rc=$?
    set -e
    [ "$rc" = 1 ] || fail "$1: status $rc, want 1: $out"
    printf '%s\n' "$out" | grep -q "$2" || fail "$1: no line '$2': $out"
    ok "$1: $(printf '%s\n' "$out" | grep "$2" | head -n 1)"
}

# The wrong token: said as the API's refusal, not as unreachable.
printf 'not-the-token\n' > "$T/token"
expect_fail "a wrong token" '^fail api: token rejected by the API'
printf 's3cret-token\n' > "$T/token"

# A token others may read.
chmod 644 "$T/token"
expect_fail "token mode 0644" "^fail files: token_file = $T/token: mode 0644 lets others read a secret: chmod 600"
chmod 600 "$T/token"

# The login backend, as pam_jit.so checks it before loading it
# (doc/design.md, F7): writable by others, in a directory others can
# write, missing.
BK=$R$JIT_LOGIN_BACKEND_BUILTIN
chmod 666 "$BK"
expect_fail "backend mode 0666" "^fail pam-backend: $BK: file: writable by group or others"
chmod 644 "$BK"
chmod 777 "$(dirname "$BK")"
expect_fail "backend in a directory others can write" "^fail pam-backend: $BK: directory: writable by group or others"
chmod 755 "$(dirname "$BK")"
mv "$BK" "$BK.away"
expect_fail "backend missing" "^fail pam-backend: $BK: file: No such file or directory"
mv "$BK.away" "$BK"
NET=$(dirname "$BK")/pam_jit_net.so
chmod 664 "$NET"
expect_fail "pam_jit_net.so mode 0664" "^fail pam-backend: $NET: file: writable by group or others"
chmod 644 "$NET"

# Hostile or careless images: jit before files; a local user in the range.
sed -i 's/^passwd:.*/passwd: jit files/' "$R/etc/nsswitch.conf"
expect_fail "jit before files" '^fail nsswitch: .*passwd lists jit before files'
cp "$T/nsswitch.conf" "$R/etc/nsswitch.conf"
echo "intruder:x:$((UID_MIN + 5)):100::/tmp:/bin/sh" >> "$R/etc/passwd"
expect_fail "a local user in the uid range" "^fail local-ids: .*user intruder has id $((UID_MIN + 5))"
sed -i '/^intruder:/d' "$R/etc/passwd"

# The daemon stopped: nothing reaps.
kill -TERM "$D"; wait "$D" || fail "daemon exit status $?"
expect_fail "daemon stopped" '^fail daemon: neither the daemon nor jit-sync.timer runs (daemon: stopped)'

# The API down.
kill "$API_PID"; wait "$API_PID" 2>/dev/null || true
expect_fail "API down" '^fail api: API at .* not reached (unreachable'

# A doctor changes nothing: a state_dir that is not there stays so.
sed "s|^state_dir = .*|state_dir = $T/nostate|" "$CONF" > "$T/nostate.conf"
chmod 600 "$T/nostate.conf"
set +e
out=$("$JITCTL" -c "$T/nostate.conf" doctor --root "$R"); rc=$?
set -e
[ "$rc" = 1 ] || fail "no state_dir: status $rc"
printf '%s\n' "$out" | grep -q "^fail state: state_dir = $T/nostate: No such file or directory" \
    || fail "no state_dir: $out"
[ ! -e "$T/nostate" ] || fail "doctor made $T/nostate"
ok "no state_dir: a fail line, and the doctor made none"

# --root belongs to doctor alone: a usage error elsewhere.
set +e
"$JITCTL" -c "$CONF" list --root "$R" >/dev/null 2>&1; rc=$?
set -e
expect_eq "list --root: usage error" "$rc" 2
