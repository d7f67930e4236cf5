#!/bin/sh
# SPDX-License-Identifier: MIT
# make bench-reaper: sync of 10,000 grants into an empty store, re-sync
# with nothing changed (the conditional GET sync and the daemon make, and
# a full list applied again), reaping 1,000 expired accounts with small
# homes and no processes, and the delay between an account's expires_at
# and its disappearance with jitctl daemon running.  Against the loopback
# test API.  Prints a table and the RESULT line.  Needs root.
set -eu
: "${top_builddir:?run through make bench-reaper}" "${top_srcdir:?}" "${JIT_STATE_DIR_BUILTIN:?}"
. "$top_srcdir/tests/integration/lib.sh"
require_ns
setup_env
setup_pam
N=${BENCH_GRANTS:-10000}
R=${BENCH_REAP:-1000}
sed -i '/^timeout = [0-9]*$/d' "$CONF" # (the tests' own, before ours)
printf 'max_response_size = 67108864\ntimeout = 60\n' >> "$CONF"
sed -i 's/^uid_max = .*/uid_max = 99999/' "$CONF" # 10,000 accounts
/usr/bin/python3 - "$T/api/grants" "$N" <<'PY'
import json, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    u = "s%05d" % i
    g = {"id": "g-" + u, "credential": "db-admin", "requester": u + "@EXAMPLE.COM",
         "username": u, "host": "web01.test", "groups": ["users"],
         "not_before": "2026-01-01T00:00:00Z", "expires_at": "2036-01-01T00:00:00Z",
         "reason": "bench", "status": "active", "on_logout": "keep",
         "ssh_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDHkdrpAIOzm8kahQ+kwMFzo5hwUPnBeolqDxfp/ZNY5 " + u + "@laptop"]}
    open("%s/%s.json" % (d, u), "w").write(json.dumps(g))
PY
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
sql() { /usr/bin/python3 -c '
import sqlite3, sys
db = sqlite3.connect(sys.argv[1]); r = db.execute(sys.argv[2]).fetchall(); db.commit()
print(" ".join(str(x) for row in r for x in row))' "$STATE/state.db" "$1"; }

# Warm the API's list cache, so that the first sync is not charged for
# the test server reading 10,000 files.
"$top_builddir/tests/helpers/jit-api-get" --config "$CONF" list >/dev/null
t0=$(date +%s%N); out=$("$JITCTL" -c "$CONF" sync 2>/dev/null); sync_ms=$(ms $t0)
case $out in "sync: $N grants: $N reserved,"*) ;; *) echo "bench-reaper: first sync: $out" >&2; exit 1 ;; esac
t0=$(date +%s%N); out=$("$JITCTL" -c "$CONF" sync 2>/dev/null); resync_ms=$(ms $t0)
case $out in "sync: the list has not changed"*) ;; *) echo "bench-reaper: re-sync: $out" >&2; exit 1 ;; esac
# The same conditional GET alone, through the same client in a process of
# its own: what of the re-sync is the round trip and the test server's
# work (it stats every grant file to compute its ETag), not jitctl's.
etag=$(sql "SELECT value FROM kv WHERE key = 'sync.etag'")
best=
for k in 1 2 3 4 5; do
    t0=$(date +%s%N); "$JITCTL" -c "$CONF" sync >/dev/null 2>&1; a=$(ms $t0)
    t0=$(date +%s%N); "$top_builddir/tests/helpers/jit-api-get" --config "$CONF" list "$etag" 0 >/dev/null || true; b=$(ms $t0)
    resync_runs="${resync_runs:-}${resync_runs:+,}$a"; api_runs="${api_runs:-}${api_runs:+,}$b"
