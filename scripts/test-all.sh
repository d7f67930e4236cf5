#!/bin/sh
# SPDX-License-Identifier: MIT
# Everything the project tests, as CI runs it: dependencies, a -Werror
# build with make check, the same make check again while busy loops hold
# every core, make install into a DESTDIR, the Debian packages built,
# linted and installed, used and purged in an overlay root, make
# distcheck, the host side built alone from the tarball (--disable-apid,
# without check), an ASan+UBSan build with make check, the thread
# test under ThreadSanitizer, the unit tests under valgrind, and each
# libFuzzer target for a bounded time.  Needs root (namespaces, apt).
# Prints every test log's summary and a final tally.
set -eu
cd "$(dirname "$0")/.."
SRC=$(pwd)
OUT=${JIT_TEST_OUT:-$SRC/_test}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
failures=0
T_START=$(date +%s)
# Each stage's start says how far into the run it is (CI's budget is 45 min).
stage() { printf '\n==== %s (at %d s)\n' "$*" $(( $(date +%s) - T_START )); }
result() { # name rc
    if [ "$2" = 0 ]; then echo "STAGE PASS: $1"; else echo "STAGE FAIL: $1"; failures=$((failures + 1)); fi
}

stage "dependencies"
sh scripts/deps.sh

stage "autoreconf"
[ ! -f Makefile ] || make distclean >/dev/null
autoreconf -fi >/dev/null 2>&1
rm -rf "$OUT"
mkdir -p "$OUT"

