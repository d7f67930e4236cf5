#!/bin/sh
# SPDX-License-Identifier: MIT
# The login relay (doc/design.md, F8): with jitctl daemon running, a login
# asks it for the grant (no TLS in the login's process) and reaches the
# same verdicts with the same audit lines; a login whose settings differ,
# a non-root caller, a socket that is not root's and a hostile request are
# each refused, and the login then asks the API itself.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
command -v setpriv >/dev/null || skip "needs setpriv"
setup_env
setup_pam
sed -i 's/^uid_max = .*/uid_max = 99799/' "$CONF"
G=$T/api/grants
F=$T/api/faults
SOCK=$STATE/relay

# The same stack with debug, which says which way the grant was asked.
sed "s|config=$CONF|config=$CONF debug|" "$T/pam.d/jittest" > "$T/pam.d/jitdebug"
# ... and one whose argument changes a setting of the API call.
sed "s|config=$CONF|config=$CONF debug timeout=14|" "$T/pam.d/jittest" > "$T/pam.d/jitother"
via_relay() { grep -q "grant of $1 asked through jitctl daemon" "$T/pam.out"; }
direct() { grep -q "$1; asking the API" "$T/pam.out"; }

# --- no daemon: the login asks the API itself ---
grant_json alice > "$G/alice.json"
PAM_SVC=jitdebug pam_op alice acct_mgmt open_session close_session \
    || fail "alice without a daemon: $(cat "$T/pam.out")"
direct "no relay: No such file or directory" || fail "no daemon, yet: $(cat "$T/pam.out")"
audit_has 'event="login" result="allow" reason="reserved" user="alice"'
ok "no daemon: the login asks the API itself"

start_daemon
# "started" comes after the relay listens.
wait_for 30 grep -q 'daemon: started' "$T/daemon.err" >/dev/null || fail "daemon: $(cat "$T/daemon.err")"
test -S "$SOCK" || fail "no relay socket: $(cat "$T/daemon.err")"
expect_eq "the socket is root's, 0600" "$(stat -c '%a %u %F' "$SOCK")" "600 0 socket"

# --- through the relay: the same verdicts and audit lines ---
PAM_SVC=jitdebug pam_op alice acct_mgmt open_session close_session \
    || fail "alice through the relay: $(cat "$T/pam.out")"
via_relay alice || fail "not through the relay: $(cat "$T/pam.out")"
# (reserved by the login, or already by the daemon's sync: "grant")
audit_has 'event="login" result="allow" reason="[a-z]*" user="alice" requester="alice@EXAMPLE.COM" credential="db-admin" grant="g-alice"'
audit_has 'event="session.opened" result="allow" reason="home_created" user="alice"'
audit_has 'event="session.closed" result="ok" reason="last_logout" user="alice"'
ok "alice: allowed through the relay, the whole life audited"
# The point of it: no TLS, HTTP or Kerberos library in the login's process.
PAM_UNDER="env LD_DEBUG=files" PAM_SVC=jitdebug pam_op alice acct_mgmt \
    || fail "alice under LD_DEBUG: $(cat "$T/pam.out")"
via_relay alice || fail "not through the relay: $(cat "$T/pam.out")"
if grep -Eq 'file=[^ ]*(libcurl|libssl|libcrypto|libkrb5|libgssapi)' "$T/pam.out"; then
    fail "the login loaded: $(grep -E 'file=[^ ]*(libcurl|libssl|libcrypto|libkrb5|libgssapi)' "$T/pam.out" | head -3)"
fi
# One object loaded from its descriptor: the backend, not pam_jit_net.so.
expect_eq "objects loaded from a descriptor" \
    "$(grep -c 'file=/proc/self[/.]*/fd/[0-9]* .*dynamically loaded by ' "$T/pam.out")" 1
grep -q 'file=.*libsqlite3' "$T/pam.out" || fail "LD_DEBUG shows no load: check the test: $(grep 'file=' "$T/pam.out" | head)"
ok "through the relay the login loads neither libcurl nor OpenSSL nor libkrb5"

