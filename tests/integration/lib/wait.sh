# SPDX-License-Identifier: MIT
# Waiting on what can be observed, never on a fixed pause: wait_for
# (a command until it succeeds, bounded by the clock), wait_uid (a
# process that has become its uid), and slow_sleeps (every sleep
# overrunning, to show a bound that counts pauses).  Sourced by ../lib.sh.

# wait_uid PID UID: until process PID runs as UID (setpriv has switched
# and exec'd), at most 30 s; a fixed pause is not enough under load.
wait_uid() {
    for _i in $(seq 1 300); do
        [ "$(awk '/^Uid:/ {print $2}' "/proc/$1/status" 2>/dev/null)" = "$2" ] \
            && [ "$(cat "/proc/$1/comm" 2>/dev/null)" != setpriv ] && return 0
        sleep 0.1 # (the poll's interval)
    done
    fail "process $1 never ran as uid $2"
}

# wait_for SECONDS CMD...: run CMD until it succeeds, at most SECONDS;
# prints the milliseconds it took, or fails (status 1) when time ran out.
wait_for() {
    _lim=$1
    shift
    _t0=$(date +%s%N)
    while ! "$@"; do
        [ $(( ($(date +%s%N) - _t0) / 1000000 )) -lt $((_lim * 1000)) ] || return 1
        sleep 0.05 # (the poll's interval; the bound reads the clock)
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

# lone_thread UID READY [SETPRIV-ARG...]: start, as UID, a process whose
# first thread exits alone (pthread_exit) while its other thread runs on
# (its life 300 s, should the test fail: not a wait): /proc shows it as a
# zombie.  Sets $lone (its pid, in TEST_PIDS); returns once READY exists
# and the first thread is a zombie.
lone_thread() {
    _uid=$1 _ready=$2
    shift 2
    setpriv --reuid="$_uid" --regid="$_uid" "$@" /usr/bin/python3 -c '
import ctypes, sys, threading, time
def park():
    open(sys.argv[1], "w").close()
    time.sleep(300)
threading.Thread(target=park).start()
ctypes.CDLL(None).pthread_exit(None)' "$_ready" &
    lone=$!
    TEST_PIDS="$TEST_PIDS $lone"
    wait_for 30 test -e "$_ready" >/dev/null || fail "the lone thread's process did not start"
    wait_for 30 grep -q '^State:.*Z' "/proc/$lone/status" >/dev/null \
        || fail "its first thread did not exit alone"
}
