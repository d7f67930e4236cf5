# SPDX-License-Identifier: MIT
# The fault-injecting test API (tests/api/jit-test-api.py) and the
# grants it serves: start_api, grant_json.  Sourced by ../lib.sh.

# start_api NAME CERT [server args]: the fault-injecting test API serving
# $T/NAME (grants/, faults/), TLS with the test CA's CERT; sets API_PORT.
# Not to be called in $(...): the server would hold the pipe open.
start_api() {
    _name=$1 _cert=$2
    shift 2
    [ -d "$T/certs" ] || sh "$top_srcdir/tests/api/mkcerts.sh" "$T/certs"
    mkdir -p "$T/$_name/grants" "$T/$_name/faults"
    /usr/bin/python3 "$top_srcdir/tests/api/jit-test-api.py" --dir "$T/$_name" \
        --cert "$T/certs/$_cert.pem" --key "$T/certs/$_cert.key" "$@" \
        >"$T/$_name/stdout" 2>"$T/$_name/stderr" </dev/null &
    TEST_PIDS="$TEST_PIDS $!"
    wait_for 30 test -s "$T/$_name/port" >/dev/null || true
    [ -s "$T/$_name/port" ] || fail "test API $_name did not start: $(cat "$T/$_name/stderr")"
    API_PORT=$(cat "$T/$_name/port")
}


# grant_json USER [key=value...]: a grant for USER that fits, with fields
# overridden (values are JSON text: id='"g-2"').
grant_json() {
    _u=$1
    shift
    /usr/bin/python3 - "$_u" "$@" <<'PY'
import json, sys
u = sys.argv[1]
g = {"id": "g-" + u, "credential": "db-admin", "requester": u + "@EXAMPLE.COM",
     "username": u, "host": "web01.test", "groups": ["users", "video"],
     "not_before": "2026-01-01T00:00:00Z", "expires_at": "2036-01-01T00:00:00Z",
     "reason": "INC-1 test", "status": "active", "on_logout": "delete",
     "ssh_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDHkdrpAIOzm8kahQ+kwMFzo5hwUPnBeolqDxfp/ZNY5 " + u + "@laptop"]}
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    g[k] = json.loads(v)
print(json.dumps(g))
PY
}
