#!/bin/sh
# The main job, end to end: build pam-jit and install it into a private
# prefix; start a JIT API (the suite's loopback test server, standing in
# for the central one until contrib/jit-apid exists) holding a grant for
# alice with her SSH key; sync; start a real sshd with pam_jit and
# libnss_jit in a private mount namespace; log in as alice, look around,
# log out; see the account and its home disappear, the audit trail, and a
# login without a grant refused.
#
# Everything lives under $DEMO (default /tmp/pam-jit-demo) and in private
# mount namespaces; this machine's /etc and /home are never changed.
set -eu
cd "$(dirname "$0")/.."
SRC=$(pwd)
DEMO=${DEMO:-/tmp/pam-jit-demo}
PREFIX=$DEMO/prefix
step() { printf '\n== %s\n' "$*"; }
say() { printf '   %s\n' "$*"; }
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (namespaces, sshd)" >&2; exit 1; }

PIDS=
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    [ ! -s "$DEMO/sshd.pid" ] || kill "$(cat "$DEMO/sshd.pid")" 2>/dev/null || true
}
trap cleanup EXIT

step "Installing build and test dependencies (Debian packages)"
sh scripts/deps.sh

step "Building and installing into $PREFIX"
rm -rf "$DEMO"
mkdir -p "$DEMO/build"
chmod 755 "$DEMO"
[ ! -f Makefile ] || make distclean >/dev/null
[ -x configure ] || autoreconf -fi >/dev/null 2>&1
(cd "$DEMO/build" && "$SRC/configure" -q --prefix="$PREFIX" \
    && make -s -j2 >/dev/null && make -s install >/dev/null)
NSSDIR=$(dirname "$(find "$PREFIX" -name libnss_jit.so.2 | head -1)")
PAMMOD=$PREFIX/lib/security/pam_jit.so
JITCTL=$PREFIX/sbin/jitctl
ls -l "$NSSDIR/libnss_jit.so.2" "$PAMMOD" "$JITCTL" | sed 's/^/   /'

step "Starting the JIT API on 127.0.0.1 (TLS with a demo CA, bearer token)"
sh tests/api/mkcerts.sh "$DEMO/certs" >/dev/null 2>&1
mkdir -p "$DEMO/api/grants" "$DEMO/api/faults"
printf 'demo-host-token\n' > "$DEMO/token"
chmod 600 "$DEMO/token"
/usr/bin/python3 tests/api/jit-test-api.py --dir "$DEMO/api" --cert "$DEMO/certs/server.pem" \
    --key "$DEMO/certs/server.key" --token demo-host-token >/dev/null 2>"$DEMO/api.log" </dev/null &
PIDS="$PIDS $!"
for i in $(seq 1 100); do [ -s "$DEMO/api/port" ] && break; sleep 0.05; done
PORT=$(cat "$DEMO/api/port")
say "https://127.0.0.1:$PORT/ (pid $!)"

step "Writing $PREFIX/etc/jit/jit.conf"
mkdir -p "$PREFIX/etc/jit" "$DEMO/skel"
echo 'echo "Welcome, $(id -un). This account ends with its grant."' > "$DEMO/skel/.profile"
cat > "$PREFIX/etc/jit/jit.conf" <<CONF
api_url = https://127.0.0.1:$PORT/
host = web01.example.com
ca_file = $DEMO/certs/ca.pem
token_file = $DEMO/token
home_base = $DEMO/home
skel = $DEMO/skel
allowed_groups = users,video
CONF
chmod 600 "$PREFIX/etc/jit/jit.conf"
sed 's/^/   /' "$PREFIX/etc/jit/jit.conf"

step "The central side grants alice the credential db-admin for 10 minutes"
ssh-keygen -q -t ed25519 -N '' -C alice@laptop -f "$DEMO/alice_key"
/usr/bin/python3 - "$DEMO/api/grants/alice.json" "$(cat "$DEMO/alice_key.pub")" <<'PY'
import datetime, json, sys
now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
fmt = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
g = {"id": "g-7f3a", "credential": "db-admin", "requester": "alice@EXAMPLE.COM",
     "username": "alice", "host": "web01.example.com", "groups": ["users", "video"],
     "not_before": fmt(now), "expires_at": fmt(now + datetime.timedelta(minutes=10)),
     "reason": "INC-4411 restart replica", "status": "active", "on_logout": "delete",
     "ssh_keys": [sys.argv[2]]}
open(sys.argv[1], "w").write(json.dumps(g, indent=1))
PY
sed 's/^/   /' "$DEMO/api/grants/alice.json"

step "jitctl sync: the host learns its grants and reserves alice's account"
"$JITCTL" sync 2>&1 | sed 's/^/   /'
"$JITCTL" list | sed 's/^/   /'

