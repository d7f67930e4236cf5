#!/bin/sh
# SPDX-License-Identifier: MIT
# jitctl daemon: a new grant resolves within a long-poll round, an account
# goes at its expiry (delay bounded), a grant taken back at the API ends
# the account, events reach the API, SIGTERM stops it mid-poll, and
# jitctl status reports it.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
command -v setpriv >/dev/null || skip "needs setpriv"
setup_env
setup_pam
G=$T/api/grants

start_daemon
wait_for 30 grep -q 'daemon: started' "$T/daemon.err" >/dev/null || fail "daemon: $(cat "$T/daemon.err")"
kill -0 $D || fail "daemon died: $(cat "$T/daemon.err")"

# A new grant: resolvable within a second or two (long poll, not polling).
grant_json alice > "$G/alice.json"
ms=$(wait_for 5 resolves alice) || fail "alice not resolvable: $(cat "$T/daemon.err")"
[ "$ms" -le 2500 ] || fail "alice took $ms ms"
ok "a new grant resolves after $ms ms"
n=$(grep -c "GET /v1/hosts/web01.test/grants?wait=" "$T/api/requests.log")
[ "$n" -le 10 ] || fail "$n list requests in a few seconds: polling hard"
ok "$n long-poll requests so far"

# Expiry: the account goes at its end.
# 10 s ahead: the daemon must find the end by itself, so the test cannot
# move the clock; 3 s ran out before bob was synced under load.
soon=$(date -u -d '+10 seconds' +%Y-%m-%dT%H:%M:%SZ)
end=$(date -d "$soon" +%s)
grant_json bob "expires_at=\"$soon\"" > "$G/bob.json"
wait_for 8 resolves bob >/dev/null || fail "bob not resolvable"
[ "$(date +%s)" -lt "$end" ] || fail "bob resolved only after his end"
wait_for 20 gone bob >/dev/null || fail "bob not reaped: $(cat "$T/daemon.err")"
delay=$(( $(date +%s%N) / 1000000 - end * 1000 ))
[ $delay -le 2000 ] || fail "bob went $delay ms after his end"
ok "bob reaped $delay ms after expires_at (bound 2 s)"

# Revocation at the API: the grant leaves the list; alice's session and
# her process end and the account goes.  The bound: one long-poll round
# (the API answers a waiting poll as soon as its list changes; the test
# server looks every 50 ms) plus the reap (TERM, which sleep obeys; the
# 2 s KILL grace is not needed), plus this loop's 100 ms polling: 1.5 s.
pam_op alice acct_mgmt open_session || fail "alice's session: $(cat "$T/pam.out")"
uid=$(in_ns id -u alice)
setpriv --reuid="$uid" --regid="$uid" --clear-groups sleep 300 &
P=$!
TEST_PIDS="$TEST_PIDS $P"
wait_uid "$P" "$uid"
dead() { ! kill -0 "$1" 2>/dev/null || [ "$(ps -o stat= -p "$1" | cut -c1)" = Z ]; }
gone_and_ended() { gone alice && dead "$P"; }
rm "$G/alice.json"
ms=$(wait_for 10 gone_and_ended) || fail "alice not removed: $(cat "$T/daemon.err")"
wait "$P" 2>/dev/null || true
[ "$ms" -le 1500 ] || fail "revocation took $ms ms (bound 1.5 s)"
ok "a grant taken back at the API ends alice's process and account in $ms ms (bound 1.5 s)"
grep -q 'event="account.deleted" result="ok" reason="revoked" user="alice"' "$T/daemon.err" \
    || fail "audit: $(cat "$T/daemon.err")"

# Events reach the API.
wait_for 10 grep -q '"type": "account.deleted", "username": "alice"' "$T/api/events.jsonl" >/dev/null 2>&1 \
    || grep -q 'account.deleted' "$T/api/events.jsonl" || fail "events not delivered"
ok "events delivered: $(wc -l < "$T/api/events.jsonl")"

out=$("$JITCTL" -c "$CONF" status)
case $out in "daemon:       running (pid $D,"*) ;; *) fail "status: $out" ;; esac
case $out in *"api:          ok"*) ;; *) fail "status api: $out" ;; esac
ok "jitctl status: running, api ok"

# SIGHUP: a good file is taken, a broken one or a new state_dir is not
# (the daemon goes on with the old configuration).
cp "$CONF" "$T/jit.conf.good"
echo 'outbox_max = 5000' >> "$CONF"
kill -HUP $D
wait_for 5 grep -q "daemon: configuration reloaded" "$T/daemon.err" >/dev/null \
    || fail "no reload: $(cat "$T/daemon.err")"
echo 'no_such_key = 1' >> "$CONF"
kill -HUP $D
wait_for 5 grep -q "has errors; keeping the old one" "$T/daemon.err" >/dev/null \
    || fail "broken file: $(cat "$T/daemon.err")"
sed -e "s|^state_dir = .*|state_dir = $T/elsewhere|" "$T/jit.conf.good" > "$CONF"
kill -HUP $D
wait_for 5 grep -q "state_dir changed in $CONF: that takes a restart" "$T/daemon.err" >/dev/null \
    || fail "state_dir: $(cat "$T/daemon.err")"
cp "$T/jit.conf.good" "$CONF"
kill -0 $D || fail "the daemon died on SIGHUP"
grant_json carl > "$G/carl.json"
wait_for 5 resolves carl >/dev/null || fail "carl not resolvable after the reloads"
ok "SIGHUP: a good file reloaded; a broken one and a new state_dir refused; still syncing"

# SIGTERM mid long poll: stops within about a second.  (The API's last
# request is a long poll: the daemon waits in it.)
in_poll() { tail -n 1 "$T/api/requests.log" | grep -q 'grants?wait=[1-9]'; }
wait_for 10 in_poll >/dev/null || fail "no long poll: $(tail -3 "$T/api/requests.log")"
t0=$(date +%s%N)
kill -TERM $D
wait $D || fail "daemon exit status $?"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ $ms -le 2500 ] || fail "SIGTERM took $ms ms"
ok "SIGTERM: stopped cleanly in $ms ms"
rc=0; out=$("$JITCTL" -c "$CONF" status) || rc=$?
case $out in "daemon:       stopped"*) ;; *) fail "status after stop: $out" ;; esac
expect_eq "jitctl status after stop: exit status (not running)" "$rc" 3
ok "jitctl status: stopped"
