#!/bin/sh
# SPDX-License-Identifier: MIT
# jit-apid alerts: only enabled types alert, only subscribed recipients
# are notified, by a sendmail-compatible command (fixed argv, no shell) or
# an HTTPS webhook; a failed delivery is retried with backoff and, after
# max_attempts, recorded as failed; a redelivered event alerts no one
# twice; another host's event in a grant is refused and alerts no one;
# every delivery is on record (GET /v1/alerts).
. "$top_srcdir/tests/integration/lib.sh"
setup_env
mkdir -p "$T/mail" "$T/hook"
# A sendmail stand-in: keeps each message; refuses mail to broken@.
cat > "$T/sendmail" <<SM
#!/bin/sh
msg=\$(cat)
case "\$msg" in *"To: broken@example.com"*) exit 1 ;; esac
n=\$(ls $T/mail | wc -l)
printf '%s\n--argv: %s\n' "\$msg" "\$*" > $T/mail/\$n
SM
chmod 755 "$T/sendmail"
sh "$top_srcdir/tests/api/mkcerts.sh" "$T/certs" >/dev/null 2>&1
# A webhook receiver on loopback: the first POST gets 500, later ones 200.
/usr/bin/python3 - "$T/certs" "$T/hook" <<'PY' >/dev/null 2>&1 &
import http.server, os, ssl, sys
certs, out = sys.argv[1:3]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        n = len(os.listdir(out))
        body = self.rfile.read(int(self.headers["Content-Length"]))
        open("%s/%d" % (out, n), "wb").write(body)
        self.send_response(500 if n == 0 else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(certs + "/server.pem", certs + "/server.key")
s.socket = ctx.wrap_socket(s.socket, server_side=True)
open(out + "/../hook.port", "w").write(str(s.server_address[1]))
s.serve_forever()
PY
TEST_PIDS="$TEST_PIDS $!"
wait_for 30 test -s "$T/hook.port" >/dev/null || true
HOOK=https://127.0.0.1:$(cat "$T/hook.port")/jit
cat > "$T/alerts.json" <<JSON
{"enabled": ["account.created", "account.disable_failed"],
 "sendmail": ["$T/sendmail", "-oi", "-t"],
 "from": "jit-apid@example.com",
 "webhook_ca": "$T/certs/ca.pem",
 "retry_seconds": 1, "max_attempts": 3,
 "recipients": [
   {"email": "secops@example.com",
    "types": ["account.created", "account.enabled", "account.disable_failed"]},
   {"webhook": "$HOOK", "types": ["account.disable_failed"]},
   {"email": "quiet@example.com", "types": ["account.enabled"]},
   {"email": "broken@example.com", "types": ["account.created"]}]}
JSON
APID_ALERTS=$T/alerts.json
if [ "${ALERTS_ON_PG:-}" = 1 ]; then
    [ "$(id -u)" = 0 ] || skip "needs root (to run PostgreSQL as its own user)"
    start_pg
    APID_DATABASE="postgresql:$PG_CONNINFO"
    ok "on PostgreSQL"
fi
start_apid
out=$("$APID" -c "$T/apid/apid.conf" --check)
expect_eq "--check" "$out" "jit-apid: $T/apid/apid.conf: ok (3 policies, 2 hosts, 6 people, 4 alert recipients)"

# The events are web01's, of alice's grant there (jit-apid takes a host's
# events only for its own grants' accounts).
G=$(api POST /v1/grants alice-token-xxxxxxxxxx \
    '{"credential": "db-admin", "host": "web01.test", "duration": 1800, "reason": "alerts"}' | field id)
expect_eq "alice's grant on web01" "$(cat "$T/api.status")" 201
ev() { # id type [host]
    printf '{"id": "%s", "type": "%s", "time": "2026-11-24T10:00:00Z", "host": "%s", "grant": "%s", "username": "alice", "requester": "alice@EXAMPLE.COM", "detail": {"uid": 70000}}' "$1" "$2" "${3:-web01.test}" "$G"
}
# web02 writing an alerting event into web01's grant: refused, and no
# one is alerted (the deliveries below are exactly those of web01's).
api POST /v1/hosts/web02.test/events host-token-web02-xxxxxxxx \
    "{\"events\": [$(ev f1 account.created web02.test)]}" >/dev/null
expect_eq "web02's event in web01's grant" "$(cat "$T/api.status")" 403
batch="{\"events\": [$(ev a1 account.created), $(ev a2 account.enabled), $(ev a3 account.disable_failed), $(ev a4 session.opened)]}"
api POST /v1/hosts/web01.test/events host-token-web01-xxxxxxxx "$batch" >/dev/null
expect_eq "events accepted" "$(cat "$T/api.status")" 200
api POST /v1/hosts/web01.test/events host-token-web01-xxxxxxxx "$batch" >/dev/null # redelivered
expect_eq "events redelivered" "$(cat "$T/api.status")" 200
alerts() { api GET /v1/alerts boss-token-xxxxxxxxxxx; }
settled() { alerts | /usr/bin/python3 -c '
import json, sys
a = json.load(sys.stdin)["alerts"]
sys.exit(0 if len(a) == 4 and all(x["status"] in ("sent", "failed") for x in a) else 1)'; }
wait_for 60 settled >/dev/null || true
settled || fail "alerts not settled: $(alerts)"
got=$(alerts | /usr/bin/python3 -c '
import json, sys
for x in sorted(json.load(sys.stdin)["alerts"], key=lambda x: (x["event"], x["recipient"])):
    print(x["event"], x["type"], x["channel"], x["recipient"], x["status"], x["attempts"], x.get("last_error", "-"))')
expect_eq "deliveries" "$got" "a1 account.created email broken@example.com failed 3 $T/sendmail: exit status 1
a1 account.created email secops@example.com sent 1 -
a3 account.disable_failed webhook $HOOK sent 2 -
a3 account.disable_failed email secops@example.com sent 1 -"
ok "enabled types only, subscribed recipients only, once per event; retried, given up after 3"

expect_eq "mails" "$(ls "$T/mail" | wc -l)" 2
grep -l "Subject: \[jit\] account.created: alice on web01.test" "$T/mail"/* >/dev/null || fail "mail: $(cat "$T/mail"/*)"
grep -l "Subject: \[jit\] account.disable_failed: alice on web01.test" "$T/mail"/* >/dev/null || fail "mail: $(cat "$T/mail"/*)"
grep -q -- "--argv: -oi -t" "$T/mail/0" || fail "argv: $(cat "$T/mail/0")"
grep -q '"uid": 70000' "$T/mail/0" || fail "body: $(cat "$T/mail/0")"
grep -rq "quiet@example.com" "$T/mail" && fail "a recipient of a type that is off was mailed"
ok "mail through the configured command, the event in the body; no mail for a type that is off"
expect_eq "webhook posts (one refused, one accepted)" "$(ls "$T/hook" | wc -l)" 2
/usr/bin/python3 -c '
import json, sys
b = json.load(open(sys.argv[1]))
assert b["alert"] == "account.disable_failed" and b["event"]["id"] == "a3" and b["event"]["host"] == "web01.test", b' "$T/hook/1" \
    || fail "webhook body: $(cat "$T/hook/1")"
ok "webhook: an HTTPS POST of the alert and its event, retried after a 500"

rc=0; /usr/bin/python3 - "$APID_URL" "$T/certs/ca.pem" <<'PY' || rc=$?
import ssl, sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1] + "/v1/alerts", headers={"Authorization": "Bearer alice-token-xxxxxxxxxx"})
try:
    urllib.request.urlopen(req, context=ssl.create_default_context(cafile=sys.argv[2]))
    sys.exit(1)
except urllib.error.HTTPError as e:
    sys.exit(0 if e.code == 403 else 1)
PY
expect_eq "a requester reading the deliveries" "$rc" 0
ok "the record of deliveries is for approvers"
stop_apid
ok "stopped cleanly with the deliverer running"
