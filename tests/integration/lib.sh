# Shared helpers for the integration tests (sourced, POSIX sh).
#
# They run the built libnss_jit through real glibc inside a private mount
# namespace: our own /etc/nsswitch.conf is bind-mounted there, and the test
# state directory over the compiled-in one, so nothing of this machine's
# /etc or /var changes.  Without root or unshare they skip (exit 77).

set -eu

: "${top_builddir:?run through make check}"
: "${top_srcdir:?run through make check}"
: "${JIT_STATE_DIR_BUILTIN:?run through make check}"

FIXTURE=$top_builddir/tests/helpers/jit-fixture
JITCTL=$top_builddir/jitctl/jitctl
NSSLIBS=$top_builddir/nss_jit/.libs
NSSMOD=$NSSLIBS/libnss_jit.so.2

# printf, not echo: dash's echo would expand the backslashes we test for.
skip() { printf 'SKIP: %s\n' "$*"; exit 77; }
fail() { printf 'FAIL: %s\n' "$*"; exit 1; }
ok() { printf 'ok - %s\n' "$*"; }

require_ns() {
    [ "$(id -u)" = 0 ] || skip "needs root (mount namespaces)"
    command -v unshare >/dev/null || skip "needs unshare(1)"
    unshare -m true 2>/dev/null || skip "unshare -m is not permitted here"
}

# With a sanitizer build, programs that load the module need its runtime.
PRELOAD=
if readelf -d "$NSSMOD" 2>/dev/null | grep -q 'libasan'; then
    PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
fi

# Host files that must come out of every test byte-identical.
HOST_FILES="/etc/passwd /etc/group /etc/shadow /etc/gshadow /etc/nsswitch.conf $(ls -d /etc/sudoers /etc/sudoers.d/* /etc/pam.d/* /etc/ssh/sshd_config 2>/dev/null | tr "\n" " ")"
host_sums() { sha256sum $HOST_FILES 2>/dev/null || true; }

# T: a fresh directory with jit.conf and a state dir; removed on exit.
setup_env() {
    T=$(mktemp -d /tmp/jit-it.XXXXXX)
    chmod 755 "$T"
    HOST_BEFORE=$(host_sums)
    trap 'cleanup_env' EXIT
    STATE=$T/state
    CONF=$T/jit.conf
    cat > "$CONF" <<CONF
api_url = https://jit.test.invalid
host = web01.test
state_dir = $STATE
allowed_groups = users,video
scrub_dirs = $T/scrub
CONF
    chmod 600 "$CONF"
    # The teardown's scrub walks this, never the machine's /tmp.
    mkdir -m 1777 "$T/scrub"
    sed -e 's/^passwd:.*/passwd: files jit/' -e 's/^group:.*/group: files jit/' \
        -e 's/^shadow:.*/shadow: files jit/' /etc/nsswitch.conf > "$T/nsswitch.conf"
    grep -q '^shadow:' "$T/nsswitch.conf" || echo 'shadow: files jit' >> "$T/nsswitch.conf"
}

cleanup_env() {
    rc=$?
    stop_pids
    after=$(host_sums)
    if [ "$after" != "$HOST_BEFORE" ]; then
        echo "FAIL: this machine's /etc changed during the test"
        rc=1
    fi
    [ ! -d "$T/home" ] || chattr -R -i "$T/home" >/dev/null 2>&1 || true
    rm -rf "$T"
    exit $rc
}

# in_ns CMD...: run CMD with the module active, in a private namespace.
in_ns() {
    if [ -n "$PRELOAD" ]; then
        set -- env LD_PRELOAD="$PRELOAD" ASAN_OPTIONS=detect_leaks=0 "$@"
    fi
    LD_LIBRARY_PATH=$NSSLIBS "$top_srcdir/tests/nsrun.sh" \
        "$JIT_STATE_DIR_BUILTIN" "$STATE" "$T/nsswitch.conf" - "$T" -- "$@"
}

