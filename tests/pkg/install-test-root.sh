#!/bin/sh
# SPDX-License-Identifier: MIT
# Run by install-test.sh inside the throwaway root (an overlay of the
# running system, chrooted into, in its own PID and network namespaces):
# install, configure, grant, resolve, log in, remove, purge, compare.
set -eu
W=/root/pkgtest
cd "$W"
PIDS=
fail() { echo "FAIL: $*"; stop_all; exit 1; }
ok() { echo "ok - $*"; }
stop_all() {
    [ ! -f "$W/sshd.pid" ] || PIDS="$PIDS $(cat "$W/sshd.pid")"
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $PIDS; do
        wait_for 30 sh -c '! kill -0 "$1" 2>/dev/null' sh "$p" >/dev/null || true
    done
    PIDS=
}
# wait_for, as the suite's (copied in beside this script).
. "$W/wait.sh"
# What must come back byte for byte after the purge: the files, their
# types, modes and owners, and the bytes of each.
snapshot() {
    sha256sum /etc/nsswitch.conf
    find /etc/pam.d /etc/ssh -printf '%p %y %m %u:%g %l\n' | sort
    find /etc/pam.d /etc/ssh -type f -print0 | sort -z | xargs -0 sha256sum
}

# man-db's trigger rebuilds its index for minutes; nothing here reads it.
rm -f /var/lib/man-db/auto-update
snapshot > "$W/before"

