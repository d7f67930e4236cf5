#!/bin/sh
# SPDX-License-Identifier: MIT
# The host's own tools at teardown, with stand-ins in a namespace
# (/usr/sbin and /usr/bin overlaid, /run a tmpfs): where nscd runs, it is
# told to drop its passwd and group caches (nscd -i passwd, -i group);
# where logind runs and tracks the uid, loginctl terminate-user ends its
# sessions; neither is run where it has nothing to do.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
setup_env
setup_pam
G=$T/api/grants
for u in ned nora lou liz; do
    grant_json $u 'on_logout="keep"' > "$G/$u.json"
    pam_op $u acct_mgmt open_session || fail "$u: $(cat "$T/pam.out")"
done
/usr/bin/python3 -c 'import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.execute("UPDATE accounts SET expires = 1 WHERE name = ?", ("ned",)); db.commit()' "$STATE/state.db"
mkdir -p "$T/sbin-upper" "$T/bin-upper"
cat > "$T/bin-upper/loginctl" <<LOGINCTL
#!/bin/sh
echo "loginctl \$*" >> $T/loginctl.calls
LOGINCTL
chmod 755 "$T/bin-upper/loginctl"
cat > "$T/sbin-upper/nscd" <<NSCD
#!/bin/sh
echo "nscd \$*" >> $T/nscd.calls
NSCD
chmod 755 "$T/sbin-upper/nscd"
cat > "$T/run.sh" <<RUN
#!/bin/sh
set -e
mount -t overlay overlay -o lowerdir=$T/sbin-upper:/usr/sbin /usr/sbin
mount -t overlay overlay -o lowerdir=$T/bin-upper:/usr/bin /usr/bin
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/nscd
if [ "\$1" = with ]; then
    /usr/bin/python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' /run/nscd/socket
fi
if [ "\$1" = logind ]; then
    mkdir -p /run/systemd/seats /run/systemd/users
    touch /run/systemd/users/\$2
fi
exec $JITCTL -c $CONF reap
RUN
chmod 755 "$T/run.sh"
out=$(in_ns "$T/run.sh" with 2>/dev/null)
expect_eq "reap with nscd" "$out" "tore down ned: expired
reap: 1 due, 0 failed"
expect_eq "nscd told" "$(cat "$T/nscd.calls")" "nscd -i passwd
nscd -i group"
ok "with nscd running: its passwd and group caches invalidated"
rm "$T/nscd.calls"
/usr/bin/python3 -c 'import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.execute("UPDATE accounts SET expires = 1 WHERE name = ?", ("nora",)); db.commit()' "$STATE/state.db"
out=$(in_ns "$T/run.sh" without 2>/dev/null)
expect_eq "reap without nscd" "$out" "tore down nora: expired
reap: 1 due, 0 failed"
[ ! -e "$T/nscd.calls" ] || fail "nscd run without its socket: $(cat "$T/nscd.calls")"
ok "without nscd: not run"

# logind: lou's uid is tracked, liz's is not.
expire() { /usr/bin/python3 -c 'import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.execute("UPDATE accounts SET expires = 1 WHERE name = ?", (sys.argv[2],)); db.commit()' "$STATE/state.db" "$1"; }
lou=$(in_ns id -u lou)
expire lou
out=$(in_ns "$T/run.sh" logind "$lou" 2>/dev/null)
expect_eq "reap lou" "$out" "tore down lou: expired
reap: 1 due, 0 failed"
expect_eq "loginctl for lou" "$(cat "$T/loginctl.calls")" "loginctl terminate-user $lou"
rm "$T/loginctl.calls"
ok "logind tracks lou's uid: loginctl terminate-user $lou"
expire liz
out=$(in_ns "$T/run.sh" logind "$lou" 2>/dev/null)
expect_eq "reap liz" "$out" "tore down liz: expired
reap: 1 due, 0 failed"
[ ! -e "$T/loginctl.calls" ] || fail "loginctl run for an untracked uid: $(cat "$T/loginctl.calls")"
ok "logind does not track liz's uid: loginctl not run"