summaries() { # build dir: one line per test, result, seconds and what it checked
    for trs in "$1"/tests/*/*.trs; do
        log=${trs%.trs}.log
        res=$(sed -n 's/^:test-result: //p' "$trs")
        # The log is created when the test starts and the .trs written when
        # it ends: their times give its duration (where the file system
        # keeps a birth time; "?" where it does not).
        born=$(stat -c %W "$log" 2>/dev/null || echo 0)
        secs='?'
        [ "${born:-0}" -gt 0 ] 2>/dev/null && secs=$(( $(stat -c %Y "$trs") - born ))
        detail=$(grep -E '^[0-9]+%: Checks' "$log" | tail -1)
        [ -n "$detail" ] || detail="$(grep -c '^ok - ' "$log" || true) assertions ok"
        [ "$res" != SKIP ] || detail=$(grep -m1 '^SKIP: ' "$log" || true)
        printf '%-5s %-34s %4ss  %s\n' "$res" "${log#$1/}" "$secs" "$detail"
    done
}

# $CHECK_ENV: variables for its make check (a relaxed count), printed.
build_check() { # name configure-args...
    name=$1; shift
    stage "build and make check: $name"
    [ -z "$CHECK_ENV" ] || echo "relaxed: $CHECK_ENV"
    mkdir -p "$OUT/$name"
    set +e
    # shellcheck disable=SC2086
    (cd "$OUT/$name" && "$SRC/configure" -q "$@" && make -j2 >make.out 2>&1 \
        && env $CHECK_ENV make -j2 check >check.out 2>&1)
    rc=$?
    set -e
    [ $rc = 0 ] || { tail -30 "$OUT/$name/make.out" 2>/dev/null; tail -40 "$OUT/$name/check.out" 2>/dev/null; }
    grep -E '^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):' "$OUT/$name/check.out" 2>/dev/null || true
    summaries "$OUT/$name"
    [ $rc = 0 ] || cat "$OUT/$name/test-suite.log" 2>/dev/null | tail -60
    result "$name" $rc
}

# The two home race tests at 500 runs each, not their default 1000: at
# 1000 they were a third of this stage (pam-hostile-home.sh alone 325 s)
# and put the whole run over its 45-minute budget; 500 runs still see the
# swapper win and lose hundreds of times (their logs count both).
CHECK_ENV="HOME_RACE_RUNS=500"
build_check werror --enable-werror
CHECK_ENV=

# The suite must not depend on an idle machine: make check again in the
# werror build while one busy loop per core competes at normal priority
# (CI machines are shared).  The loops are stopped by pid, whatever
# happens.  Two things are relaxed, and say so: the repetitions
# (crash.sh's 200 kills 50: the full count ran just above), and
# the latency comparison in pam-login.sh (doc/design.md, threat G4) is
# shown, not asserted (JIT_TEST_UNDER_LOAD).  Not repeated at all: the tests in which nothing
# can depend on how busy the machine is (they ran just above): the two
# that only read files (the sources, for code-rules.sh; the built NSS
# module's ELF headers and symbols, for nss-exports.sh) and the unit tests
# that run in one thread of one process with no time bound but Check's
# minutes.  The unit tests with threads or forks (check_nss_contract,
# check_nss_threads, check_scrub) and every other integration test, each
# of which runs servers, daemons or logins with timeouts, are repeated.
# Also not repeated, to keep the run within its time budget: the
# PostgreSQL twins of jit-apid tests whose SQLite run is repeated (the
# same requests, waits and timeouts through the same server; only the
# store differs, and it ran above), the directory's unit test (one
# thread, no time bound), pam-valgrind.sh (valgrind already runs the
# module some twenty times slower than the load does), and pam-auth.sh
# (the slowest left, three minutes on a busy machine: its waits are the
# KDC's and libkrb5's, and the ASan/UBSan build runs it again with a
# module several times slower).  The two home race tests are not
# repeated either: they ran 500 times each just above and run 200 times
# again in the ASan/UBSan build, where the module is several times
# slower; under load they were a token 100 runs for two minutes.
LOAD_SKIP="tests/integration/pam-auth.sh tests/integration/pam-hostile-home.sh
    tests/integration/home-remove-race.sh tests/integration/code-rules.sh tests/integration/nss-exports.sh
    tests/unit/check_validate tests/unit/check_conf tests/unit/check_nssdb
    tests/unit/check_grant tests/unit/check_restrict tests/unit/check_login
    tests/unit/check_store tests/unit/check_apid tests/unit/check_apid_ldap
    tests/integration/apid-pg.sh tests/integration/apid-alerts-pg.sh
    tests/integration/apid-ldap-accounts-pg.sh tests/integration/pam-valgrind.sh"
stage "make check under load: $(nproc) busy loops, one per core"
LOAD_PIDS=
stop_load() {
    for p in $LOAD_PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $LOAD_PIDS; do wait "$p" 2>/dev/null || true; done
    LOAD_PIDS=
}
trap 'stop_load' EXIT
trap 'stop_load; exit 130' INT TERM
for _c in $(seq 1 "$(nproc)"); do
    sh -c 'while :; do :; done' &
    LOAD_PIDS="$LOAD_PIDS $!"
done
# Every test of the Makefile's TESTS but those; an empty list would pass.
all_tests=$(cd "$OUT/werror" && printf 'print-tests:\n\t@echo $(TESTS)\n' \
    | make -s -f Makefile -f - print-tests)
load_tests=
for t in $all_tests; do
    case " $(echo $LOAD_SKIP) " in *" $t "*) ;; *) load_tests="$load_tests $t" ;; esac
done
echo "busy loops: pids$LOAD_PIDS; relaxed: CRASH_RUNS=50 (the full count ran above), JIT_TEST_UNDER_LOAD=1 (doc/design.md, threat G4: latency shown, not asserted)"
echo "relaxed: not repeated under load (they ran above; the comment in this script says why each is left out):" $LOAD_SKIP
t0=$(date +%s)
set +e
if [ -n "$load_tests" ]; then
    (cd "$OUT/werror" && rm -f test-suite.log tests/*/*.log tests/*/*.trs \
        && CRASH_RUNS=50 JIT_TEST_UNDER_LOAD=1 \
           make -j2 check TESTS="$load_tests" >check-load.out 2>&1)
    rc=$?
else
    echo "could not list the tests (make print-tests)"; rc=1
fi
set -e
stop_load
echo "under load: $(( $(date +%s) - t0 )) s"
grep -E '^# (TOTAL|PASS|SKIP|XFAIL|FAIL|XPASS|ERROR):' "$OUT/werror/check-load.out" 2>/dev/null || true
summaries "$OUT/werror"
grep -h '^# JIT_TEST_UNDER_LOAD' "$OUT"/werror/tests/*/*.log 2>/dev/null || true
[ $rc = 0 ] || { tail -40 "$OUT/werror/check-load.out"; tail -60 "$OUT/werror/test-suite.log" 2>/dev/null; }
result "werror under load" $rc
stage "make install / uninstall into a DESTDIR"
rc=0
D=$OUT/destdir
# pam_jit.so and the units go where this system's libpam and systemd read
# them (configure's defaults: pkg-config pam and systemd), whatever the
# prefix; so they are under $D's /lib, not /usr/local.
PAMDIR=$(pkg-config --variable=libdir pam)/security
UNITDIR=$(pkg-config --variable=systemdsystemunitdir systemd)
(cd "$OUT/werror" && make -s install DESTDIR="$D" >/dev/null) || rc=1
for f in usr/local/sbin/jitctl usr/local/sbin/jit-apid usr/local/share/man/man5/jit.conf.5 \
         usr/local/share/man/man8/jit-apid.8 \
         usr/local/share/man/man8/jitctl.8 usr/local/share/man/man8/nss_jit.8 \
         usr/local/share/man/man8/pam_jit.8 "${PAMDIR#/}/pam_jit.so" \
         usr/local/lib/pam-jit/pam_jit_login.so usr/local/lib/pam-jit/pam_jit_net.so \
         usr/local/share/man/man8/localauth_jit.8 usr/local/lib/krb5/plugins/localauth/jit.so \
         "${UNITDIR#/}/jit-reaper.service" "${UNITDIR#/}/jit-sync.service" \
         "${UNITDIR#/}/jit-sync.timer" "${UNITDIR#/}/jit-apid.service" \
         usr/local/share/pam-configs/jit usr/local/share/pam-jit/sshd_config.d-jit.conf \
         usr/local/share/pam-jit/jit.conf.example usr/local/share/pam-jit/nsswitch.conf.jit; do
    [ -f "$D/$f" ] || { echo "not installed: /$f"; rc=1; }
done
# The units and the sshd drop-in name the installed programs and files.
for f in "${UNITDIR#/}/jit-reaper.service" usr/local/share/pam-jit/sshd_config.d-jit.conf; do
    grep -q '/usr/local/sbin/jitctl' "$D/$f" || { echo "/$f does not run /usr/local/sbin/jitctl"; rc=1; }
done
grep -q 'ConditionPathExists=/usr/local/etc/jit/jit.conf' "$D/${UNITDIR#/}/jit-reaper.service" \
    || { echo "jit-reaper.service: not /usr/local/etc/jit/jit.conf"; rc=1; }
nss=$(cd "$D" && find . -name 'libnss_jit*' | sort | tr '\n' ' ')
case $nss in
    "./usr/local/lib/$(gcc -print-multiarch)/libnss_jit.so.2 ./usr/local/lib/$(gcc -print-multiarch)/libnss_jit.so.2.0.0 ") ;;
    *) echo "NSS module installed as: $nss"; rc=1 ;;
