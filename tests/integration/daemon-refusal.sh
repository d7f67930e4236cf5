#!/bin/sh
# A grant refused for now does not make the daemon a busy loop
# (doc/design.md, threat H4; issue 10, defect 3): its long polls keep
# their ETag, so the request rate stays small whatever the list holds;
# the refused grant is looked at again at its time (not_before) or after
# a reap that removed what was in its way;
# each refusal is logged once, not once per round.
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
start_daemon
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
rm "$T/api/faults/_list"
