# SPDX-License-Identifier: MIT
# The real OpenSSH server on loopback, in a private mount namespace with
# the test's own sshd_config, port, PAM service (pam_jit, then
# pam_permit) and nsswitch.conf: start_sshd, stop_sshd.  Sourced by
# ../lib.sh.

# start_sshd LAUNCHER [RUN_TEXT]: sshd with a new host key on a free
# PORT; its sshd_config is the common lines here plus the test's own on
# standard input; RUN_TEXT is shell text run in the namespace before sshd
# (mounts, exports).  LAUNCHER runs the namespace script (in_ns, or a
# test's own wrapper).  Log $T/sshd.log, syslog $T/syslog (start_syslog).
start_sshd() {
    _launch=$1 _run=${2:-}
    _libdir=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
    [ -d "$_libdir" ] || skip "no $_libdir"
    ssh-keygen -q -t ed25519 -N '' -f "$T/host_ed25519"
    PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    mkdir -p "$T/nsslib" "$T/sshpam"
    cp "$NSSMOD" "$T/nsslib/libnss_jit.so.2"
    cat > "$T/sshpam/sshd" <<SVC
auth     required  pam_deny.so
account  required  $PAMMOD config=$CONF
account  required  pam_permit.so
session  required  $PAMMOD config=$CONF
session  required  pam_permit.so
password required  pam_deny.so
SVC
    printf 'auth required pam_deny.so\naccount required pam_deny.so\nsession required pam_deny.so\npassword required pam_deny.so\n' \
        > "$T/sshpam/other"
    { cat <<CFG
ListenAddress 127.0.0.1:$PORT
HostKey $T/host_ed25519
PidFile $T/sshd.pid
UsePAM yes
StrictModes no
LogLevel VERBOSE
CFG
      cat; } > "$T/sshd_config"
    start_syslog
    cat > "$T/run-sshd.sh" <<RUN
#!/bin/sh
set -e
$(ns_devlog)
mount --bind $T/sshpam /etc/pam.d
mount -t overlay overlay -o lowerdir=$T/nsslib:$_libdir $_libdir
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -m 755 /run/sshd
$_run
/usr/sbin/sshd -t -f $T/sshd_config
exec /usr/sbin/sshd -D -e -f $T/sshd_config
RUN
    chmod 755 "$T/run-sshd.sh"
    # $! is the shell running the launcher; sshd's own pid is in its
    # PidFile.
    "$_launch" "$T/run-sshd.sh" > "$T/sshd.log" 2>&1 &
    TEST_PIDS="$TEST_PIDS $!"
    TEST_PIDFILES="$T/sshd.pid"
    wait_for 30 grep -q "Server listening" "$T/sshd.log" >/dev/null 2>&1 || true
    grep -q "Server listening" "$T/sshd.log" || fail "sshd did not start: $(cat "$T/sshd.log")"
}

# stop_sshd: stop every server of the test, and check sshd is gone.
stop_sshd() {
    _pid=$(cat "$T/sshd.pid")
    stop_pids
    wait_for 30 sh -c '! kill -0 "$1" 2>/dev/null' sh "$_pid" >/dev/null || true
    if kill -0 "$_pid" 2>/dev/null; then fail "sshd $_pid still running"; fi
}