esac
[ "$(stat -c %a "$D/usr/local/var/lib/jit")" = 755 ] || { echo "state dir not 0755"; rc=1; }
pam=$(cd "$D" && find . -name 'pam_jit*' | sort | tr '\n' ' ')
[ "$pam" = ".$PAMDIR/pam_jit.so ./usr/local/lib/pam-jit/pam_jit_login.so ./usr/local/lib/pam-jit/pam_jit_net.so ./usr/local/share/man/man8/pam_jit.8 " ] \
    || { echo "PAM module installed as: $pam"; rc=1; }
exports=$(nm -D --defined-only "$D/usr/local/lib/pam-jit/pam_jit_net.so" | awk '{print $3}' | tr '\n' ' ')
[ "$exports" = "jit_login_net " ] || { echo "pam_jit_net.so exports: $exports"; rc=1; }
exports=$(nm -D --defined-only "$D$PAMDIR/pam_jit.so" | awk '{print $3}' | sort | tr '\n' ' ')
[ "$exports" = "pam_sm_acct_mgmt pam_sm_authenticate pam_sm_close_session pam_sm_open_session pam_sm_setcred " ] \
    || { echo "pam_jit.so exports: $exports"; rc=1; }
(cd "$OUT/werror" && make -s uninstall DESTDIR="$D" >/dev/null) || rc=1
left=$(find "$D" -type f -o -type l)
[ -z "$left" ] || { echo "left after uninstall: $left"; rc=1; }
echo "installed: jitctl, jit-apid, jit, 7 man pages, jit.so, $nss, $PAMDIR/pam_jit.so (exports: $exports) and its backend, 4 units in $UNITDIR, the pam-auth-update profile, the snippets; uninstall leaves no file"
result "install" $rc

