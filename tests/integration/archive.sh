#!/bin/sh
# SPDX-License-Identifier: MIT
# home_policy = archive: at teardown the home becomes a root-only tar file
# in state_dir/archive (pax format, readable by tar(1) and python's
# tarfile), then goes.  Symlinks are kept as links, never followed (a link
# to /etc/shadow brings nothing of it), FIFOs are left out without
# blocking, long names survive, contents are byte-identical.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
command -v setpriv >/dev/null || skip "needs setpriv"
setup_env
setup_pam
echo 'home_policy = archive' >> "$CONF"
G=$T/api/grants
grant_json lee 'on_logout="keep"' > "$G/lee.json"
pam_op lee acct_mgmt open_session || fail "lee: $(cat "$T/pam.out")"
uid=$(in_ns id -u lee)
H=$T/home/lee
long=$(printf 'n%.0s' $(seq 1 150))
deep=$H/$(printf 'd%.0s' $(seq 1 60))/$(printf 'e%.0s' $(seq 1 60))
setpriv --reuid="$uid" --regid="$uid" --clear-groups sh -eu -c '
    cd "$1"
    echo "plain" > plain.txt
    printf "%s" "$2" > "$2"
    mkdir -p "$3" && echo deep > "$3/f"
    head -c 1048576 /dev/urandom > big.bin
    ln -s /etc/shadow shadow-link
    mkfifo fifo
' sh "$H" "$long" "$deep"
sha_big=$(sha256sum "$H/big.bin" | cut -d' ' -f1)
/usr/bin/python3 -c 'import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.execute("UPDATE accounts SET expires = 1 WHERE name = ?", ("lee",)); db.commit()' "$STATE/state.db"
out=$("$JITCTL" -c "$CONF" reap 2>"$T/reap.err") || fail "reap: $out $(cat "$T/reap.err")"
expect_eq "reap" "$out" "tore down lee: expired
reap: 1 due, 0 failed"
[ ! -e "$H" ] || fail "the home is still there"
expect_eq "archive dir" "$(stat -c '%a %u' "$STATE/archive")" "700 0"
set -- "$STATE"/archive/lee.*.$uid.tar
[ -f "$1" ] || fail "no archive: $(ls -la "$STATE/archive")"
A=$1
expect_eq "archive file" "$(stat -c '%a %u' "$A")" "600 0"
ok "lee's home archived as $(basename "$A") and removed"

tar -tvf "$A" > "$T/tar.list" 2>&1 || fail "tar -t: $(cat "$T/tar.list")"
grep -q "lee/shadow-link -> /etc/shadow" "$T/tar.list" || fail "link: $(cat "$T/tar.list")"
grep -q "fifo" "$T/tar.list" && fail "the FIFO is in the archive"
ok "tar(1) reads it; the symlink is a link; no FIFO"
mkdir "$T/x"
tar -xf "$A" -C "$T/x" || fail "tar -x"
expect_eq "plain" "$(cat "$T/x/lee/plain.txt")" "plain"
expect_eq "long name" "$(cat "$T/x/lee/$long")" "$long"
expect_eq "deep" "$(cat "$T/x/lee/${deep#"$H/"}/f")" "deep"
expect_eq "1 MiB file" "$(sha256sum "$T/x/lee/big.bin" | cut -d' ' -f1)" "$sha_big"
expect_eq "owner kept" "$(tar -tvf "$A" --numeric-owner | grep 'lee/plain.txt' | awk '{print $2}')" "$uid/$uid"
/usr/bin/python3 -c '
import sys, tarfile
t = tarfile.open(sys.argv[1])
m = {x.name: x for x in t.getmembers()}
assert m["lee/shadow-link"].issym() and m["lee/shadow-link"].linkname == "/etc/shadow"
assert m["lee/" + sys.argv[2]].size == len(sys.argv[2])
assert all(not x.isfifo() for x in t.getmembers())
' "$A" "$long" || fail "python tarfile disagrees"
ok "contents, long names (pax), owners and the link survive; python tarfile agrees"
if grep -a -q '^root:' "$A"; then fail "/etc/shadow leaked into the archive"; fi
ok "nothing of /etc/shadow in it"

# No room: an archive that would leave under a tenth of state_dir's file
# system free is not started; the home stays, the account is retried.
grant_json mia 'on_logout="keep"' > "$G/mia.json"
pam_op mia acct_mgmt open_session || fail "mia: $(cat "$T/pam.out")"
head -c 2097152 /dev/urandom > "$T/home/mia/big.bin"
/usr/bin/python3 -c 'import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.execute("UPDATE accounts SET expires = 1 WHERE name = ?", ("mia",)); db.commit()' "$STATE/state.db"
rc=0
out=$(unshare -m --propagation private sh -c '
    mount -t tmpfs -o size=2m,mode=700 tmpfs "$1/archive" && exec "$2" -c "$3" reap' \
    sh "$STATE" "$JITCTL" "$CONF" 2>"$T/reap.err") || rc=$?
case "$rc:$out" in
    "1:tore down mia: expired
  failed: archiving $T/home/mia: "*" KiB needed, "*" KiB free in $STATE/archive (a tenth is kept free) (left in disable_failed)
reap: 1 due, 1 failed") ;;
    *) fail "no room: $rc:$out" ;;
esac
[ -f "$T/home/mia/big.bin" ] || fail "mia's home went without an archive"
ok "no room in state_dir/archive: refused before writing, home kept, disable_failed"