# ---- install
dpkg -i "$W"/*.deb > "$W/dpkg-install.out" 2>&1 \
    || fail "dpkg -i: $(tail -20 "$W/dpkg-install.out")"
for p in libnss-jit libpam-jit jitctl jit-apid jit; do
    dpkg-query -W -f='${Status}\n' "$p" | grep -q 'install ok installed' || fail "$p not installed"
done
ok "dpkg -i installed libnss-jit libpam-jit jitctl jit-apid jit"
for db in passwd group shadow; do
    grep -qE "^$db:.*[[:space:]]jit\$" /etc/nsswitch.conf \
        || fail "nsswitch.conf: no jit after the other sources of $db: $(grep "^$db:" /etc/nsswitch.conf)"
done
ok "nsswitch.conf: $(grep '^passwd:' /etc/nsswitch.conf | tr -s ' ')"
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
[ -f "/lib/$multiarch/security/pam_jit.so" ] || fail "pam_jit.so is not in /lib/$multiarch/security"
# Its login backend (doc/design.md, F7): root's, not writable by others,
# where pam_jit.so was built to look.
bk=/usr/lib/$multiarch/pam-jit/pam_jit_login.so
[ "$(stat -c '%U %a' "$bk" 2>/dev/null)" = "root 644" ] \
    || fail "$bk: not installed root's 0644: $(ls -l "$bk" 2>&1)"
grep -qF "$bk" "/lib/$multiarch/security/pam_jit.so" || fail "pam_jit.so does not look for $bk"
# ... and the API client beside it (doc/design.md, F8).
net=/usr/lib/$multiarch/pam-jit/pam_jit_net.so
[ "$(stat -c '%U %a' "$net" 2>/dev/null)" = "root 644" ] \
    || fail "$net: not installed root's 0644: $(ls -l "$net" 2>&1)"
# The profile is on at install (doc/design.md, R16): with no jit.conf
# yet, pam_jit ignores users it does not hold, so local ones log in.
for s in account session; do
    first=$(grep -E "^$s[[:space:]]" "/etc/pam.d/common-$s" | grep -nE 'pam_(jit|unix)\.so' | head -1)
    case $first in
        *pam_jit.so*) ;;
        *) fail "common-$s: pam_jit is not on before pam_unix at install: $(grep -v '^#' "/etc/pam.d/common-$s")" ;;
    esac
done
[ ! -e /etc/jit/jit.conf ] || fail "/etc/jit/jit.conf exists before the admin wrote it"
su -s /bin/sh nobody -c 'echo su-ok' > "$W/su-unconf.out" 2>&1 \
    || fail "su to a local user through the stock stack, pam_jit on, no jit.conf: $(cat "$W/su-unconf.out")"
grep -q su-ok "$W/su-unconf.out" || fail "su: $(cat "$W/su-unconf.out")"
ok "pam_jit.so in /lib/$multiarch/security, on in common-account and common-session at install; with no jit.conf a local user (su nobody) still gets in"
[ -L /etc/systemd/system/multi-user.target.wants/jit-reaper.service ] \
    || fail "jit-reaper.service is not enabled"
[ ! -e /etc/systemd/system/timers.target.wants/jit-sync.timer ] \
    || fail "jit-sync.timer is enabled beside the daemon"
grep -q '^ConditionPathExists=/etc/jit/jit.conf$' /lib/systemd/system/jit-reaper.service \
    || fail "jit-reaper.service starts without jit.conf"
ok "jit-reaper.service enabled (starts once /etc/jit/jit.conf exists), jit-sync.timer not"
getent passwd jit-apid >/dev/null || fail "no system user jit-apid"
[ "$(stat -c '%U %a' /var/lib/jit-apid)" = "jit-apid 700" ] \
    || fail "/var/lib/jit-apid: $(stat -c '%U %a' /var/lib/jit-apid)"
grep -q '^User=jit-apid$' /lib/systemd/system/jit-apid.service || fail "jit-apid.service runs as root"
ok "jit-apid: system user jit-apid, /var/lib/jit-apid its own (0700), unit with User=jit-apid"
[ "$(cat /etc/ssh/sshd_config.d/jit.conf | grep -v '^#')" = "UsePAM yes
AuthorizedKeysCommand /usr/sbin/jitctl authorized-keys %u
AuthorizedKeysCommandUser root" ] || fail "sshd drop-in: $(cat /etc/ssh/sshd_config.d/jit.conf)"
ok "sshd drop-in /etc/ssh/sshd_config.d/jit.conf"

# ---- the central server, from its package and its example files
E=/usr/share/pam-jit
mkdir -p /etc/jit/apid
( cd /etc/jit/apid
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
      -keyout ca.key -out ca.pem -subj /CN=pkg-test-ca \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign >/dev/null 2>&1
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout server.key -out server.csr -subj /CN=127.0.0.1 >/dev/null 2>&1
  printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > ext
  openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
      -extfile ext -out server.pem >/dev/null 2>&1 ) || fail "openssl: test certificates"
printf 'web01.example.com pkg-test-host-token-0123456789\n' > /etc/jit/apid/host-tokens
printf 'alice@EXAMPLE.COM requester pkg-test-alice-token-0123456789\n' > /etc/jit/apid/people
cp "$E/jit-apid/policies.json" /etc/jit/apid/policies.json
sed -e 's|^listen = .*|listen = 127.0.0.1:0|' -e '/^client_ca = /d' -e '/^alerts = /d' \
    "$E/jit-apid/jit-apid.conf" > /etc/jit/jit-apid.conf
chown -R jit-apid:jit-apid /etc/jit/apid
chmod 600 /etc/jit/apid/*
chown root:jit-apid /etc/jit/jit-apid.conf
chmod 640 /etc/jit/jit-apid.conf
# As the unit runs it: its user, in the foreground (no systemd here).
setpriv --reuid=jit-apid --regid=jit-apid --init-groups \
    /usr/sbin/jit-apid -c /etc/jit/jit-apid.conf 2> "$W/apid.log" < /dev/null &
PIDS="$PIDS $!"
wait_for 30 grep -q 'serving on' "$W/apid.log" >/dev/null || fail "jit-apid: $(cat "$W/apid.log")"
PORT=$(sed -n 's/^jit-apid: serving on 127.0.0.1://p' "$W/apid.log")
[ -f /var/lib/jit-apid/apid.db ] || fail "jit-apid keeps no database in /var/lib/jit-apid"
ok "jit-apid as jit-apid on 127.0.0.1:$PORT, its database in /var/lib/jit-apid"

# ---- the host: the example jit.conf, with this API, host and uid range
cp /etc/jit/apid/ca.pem /etc/jit/ca.pem
printf 'pkg-test-host-token-0123456789\n' > /etc/jit/token
chmod 600 /etc/jit/token
sed -e "s|^api_url = .*|api_url = https://127.0.0.1:$PORT/|" "$E/jit.conf.example" > /etc/jit/jit.conf
printf 'uid_min = 99000\nuid_max = 99099\n' >> /etc/jit/jit.conf
chmod 600 /etc/jit/jit.conf
jitctl check-config > "$W/check-config.out" 2>&1 || fail "jitctl check-config: $(cat "$W/check-config.out")"
# An admin who had switched the profile off switches it on again; a
# second --enable changes nothing.
pam-auth-update --enable jit > "$W/pam-auth-update.out" 2>&1 \
    || fail "pam-auth-update --enable jit: $(cat "$W/pam-auth-update.out")"
# The stock lines come after pam_jit's in the account and session stacks.
for s in account session; do
    first=$(grep -E "^$s[[:space:]]" "/etc/pam.d/common-$s" | grep -nE 'pam_(jit|unix)\.so' | head -1)
    case $first in
        *pam_jit.so*) ;;
        *) fail "common-$s: pam_jit is not before pam_unix: $(grep -v '^#' "/etc/pam.d/common-$s")" ;;
    esac
done
ok "jitctl check-config passes; pam_jit before pam_unix in common-account and common-session"

# ---- a grant, asked for with jit, resolves and logs in over ssh
ssh-keygen -q -t ed25519 -N '' -f "$W/alice" -C alice@laptop
printf 'pkg-test-alice-token-0123456789\n' > "$W/alice.token"
chmod 600 "$W/alice.token"
jit --url "https://127.0.0.1:$PORT" --ca-file /etc/jit/apid/ca.pem --token-file "$W/alice.token" \
    request --credential oncall --host web01.example.com --duration 30m \
    --reason "package install test" --ssh-key-file "$W/alice.pub" > "$W/jit.out" 2>&1 \
    || fail "jit request: $(cat "$W/jit.out")"
jitctl sync > "$W/sync.out" 2>&1 || fail "jitctl sync: $(cat "$W/sync.out")"
pw=$(getent passwd alice) || fail "alice does not resolve: $(cat "$W/sync.out")"
uid=$(echo "$pw" | cut -d: -f3)
[ "$uid" -ge 99000 ] && [ "$uid" -le 99099 ] || fail "alice's uid $uid is outside 99000-99099"
ok "jit request, jitctl sync: getent passwd alice -> $pw"

ssh-keygen -q -t ed25519 -N '' -f "$W/host_ed25519"
mkdir -p -m 755 /run/sshd
cat > "$W/sshd_config" <<CFG
Include /etc/ssh/sshd_config.d/*.conf
ListenAddress 127.0.0.1:2222
HostKey $W/host_ed25519
PidFile $W/sshd.pid
AuthorizedKeysFile none
PasswordAuthentication no
KbdInteractiveAuthentication no
LogLevel VERBOSE
CFG
/usr/sbin/sshd -t -f "$W/sshd_config" || fail "sshd -t"
/usr/sbin/sshd -D -e -f "$W/sshd_config" > "$W/sshd.log" 2>&1 &
PIDS="$PIDS $!"
wait_for 30 grep -q 'Server listening' "$W/sshd.log" >/dev/null || fail "sshd: $(cat "$W/sshd.log")"
out=$(ssh -p 2222 -i "$W/alice" -o BatchMode=yes -o StrictHostKeyChecking=no \
      -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o LogLevel=ERROR \
      alice@127.0.0.1 'id -un; id -u; pwd' 2> "$W/ssh.err") \
    || fail "ssh alice: $(cat "$W/ssh.err"); sshd: $(tail -20 "$W/sshd.log")"
[ "$(echo $out)" = "alice $uid /home/jit/alice" ] || fail "ssh alice ran as: $out"
ok "ssh alice@127.0.0.1 (key from the grant, stock /etc/pam.d/sshd): $(echo $out)"
# The example policy's grant says on_logout "delete": pam_jit's session
# close in sshd ends the account at her last logout.
wait_for 30 sh -c '! getent passwd alice >/dev/null' >/dev/null \
    || fail "alice's account outlived her logout: $(getent passwd alice)"
ok "her logout ended the account (on_logout: delete): getent passwd alice finds nothing"

# ---- jitctl doctor on the host as configured: the daemon as its unit
# would run it (no systemd here), then no check fails.
jitctl daemon 2> "$W/daemon.log" < /dev/null &
PIDS="$PIDS $!"
wait_for 30 sh -c 'jitctl status | grep -q "^daemon: *running"' >/dev/null \
    || fail "jitctl daemon: $(jitctl status); $(cat "$W/daemon.log")"
jitctl doctor > "$W/doctor.out" 2>&1 || fail "jitctl doctor: $(grep -v '^ok ' "$W/doctor.out")"
grep -v '^ok ' "$W/doctor.out" || true
ok "jitctl doctor: $(grep -c '^ok ' "$W/doctor.out") checks ok, none failed"
stop_all
ok "sshd and jit-apid stopped"

# ---- installed again over itself (an upgrade's maintainer script path:
# configure with the old version): nothing doubled, the administrator's
# choices kept.  The administrator took jit out of group: it stays out.
sed -i -E '/^group:/ s/[[:space:]]jit$//' /etc/nsswitch.conf
cp /etc/nsswitch.conf "$W/nsswitch.admin"
dpkg -i "$W"/*.deb > "$W/dpkg-again.out" 2>&1 || fail "dpkg -i again: $(tail -20 "$W/dpkg-again.out")"
cmp -s /etc/nsswitch.conf "$W/nsswitch.admin" \
    || fail "an upgrade changed nsswitch.conf: $(diff "$W/nsswitch.admin" /etc/nsswitch.conf)"
[ "$(grep -cE '^(account|session)[[:space:]].*pam_jit\.so' /etc/pam.d/common-account /etc/pam.d/common-session \
     | cut -d: -f2 | tr '\n' ' ')" = "1 1 " ] || fail "pam_jit lines after an upgrade: $(grep -r pam_jit /etc/pam.d)"
ok "installed again: nsswitch.conf as the administrator left it (jit out of group), pam_jit once in each stack"

# ---- remove, then purge
dpkg -r jit jit-apid jitctl libpam-jit libnss-jit > "$W/dpkg-remove.out" 2>&1 \
    || fail "dpkg -r: $(tail -20 "$W/dpkg-remove.out")"
grep -rq pam_jit /etc/pam.d && fail "pam_jit left in /etc/pam.d after remove: $(grep -rl pam_jit /etc/pam.d)"
ok "dpkg -r: pam_jit's lines left /etc/pam.d"
dpkg -P jit jit-apid jitctl libpam-jit libnss-jit > "$W/dpkg-purge.out" 2>&1 \
    || fail "dpkg -P: $(tail -20 "$W/dpkg-purge.out")"
for p in libnss-jit libpam-jit jitctl jit-apid jit; do
    if dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'installed\|config-files'; then
        fail "$p still known to dpkg after purge"
    fi
done
[ ! -e /var/lib/jit ] || fail "/var/lib/jit left after purge"
[ ! -e /var/lib/jit-apid ] || fail "/var/lib/jit-apid left after purge"
snapshot > "$W/after"
cmp -s "$W/before" "$W/after" || fail "not as before: $(diff "$W/before" "$W/after")"
ok "dpkg -P: /etc/nsswitch.conf, /etc/pam.d and /etc/ssh byte for byte as before ($(grep -c . "$W/before") lines compared)"

# ---- a first install onto a host with a jit.conf that jitctl rejects:
# the profile stays off (a broken file would refuse every login), and
# the admin is told; local users log in through the stock stack.
mkdir -p /etc/jit
printf 'api_url = not a url\nno_such_key = 1\n' > /etc/jit/jit.conf
chmod 600 /etc/jit/jit.conf
dpkg -i "$W"/*.deb > "$W/dpkg-broken.out" 2>&1 || fail "dpkg -i with a broken jit.conf: $(tail -20 "$W/dpkg-broken.out")"
grep -q 'pam_jit is left off' "$W/dpkg-broken.out" || fail "no word of the broken jit.conf: $(cat "$W/dpkg-broken.out")"
grep -rq pam_jit /etc/pam.d && fail "pam_jit on with a broken jit.conf: $(grep -r pam_jit /etc/pam.d)"
su -s /bin/sh nobody -c 'id -un' > "$W/su-broken.out" 2>&1 || fail "su nobody: $(cat "$W/su-broken.out")"
ok "first install with a jit.conf that check-config rejects: the profile left off, the admin told, su nobody works"
dpkg -P jit jit-apid jitctl libpam-jit libnss-jit > "$W/dpkg-purge2.out" 2>&1 \
    || fail "dpkg -P again: $(tail -20 "$W/dpkg-purge2.out")"
rm -f /etc/jit/jit.conf
rmdir /etc/jit 2>/dev/null || true
snapshot > "$W/after2"
cmp -s "$W/before" "$W/after2" || fail "not as before after the second purge: $(diff "$W/before" "$W/after2")"
ok "purged again: as before"
echo "PASS: the packages install, work and purge cleanly"