done
resync_med=$(echo "$resync_runs" | tr ',' '\n' | sort -n | sed -n 3p)
api304_ms=$(echo "$api_runs" | tr ',' '\n' | sort -n | sed -n 3p)
sql "DELETE FROM kv" >/dev/null
t0=$(date +%s%N); out=$("$JITCTL" -c "$CONF" sync 2>/dev/null); full_ms=$(ms $t0)
case $out in "sync: $N grants: 0 reserved, 0 updated, $N unchanged,"*) ;; *) echo "bench-reaper: full re-sync: $out" >&2; exit 1 ;; esac

# R accounts past their end, each with a small home (3 files).
sql "SELECT name || ':' || uid FROM accounts ORDER BY uid LIMIT $R" | tr ' ' '\n' > "$T/reap.list"
while IFS=: read -r name uid; do
    mkdir -p "$T/home/$name/.config"
    echo x > "$T/home/$name/.profile"; echo y > "$T/home/$name/.config/a"; echo z > "$T/home/$name/notes"
    chown -R "$uid:$uid" "$T/home/$name"; chmod 700 "$T/home/$name"
done < "$T/reap.list"
sql "UPDATE accounts SET expires = 1 WHERE uid IN (SELECT uid FROM accounts ORDER BY uid LIMIT $R)" >/dev/null
t0=$(date +%s%N); out=$("$JITCTL" -c "$CONF" reap 2>/dev/null | tail -1); reap_ms=$(ms $t0)
case $out in "reap: $R due, 0 failed") ;; *) echo "bench-reaper: reap: $out" >&2; exit 1 ;; esac
left=$(ls "$T/home" | wc -l)

# Expiry delay with the daemon running (and N - R accounts in the store).
"$JITCTL" -c "$CONF" daemon 2>/dev/null &
D=$!
TEST_PIDS="$TEST_PIDS $D"
delays=
for k in 1 2 3; do
    soon=$(date -u -d '+3 seconds' +%Y-%m-%dT%H:%M:%SZ)
    grant_json "exp$k" "expires_at=\"$soon\"" > "$T/api/grants/exp$k.json"
    end=$(date -d "$soon" +%s)
    i=0
    while [ $i -lt 100 ] && ! in_ns getent passwd "exp$k" >/dev/null; do sleep 0.05; i=$((i + 1)); done
    while in_ns getent passwd "exp$k" >/dev/null; do sleep 0.02; done
    delays="$delays $(( $(date +%s%N) / 1000000 - end * 1000 ))"
    rm "$T/api/grants/exp$k.json"
done
kill -TERM $D; wait $D 2>/dev/null || true
delay_ms=$(echo $delays | tr ' ' '\n' | sort -n | sed -n 2p)

echo "# $(uname -m), $(nproc) cpus; test API: python3 http.server + TLS on loopback; $N grants"
printf '%-60s %12s\n' "" "value"
printf '%-60s %12s\n' "sync of $N grants into an empty store (ms)" "$sync_ms"
printf '%-60s %12s\n' "re-sync, nothing changed: conditional GET, 304 (ms)" "$resync_ms"
printf '%-60s %12s\n' "  again, median of 5 (ms)" "$resync_med"
printf '%-60s %12s\n' "  of which the 304 alone (jit-api-get, median of 5) (ms)" "$api304_ms"
printf '%-60s %12s\n' "  so jitctl's own part (ms)" "$((resync_med - api304_ms))"
printf '%-60s %12s\n' "re-sync, nothing changed: full list applied again (ms)" "$full_ms"
printf '%-60s %12s\n' "reap of $R expired accounts with small homes (ms)" "$reap_ms"
printf '%-60s %12s\n' "  homes left under home_base" "$left"
printf '%-60s %12s\n' "expires_at to gone, daemon running, median of 3 (ms)" "$delay_ms"
printf '%-60s %12s\n' "  each of the 3 (ms)" "$(echo $delays | tr ' ' ',')"
echo "RESULT sync_10k_ms=$sync_ms resync_10k_ms=$resync_med reap_1000_s=$(echo "scale=2; $reap_ms / 1000" | bc) expiry_delay_s=$(echo "scale=2; $delay_ms / 1000" | bc)"
