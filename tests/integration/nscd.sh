#!/bin/sh
# Where nscd runs, a teardown tells it to drop its passwd and group caches
# (nscd -i passwd, nscd -i group); where it does not, nscd is not run.  In
# a namespace with a stand-in nscd (/usr/sbin overlaid) and its socket.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
command -v pamtester >/dev/null || skip "needs pamtester"
setup_env
setup_pam
G=$T/api/grants
for u in ned nora; do
    grant_json $u 'on_logout="keep"' > "$G/$u.json"
    pam_op $u acct_mgmt open_session || fail "$u: $(cat "$T/pam.out")"
done
/usr/bin/python3 -c 'import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.execute("UPDATE accounts SET expires = 1 WHERE name = ?", ("ned",)); db.commit()' "$STATE/state.db"
mkdir -p "$T/sbin-upper" "$T/sbin-work"
cat > "$T/sbin-upper/nscd" <<NSCD
#!/bin/sh
echo "nscd \$*" >> $T/nscd.calls
NSCD
chmod 755 "$T/sbin-upper/nscd"
cat > "$T/run.sh" <<RUN
#!/bin/sh
set -e
mount -t overlay overlay -o lowerdir=$T/sbin-upper:/usr/sbin /usr/sbin
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/nscd
if [ "\$1" = with ]; then
    /usr/bin/python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' /run/nscd/socket
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
