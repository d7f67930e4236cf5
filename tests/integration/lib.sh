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
HOST_FILES="/etc/passwd /etc/group /etc/shadow /etc/gshadow /etc/nsswitch.conf"
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
CONF
    chmod 600 "$CONF"
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
stop_pids() {
    for p in $TEST_PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $TEST_PIDS; do wait "$p" 2>/dev/null || true; done
    TEST_PIDS=
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
    for _i in $(seq 1 200); do
        [ -s "$T/$_name/port" ] && break
        sleep 0.05
    done
    [ -s "$T/$_name/port" ] || fail "test API $_name did not start: $(cat "$T/$_name/stderr")"
    API_PORT=$(cat "$T/$_name/port")
}