# expect_eq WHAT GOT WANT
expect_eq() {
    [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
    ok "$1"
}

# Background servers this test started; stopped by pid on exit.
TEST_PIDS=
TEST_PIDFILES=
stop_pids() {
    for f in $TEST_PIDFILES; do
        [ -s "$f" ] && TEST_PIDS="$TEST_PIDS $(cat "$f")"
    done
    for p in $TEST_PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $TEST_PIDS; do wait "$p" 2>/dev/null || true; done
    TEST_PIDS= TEST_PIDFILES=
}

# start_api NAME CERT [server args]: the fault-injecting test API serving
# $T/NAME (grants/, faults/), TLS with the test CA's CERT; sets API_PORT.
# Not to be called in $(...): the server would hold the pipe open.
start_api() {
    _name=$1 _cert=$2
    shift 2
    [ -d "$T/certs" ] || sh "$top_srcdir/tests/api/mkcerts.sh" "$T/certs"
    mkdir -p "$T/$_name/grants" "$T/$_name/faults"
    /usr/bin/python3 "$top_srcdir/tests/api/jit-test-api.py" --dir "$T/$_name" \
        --cert "$T/certs/$_cert.pem" --key "$T/certs/$_cert.key" "$@" \
        >"$T/$_name/stdout" 2>"$T/$_name/stderr" </dev/null &
    TEST_PIDS="$TEST_PIDS $!"
    wait_for 30 test -s "$T/$_name/port" >/dev/null || true
    [ -s "$T/$_name/port" ] || fail "test API $_name did not start: $(cat "$T/$_name/stderr")"
    API_PORT=$(cat "$T/$_name/port")
}

# setup_pam: the test API ("api", token auth), a jit.conf pointing at it
# with homes under $T/home, and PAM service files in $T/pam.d.  The API
# timeout is 15 s: with 2 s, 41 of 50 parallel logins and a plain 500
# fault timed out on a busy machine (a test of the timeout sets its own).
PAMMOD=$top_builddir/pam_jit/.libs/pam_jit.so
setup_pam() {
    printf 's3cret-token\n' > "$T/token"
    chmod 600 "$T/token"
    start_api api server --token s3cret-token
    mkdir -p "$T/skel/.config" "$T/home" "$T/pam.d"
    mkdir -m 755 "$STATE"
    chmod 755 "$T/home"
    echo 'export PS1="jit$ "' > "$T/skel/.profile"
    echo 'x' > "$T/skel/.config/app"
    # Each test its own uid range: a teardown ends every process of its
    # uid on the machine, so tests run in parallel must never share one.
    case $(basename "$0") in
        sshd-e2e.sh) UID_MIN=71000 ;;      apid-e2e.sh) UID_MIN=72000 ;;
        archive.sh) UID_MIN=73000 ;;       crash.sh) UID_MIN=74000 ;;
        daemon-apidown.sh) UID_MIN=75000 ;; daemon.sh) UID_MIN=76000 ;;
        host-tools.sh) UID_MIN=77000 ;;    outbox.sh) UID_MIN=78000 ;;
        pam-concurrency.sh) UID_MIN=79000 ;; pam-hostile-home.sh) UID_MIN=80000 ;;
        pam-threads.sh) UID_MIN=81000 ;;   pam-valgrind.sh) UID_MIN=82000 ;;
        reap-stuck.sh) UID_MIN=83000 ;;    reap-twice.sh) UID_MIN=84000 ;;
        reap.sh) UID_MIN=85000 ;;
        scrub.sh) UID_MIN=86000 ;;         pam-namespace.sh) UID_MIN=87000 ;;
        sync-poison.sh) UID_MIN=88000 ;;   sync-groups.sh) UID_MIN=89000 ;;
        daemon-refusal.sh) UID_MIN=90000 ;; outbox-wake.sh) UID_MIN=91000 ;;
        keylog.sh) UID_MIN=92000 ;;        daemon-status.sh) UID_MIN=93000 ;;
        linger.sh) UID_MIN=94000 ;;        scrub-setgid.sh) UID_MIN=95000 ;;
        *) UID_MIN=70000 ;; # pam-login, jitctl-sync, api-spec: no process of theirs outlives a step
    esac
    # 96000-96999: the unit tests' (tests/unit/statelib.h), not for a case here.
    cat > "$CONF" <<CONF
uid_min = $UID_MIN
uid_max = $((UID_MIN + 999))
api_url = https://127.0.0.1:$API_PORT/
host = web01.test
state_dir = $STATE
ca_file = $T/certs/ca.pem
token_file = $T/token
timeout = 15
connect_timeout = 5
home_base = $T/home
skel = $T/skel
allowed_groups = users,video
scrub_dirs = $T/scrub
CONF
    chmod 600 "$CONF"
    # account: pam_jit, then pam_permit, so that PAM_IGNORE shows as
    # success (as a stack with pam_unix after it would).
    cat > "$T/pam.d/jittest" <<SVC