for f in 404:no_grant 500:http_error malformed:malformed deep:malformed \
         huge:too_large empty:malformed; do
    kind=${f%%:*} reason=${f#*:}
    echo "$kind" > "$F/bob"
    if PAM_SVC=jitdebug pam_op bob acct_mgmt; then fail "bob ($kind) allowed"; fi
    via_relay bob || fail "bob ($kind) not through the relay: $(cat "$T/pam.out")"
    audit_has "event=\"login\" result=\"deny\" reason=\"$reason\" user=\"bob\""
    ok "API answer $kind: denied, reason $reason, as without the relay"
done
rm -f "$F/bob"
# A grant for another host or user is the login's to refuse, as ever.
grant_json bob 'host="db02.test"' > "$G/bob.json"
if PAM_SVC=jitdebug pam_op bob acct_mgmt; then fail "bob: another host's grant allowed"; fi
via_relay bob || fail "bob not through the relay"
audit_has 'result="deny" reason="wrong_host" user="bob"'
ok "a grant for another host: denied through the relay"

# --- settings that differ (a PAM argument): the login asks itself ---
PAM_SVC=jitother pam_op alice acct_mgmt || fail "alice (other settings): $(cat "$T/pam.out")"
direct "the relay refused: settings" || fail "other settings taken: $(cat "$T/pam.out")"
ok "other settings: refused by the relay, the login asked the API itself"

# --- hostile callers ---
cat > "$T/ask.py" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("connect:", e.strerror); sys.exit(0)
out = b""
try:
    s.sendall(sys.argv[2].encode().decode("unicode_escape").encode("latin-1"))
    s.shutdown(socket.SHUT_WR)
    while True:
        b = s.recv(65536)
        if not b: break
        out += b
except (BrokenPipeError, ConnectionResetError):
    pass  # the daemon hung up first
print(repr(out[:60]))
PY
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 "$T/ask.py" "$SOCK" 'grant alice 0\n')
expect_eq "nobody cannot connect" "$out" "connect: Permission denied"
chmod 666 "$SOCK"
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 "$T/ask.py" "$SOCK" 'grant alice 0\n')
chmod 600 "$SOCK"
expect_eq "nobody on an open socket: no answer" "$out" "b''"
wait_for 5 grep -q 'daemon: relay: refused a caller of uid 65534' "$T/daemon.err" >/dev/null \
    || fail "refusal not logged: $(cat "$T/daemon.err")"