# The Debian packages (debian/), built as a distribution would from the
# tracked files alone (a copy: dpkg-buildpackage writes beside the tree),
# lintian with no error, then installed, used and purged in a throwaway
# root (tests/pkg/install-test.sh: an overlay of this system, never its
# own root).  DEB_BUILD_OPTIONS: nocheck (the suite ran above; debian/rules
# skips it anyway), no debug symbol packages, both cores.
stage "debian packages: dpkg-buildpackage, lintian, install/use/purge in an overlay root"
t0=$(date +%s)
rc=0
P=$OUT/deb
rm -rf "$P"
mkdir -p "$P/src"
if git -C "$SRC" ls-files -z > "$P/files" 2>/dev/null && [ -s "$P/files" ]; then
    (cd "$SRC" && tar --null -T "$P/files" -cf - | tar -x -C "$P/src") || rc=1
else
    echo "not a git checkout: cannot tell the tracked files"; rc=1
fi
if [ $rc = 0 ]; then
    (cd "$P/src" && DEB_BUILD_OPTIONS="nocheck noautodbgsym parallel=$(nproc)" \
        dpkg-buildpackage -us -uc -b > "$P/build.out" 2>&1) \
        || { tail -40 "$P/build.out"; rc=1; }
    echo "dpkg-buildpackage: $(( $(date +%s) - t0 )) s; $(cd "$P" && ls *.deb 2>/dev/null | tr '\n' ' ')"
fi
if [ $rc = 0 ]; then
    t1=$(date +%s)
    # Errors fail; each remaining warning is explained in a
    # debian/*.lintian-overrides comment.
    lintian --fail-on error --info --show-overrides "$P"/pam-jit_*.changes > "$P/lintian.out" 2>&1 || rc=1
    grep -E '^[EW]: ' "$P/lintian.out" || true
    echo "lintian: $(grep -c '^E: ' "$P/lintian.out") errors, $(grep -c '^W: ' "$P/lintian.out") warnings, $(grep -c '^O: ' "$P/lintian.out" || true) overridden (each explained in debian/*.lintian-overrides) ($(( $(date +%s) - t1 )) s)"
fi
if [ $rc = 0 ]; then
    set +e
    sh "$SRC/tests/pkg/install-test.sh" "$P" > "$P/install-test.out" 2>&1
    r=$?
    set -e
    cat "$P/install-test.out"
    [ $r = 0 ] || rc=1
fi
echo "debian packages: $(( $(date +%s) - t0 )) s"
result "debian packages" $rc

# make distcheck: the tarball builds, installs and uninstalls out of tree
# (its own prefix: AM_DISTCHECK_CONFIGURE_FLAGS), and a clean tree stays
# clean.  Only a handful of unit tests run in it: the whole suite ran in
# the builds above, from the same sources; this checks the tarball has
# what a build and make check need, not the code again.
stage "make distcheck (unit tests check_validate, check_conf, check_grant, check_nssdb)"
t0=$(date +%s)
set +e
(cd "$OUT/werror" && make distcheck \
    TESTS="tests/unit/check_validate tests/unit/check_conf tests/unit/check_grant tests/unit/check_nssdb" \
    > distcheck.out 2>&1)
rc=$?
set -e
grep -E '^# (TOTAL|PASS|FAIL|ERROR):|archives ready for distribution|^pam-jit-.*\.tar\.gz' "$OUT/werror/distcheck.out" || true
[ $rc = 0 ] || tail -40 "$OUT/werror/distcheck.out"
echo "make distcheck: $(( $(date +%s) - t0 )) s"
result "distcheck" $rc