account  required  $PAMMOD config=$CONF
account  required  pam_permit.so
session  required  $PAMMOD config=$CONF
session  required  pam_permit.so
SVC
    printf 'auth required pam_deny.so\naccount required pam_deny.so\nsession required pam_deny.so\n' \
        > "$T/pam.d/other"
}

# grant_json USER [key=value...]: a grant for USER that fits, with fields
# overridden (values are JSON text: id='"g-2"').
grant_json() {
    _u=$1
    shift
    /usr/bin/python3 - "$_u" "$@" <<'PY'
import json, sys
u = sys.argv[1]
g = {"id": "g-" + u, "credential": "db-admin", "requester": u + "@EXAMPLE.COM",
     "username": u, "host": "web01.test", "groups": ["users", "video"],
     "not_before": "2026-01-01T00:00:00Z", "expires_at": "2036-01-01T00:00:00Z",
     "reason": "INC-1 test", "status": "active", "on_logout": "delete",
     "ssh_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDHkdrpAIOzm8kahQ+kwMFzo5hwUPnBeolqDxfp/ZNY5 " + u + "@laptop"]}
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    g[k] = json.loads(v)
print(json.dumps(g))
PY
}

# start_apid: jit-apid on 127.0.0.1 (a free port) in $T/apid, with the
# test CA's server certificate, client certificates from the test CA
# accepted, host tokens for web01.test and web02.test, people alice, bob,
# carol, dave and alice@OTHER.TEST (requesters) and boss (approver), and
# three policies: db-admin on the host group web (auto, 1 h, users and
# video, keep), root-ish on web01.test (approver, 10 min, users, delete,
# {user}-adm) and pick on the host group web (auto, 30 min, users,
# delete, {user} with username_choice).
# Sets APID_URL and APID_PORT; its log is $T/apid/log.  APID_LISTEN
# (default 127.0.0.1:0, a free port) restarts it where it was.
APID=${APID:-$top_builddir/contrib/jit-apid/jit-apid}
start_apid() {
    [ -d "$T/certs" ] || sh "$top_srcdir/tests/api/mkcerts.sh" "$T/certs"
    mkdir -p "$T/apid"
    printf 'web01.test host-token-web01-xxxxxxxx\nweb02.test host-token-web02-xxxxxxxx\n' > "$T/apid/hosts"
    cat > "$T/apid/people" <<PEOPLE
alice@EXAMPLE.COM requester alice-token-xxxxxxxxxx
bob@EXAMPLE.COM requester bob-token-xxxxxxxxxxxx
carol@EXAMPLE.COM requester carol-token-xxxxxxxxxx
dave@EXAMPLE.COM requester dave-token-xxxxxxxxxxx
boss@EXAMPLE.COM approver boss-token-xxxxxxxxxxx
alice@OTHER.TEST requester alice-other-token-xxxxxx
PEOPLE
    chmod 600 "$T/apid/hosts" "$T/apid/people" "$T/certs/server.key"
    cat > "$T/apid/policies.json" <<'POLICIES'
{"host_groups": {"web": ["web01.test", "web02.test"]},
 "policies": [
  {"name": "db-admin-web", "credential": "db-admin", "host_groups": ["web"],
   "max_duration": 3600, "groups": ["users", "video"], "on_logout": "keep",
   "username_template": "{user}", "approval": "auto"},
  {"name": "root-web", "credential": "root-ish", "hosts": ["web01.test"],
   "max_duration": 600, "groups": ["users"], "on_logout": "delete",
   "username_template": "{user}-adm", "approval": "approver"},
  {"name": "pick-web", "credential": "pick", "host_groups": ["web"],
   "max_duration": 1800, "groups": ["users"], "on_logout": "delete",
   "username_template": "{user}", "username_choice": true,
   "approval": "auto"}]}
POLICIES
    cat > "$T/apid/apid.conf" <<CONF
listen = ${APID_LISTEN:-127.0.0.1:0}
tls_cert = $T/certs/server.pem
tls_key = $T/certs/server.key
client_ca = $T/certs/ca.pem
database = ${APID_DATABASE:-sqlite:$T/apid/apid.db}
host_tokens = $T/apid/hosts
people = $T/apid/people
policies = $T/apid/policies.json
CONF
    [ -z "${APID_ALERTS:-}" ] || echo "alerts = $APID_ALERTS" >> "$T/apid/apid.conf"
    [ -z "${APID_EXTRA:-}" ] || printf '%s\n' "$APID_EXTRA" >> "$T/apid/apid.conf"
    chmod 600 "$T/apid/apid.conf"
    "$APID" -c "$T/apid/apid.conf" 2>"$T/apid/log" </dev/null &
    TEST_PIDS="$TEST_PIDS $!"
    APID_PID=$!
    wait_for 30 grep -q 'serving on' "$T/apid/log" >/dev/null 2>&1 || true
    APID_PORT=$(sed -n 's/^jit-apid: serving on 127.0.0.1://p' "$T/apid/log")
    [ -n "$APID_PORT" ] || fail "jit-apid did not start: $(cat "$T/apid/log")"
    APID_URL=https://127.0.0.1:$APID_PORT
}

