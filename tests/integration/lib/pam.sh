# SPDX-License-Identifier: MIT
# Logins through the real libpam: setup_pam (the test API, a jit.conf
# and PAM service files; each test's own uid range), pam_op, audit_has.
# Sourced by ../lib.sh.

# setup_pam: the test API ("api", token auth), a jit.conf pointing at it
# with homes under $T/home, and PAM service files in $T/pam.d.  The API
# timeout is 15 s: with 2 s, 41 of 50 parallel logins and a plain 500
# fault timed out on a busy machine (a test of the timeout sets its own).
# PAMMOD is what a pam.d line names: the module and its login backend,
# both the build tree's (backend=: pam_jit(8)); PAMSO the module alone.
PAMSO=$top_builddir/pam_jit/.libs/pam_jit.so
PAMBACKEND=$top_builddir/pam_jit/.libs/pam_jit_login.so
PAMNET=$top_builddir/pam_jit/.libs/pam_jit_net.so
PAMMOD="$PAMSO backend=$PAMBACKEND"
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
        sshd-gssapi.sh) UID_MIN=97000 ;;
        pam-auth.sh) UID_MIN=98000 ;;
        apid-account-view.sh) UID_MIN=99400 ;; # to 99499: uid_max set there
        pam-backend.sh) UID_MIN=99550 ;; # to 99599: uid_max set there
        teardown-claim.sh) UID_MIN=99700 ;; # to 99749: uid_max set there
        relay.sh) UID_MIN=99750 ;; # to 99799: uid_max set there
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

# pam_op USER OP...: one login through the real libpam (pam_start_confdir
# on $T/pam.d, tests/helpers/pam-run) in the namespace; its output, with
# the module's syslog lines ("SYSLOG(prio): ...", through the syslog
# shim), in $PAM_OUT (default $T/pam.out), status returned.  PAM_UNDER
# (e.g. valgrind and its options) runs pam-run under another program;
# PAM_SVC names another service file than jittest.
PAMRUN=$top_builddir/tests/helpers/pam-run
SYSLOG_SHIM=$top_builddir/tests/helpers/.libs/libsyslog-shim.so
pam_op() {
    _user=$1
    shift
    set +e
    in_ns env LD_PRELOAD="${PRELOAD:+$PRELOAD }$SYSLOG_SHIM" \
        ${PAM_UNDER:-} "$PAMRUN" "$T/pam.d" "${PAM_SVC:-jittest}" "$_user" "$@" \
        > "${PAM_OUT:-$T/pam.out}" 2>&1
    _rc=$?
    set -e
    return $_rc
}

# audit_has PATTERN: an audit line in the last pam_op's output matches.
audit_has() {
    grep -q -- "$1" "$T/pam.out" || fail "no audit line matching '$1' in: $(cat "$T/pam.out")"
}