# The host side alone, from that tarball, as a host without the server's
# libraries or check would build it: their pkg-config files hidden
# (libmicrohttpd, gnutls, libpq, ldap, check), --disable-apid.  The build
# must pass and make check must show the unit tests and a jit-apid test
# as SKIPs saying why.
stage "host-side build: --disable-apid, without check or the server's libraries"
t0=$(date +%s)
rc=0
H=$OUT/hostonly
rm -rf "$H"
mkdir -p "$H/pc"
for d in $(pkg-config --variable pc_path pkg-config | tr ':' ' '); do
    for f in "$d"/*.pc; do
        [ -f "$f" ] || continue
        case ${f##*/} in
            check.pc|libmicrohttpd.pc|gnutls.pc|libpq.pc|ldap.pc|lber.pc) ;;
            *) [ -e "$H/pc/${f##*/}" ] || ln -s "$f" "$H/pc/${f##*/}" ;;
        esac
    done
done
set +e
tarball=$(ls "$OUT"/werror/pam-jit-*.tar.gz 2>/dev/null | head -1)
(cd "$H" && tar -xzf "$tarball" && mkdir b && cd b \
    && PKG_CONFIG_LIBDIR=$H/pc ../pam-jit-*/configure -q --enable-werror --disable-apid \
       > configure.out 2>&1 \
    && make -j2 > make.out 2>&1 \
    && make check TESTS="tests/unit/no-check.sh tests/integration/apid.sh" > check.out 2>&1)
r=$?
set -e
[ $r = 0 ] || { tail -20 "$H"/b/*.out 2>/dev/null; rc=1; }
grep -h WARNING "$H/b/configure.out" 2>/dev/null || true
[ ! -e "$H/b/contrib/jit-apid/jit-apid" ] || { echo "jit-apid was built with --disable-apid"; rc=1; }
for f in jitctl/jitctl pam_jit/.libs/pam_jit.so nss_jit/.libs/libnss_jit.so.2 contrib/jit-apid/jit; do
    [ -e "$H/b/$f" ] || { echo "not built: $f"; rc=1; }
done
for t in unit/no-check.sh integration/apid.sh; do
    grep -m1 '^SKIP: ' "$H/b/tests/$t.log" 2>/dev/null || { echo "tests/$t did not skip"; rc=1; }
done
echo "host-side build: $(( $(date +%s) - t0 )) s"
result "host-side build" $rc

# Under ASan+UBSan every process start and allocation costs several times
# more: the two race tests at 1000 runs alone took 15 of this stage's 17
# minutes on CI, and check_apid's 1500 random requests a minute.  Both are
# relaxed here, and every code path still runs under the sanitizers: the
# races at HOME_RACE_RUNS=200 (500 ran in the werror build; 200
# still see sessions opened and refused, and the reasons, in their logs),
# check_apid at APID_RANDOM_ROUNDS=300 (1500 ran in the werror build, and
# the apid fuzz target below drives the same handlers under ASan+UBSan
# with far more inputs).  crash.sh keeps its 200 kills: each lands at
# another point of a recovery that reads what the last one left.
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
CHECK_ENV="HOME_RACE_RUNS=200 APID_RANDOM_ROUNDS=300"
build_check asan-ubsan --enable-werror CFLAGS="-g -O1 $SAN" LDFLAGS="$SAN"
CHECK_ENV=

stage "ThreadSanitizer: the NSS thread test"
set +e
(cd "$OUT/werror" && clang -g -O1 -fsanitize=thread -pthread -I. -I"$SRC/lib" \
    -I"$SRC/tests/unit" -include config.h $(pkg-config --cflags check) \
    "$SRC"/tests/unit/check_nss_threads.c "$SRC"/tests/unit/testlib.c \
    "$SRC"/lib/nss/nssdb_read.c "$SRC"/lib/nss/nssdb_format.c "$SRC"/lib/nss/nss_ops.c \
    "$SRC"/lib/state/nssdb_write.c "$SRC"/lib/core/validate.c \
    $(pkg-config --libs check) -o tsan_threads \
    && TSAN_OPTIONS="halt_on_error=1 exitcode=66" ./tsan_threads)
rc=$?
set -e
result "tsan-threads" $rc

# The six tests run two at a time (-j2), as in make check; one after
# another they left a core idle for a minute.
stage "ThreadSanitizer: jit-apid under the API, alert, Kerberos and directory-account tests (50 concurrent requests, long polls, the deliverer, GSS-API, the directory worker)"
set +e
(cd "$OUT/werror" && clang -g -O1 -fsanitize=thread -pthread -I. -I"$SRC/lib" \
    -include config.h -DSYSCONFDIR='"/etc"' \
    $(ls "$SRC"/contrib/jit-apid/*.c | grep -v '/jit\.c$') \
    "$SRC"/lib/core/validate.c "$SRC"/lib/core/timefmt.c "$SRC"/lib/nss/nssdb_format.c \
    "$SRC"/lib/core/grant.c \
    "$SRC"/lib/core/negotiate.c \
    $(pkg-config --cflags --libs libmicrohttpd gnutls jansson sqlite3 libpq libcurl krb5 krb5-gssapi ldap) \
    -o tsan-apid \
    && APID=$OUT/werror/tsan-apid TSAN_OPTIONS="halt_on_error=1 exitcode=66" \
       make -s -j2 check TESTS="tests/integration/apid.sh tests/integration/apid-tls.sh tests/integration/apid-flood.sh tests/integration/apid-alerts.sh tests/integration/apid-krb5.sh tests/integration/apid-ldap-accounts.sh" >tsan-apid.out 2>&1)
rc=$?
set -e
for l in apid apid-alerts apid-krb5; do tail -2 "$OUT/werror/tests/integration/$l.sh.log" 2>/dev/null; done
[ $rc = 0 ] || { tail -30 "$OUT/werror/tsan-apid.out"; grep -A30 ThreadSanitizer "$OUT"/werror/tests/integration/*.log 2>/dev/null | head -60; }
result "tsan-apid" $rc

# jitctl daemon's login relay: an accept thread and a thread per request
# beside the daemon's loop (reloads, long polls, signals).  The paths
# built in do not matter: the tests name the configuration.
stage "ThreadSanitizer: jitctl daemon with its login relay under relay.sh and daemon.sh (eight logins at once, a reload during a call)"
set +e
(cd "$OUT/werror" && clang -g -O1 -fsanitize=thread -pthread -I. -I"$SRC/lib" \
    -include config.h -DJIT_STATE_DIR='"/var/lib/jit"' -DJIT_CONF_PATH='"/etc/jit/jit.conf"' \
    -DJIT_PAM_MODDIR='"/lib/security"' -DJIT_LOGIN_BACKEND='"/usr/lib/pam-jit/pam_jit_login.so"' \
    -DJIT_SBINDIR='"/usr/sbin"' \
    "$SRC"/jitctl/*.c $(ls "$SRC"/lib/*/*.c) \
    $(pkg-config --cflags --libs jansson sqlite3 libcurl krb5 krb5-gssapi openssl) -ldl \
    -o tsan-jitctl \
    && JITCTL=$OUT/werror/tsan-jitctl TSAN_OPTIONS="halt_on_error=1 exitcode=66" \
       make -s -j2 check TESTS="tests/integration/relay.sh tests/integration/daemon.sh" >tsan-jitctl.out 2>&1)