# stop_apid: SIGTERM to the jit-apid of start_apid; it must stop cleanly
# (exit 0: under a sanitizer, a report at exit fails the test here).
# Sets APID_STOP_MS.
stop_apid() {
    _t0=$(date +%s%N)
    kill -TERM "$APID_PID"
    _rc=0; wait "$APID_PID" || _rc=$?
    APID_STOP_MS=$(( ($(date +%s%N) - _t0) / 1000000 ))
    [ $_rc = 0 ] || fail "jit-apid exit status $_rc: $(grep -A40 -m1 'Sanitizer' "$T/apid/log" || tail -5 "$T/apid/log")"
    grep -q 'jit-apid: stopping' "$T/apid/log" || fail "no stop: $(cat "$T/apid/log")"
}

# start_pg: a PostgreSQL server of Debian's packages on 127.0.0.1 (a free
# port), its data in $T/pg, run as the postgres user, trust on loopback;
# database jit.  Sets PG_PORT and PG_CONNINFO.
start_pg() {
    PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [ -n "$PGBIN" ] && id postgres >/dev/null 2>&1 || skip "needs PostgreSQL (package postgresql)"
    mkdir -p "$T/pg" "$T/pgsock"
    chown postgres "$T/pg" "$T/pgsock"
    setpriv --reuid=postgres --regid=postgres --init-groups \
        "$PGBIN/initdb" -D "$T/pg/data" -A trust -U postgres >"$T/pg/initdb.log" 2>&1 \
        || fail "initdb: $(tail -5 "$T/pg/initdb.log")"
    PG_PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    setpriv --reuid=postgres --regid=postgres --init-groups \
        "$PGBIN/postgres" -D "$T/pg/data" -h 127.0.0.1 -p "$PG_PORT" -k "$T/pgsock" \
        >"$T/pg/log" 2>&1 </dev/null &
    TEST_PIDS="$TEST_PIDS $!"
    wait_for 30 "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" >/dev/null || true
    "$PGBIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres jit \
        || fail "PostgreSQL did not start: $(tail -5 "$T/pg/log")"
    PG_CONNINFO="host=127.0.0.1 port=$PG_PORT user=postgres dbname=jit"
}

# wait_uid PID UID: until process PID runs as UID (setpriv has switched
# and exec'd), at most 30 s; a fixed pause is not enough under load.
wait_uid() {
    for _i in $(seq 1 300); do
        [ "$(awk '/^Uid:/ {print $2}' "/proc/$1/status" 2>/dev/null)" = "$2" ] \
            && [ "$(cat "/proc/$1/comm" 2>/dev/null)" != setpriv ] && return 0
        sleep 0.1
    done
    fail "process $1 never ran as uid $2"
}

# pam_op USER OP...: one login through the real libpam (pam_start_confdir
# on $T/pam.d, tests/helpers/pam-run) in the namespace; its output, with
# the module's syslog lines ("SYSLOG(prio): ...", through the syslog
# shim), in $PAM_OUT (default $T/pam.out), status returned.  PAM_UNDER
# (e.g. valgrind and its options) runs pam-run under another program.
PAMRUN=$top_builddir/tests/helpers/pam-run
SYSLOG_SHIM=$top_builddir/tests/helpers/.libs/libsyslog-shim.so
pam_op() {
    _user=$1
    shift
    set +e
    in_ns env LD_PRELOAD="${PRELOAD:+$PRELOAD }$SYSLOG_SHIM" \
        ${PAM_UNDER:-} "$PAMRUN" "$T/pam.d" jittest "$_user" "$@" \
        > "${PAM_OUT:-$T/pam.out}" 2>&1
    _rc=$?
    set -e
    return $_rc
}

