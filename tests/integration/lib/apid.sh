# SPDX-License-Identifier: MIT
# jit-apid, the reference server: start_apid, stop_apid, api (a call as
# a person) and field (one field of a JSON answer).  Sourced by
# ../lib.sh.

# start_apid: jit-apid on 127.0.0.1 (a free port) in $T/apid, with the
# test CA's server certificate, client certificates from the test CA
# accepted, host tokens for web01.test and web02.test, people alice, bob,
# carol, dave and alice@OTHER.TEST (requesters) and boss (approver), and
# three policies: db-admin on the host group web (auto, 1 h, users and
# video, keep), root-ish on web01.test (approver, 10 min, users, delete,
# {user}-adm) and pick on the host group web (auto, 30 min, users,
# delete, {user} with username_choice).
# Sets APID_URL and APID_PORT; its log is $T/apid/log.  APID_LISTEN
# (default 127.0.0.1:0, a free port) restarts it where it was.
APID=${APID:-$top_builddir/contrib/jit-apid/jit-apid}
start_apid() {
    [ -x "$APID" ] || skip "jit-apid not built (configure --disable-apid)"
    [ -d "$T/certs" ] || sh "$top_srcdir/tests/api/mkcerts.sh" "$T/certs"
    mkdir -p "$T/apid"
    printf 'web01.test host-token-web01-xxxxxxxx\nweb02.test host-token-web02-xxxxxxxx\n' > "$T/apid/hosts"
    cat > "$T/apid/people" <<PEOPLE
alice@EXAMPLE.COM requester alice-token-xxxxxxxxxx
bob@EXAMPLE.COM requester bob-token-xxxxxxxxxxxx
carol@EXAMPLE.COM requester carol-token-xxxxxxxxxx
dave@EXAMPLE.COM requester dave-token-xxxxxxxxxxx
boss@EXAMPLE.COM approver boss-token-xxxxxxxxxxx
alice@OTHER.TEST requester alice-other-token-xxxxxx
PEOPLE
    chmod 600 "$T/apid/hosts" "$T/apid/people" "$T/certs/server.key"
    cat > "$T/apid/policies.json" <<'POLICIES'
{"host_groups": {"web": ["web01.test", "web02.test"]},
 "policies": [
  {"name": "db-admin-web", "credential": "db-admin", "host_groups": ["web"],
   "max_duration": 3600, "groups": ["users", "video"], "on_logout": "keep",
   "username_template": "{user}", "approval": "auto"},
  {"name": "root-web", "credential": "root-ish", "hosts": ["web01.test"],
   "max_duration": 600, "groups": ["users"], "on_logout": "delete",
   "username_template": "{user}-adm", "approval": "approver"},
  {"name": "pick-web", "credential": "pick", "host_groups": ["web"],
   "max_duration": 1800, "groups": ["users"], "on_logout": "delete",
   "username_template": "{user}", "username_choice": true,
   "approval": "auto"}]}
POLICIES
    cat > "$T/apid/apid.conf" <<CONF
listen = ${APID_LISTEN:-127.0.0.1:0}
tls_cert = $T/certs/server.pem
tls_key = $T/certs/server.key
client_ca = $T/certs/ca.pem
database = ${APID_DATABASE:-sqlite:$T/apid/apid.db}
host_tokens = $T/apid/hosts
people = $T/apid/people
policies = $T/apid/policies.json
CONF
    [ -z "${APID_ALERTS:-}" ] || echo "alerts = $APID_ALERTS" >> "$T/apid/apid.conf"
    [ -z "${APID_EXTRA:-}" ] || printf '%s\n' "$APID_EXTRA" >> "$T/apid/apid.conf"
    chmod 600 "$T/apid/apid.conf"
    "$APID" -c "$T/apid/apid.conf" 2>"$T/apid/log" </dev/null &
    TEST_PIDS="$TEST_PIDS $!"
    APID_PID=$!
    wait_for 30 grep -q 'serving on' "$T/apid/log" >/dev/null 2>&1 || true
    APID_PORT=$(sed -n 's/^jit-apid: serving on 127.0.0.1://p' "$T/apid/log")
    [ -n "$APID_PORT" ] || fail "jit-apid did not start: $(cat "$T/apid/log")"
    APID_URL=https://127.0.0.1:$APID_PORT
}

# stop_apid: SIGTERM to the jit-apid of start_apid; it must stop cleanly
# (exit 0: under a sanitizer, a report at exit fails the test here).
# Sets APID_STOP_MS.
stop_apid() {
    _t0=$(date +%s%N)
    kill -TERM "$APID_PID"
    _rc=0; wait "$APID_PID" || _rc=$?
    APID_STOP_MS=$(( ($(date +%s%N) - _t0) / 1000000 ))
    [ $_rc = 0 ] || fail "jit-apid exit status $_rc: $(grep -A40 -m1 'Sanitizer' "$T/apid/log" || tail -5 "$T/apid/log")"
    grep -q 'jit-apid: stopping' "$T/apid/log" || fail "no stop: $(cat "$T/apid/log")"
}


# api METHOD PATH TOKEN [BODY]: one call to jit-apid as a person (bearer
# token); prints the body, and puts the status in $T/api.status.
api() { # METHOD PATH TOKEN [BODY]: prints the body; status in $T/api.status
    /usr/bin/python3 - "$APID_URL" "$T/certs/ca.pem" "$@" > "$T/api.out" <<'PY'
import json, ssl, sys, urllib.request, urllib.error
url, ca, method, path, token = sys.argv[1:6]
body = sys.argv[6].encode() if len(sys.argv) > 6 else None
req = urllib.request.Request(url + path, data=body, method=method,
                             headers={"Authorization": "Bearer " + token})
try:
    r = urllib.request.urlopen(req, context=ssl.create_default_context(cafile=ca))
    print(r.status); print(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code); print(e.read().decode())
PY
    sed -n 1p "$T/api.out" > "$T/api.status"
    sed -n '2,$p' "$T/api.out"
}

# field NAME: that field of the JSON object on stdin.
field() { /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
