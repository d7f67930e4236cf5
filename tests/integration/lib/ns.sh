# SPDX-License-Identifier: MIT
# The private mount namespace in which the built libnss_jit serves
# glibc (tests/nsrun.sh): require_ns, in_ns, whether a name resolves,
# and a private /dev whose /dev/log is the test's syslog sink.  Sourced
# by ../lib.sh.

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


# in_ns CMD...: run CMD with the module active, in a private namespace.
in_ns() {
    if [ -n "$PRELOAD" ]; then
        set -- env LD_PRELOAD="$PRELOAD" ASAN_OPTIONS=detect_leaks=0 "$@"
    fi
    LD_LIBRARY_PATH=$NSSLIBS "$top_srcdir/tests/nsrun.sh" \
        "$JIT_STATE_DIR_BUILTIN" "$STATE" "$T/nsswitch.conf" - "$T" -- "$@"
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

# resolves NAME / gone NAME: whether the host's NSS finds NAME.
resolves() { in_ns getent passwd "$1" >/dev/null; }
gone() { ! resolves "$1"; }
