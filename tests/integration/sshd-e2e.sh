#!/bin/sh
# SPDX-License-Identifier: MIT
# End to end with the real OpenSSH server on loopback, in a private mount
# namespace with its own sshd_config, port, PAM service and nsswitch.conf:
# a granted user logs in with the grant's key, gets a shell with the
# grant's groups and a 0700 home of their own; without a grant, or after
# expiry, the login is refused; with on_logout delete the account is gone
# after logout.  This machine's /etc stays byte-identical (lib.sh checks
# passwd, group, shadow, gshadow, nsswitch.conf, sudoers*, pam.d, ssh).
. "$top_srcdir/tests/integration/lib.sh"
require_ns
[ -x /usr/sbin/sshd ] || skip "needs openssh-server"
command -v ssh >/dev/null || skip "needs ssh"
[ -z "$PRELOAD" ] || skip "sshd does not load a sanitizer-built module (ASan runtime must come first)"
setup_env
setup_pam
G=$T/api/grants

ssh-keygen -q -t ed25519 -N '' -C alice@laptop -f "$T/client"
# sshd refuses an AuthorizedKeysCommand under a world-writable directory
# (/tmp): the wrapper lives on the namespace's own /run.
start_sshd in_ns "mkdir -m 755 /run/jit
printf '#!/bin/sh\\nexec $JITCTL -c $CONF authorized-keys \"\$1\"\\n' > /run/jit/authorized-keys
chmod 755 /run/jit/authorized-keys" <<CFG
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile none
AuthorizedKeysCommand /run/jit/authorized-keys %u
AuthorizedKeysCommandUser root
CFG
ok "sshd listening on 127.0.0.1:$PORT in its own namespace"

sshc() { # USER CMD...
    _u=$1
    shift
    ssh -p "$PORT" -i "$T/client" -o BatchMode=yes -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o LogLevel=ERROR \
        -o ConnectTimeout=5 "$_u@127.0.0.1" "$@"
}
key=$(cat "$T/client.pub")

