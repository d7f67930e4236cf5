#!/bin/sh
# SPDX-License-Identifier: MIT
# libnss_jit through real glibc: getent passwd|group|shadow|initgroups, id,
# enumeration, glibc's ERANGE retry, removal, hostile snapshots, and
# no network or file locks on the lookup path (doc/design.md, threats E4,
# E1).
. "$top_srcdir/tests/integration/lib.sh"
require_ns
setup_env

"$FIXTURE" --config "$CONF" add alice --groups users,video >/dev/null
"$FIXTURE" --config "$CONF" add bob >/dev/null
# A 2000-byte credential makes a gecos bigger than glibc's first buffer.
long=$(printf 'c%.0s' $(seq 1 2000))
"$FIXTURE" --config "$CONF" add carol --credential "$long" >/dev/null

expect_eq "getent passwd alice" "$(in_ns getent passwd alice)" \
    "alice:x:70000:70000:JIT db-admin:/home/jit/alice:/bin/bash"
expect_eq "getent passwd 70001" "$(in_ns getent passwd 70001)" \
    "bob:x:70001:70001:JIT db-admin:/home/jit/bob:/bin/bash"
expect_eq "getent group alice" "$(in_ns getent group alice)" "alice:x:70000:"
expect_eq "getent group 70001" "$(in_ns getent group 70001)" "bob:x:70001:"
users=$(getent group users | cut -d: -f3)
video=$(getent group video | cut -d: -f3)
expect_eq "getent initgroups alice" "$(in_ns getent initgroups alice)" \
    "alice                 $users $video"
expect_eq "getent initgroups bob" "$(in_ns getent initgroups bob | tr -d ' ')" "bob"
expect_eq "id alice" "$(in_ns id alice)" \
    "uid=70000(alice) gid=70000(alice) groups=70000(alice),$users(users),$video(video)"
expect_eq "id -gn bob" "$(in_ns id -gn bob)" "bob"
expect_eq "as nobody: getent passwd alice" \
    "$(in_ns setpriv --reuid=65534 --regid=65534 --clear-groups getent passwd alice | cut -d: -f1,3)" \
    "alice:70000"

# shadow: locked, and sp_expire is the first day boundary after expiry.
sp=$(in_ns getent shadow alice)
day_now=$(( $(date +%s) / 86400 ))
case "$sp" in
    alice:!\*:$day_now:::::*) ok "getent shadow alice: locked, lstchg today" ;;
    *) fail "getent shadow alice: $sp" ;;
esac
expire=$(echo "$sp" | cut -d: -f8)
want=$(( ($(date +%s) + 3600 + 86399) / 86400 ))
[ "$expire" = "$want" ] || [ "$expire" = "$((want - 1))" ] || [ "$expire" = "$((want + 1))" ] \
    || fail "sp_expire $expire, want about $want"
ok "sp_expire is the expiry day ($expire)"

got=$(in_ns getent passwd carol | cut -d: -f5 | wc -c)
expect_eq "long entry through glibc's ERANGE retry" "$got" "2005"

all=$(in_ns getent passwd)
echo "$all" | grep -q '^root:x:0:0:' || fail "enumeration lost files' root"
for u in alice bob carol; do
    echo "$all" | grep -q "^$u:x:" || fail "enumeration lacks $u"
done
ok "getent passwd enumerates files and jit"
expect_eq "getent group enumeration" \
    "$(in_ns getent group | grep -c ':x:7000[0-2]:$')" "3"
expect_eq "getent shadow enumeration" \
    "$(in_ns getent shadow | grep -cE '^(alice|bob|carol):!\*:')" "3"

in_ns getent passwd nosuchuser >/dev/null && fail "nosuchuser resolved"
in_ns getent passwd 70999 >/dev/null && fail "uid 70999 resolved"
ok "unknown names and ids are not found"
expect_eq "files still answer first" "$(in_ns getent passwd root | cut -d: -f1,3)" "root:0"

"$FIXTURE" --config "$CONF" delete bob
in_ns getent passwd bob >/dev/null && fail "bob still resolves after delete"
in_ns getent group 70001 >/dev/null && fail "bob's group still resolves"
ok "a deleted account is gone for new processes"

# No network and no file locks on the lookup path (doc/design.md, threat
# E1).  glibc itself asks nscd over a Unix socket first; that is not ours, and it also shows
# that strace really traced the lookup.
if command -v strace >/dev/null; then
    in_ns strace -f -qq -e trace=connect,sendto,sendmsg,flock,fcntl \
        -o "$T/strace" getent passwd alice >/dev/null
    grep -q 'connect(' "$T/strace" || fail "strace saw nothing (is it tracing?)"
    bad=$(grep -v 'sun_path="/var/run/nscd/socket"' "$T/strace" \
        | grep -E 'connect\(|sendto\(|sendmsg\(|flock\(|F_SETLK|F_OFD' || true)
    [ -z "$bad" ] || fail "lookup path did network or locking: $bad"
    ok "lookup path: no connect, send or lock of ours (strace)"
else
    skip_case "strace not installed: the syscall check (doc/design.md, threat E1)"
fi

# Hostile snapshots: each makes every lookup "not found", never a crash.
db=$STATE/nss.db
cp -p "$db" "$T/good.db"
hostile() {
    what=$1
    set +e
    in_ns getent passwd alice > "$T/out" 2>&1; rc=$?
    set -e
    [ $rc = 2 ] || fail "$what: getent rc $rc ($(cat "$T/out"))"
    cp -p "$T/good.db" "$db.tmp" && mv "$db.tmp" "$db"
    ok "hostile snapshot: $what -> not found"
}
chmod g+w "$db"; hostile "group-writable"
chmod o+w "$db"; hostile "world-writable"
chown nobody "$db"; hostile "owned by nobody"
head -c 100 "$T/good.db" > "$db.tmp" && mv "$db.tmp" "$db"; hostile "truncated"
: > "$db"; hostile "empty"
head -c 4096 /dev/urandom > "$db"; hostile "random bytes"
cp "$T/good.db" "$db.tmp"
printf 'X' | dd of="$db.tmp" bs=1 seek=0 conv=notrunc 2>/dev/null
mv "$db.tmp" "$db"; hostile "wrong magic"
cp "$T/good.db" "$db.tmp"
size=$(stat -c %s "$db.tmp")
printf '\377' | dd of="$db.tmp" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
mv "$db.tmp" "$db"; hostile "a flipped byte"
rm "$db"; ln -s "$T/good.db" "$db"; hostile "a symlink"
rm "$db"; mkdir "$db"; set +e; in_ns getent passwd alice >/dev/null; rc=$?; set -e
rmdir "$db"; cp -p "$T/good.db" "$db"
[ $rc = 2 ] || fail "directory as snapshot: rc $rc"
ok "hostile snapshot: a directory -> not found"
expect_eq "good snapshot back" "$(in_ns getent passwd alice | cut -d: -f1)" "alice"
