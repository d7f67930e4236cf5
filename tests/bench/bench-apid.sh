#!/bin/sh
# make bench-apid: jit-apid under load on this machine: HOSTS hosts
# (default 1000) each holding a long poll, while logins arrive at RATE per
# second (default 100) for SECONDS seconds (default 20), each a grant
# check by name on a new TLS connection.  Prints a table and the RESULT
# line.  Needs root only for nothing; runs anywhere the build does.
set -eu
: "${top_builddir:?run through make bench-apid}" "${top_srcdir:?}"
HOSTS=${BENCH_HOSTS:-1000}
RATE=${BENCH_RATE:-100}
SECS=${BENCH_SECONDS:-20}
USERS=100
T=$(mktemp -d /tmp/jit-bench-apid.XXXXXX)
APID_PID=
cleanup() {
    if [ -n "$APID_PID" ]; then
        kill "$APID_PID" 2>/dev/null || true
        for _i in $(seq 1 100); do kill -0 "$APID_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$APID_PID" 2>/dev/null || true
        wait "$APID_PID" 2>/dev/null || true
    fi
    rm -rf "$T"
}
trap cleanup EXIT
# One descriptor per connection on both sides.
ulimit -n 16384
sh "$top_srcdir/tests/api/mkcerts.sh" "$T/certs" >/dev/null 2>&1
chmod 600 "$T/certs/server.key"
/usr/bin/python3 - "$T" "$HOSTS" "$USERS" <<'PY'
import json, os, secrets, sys
t, hosts, users = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
names = ["host%04d.bench" % i for i in range(hosts)]
with open(t + "/hosts", "w") as f:
    for n in names:
        f.write("%s tok-%s-%s\n" % (n, n, secrets.token_hex(8)))
with open(t + "/people", "w") as f:
    for u in range(users):
        f.write("u%03d@BENCH requester tok-u%03d-%s\n" % (u, u, secrets.token_hex(8)))
json.dump({"host_groups": {"all": names},
           "policies": [{"name": "bench", "credential": "bench",
                         "host_groups": ["all"], "max_duration": 86400,
                         "groups": ["users"], "approval": "auto"}]},
          open(t + "/policies.json", "w"))
os.chmod(t + "/hosts", 0o600)
os.chmod(t + "/people", 0o600)
PY
cat > "$T/apid.conf" <<CONF
listen = 127.0.0.1:0
tls_cert = $T/certs/server.pem
tls_key = $T/certs/server.key
database = sqlite:$T/apid.db
host_tokens = $T/hosts
people = $T/people
policies = $T/policies.json
max_connections = 8192
CONF
chmod 600 "$T/apid.conf"
"$top_builddir/contrib/jit-apid/jit-apid" -c "$T/apid.conf" 2>"$T/apid.log" </dev/null &
APID_PID=$!
for i in $(seq 1 100); do grep -q 'serving on' "$T/apid.log" && break; sleep 0.05; done
PORT=$(sed -n 's/^jit-apid: serving on 127.0.0.1://p' "$T/apid.log")
[ -n "$PORT" ] || { cat "$T/apid.log"; exit 1; }
URL=https://127.0.0.1:$PORT
# Every user a grant on every host.
/usr/bin/python3 - "$URL" "$T" <<'PY'
import json, ssl, sys, urllib.request
url, t = sys.argv[1:3]
ctx = ssl.create_default_context(cafile=t + "/certs/ca.pem")
for line in open(t + "/people"):
    who, role, tok = line.split()
    req = urllib.request.Request(url + "/v1/grants", method="POST",
        data=json.dumps({"credential": "bench", "host_group": "all",
                         "duration": 86400, "reason": "bench"}).encode(),
        headers={"Authorization": "Bearer " + tok})
    urllib.request.urlopen(req, context=ctx).read()
PY
rss() { awk -v k="$1" '$1 == k":" {print int($2 / 1024)}' "/proc/$APID_PID/status"; }
rss_idle=$(rss VmRSS)
"$top_builddir/tests/bench/bench_apid" "$URL" "$T/certs/ca.pem" "$T/hosts" "$USERS" \
    "$HOSTS" "$RATE" "$SECS" > "$T/out" 2>"$T/err" || { cat "$T/err" "$T/out"; exit 1; }
rss_peak=$(rss VmHWM)
threads=$(awk '$1 == "Threads:" {print $2}' "/proc/$APID_PID/status")
v() { awk -v k="$1" '{for (i = 1; i < NF; i += 2) if ($i == k) print $(i + 1)}' "$T/out"; }
echo "# $(uname -m), $(nproc) cpus; jit-apid (SQLite) and the load generator on the same machine"
printf '%-58s %12s\n' "" "value"
printf '%-58s %12s\n' "hosts holding a long poll" "$HOSTS"
printf '%-58s %12s\n' "grants on each host" "$USERS"
printf '%-58s %12s\n' "logins asked for (rate x seconds)" "$RATE x $SECS"
printf '%-58s %12s\n' "logins answered 200 / failed" "$(v ok) / $(v failed)"
printf '%-58s %12s\n' "logins per second achieved" "$(v rate)"
printf '%-58s %12s\n' "login: grant check on a new TLS connection, p50 (ms)" "$(v p50_ms)"
printf '%-58s %12s\n' "login: p90 (ms)" "$(v p90_ms)"
printf '%-58s %12s\n' "login: p99 (ms)" "$(v p99_ms)"
printf '%-58s %12s\n' "login: max (ms)" "$(v max_ms)"
printf '%-58s %12s\n' "long polls answered meanwhile (nothing changed)" "$(v long_poll_answers)"
printf '%-58s %12s\n' "jit-apid threads at the end" "$threads"
printf '%-58s %12s\n' "jit-apid RSS before the load (MiB)" "$rss_idle"
printf '%-58s %12s\n' "jit-apid peak RSS (MiB)" "$rss_peak"
t0=$(date +%s%N)
kill "$APID_PID"
wait "$APID_PID" 2>/dev/null || true
APID_PID=
printf '%-58s %12s\n' "jit-apid stop on SIGTERM after the run (ms)" "$(( ($(date +%s%N) - t0) / 1000000 ))"
echo "RESULT hosts=$HOSTS login_p99_ms=$(v p99_ms) rss_mb=$rss_peak"