rc=$?
set -e
for l in relay daemon; do tail -2 "$OUT/werror/tests/integration/$l.sh.log" 2>/dev/null; done
[ $rc = 0 ] || { tail -30 "$OUT/werror/tsan-jitctl.out"; grep -A30 ThreadSanitizer "$OUT"/werror/tests/integration/relay.sh.log "$OUT"/werror/tests/integration/daemon.sh.log 2>/dev/null | head -60; }
result "tsan-relay" $rc

# The thread test is left to TSan: valgrind runs one thread at a time, and
# 16 spinning readers starve the writer there.  check_apid runs beside the
# others (each valgrind is one process on one core), with
# APID_RANDOM_ROUNDS=300: its 1500 random requests took 7.5 minutes under
# valgrind (the store grows with each, and each request reads it), 300
# take 15 s; the full count ran in the werror build, and the apid fuzz
# target drives the same handlers.
stage "valgrind: unit tests"
echo "relaxed: check_apid with APID_RANDOM_ROUNDS=300 (1500 ran in the werror build)"
# (--child-silent-after-fork: a teardown's child that kills as the uid is
# a copy of the test under valgrind, and would report the test's heap as
# its leaks when it exits.)
vg_unit() { # test [VAR=value...]: its output in valgrind-TEST.out, rc in .rc
    t=$1; shift
    set +e
    (cd "$OUT/werror" && env CK_FORK=no CK_TIMEOUT_MULTIPLIER=20 "$@" \
        valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite \
        --child-silent-after-fork=yes \
        "tests/unit/$t" > "valgrind-$t.out" 2>&1)
    echo $? > "$OUT/werror/valgrind-$t.rc"
    set -e
}
vg_unit check_apid APID_RANDOM_ROUNDS=300 &
vg_apid=$!
# The daemon's parts, each with its own store (tests/unit/statelib.c).
vg_daemon="check_sync check_reap check_teardown check_outbox check_api check_status"
# The krb5 localauth plugin's decision.
vg_krb5="check_localauth"
for t in check_validate check_conf check_nssdb check_nss_contract check_store check_grant check_login check_clock $vg_daemon $vg_krb5; do
    vg_unit "$t"