# A grant with the key, delete on logout; sync so that sshd resolves alice.
grant_json alice "ssh_keys=[\"$key\"]" > "$G/alice.json"
"$JITCTL" -c "$CONF" sync >/dev/null 2>&1
# Reserved by sync, usable: its account.created is queued now, before any
# login (issue 17).
ev=$(/usr/bin/python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(" ".join(r[0] for r in db.execute("SELECT type FROM events WHERE username = ? ORDER BY rowid", ("alice",))))
' "$STATE/state.db")
expect_eq "alice's events after sync, before a login" "$ev" "account.created"
out=$(sshc alice 'id; stat -c "%a %U %G" "$HOME"; echo "home=$HOME"; ls -A "$HOME" | tr "\n" " "') \
    || fail "alice could not log in: $(tail -20 "$T/sshd.log")"
expect_eq "id in the session: the grant's groups" "$(echo "$out" | sed -n 1p)" \
    "uid=$UID_MIN(alice) gid=$UID_MIN(alice) groups=$UID_MIN(alice),44(video),100(users)"
expect_eq "home 0700 and alice's" "$(echo "$out" | sed -n 2p)" "700 alice alice"
expect_eq "HOME" "$(echo "$out" | sed -n 3p)" "home=$T/home/alice"
expect_eq "skel copied" "$(echo "$out" | sed -n 4p)" ".config .profile "
# close_session runs in sshd after the client is gone: give it a moment.
wait_for 30 gone alice >/dev/null || true
if in_ns getent passwd alice >/dev/null; then fail "alice still exists after logout"; fi
[ ! -e "$T/home/alice" ] || fail "alice's home is still there"
ok "on_logout delete: account and home gone after logout"
# The audit trail, through syslog(3) to /dev/log, facility authpriv.
for want in 'authpriv.notice .* sshd: pam_jit(sshd:account): event="login" result="allow" reason="grant" user="alice" requester="alice@EXAMPLE.COM" credential="db-admin" grant="g-alice" service="sshd" rhost="127.0.0.1"' \
            'pam_jit(sshd:session): event="session.opened" result="allow" reason="home_created" user="alice"' \
            'pam_jit(sshd:session): event="session.closed" result="ok" reason="last_logout" user="alice"' \
            'pam_jit(sshd:session): event="account.deleted" result="ok" reason="logout" user="alice"'; do
    grep -q -- "$want" "$T/syslog" || fail "audit line missing: $want
$(cat "$T/syslog")"
done
ok "audit lines in syslog (authpriv): login, session.opened, session.closed, account.deleted"

# Resolvable (synced) but the grant is gone at the API: refused by PAM.
grant_json bob "ssh_keys=[\"$key\"]" > "$G/bob.json"
"$JITCTL" -c "$CONF" sync >/dev/null 2>&1
rm "$G/bob.json"
if sshc bob true 2>/dev/null; then fail "bob logged in without a grant"; fi
grep -q 'pam_jit(sshd:account): event="login" result="deny" reason="no_grant" user="bob"' "$T/syslog" \
    || fail "no audit line for bob: $(tail -5 "$T/syslog")"
grep -q "Access denied for user bob by PAM account configuration" "$T/sshd.log" \
    || fail "sshd did not report the PAM denial: $(tail -5 "$T/sshd.log")"
ok "no grant: refused by PAM account, with its audit line"

# Nobody ever granted: sshd does not even know the name.
if sshc zed true 2>/dev/null; then fail "zed logged in"; fi
ok "unknown user: refused"

# After expiry.  The end is the test's clock (end_now): grants ending 3
# and 5 s ahead ran out before the login or the session had started
# under load.
grant_json carol "ssh_keys=[\"$key\"]" 'on_logout="keep"' > "$G/carol.json"
"$JITCTL" -c "$CONF" sync >/dev/null 2>&1
sshc carol true || fail "carol could not log in before expiry: $(tail -5 "$T/sshd.log")"
ok "carol logs in before expiry"
end_now carol
if sshc carol true 2>/dev/null; then fail "carol logged in after expiry"; fi
ok "after expiry: refused (authorized-keys gives no key for an ended grant)"
# Expiry with a session running: the session, a background process, a
# process in its own session and a SysV shm segment all go at the end.
grant_json dave "ssh_keys=[\"$key\"]" 'on_logout="keep"' > "$G/dave.json"
"$JITCTL" -c "$CONF" sync >/dev/null 2>&1
sshc dave 'sleep 300 & setsid sleep 300 & ipcmk -M 4096 >/dev/null; echo started; sleep 300' \
    > "$T/dave.out" 2>&1 &
SSHC=$!
wait_for 30 grep -q started "$T/dave.out" >/dev/null 2>&1 || true
grep -q started "$T/dave.out" || fail "dave's session did not start: $(cat "$T/dave.out")"
duid=$(in_ns id -u dave)
[ "$(ps -o pid= -u "$duid" | wc -l)" -ge 3 ] || fail "dave's processes: $(ps -f -u "$duid")"
ipcs -m | awk -v u="$duid" '$3 == u || $3 == "dave"' | grep -q . || fail "no shm of dave's: $(ipcs -m)"
ok "dave's session runs: $(ps -o pid= -u "$duid" | wc -l) processes and a shm segment"
end_now dave
out=$("$JITCTL" -c "$CONF" reap 2>/dev/null)
case $out in *"tore down dave: expired"*"reap: "*" due, 0 failed") ;; *) fail "reap: $out" ;; esac
ok "reap at the end tore dave down"
wait $SSHC 2>/dev/null || true
ok "the ssh session ended"
# (zombies are not processes any more; this container's pid 1 may be slow
# to reap them)
[ "$(ps -o stat= -u "$duid" | grep -vc '^Z')" = 0 ] || fail "processes left: $(ps -f -u "$duid")"
if ipcs -m | awk -v u="$duid" '$3 == u' | grep -q .; then fail "shm left: $(ipcs -m)"; fi
if in_ns getent passwd dave; then fail "dave still resolves"; fi
[ ! -e "$T/home/dave" ] || fail "dave's home is still there"
if sshc dave true 2>/dev/null; then fail "dave logged in after the end"; fi
ok "after the end: no process, no shm, no home, no name, no login"

stop_sshd
ok "sshd stopped by its pid"