step "Starting sshd on 127.0.0.1 with pam_jit (private namespace)"
ssh-keygen -q -t ed25519 -N '' -f "$DEMO/host_key"
SPORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$DEMO/pam.d" "$DEMO/nsslib" "$DEMO/home"
chmod 755 "$DEMO/home"
cp "$NSSDIR/libnss_jit.so.2" "$DEMO/nsslib/"
cat > "$DEMO/pam.d/sshd" <<SVC
auth     required  pam_deny.so
account  [success=ok ignore=ignore default=die]  $PAMMOD
account  required  pam_unix.so
session  [success=ok ignore=ignore default=die]  $PAMMOD
session  required  pam_unix.so
password required  pam_deny.so
SVC
printf 'auth required pam_deny.so\naccount required pam_deny.so\nsession required pam_deny.so\npassword required pam_deny.so\n' \
    > "$DEMO/pam.d/other"
sed -e 's/^passwd:.*/passwd: files jit/' -e 's/^group:.*/group: files jit/' \
    -e 's/^shadow:.*/shadow: files jit/' /etc/nsswitch.conf > "$DEMO/nsswitch.conf"
cat > "$DEMO/sshd_config" <<CFG
ListenAddress 127.0.0.1:$SPORT
HostKey $DEMO/host_key
PidFile $DEMO/sshd.pid
UsePAM yes
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile none
AuthorizedKeysCommand /run/jit/authorized-keys %u
AuthorizedKeysCommandUser root
StrictModes no
CFG
# A syslog receiver for the audit trail (no syslogd runs here).
/usr/bin/python3 tests/syslog-sink.py "$DEMO/devlog" "$DEMO/syslog" >/dev/null 2>&1 </dev/null &
PIDS="$PIDS $!"
for i in $(seq 1 100); do [ -S "$DEMO/devlog" ] && break; sleep 0.05; done
LIBDIR=/usr/lib/$(gcc -print-multiarch)
cat > "$DEMO/run-sshd.sh" <<RUN
#!/bin/sh
set -e
mkdir -p $DEMO/olddev
mount --bind /dev $DEMO/olddev
mount -t tmpfs -o mode=755 tmpfs /dev
for n in null zero full random urandom tty ptmx; do
    [ -e $DEMO/olddev/\$n ] || continue
    touch /dev/\$n; mount --bind $DEMO/olddev/\$n /dev/\$n
done
for d in pts shm; do
    [ -d $DEMO/olddev/\$d ] || continue
    mkdir /dev/\$d; mount --bind $DEMO/olddev/\$d /dev/\$d
done
ln -s /proc/self/fd /dev/fd
touch /dev/log; mount --bind $DEMO/devlog /dev/log
mount --bind $DEMO/nsswitch.conf /etc/nsswitch.conf
mount --bind $DEMO/pam.d /etc/pam.d
mount -t overlay overlay -o lowerdir=$DEMO/nsslib:$LIBDIR $LIBDIR
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -m 755 /run/sshd /run/jit
printf '#!/bin/sh\nexec $JITCTL authorized-keys "\$1"\n' > /run/jit/authorized-keys
chmod 755 /run/jit/authorized-keys
exec /usr/sbin/sshd -D -e -f $DEMO/sshd_config
RUN
chmod 755 "$DEMO/run-sshd.sh"
unshare -m --propagation private "$DEMO/run-sshd.sh" > "$DEMO/sshd.log" 2>&1 &
for i in $(seq 1 100); do grep -q "Server listening" "$DEMO/sshd.log" 2>/dev/null && break; sleep 0.05; done
say "sshd on 127.0.0.1:$SPORT, pid $(cat "$DEMO/sshd.pid")"
say "sshd_config: AuthorizedKeysCommand jitctl authorized-keys %u"
say "pam.d/sshd:  account/session [success=ok ignore=ignore default=die] pam_jit.so"

sshc() {
    u=$1
    shift
    ssh -p "$SPORT" -i "$DEMO/alice_key" -o BatchMode=yes -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes -o LogLevel=ERROR "$u@127.0.0.1" "$@"
}

step "alice logs in with her key and looks around"
say "\$ ssh alice@127.0.0.1 'id; echo \$HOME; ls -ld \$HOME; getent passwd alice'"
sshc alice 'id; echo "$HOME"; ls -ld "$HOME"; getent passwd alice' 2>&1 | sed 's/^/   /'

step "After logout (on_logout: delete) the account and its home are gone"
for i in $(seq 1 100); do [ -e "$DEMO/home/alice" ] || break; sleep 0.05; done
"$JITCTL" list | sed 's/^/   /'
ls -la "$DEMO/home" | sed 's/^/   /'

step "bob has no grant: refused"
cp "$DEMO/alice_key.pub" "$DEMO/bob.pub"
if sshc bob true 2>&1 | sed 's/^/   /'; then :; fi

step "The audit trail (syslog, facility authpriv)"
sed 's/^/   /' "$DEMO/syslog"

step "Events waiting in the outbox for the API"
/usr/bin/python3 - "$PREFIX/var/lib/jit/state.db" <<'PY'
import sqlite3, sys
for row in sqlite3.connect(sys.argv[1]).execute(
        "SELECT datetime(time, 'unixepoch'), type, username, grant_id FROM events ORDER BY rowid"):
    print("   %s  %-16s %-6s %s" % row)
PY

step "Done; this machine's own /etc was never touched (private namespaces)"
getent passwd alice >/dev/null || say "outside the namespace: alice: not found, as it should be"
