#!/bin/sh
# SPDX-License-Identifier: MIT
# The teardown scrubs scrub_dirs (here three test-owned 1777 directories,
# never the machine's /tmp): what the uid left there goes (a setgid copy
# of a binary first of all), what cannot go is defused (root's, no setuid
# or setgid), a hard link of the uid's setgid file outside is defused
# too, someone else's setgid file of a granted group loses the bit and is
# reported (one escaped line, even with a newline in its name), root's is
# only reported; links planted by others are not followed, FIFOs not
# opened, other mounts not entered; a tree deeper than the bound fails
# the teardown (disable_failed, retried) until it is gone; and the next
# holder of the uid finds nothing of the old one.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
command -v setpriv >/dev/null || skip "needs setpriv"
setup_env
setup_pam
G=$T/api/grants
# One uid, reused at once: the next holder is the old one's heir.
sed -i -e "s/^uid_max = .*/uid_max = $UID_MIN/" "$CONF"
sed -i -e "s|^scrub_dirs = .*|scrub_dirs = $T/tmp,$T/vartmp,$T/shm|" "$CONF"
echo "uid_quarantine = 0" >> "$CONF"
for d in tmp vartmp shm outside-ww; do mkdir -m 1777 "$T/$d"; done
VIDEO=$(getent group video | cut -d: -f3)
USERS=$(getent group users | cut -d: -f3)
[ -n "$VIDEO" ] && [ -n "$USERS" ] || skip "needs the groups video and users"
NL='
'

grant_json alice > "$G/alice.json"
pam_op alice acct_mgmt open_session || fail "alice: $(cat "$T/pam.out")"
uid=$(in_ns id -u alice)
expect_eq "alice has the one uid" "$uid" "$UID_MIN"
as_alice() { setpriv --reuid="$uid" --regid="$uid" --groups="$USERS,$VIDEO" -- sh -c "$1" sh "$T"; }
as_nobody() { setpriv --reuid=65534 --regid=65534 --groups="$VIDEO" -- sh -c "$1" sh "$T"; }

# Outside the scrub dirs: a directory of alice's that others' links
# point to, and one where anyone may link.
mkdir -p "$T/outside/target" "$T/bindsrc"
chown "$uid" "$T/outside/target" "$T/bindsrc"
# What alice leaves.
as_alice '
set -e
cp /bin/true "$1/tmp/sg"; chgrp video "$1/tmp/sg"; chmod 2755 "$1/tmp/sg"
ln "$1/tmp/sg" "$1/outside-ww/sg-link"
mkdir -p "$1/vartmp/adir/sub"; echo x > "$1/vartmp/adir/sub/file"; chmod 1777 "$1/vartmp/adir"
echo x > "$1/shm/segment"
mkfifo "$1/tmp/fifo"
cp /bin/true "$1/tmp/evil
name"; chgrp video "$1/tmp/evil
name"; chmod 2755 "$1/tmp/evil
name"
ln -s "$1/outside/target" "$1/tmp/alice-link"
echo x > "$1/outside/target/kept"
echo x > "$1/bindsrc/kept"
' || fail "alice's files"
# A device node of alice's (as if hard-linked in where protected_hardlinks
# is off): removed, never opened.  A hard link of a root file in alice's
# directory: the link goes, the file is untouched.
mknod "$T/tmp/dev-null" c 1 3
chown "$uid" "$T/tmp/dev-null"
cp /bin/true "$T/root-file"
chgrp video "$T/root-file"
chmod 2755 "$T/root-file"
ln "$T/root-file" "$T/vartmp/adir/root-link"
# Others': a directory of nobody's holding alice's file; nobody's links
# out of the scrub dir; nobody's FIFO; nobody's file in alice's directory;
# nobody's and root's setgid files of video.
as_nobody '
set -e
mkdir -m 777 "$1/tmp/nobodys"
ln -s "$1/outside/target" "$1/tmp/link-out"
ln -s "$1/outside/target" "$1/tmp/nobodys/link-out"
mkfifo "$1/tmp/nobody-fifo"
echo x > "$1/vartmp/adir/nobodys-file"
cp /bin/true "$1/tmp/nobody-sg"; chgrp video "$1/tmp/nobody-sg"; chmod 2755 "$1/tmp/nobody-sg"
cp /bin/true "$1/tmp/nb
sg"; chgrp video "$1/tmp/nb
sg"; chmod 2755 "$1/tmp/nb
sg"
' || fail "nobody's files"
as_alice 'echo x > "$1/tmp/nobodys/alice-file"' || fail "alice's file in nobody's directory"
cp /bin/true "$T/tmp/root-sg"
chgrp video "$T/tmp/root-sg"
chmod 2755 "$T/tmp/root-sg"
# A directory alice's files cannot be removed from: immutable, set by
# root (as an administrator's chattr, or a file system gone read-only for
# unlink only, would).
mkdir -m 1777 "$T/tmp/imm"
as_alice 'cp /bin/true "$1/tmp/imm/sg"; chgrp video "$1/tmp/imm/sg"; chmod 6755 "$1/tmp/imm/sg"' \
    || fail "alice's file in imm"
