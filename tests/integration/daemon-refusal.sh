#!/bin/sh
# SPDX-License-Identifier: MIT
# A grant refused for now does not make the daemon a busy loop
# (doc/design.md, threat H4; issue 10, defect 3): its long polls keep
# their ETag, so the request rate stays small whatever the list holds;
# the refused grant is looked at again at its time (not_before) or after
# a reap that removed what was in its way;
# each refusal is logged once, not once per round.
# An API that answers "busy" is not an error of this host: one warning
# when it starts, one when it ends (with how long), none per round; a
# real failure is an error.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
setup_env
setup_pam
G=$T/api/grants
echo 'clock_skew = 0' >> "$CONF"
at() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }

# erin's start: far enough that the daemon's first look (under a
# sanitizer, on a loaded machine) comes before it.
t0=$(date +%s)
grant_json erin "not_before=\"$(at $((t0 + 15)))\"" > "$G/erin.json"
grant_json frank "not_before=\"$(at $((t0 + 3600)))\"" > "$G/frank.json"
grant_json dave > "$G/dave.json"
# dave's second grant on the same credential, under another name: refused
# while dave's account exists.
grant_json dave2 'id="g-dave-2"' 'requester="dave@EXAMPLE.COM"' > "$G/dave2.json"
# The daemon as start_daemon runs it, but in a mount namespace whose
# /dev/log is a syslog sink ($T/syslog: each line with its facility and
# severity), so that the severity of its lines can be read.  unshare and
# the script exec: $! is the daemon.
start_syslog
cat > "$T/run-daemon.sh" <<RUN
#!/bin/sh
set -e
$(ns_devlog)
exec $JITCTL -c $CONF daemon 2>$T/daemon.err
RUN
chmod 755 "$T/run-daemon.sh"
unshare -m --propagation private "$T/run-daemon.sh" &
D=$!
TEST_PIDS="$TEST_PIDS $D"
wait_for 10 resolves dave >/dev/null || fail "dave not resolvable: $(cat "$T/daemon.err")"
requests() { grep -c 'GET /v1/hosts/web01.test/grants' "$T/api/requests.log" || true; }
n0=$(requests)
s0=$(date +%s)

# erin becomes valid while the daemon waits: it looks again at her time.
grep -q 'event="sync" result="deny" reason="not_yet_valid" user="erin"' "$T/daemon.err" \
    || fail "erin was not refused at first: $(cat "$T/daemon.err")"
wait_for 30 resolves erin >/dev/null || fail "erin not reserved at her not_before: $(cat "$T/daemon.err")"
late=$(( $(date +%s) - t0 - 15 ))
ok "erin reserved ${late} s after her not_before"
# Ten seconds of the daemon with frank and dave2 refused.
# (the window is the thing measured: a request rate over 10 s, not a wait)
while [ $(( $(date +%s) - s0 )) -lt 10 ]; do sleep 0.5; done
n=$(( $(requests) - n0 ))
[ "$n" -le 6 ] || fail "$n list requests in 10 s with refused grants listed: $(tail -5 "$T/api/requests.log")"
ok "$n list requests in 10 s with two grants refused for now (bound 6)"
for c in 'frank not_yet_valid' 'dave2 duplicate_grant' 'erin not_yet_valid'; do
    set -- $c
    k=$(grep -c "event=\"sync\" result=\"deny\" reason=\"$2\" user=\"$1\"" "$T/daemon.err" || true)
    expect_eq "$1's refusal ($2) logged once" "$k" 1
done

# dave's first grant taken back: once his account is gone, dave2's grant
# is reserved without waiting for the next retry time.
rm "$G/dave.json"
wait_for 10 gone dave >/dev/null || fail "dave not removed: $(tail -5 "$T/daemon.err")"
ms=$(wait_for 10 resolves dave2) || fail "dave2 not reserved after dave went: $(tail -5 "$T/daemon.err")"
ok "dave2 reserved $ms ms after dave's account went"

# An API beyond its budget of held polls (jit-apid's 429 with
# Retry-After): the daemon pauses, fetches the list without a wait (so a
# revocation still arrives), and does not turn into a storm of requests.
echo busy-poll > "$T/api/faults/_list"
n0=$(requests)
s0=$(date +%s)
grant_json gina > "$G/gina.json"
ms=$(wait_for 20 resolves gina) || fail "gina not reserved while the API is busy: $(tail -5 "$T/daemon.err")"
ok "gina reserved $ms ms after her grant, the API refusing long polls"
# (the window is the thing measured: a request rate over 10 s, not a wait)
while [ $(( $(date +%s) - s0 )) -lt 10 ]; do sleep 0.5; done
n=$(( $(requests) - n0 ))
[ "$n" -le 8 ] || fail "$n list requests in 10 s with every long poll refused as busy: $(tail -5 "$T/api/requests.log")"
ok "$n list requests in 10 s with every long poll refused as busy (bound 8)"
# (syslog(3) puts a time between the severity and the tag)
busy=$(grep -c '^authpriv\.warning .*jitctl\[[0-9]*\]: daemon: the API is busy' "$T/syslog" || true)
errs=$(grep -c '^authpriv\.err .*busy' "$T/syslog" || true)
[ "$busy:$errs" = "1:0" ] || fail "a busy API for 10 s: $busy warnings, $errs error lines, want 1 and 0: $(grep busy "$T/syslog" | tail -5)"
ok "a busy API for 10 s: one warning, no error line"
# Back: the fetch without a wait after the pause brings ivan (a busy
# API answers that one too: not the end of it); the long poll after it
# is held, and a change (jack) answers it: that is the end, said once.
rm "$T/api/faults/_list"
grant_json ivan > "$G/ivan.json"
wait_for 20 resolves ivan >/dev/null || fail "ivan not reserved after the API's return: $(tail -5 "$T/daemon.err")"
grant_json jack > "$G/jack.json"
wait_for 20 grep -q '^authpriv\.warning .*jitctl\[[0-9]*\]: daemon: the API is no longer busy, after [0-9]* s' "$T/syslog" >/dev/null \
    || fail "no line for the API's recovery: $(tail -5 "$T/syslog")"
ok "$(grep -o 'daemon: the API is no longer busy.*' "$T/syslog")"
wait_for 20 resolves jack >/dev/null || fail "jack not reserved: $(tail -5 "$T/daemon.err")"
# A real failure is an error, as before (and starts no busy spell).
echo 500 > "$T/api/faults/_list"
grant_json hank > "$G/hank.json"
wait_for 20 grep -q '^authpriv\.err .*jitctl\[[0-9]*\]: sync: API: http_error: HTTP status 500' "$T/syslog" >/dev/null \
    || fail "no error line for an API answering 500: $(tail -5 "$T/syslog")"
rm "$T/api/faults/_list"
wait_for 20 resolves hank >/dev/null || fail "hank not reserved after the API's fault: $(tail -5 "$T/daemon.err")"
expect_eq "warnings of a busy API, all told (a start, an end)" \
    "$(grep -c 'daemon: the API is .*busy' "$T/syslog" || true)" 2