# audit_has PATTERN: an audit line in the last pam_op's output matches.
audit_has() {
    grep -q -- "$1" "$T/pam.out" || fail "no audit line matching '$1' in: $(cat "$T/pam.out")"
}

# start_syslog: a receiver whose socket $T/devlog the namespace scripts
# bind over /dev/log (see ns_devlog); lines go to $T/syslog.
start_syslog() {
    /usr/bin/python3 "$top_srcdir/tests/syslog-sink.py" "$T/devlog" "$T/syslog" \
        >/dev/null 2>&1 </dev/null &
    TEST_PIDS="$TEST_PIDS $!"
    wait_for 30 test -S "$T/devlog" >/dev/null || true
    [ -S "$T/devlog" ] || fail "syslog sink did not start"
}

# ns_devlog: shell text for a namespace script: a private /dev (the
# machine's nodes bound in) whose /dev/log is $T/devlog.  Nothing is
# created in the machine's own /dev.
ns_devlog() {
    cat <<NS
mkdir -p $T/olddev
mount --bind /dev $T/olddev
mount -t tmpfs -o mode=755 tmpfs /dev
for n in null zero full random urandom tty ptmx; do
    [ -e $T/olddev/\$n ] || continue
    touch /dev/\$n; mount --bind $T/olddev/\$n /dev/\$n
done
for d in pts shm; do
    [ -d $T/olddev/\$d ] || continue
    mkdir /dev/\$d; mount --bind $T/olddev/\$d /dev/\$d
done
ln -s /proc/self/fd /dev/fd
touch /dev/log; mount --bind $T/devlog /dev/log
NS
}

# wait_for SECONDS CMD...: run CMD until it succeeds, at most SECONDS;
# prints the milliseconds it took, or fails (status 1) when time ran out.
wait_for() {
    _lim=$1
    shift
    _t0=$(date +%s%N)
    while ! "$@"; do
        [ $(( ($(date +%s%N) - _t0) / 1000000 )) -lt $((_lim * 1000)) ] || return 1
        sleep 0.05
    done
    echo $(( ($(date +%s%N) - _t0) / 1000000 ))
}

# slow_sleeps CMD...: run CMD (a command or a function, in a subshell)
# with a 50 ms timer slack, inherited by everything it starts: each of
# its sleeps overruns as on a loaded machine, so a bound that counts
# pauses instead of reading the clock shows at once.
slow_sleeps() {
    [ -w /proc/self/timerslack_ns ] || skip "needs /proc/PID/timerslack_ns (Linux 4.6)"
    ( echo 50000000 > /proc/self/timerslack_ns && "$@" )
}

# end_now NAME: NAME's account and its grant end now, in the store: a
# clock the test controls.  (A grant ending a few seconds ahead ran out
# before a slow setup was done; a wide margin makes every run wait.)
end_now() {
    /usr/bin/python3 -c '
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1]); now = int(time.time())
db.execute("UPDATE grants SET expires_at = ? WHERE id = (SELECT grant_id FROM accounts WHERE name = ?)", (now, sys.argv[2]))
n = db.execute("UPDATE accounts SET expires = ? WHERE name = ?", (now, sys.argv[2])).rowcount
db.commit()
sys.exit(0 if n == 1 else 1)' "$STATE/state.db" "$1" || fail "end_now: no account $1"
}

# start_daemon: jitctl daemon on $CONF in the background; D is its pid,
# its log $T/daemon.err.
start_daemon() {
    "$JITCTL" -c "$CONF" daemon 2>"$T/daemon.err" &
    D=$!
    TEST_PIDS="$TEST_PIDS $D"
}
# resolves NAME / gone NAME: whether the host's NSS finds NAME.
resolves() { in_ns getent passwd "$1" >/dev/null; }
gone() { ! resolves "$1"; }