done
wait "$vg_apid" || true
rc=0
for t in check_validate check_conf check_nssdb check_nss_contract check_store check_grant check_login check_clock check_apid $vg_daemon $vg_krb5; do
    r=$(cat "$OUT/werror/valgrind-$t.rc" 2>/dev/null || echo missing)
    printf '%-22s %s\n' "$t" "$(grep -E '^[0-9]+%: Checks' "$OUT/werror/valgrind-$t.out" | tail -1) (valgrind rc $r)"
    [ "$r" = 0 ] || { tail -30 "$OUT/werror/valgrind-$t.out"; rc=1; }
done
result "valgrind-unit" $rc

# Two targets at a time: a fuzzer is one process on one core, so each
# still has a core for its FUZZ_SECONDS (one after another, the stage left
# a core idle for two minutes).  Each has its own work directory, as
# run.sh writes its config.h and seeds there.
stage "libFuzzer: each target for ${FUZZ_SECONDS}s, two at a time"
fuzz_one() { # target: its output in fuzz-TARGET.out, rc in fuzz-TARGET.rc
    set +e
    sh "$SRC/tests/fuzz/run.sh" "$1" "$FUZZ_SECONDS" "$OUT/fuzz/$1" > "$OUT/fuzz-$1.out" 2>&1
    echo $? > "$OUT/fuzz-$1.rc"
    set -e
}
for pair in "nssdb conf" "grant apid"; do
    pids=
    for target in $pair; do
        fuzz_one "$target" &
        pids="$pids $!"
    done
    for p in $pids; do wait "$p" || true; done
done
rc=0
for target in nssdb conf grant apid; do
    r=$(cat "$OUT/fuzz-$target.rc" 2>/dev/null || echo missing)
    printf '%-8s %s (rc %s)\n' "$target" "$(grep -E '^Done [0-9]+ runs' "$OUT/fuzz-$target.out" | tail -1)" "$r"
    [ "$r" = 0 ] || { tail -40 "$OUT/fuzz-$target.out"; rc=1; }
done
result "fuzz" $rc

# README's first command, as written, with what it must show checked.
stage "the demo (scripts/demo.sh): kinit, request, ssh and ssh -K logins, sudo, revoke, all ended"
set +e
sh "$SRC/scripts/demo.sh" > "$OUT/demo.out" 2>&1
rc=$?
set -e
for want in "alice's ssh session ended" "(not found: exit status 2)" \
            "bob@127.0.0.1: Permission denied" "web01.example.com account.deleted alice" \
            'event="login" result="allow"' 'event="account.deleted"' \
            "signed on:   kerberos" "requester:   alice@EXAMPLE.COM" \
            'event="gssapi" result="allow" reason="requester" user="alice"' \
            'event="auth" result="deny" reason="password_wrong" user="alice"' \
            'event="auth" result="allow" reason="password" user="alice"' \
            "alice@127.0.0.1: Permission denied"; do
    if grep -qF -- "$want" "$OUT/demo.out"; then
        grep -F -m1 -- "$want" "$OUT/demo.out" | cut -c1-150
    else
        echo "the demo did not show: $want"; rc=1
    fi
done
[ $rc = 0 ] || tail -40 "$OUT/demo.out"
result "demo" $rc

stage "summary"
echo "total: $(( $(date +%s) - T_START )) s"
if [ $failures = 0 ]; then echo "ALL STAGES PASSED"; else echo "$failures STAGE(S) FAILED"; fi
[ $failures = 0 ]