ok "a non-root caller is refused and logged"
for req in 'grant ../etc 0\n:bad_user' 'grant alice 99999999\n:bad_request' \
           'hello\n:bad_request' 'grant alice 3\nabcdef:bad_request' \
           'grant alice 4\nab\0c:settings'; do
    want=${req##*:}
    out=$(/usr/bin/python3 "$T/ask.py" "$SOCK" "${req%:*}")
    expect_eq "root's request '${req%:*}'" "$out" "b'refused $want\\n'"
done
long=$(head -c 600 /dev/zero | tr '\0' a)
out=$(/usr/bin/python3 "$T/ask.py" "$SOCK" "grant $long 0\\n")
expect_eq "a first line too long" "$out" "b'refused bad_request\\n'"
out=$(/usr/bin/python3 "$T/ask.py" "$SOCK" "grant $long")
expect_eq "a first line without its end" "$out" "b'refused bad_request\\n'"
kill -0 $D || fail "the daemon died of a request: $(cat "$T/daemon.err")"

# --- a relay that is not root's: never believed ---
kill $D; wait $D || true
forget_pid $D
test ! -e "$SOCK" || fail "the socket outlived the daemon"
mkdir -m 777 "$T/evil"
cat > "$T/evil.py" <<'PY'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(8)
open(sys.argv[2], "w").close()
body = sys.argv[3].encode()
while True:
    c, _ = s.accept()
    try:
        c.recv(65536)
        c.sendall(b"answer 200 %d\n" % len(body) + body)
    except OSError:
        pass  # the login hung up: it did not believe us
    c.close()
PY
grant_json eve > "$T/eve.json"
setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 "$T/evil.py" "$T/evil/sock" \
    "$T/evil/ready" "$(cat "$T/eve.json")" &
EVIL=$!
TEST_PIDS="$TEST_PIDS $EVIL"
wait_for 10 test -e "$T/evil/ready" >/dev/null || fail "the forged relay did not start"
# A link at the socket's name is not followed.
ln -s "$T/evil/sock" "$SOCK"
if PAM_SVC=jitdebug pam_op eve acct_mgmt; then fail "eve allowed by a forged relay"; fi
direct "no relay: not a socket of root's with mode 0600" || fail "forged relay (link): $(cat "$T/pam.out")"
audit_has 'event="login" result="deny" reason="no_grant" user="eve"'
ok "a link to a relay that is not root's is not followed: eve denied (no grant at the API)"
rm -f "$SOCK"
# nobody's socket itself, moved there and made to look root's: its
# listener is still nobody.
mv "$T/evil/sock" "$SOCK"
chown 0:0 "$SOCK"
chmod 600 "$SOCK"
if PAM_SVC=jitdebug pam_op eve acct_mgmt; then fail "eve allowed by a forged relay"; fi
direct "the relay is not root's" || fail "forged relay (moved): $(cat "$T/pam.out")"
audit_has 'event="login" result="deny" reason="no_grant" user="eve"'
ok "a relay whose listener is not root is not believed: eve denied (no grant at the API)"
rm -f "$SOCK"
kill $EVIL || fail "the forged relay died"
wait $EVIL || true
forget_pid $EVIL

# --- the daemon again: eight logins at once, all through it ---
start_daemon
wait_for 30 grep -q 'daemon: started' "$T/daemon.err" >/dev/null || fail "daemon: $(cat "$T/daemon.err")"
test -S "$SOCK" || fail "no relay socket: $(cat "$T/daemon.err")"
i=0
while [ $i -lt 8 ]; do
    grant_json "p$i" > "$G/p$i.json"
    i=$((i + 1))
done
pids=
i=0
while [ $i -lt 8 ]; do
    PAM_SVC=jitdebug PAM_OUT=$T/par$i.out pam_op "p$i" acct_mgmt open_session close_session &
    pids="$pids $!"
    TEST_PIDS="$TEST_PIDS $!"
    i=$((i + 1))
done
for p in $pids; do
    wait "$p" || fail "a parallel login failed: $(cat "$T"/par*.out)"
    forget_pid "$p"
done
i=0
while [ $i -lt 8 ]; do
    [ "$(grep -c "grant of p$i asked through jitctl daemon" "$T/par$i.out")" = 1 ] \
        && ! grep -q "asking the API" "$T/par$i.out" \
        || fail "p$i not through the relay alone: $(cat "$T/par$i.out")"
    i=$((i + 1))
done
ok "eight logins at once, each through the relay"
# A reload while a request waits on a hanging API: the daemon's loop
# (expiry, sync, events) never waits for the relay.  The bound is the
# feature: the request holds for the API's timeout (15 s), the reload
# comes well before.
echo hang > "$F/hank"
PAM_SVC=jitdebug PAM_OUT=$T/hank.out pam_op hank acct_mgmt &
hank=$!
TEST_PIDS="$TEST_PIDS $hank"
wait_for 10 grep -q "GET /v1/hosts/web01.test/grants/hank " "$T/api/requests.log" >/dev/null \
    || fail "hank's request never reached the API"
n=$(grep -c "daemon: configuration reloaded" "$T/daemon.err" || true)
t0=$(date +%s%N)
kill -HUP $D
wait_for 10 sh -c "[ \$(grep -c 'daemon: configuration reloaded' '$T/daemon.err') -gt $n ]" >/dev/null \
    || fail "no reload while the relay waits: $(cat "$T/daemon.err")"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ $ms -le 8000 ] || fail "the reload waited $ms ms for the relay"
if wait $hank; then fail "hank allowed by a hanging API"; fi
forget_pid $hank
grep -q "grant of hank asked through jitctl daemon" "$T/hank.out" \
    && grep -q 'reason="timeout" user="hank"' "$T/hank.out" || fail "hank: $(cat "$T/hank.out")"
ok "a reload during a hanging call took $ms ms; the call ended by its timeout"

# A daemon stopped (or wedged) does not hold the login: the bound is the
# feature (a second for "taken", then the direct call; 8 s of margin).
kill -STOP $D
t0=$(date +%s%N)
PAM_SVC=jitdebug pam_op p0 acct_mgmt || { kill -CONT $D; fail "p0 beside a stopped daemon: $(cat "$T/pam.out")"; }
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
kill -CONT $D
direct "the relay did not take the request in time" || fail "stopped daemon: $(cat "$T/pam.out")"
[ $ms -le 9000 ] || fail "a login beside a stopped daemon took $ms ms"
ok "a stopped daemon: the login asked the API itself after $ms ms"
kill $D; wait $D || fail "daemon exit status $?"
forget_pid $D
test ! -e "$SOCK" || fail "the socket outlived the daemon"
ok "the daemon stops with the relay"