immutable=no
if chattr +i "$T/tmp/imm" 2>/dev/null; then
    immutable=yes
    trap 'rc=$?; chattr -i "$T/tmp/imm" 2>/dev/null; (exit $rc); cleanup_env' EXIT
fi
setpriv --reuid="$uid" --regid="$uid" --clear-groups sleep 300 &
P=$!
TEST_PIDS="$TEST_PIDS $P"
wait_uid "$P" "$uid"

# The teardown, in a namespace with a tmpfs and a bind mount (of the same
# file system) inside a scrub dir, each holding a file of alice's.
out=$(in_ns sh -c '
    set -e
    T=$1 uid=$2 JITCTL=$3 CONF=$4
    mkdir "$T/tmp/mnt" "$T/tmp/bind"
    mount -t tmpfs -o mode=1777 tmpfs "$T/tmp/mnt"
    echo x > "$T/tmp/mnt/alice-file"; chown "$uid" "$T/tmp/mnt/alice-file"
    mount --bind "$T/bindsrc" "$T/tmp/bind"
    "$JITCTL" -c "$CONF" revoke alice --reason "test scrub" 2>"$T/revoke.err"
    ls "$T/tmp/mnt" "$T/tmp/bind"
    umount "$T/tmp/mnt" "$T/tmp/bind"' sh "$T" "$uid" "$JITCTL" "$CONF") \
    || fail "revoke: $out $(cat "$T/revoke.err")"
expect_eq "revoke, with other mounts in a scrub dir" "$out" "revoke alice: grant g-alice revoked on this host; account torn down
$T/tmp/bind:
kept

$T/tmp/mnt:
alice-file"
ok "a tmpfs and a bind mount inside a scrub dir were not entered"
[ "$(ps -o stat= -p "$P" | cut -c1)" = Z ] || ! kill -0 "$P" 2>/dev/null || fail "alice's process survived"

expect_eq "root's file linked into alice's directory is untouched" "$(stat -c '%u:%g %a %h' "$T/root-file")" "0:$VIDEO 2755 1"
for f in tmp/dev-null tmp/sg vartmp/adir shm/segment tmp/fifo "tmp/evil${NL}name" tmp/alice-link tmp/nobodys/alice-file; do
    if [ -e "$T/$f" ] || [ -L "$T/$f" ]; then fail "$f survived"; fi
done
ok "alice's setgid copy, directory (with nobody's file in it), FIFO, link and files are gone"
expect_eq "hard link outside, defused" "$(stat -c '%u:%g %a' "$T/outside-ww/sg-link")" "0:0 755"
expect_eq "links of others were not followed" \
    "$(readlink "$T/tmp/link-out") $(readlink "$T/tmp/nobodys/link-out") $(cat "$T/outside/target/kept")" \
    "$T/outside/target $T/outside/target x"
[ -p "$T/tmp/nobody-fifo" ] || fail "nobody's FIFO went"
expect_eq "nobody's setgid files lose the bit, keep the owner" \
    "$(stat -c '%u:%g %a' "$T/tmp/nobody-sg" "$T/tmp/nb${NL}sg" | tr '\n' ' ')" "65534:$VIDEO 755 65534:$VIDEO 755 "
expect_eq "root's setgid file is left" "$(stat -c '%u:%g %a' "$T/tmp/root-sg")" "0:$VIDEO 2755"
grep -q "scrub of alice: $T/tmp/nobody-sg: setgid file of granted group $VIDEO, owned by uid 65534: setuid and setgid removed" "$T/revoke.err" \
    || fail "nobody-sg not reported: $(cat "$T/revoke.err")"
grep -q "scrub of alice: $T/tmp/nb\\\\nsg: setgid file of granted group $VIDEO, owned by uid 65534" "$T/revoke.err" \
    || fail "nb<newline>sg not reported as one escaped line: $(cat "$T/revoke.err")"
grep -q "scrub of alice: $T/tmp/root-sg: setgid file of granted group $VIDEO, owned by root: left as it is" "$T/revoke.err" \
    || fail "root-sg not reported: $(cat "$T/revoke.err")"
grep -q "scrub of alice: $T/outside-ww/sg-link" "$T/revoke.err" \
    && fail "the walk left the scrub dirs"
grep -q "scrub of alice: $T/tmp/sg: file of uid $uid had 1 other links: defused" "$T/revoke.err" \
    || fail "the hard link not logged: $(cat "$T/revoke.err")"
ok "reported: one escaped line each"
if [ $immutable = yes ]; then
    expect_eq "a file that cannot be removed is defused" "$(stat -c '%u:%g %a' "$T/tmp/imm/sg")" "0:0 755"
    grep -q "scrub of alice: $T/tmp/imm/sg: file of uid $uid could not be removed (Operation not permitted): defused" "$T/revoke.err" \
        || fail "imm/sg: $(cat "$T/revoke.err")"
    chattr -i "$T/tmp/imm"
else
    skip_case "chattr +i is not supported on $T: the defusing of a file that cannot be removed"
fi
grep -q "scrub of alice: .* removed, .* defused, .* reported" "$T/revoke.err" || fail "no summary: $(cat "$T/revoke.err")"
ok "alice's teardown: $(grep -o 'scrub of alice: [0-9]* removed.*' "$T/revoke.err")"

# The next holder of the uid: bob, the same uid; nothing of alice's in
# the scrub dirs (or behind the hard link).
grant_json bob > "$G/bob.json"
pam_op bob acct_mgmt open_session || fail "bob: $(cat "$T/pam.out")"
expect_eq "bob has alice's old uid" "$(in_ns id -u bob)" "$uid"
found=$(setpriv --reuid="$uid" --regid="$uid" --clear-groups find "$T/tmp" "$T/vartmp" "$T/shm" "$T/outside-ww" -user "$uid" 2>&1)
expect_eq "the next holder finds no file of the uid" "$found" ""
found=$(find "$T/tmp" "$T/vartmp" "$T/shm" -perm -2000 -group video ! -user 0)
expect_eq "no setgid file of video but root's" "$found" ""

# A tree deeper than the bound that is nobody's does not stop the
# teardown (or any local user could stop them all): it is passed by, with
# a warning.  Bob's own: the teardown fails, visibly, and is retried; once
# the tree is gone it succeeds.
as_nobody 'd="$1/vartmp/ndeep"; for i in $(seq 1 70); do d="$d/d"; done; mkdir -p "$d"' || fail "nobody's deep tree"
setpriv --reuid="$uid" --regid="$uid" --clear-groups sh -c 'd="$1/vartmp/deep"; for i in $(seq 1 70); do d="$d/d"; done; mkdir -p "$d"' sh "$T" \
    || fail "bob's deep tree"
rc=0; out=$("$JITCTL" -c "$CONF" revoke bob --reason "test deep" 2>"$T/revoke.err") || rc=$?
grep -q "scrub of bob: $T/vartmp/ndeep/d/.*: more than 64 levels deep, owned by uid 65534: not looked at below" "$T/revoke.err" \
    || fail "nobody's deep tree: $(cat "$T/revoke.err")"
expect_eq "deep tree: teardown fails" "$rc:$out" "1:revoke bob: grant g-bob revoked on this host; account left in disable_failed"
grep -q "teardown of bob: scrub of uid $uid: $T/vartmp/deep/d/.*: more than 64 levels deep" "$T/revoke.err" \
    || fail "deep: $(cat "$T/revoke.err")"
"$JITCTL" -c "$CONF" list | grep -q '^bob .*disable_failed' || fail "bob not listed: $("$JITCTL" -c "$CONF" list)"
ok "a tree of the uid deeper than 64 levels fails the teardown: disable_failed; nobody's is passed by"
rm -rf "$T/vartmp/deep" "$T/vartmp/ndeep"
/usr/bin/python3 -c 'import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.execute("UPDATE accounts SET retry_at = 0 WHERE name = ?", ("bob",)); db.commit()' "$STATE/state.db"
out=$("$JITCTL" -c "$CONF" reap 2>/dev/null)
expect_eq "retried once the tree is gone" "$out" "tore down bob: retry
reap: 1 due, 0 failed"

# A mount inside a directory of the uid (a FUSE mount of its own, say)
# hides what it covers, which would reappear once unmounted: the teardown
# fails until it is gone, then succeeds.
grant_json carl > "$G/carl.json"
pam_op carl acct_mgmt open_session || fail "carl: $(cat "$T/pam.out")"
expect_eq "carl has the one uid" "$(in_ns id -u carl)" "$uid"
setpriv --reuid="$uid" --regid="$uid" --clear-groups mkdir -p "$T/tmp/cdir/m/under"
rc=0
out=$(in_ns sh -c 'mount -t tmpfs tmpfs "$1/tmp/cdir/m" && "$2" -c "$3" revoke carl --reason "test mount" 2>"$1/revoke.err"' \
    sh "$T" "$JITCTL" "$CONF") || rc=$?
expect_eq "a mount in the uid's directory: teardown fails" "$rc:$out" "1:revoke carl: grant g-carl revoked on this host; account left in disable_failed"
grep -q "teardown of carl: scrub of uid $uid: $T/tmp/cdir/m: a mount inside a directory of uid $uid (unmount it)" "$T/revoke.err" \
    || fail "carl: $(cat "$T/revoke.err")"
[ -d "$T/tmp/cdir/m/under" ] || fail "what the mount covered went"
/usr/bin/python3 -c 'import sqlite3, sys; db = sqlite3.connect(sys.argv[1]); db.execute("UPDATE accounts SET retry_at = 0 WHERE name = ?", ("carl",)); db.commit()' "$STATE/state.db"
out=$("$JITCTL" -c "$CONF" reap 2>/dev/null)
expect_eq "retried once the mount is gone" "$out" "tore down carl: retry
reap: 1 due, 0 failed"
[ ! -e "$T/tmp/cdir" ] || fail "carl's directory survived"
ok "a mount inside a directory of the uid fails the teardown until it is gone"
