# SPDX-License-Identifier: MIT
# The test's own world: its directory $T with a jit.conf and a state
# directory, removed at the end; the check that this machine's /etc came
# out unchanged; background servers stopped by pid; how a test says ok,
# FAIL or SKIP.  Sourced by ../lib.sh.

FIXTURE=$top_builddir/tests/helpers/jit-fixture
JITCTL=${JITCTL:-$top_builddir/jitctl/jitctl}
NSSLIBS=$top_builddir/nss_jit/.libs
NSSMOD=$NSSLIBS/libnss_jit.so.2

# printf, not echo: dash's echo would expand the backslashes we test for.
skip() { printf 'SKIP: %s\n' "$*"; exit 77; }
fail() { printf 'FAIL: %s\n' "$*"; exit 1; }
ok() { printf 'ok - %s\n' "$*"; }
# skip_case WHY: one case of a test cannot run here; the rest goes on,
# and the test ends as SKIP (77) instead of PASS if nothing failed, so
# that a case not run never shows as a pass.
SKIPPED_CASES=
skip_case() {
    printf 'SKIP (case): %s\n' "$*"
    SKIPPED_CASES="$SKIPPED_CASES
  $*"
}

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
    if [ $rc = 0 ] && [ -n "$SKIPPED_CASES" ]; then
        printf 'SKIP: every case that ran passed; not run:%s\n' "$SKIPPED_CASES"
        rc=77
    fi
    [ ! -d "$T/home" ] || chattr -R -i "$T/home" >/dev/null 2>&1 || true
    rm -rf "$T"
    exit $rc
}

# expect_eq WHAT GOT WANT
expect_eq() {
    [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
    ok "$1"
}

# Background servers this test started; stopped by pid on exit.
TEST_PIDS=
TEST_PIDFILES=
# forget_pid PID: PID was waited for; stop_pids leaves it alone (its
# number may be another process's by then).
forget_pid() {
    _keep=
    for _p in $TEST_PIDS; do [ "$_p" = "$1" ] || _keep="$_keep $_p"; done
    TEST_PIDS=$_keep
}
stop_pids() {
    for f in $TEST_PIDFILES; do
        [ -s "$f" ] && TEST_PIDS="$TEST_PIDS $(cat "$f")"
    done
    # (SIGCONT first: a test may have stopped one with SIGSTOP.)
    for p in $TEST_PIDS; do kill -CONT "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
    for p in $TEST_PIDS; do wait "$p" 2>/dev/null || true; done
    TEST_PIDS= TEST_PIDFILES=
}