# api METHOD PATH TOKEN [BODY]: one call to jit-apid as a person (bearer
# token); prints the body, and puts the status in $T/api.status.
api() { # METHOD PATH TOKEN [BODY]: prints the body; status in $T/api.status
    /usr/bin/python3 - "$APID_URL" "$T/certs/ca.pem" "$@" > "$T/api.out" <<'PY'
import json, ssl, sys, urllib.request, urllib.error
url, ca, method, path, token = sys.argv[1:6]
body = sys.argv[6].encode() if len(sys.argv) > 6 else None
req = urllib.request.Request(url + path, data=body, method=method,
                             headers={"Authorization": "Bearer " + token})
try:
    r = urllib.request.urlopen(req, context=ssl.create_default_context(cafile=ca))
    print(r.status); print(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code); print(e.read().decode())
PY
    sed -n 1p "$T/api.out" > "$T/api.status"
    sed -n '2,$p' "$T/api.out"
}

# field NAME: that field of the JSON object on stdin.
field() { /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# start_kdc: an MIT KDC of Debian's packages on 127.0.0.1 (a free port),
# realm JIT.TEST, its database and logs in $T/krb5.  Principals
# host/web01.test, host/web02.test, HTTP/127.0.0.1 (jit-apid's service)
# and alice, each with a keytab $T/krb5/<first part>.keytab (web01, web02,
# http, alice).  Exports KRB5_CONFIG (the test's krb5.conf, never
# /etc/krb5.conf), KRB5_KDC_PROFILE and KRB5RCACHEDIR (else the
# replay cache would go to /var/tmp); sets KDC_PORT and K.  A relation on
# the same line as a section's "{" is silently ignored by libkrb5's
# profile parser (kdb5_util then creates its database in /var/lib/krb5kdc
# and a stash in /etc/krb5kdc), so each relation has its own line, and
# the test checks that nothing appeared there.
start_kdc() {
    command -v krb5kdc >/dev/null && command -v kadmin.local >/dev/null \
        || skip "needs an MIT KDC (packages krb5-kdc, krb5-admin-server)"
    K=$T/krb5
    mkdir -p "$K/rcache"
    KDC_PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    cat > "$K/krb5.conf" <<KRB5
[libdefaults]
  default_realm = JIT.TEST
  dns_lookup_kdc = false
  dns_lookup_realm = false
  dns_canonicalize_hostname = false
  rdns = false
  udp_preference_limit = 1
[realms]
  JIT.TEST = {
    kdc = 127.0.0.1:$KDC_PORT
  }
[domain_realm]
  127.0.0.1 = JIT.TEST
  .test = JIT.TEST
[logging]
  kdc = FILE:$K/kdc.log
KRB5
    cat > "$K/kdc.conf" <<KDC
[kdcdefaults]
  kdc_listen = 127.0.0.1:$KDC_PORT
  kdc_tcp_listen = 127.0.0.1:$KDC_PORT
[realms]
  JIT.TEST = {
    database_name = $K/principal
    key_stash_file = $K/stash
    acl_file = $K/kadm5.acl
  }
KDC
    : > "$K/kadm5.acl"
    export KRB5_CONFIG="$K/krb5.conf" KRB5_KDC_PROFILE="$K/kdc.conf" \
        KRB5RCACHEDIR="$K/rcache"
    kdb5_util create -s -r JIT.TEST -P masterpw-xxxxxxxx >"$K/setup.log" 2>&1 \
        || fail "kdb5_util: $(tail -3 "$K/setup.log")"
    [ -f "$K/principal" ] && [ -f "$K/stash" ] && [ ! -e /etc/krb5kdc/.k5.JIT.TEST ] \
        || fail "kdb5_util did not use the test's kdc.conf"
    for _p in host/web01.test:web01 host/web02.test:web02 HTTP/127.0.0.1:http alice:alice; do
        kadmin.local -q "addprinc -randkey ${_p%%:*}" >>"$K/setup.log" 2>&1 \
            && kadmin.local -q "ktadd -k $K/${_p##*:}.keytab ${_p%%:*}" >>"$K/setup.log" 2>&1 \
            || fail "kadmin.local ${_p%%:*}: $(tail -3 "$K/setup.log")"
    done
    chmod 600 "$K"/*.keytab
    krb5kdc -n -P "$K/kdc.pid" >"$K/kdc.out" 2>&1 </dev/null &
    TEST_PIDS="$TEST_PIDS $!"
    wait_for 30 /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $KDC_PORT), 0.2)" >/dev/null 2>&1 && return 0
    fail "krb5kdc did not start: $(cat "$K/kdc.out" "$K/kdc.log" 2>/dev/null | tail -5)"
}
