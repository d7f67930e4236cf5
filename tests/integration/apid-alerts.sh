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
        open("%s/../hook-%d.sig" % (out, n), "w").write(
            "%s\n" % self.headers.get("X-Jit-Signature", ""))
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
printf 'hook-secret-0123456789abcdef\n' > "$T/hook.secret"
chmod 600 "$T/hook.secret"
cat > "$T/alerts.json" <<JSON
{"enabled": ["account.created", "account.disable_failed"],
 "webhook_secret_file": "$T/hook.secret",
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
# The webhook keys an admin may name over the API (doc/design.md, G7):
# one good key, and files a hostile admin would try to have read.
mkdir -m 700 "$T/keys"
printf 'key-dir-secret-0123456789abcdef\n' > "$T/keys/hook1.key"
cp "$T/keys/hook1.key" "$T/keys/open.key"
printf 'short\n' > "$T/keys/short.key"
chmod 600 "$T/keys/hook1.key" "$T/keys/short.key"
chmod 644 "$T/keys/open.key"
ln -s "$T/hook.secret" "$T/keys/link.key"
mkfifo "$T/keys/fifo.key"
mkdir "$T/keys/sub.key"
# A hard link: a file of elsewhere under a name of the directory.
printf 'hard-link-secret-0123456789abcdef\n' > "$T/hard-src.key"
chmod 600 "$T/hard-src.key"
ln "$T/hard-src.key" "$T/keys/hard.key"
APID_EXTRA="webhook_key_dir = $T/keys"
if [ "${ALERTS_ON_PG:-}" = 1 ]; then
    [ "$(id -u)" = 0 ] || skip "needs root (to run PostgreSQL as its own user)"
    start_pg
    APID_DATABASE="postgresql:$PG_CONNINFO"
    ok "on PostgreSQL"
fi
start_apid
add_admin() { # root@EXAMPLE.COM an admin of the running jit-apid
    echo "root@EXAMPLE.COM admin root-token-xxxxxxxxxxx" >> "$T/apid/people"
    kill -HUP "$APID_PID"
    wait_for 30 grep -q 'reloaded policies' "$T/apid/log" >/dev/null || fail "no reload: $(cat "$T/apid/log")"
}
add_admin
out=$("$APID" -c "$T/apid/apid.conf" --check)
expect_eq "--check" "$out" "jit-apid: $T/apid/apid.conf: ok (3 policies, 2 hosts, 7 people, 4 alert recipients)"
# Alert settings a receiver could not trust, or a secret others can read:
# refused at the check, naming the key.
bad_alerts() { # NAME PYTHON-EDIT: --check on alerts.json changed by EDIT
    /usr/bin/python3 -c 'import json, sys
a = json.load(open(sys.argv[1])); exec(sys.argv[3]); json.dump(a, open(sys.argv[2], "w"))' \
        "$T/alerts.json" "$T/alerts-$1.json" "$2"
    sed "s|^alerts = .*|alerts = $T/alerts-$1.json|" "$T/apid/apid.conf" > "$T/apid/apid-$1.conf"
    chmod 600 "$T/apid/apid-$1.conf"
    if out=$("$APID" -c "$T/apid/apid-$1.conf" --check 2>&1); then
        fail "alerts $1 accepted: $out"
    fi
}
bad_alerts nosecret 'del a["webhook_secret_file"]'
case $out in *"a webhook needs a secret_file or webhook_secret_file"*) ;; *) fail "no secret: $out" ;; esac
cp "$T/hook.secret" "$T/hook-open.secret"; chmod 644 "$T/hook-open.secret"
bad_alerts opensecret "a['webhook_secret_file'] = '$T/hook-open.secret'"
case $out in *"webhook_secret_file $T/hook-open.secret: must be a regular file of jit-apid's user or root, mode 0600"*) ;; *) fail "readable secret: $out" ;; esac
printf 'short\n' > "$T/hook-short.secret"; chmod 600 "$T/hook-short.secret"
bad_alerts shortsecret "a['webhook_secret_file'] = '$T/hook-short.secret'"
case $out in *"16 to 1024 bytes"*) ;; *) fail "short secret: $out" ;; esac
bad_alerts mailsecret "a['recipients'][0]['secret_file'] = '$T/hook.secret'"
case $out in *"recipients[0].secret_file: a webhook's"*) ;; *) fail "secret_file on a mail recipient: $out" ;; esac
/usr/bin/python3 -c 'import json, sys
a = json.load(open(sys.argv[1])); del a["webhook_secret_file"]
a["recipients"][1]["secret_file"] = sys.argv[3]; json.dump(a, open(sys.argv[2], "w"))' \
    "$T/alerts.json" "$T/alerts-own.json" "$T/hook.secret"
sed "s|^alerts = .*|alerts = $T/alerts-own.json|" "$T/apid/apid.conf" > "$T/apid/apid-own.conf"
chmod 600 "$T/apid/apid-own.conf"
out=$("$APID" -c "$T/apid/apid-own.conf" --check 2>&1) || fail "a webhook with its own secret_file: $out"
# A key of webhook_key_dir named in the alerts file by its name: read
# from the directory (the file was parsed before jit-apid knew the
# directory, and every such name stopped it); without webhook_key_dir,
# refused naming why.
/usr/bin/python3 -c 'import json, sys
a = json.load(open(sys.argv[1])); del a["webhook_secret_file"]
a["recipients"][1]["secret_file"] = "hook1.key"; json.dump(a, open(sys.argv[2], "w"))' \
    "$T/alerts.json" "$T/alerts-named.json"
sed "s|^alerts = .*|alerts = $T/alerts-named.json|" "$T/apid/apid.conf" > "$T/apid/apid-named.conf"
chmod 600 "$T/apid/apid-named.conf"
out=$("$APID" -c "$T/apid/apid-named.conf" --check 2>&1) || fail "a key's name in the alerts file: $out"
grep -v '^webhook_key_dir' "$T/apid/apid-named.conf" > "$T/apid/apid-nodir.conf"
chmod 600 "$T/apid/apid-nodir.conf"
if out=$("$APID" -c "$T/apid/apid-nodir.conf" --check 2>&1); then
    fail "a key's name with no webhook_key_dir accepted: $out"
fi
case $out in *"recipients[1].secret_file hook1.key: a key file's name, and jit-apid has no webhook_key_dir"*) ;; *) fail "a key's name, no webhook_key_dir: $out" ;; esac
ok "a key named in the alerts file is read from webhook_key_dir (and refused, saying so, without one)"
# A webhook_key_dir others may write: whoever adds a file there picks a
# key jit-apid signs with.  Refused at the start, saying why.
chmod 770 "$T/keys"
if out=$("$APID" -c "$T/apid/apid.conf" --check 2>&1); then
    fail "a group-writable webhook_key_dir accepted: $out"
fi
chmod 700 "$T/keys"
case $out in *"webhook_key_dir $T/keys: must be a directory of root or jit-apid's user, not writable by group or others"*) ;; *) fail "group-writable webhook_key_dir: $out" ;; esac
ok "a webhook_key_dir writable by group or others stops jit-apid at the start"
mkfifo "$T/hook-fifo.secret"
bad_alerts fifosecret "a['webhook_secret_file'] = '$T/hook-fifo.secret'"
ln -s "$T/hook.secret" "$T/hook-link.secret"
bad_alerts linksecret "a['webhook_secret_file'] = '$T/hook-link.secret'"
ok "webhooks need a secret of 16 to 1024 bytes in a file only jit-apid reads (no symlink)"

# The events are web01's, of alice's grant there (jit-apid takes a host's
# events only for its own grants' accounts).
G=$(api POST /v1/grants alice-token-xxxxxxxxxx \
    '{"credential": "db-admin", "host": "web01.test", "duration": 1800, "reason": "alerts"}' | field id)
expect_eq "alice's grant on web01" "$(cat "$T/api.status")" 201
ev() { # id type [host]
    printf '{"id": "%s", "type": "%s", "time": "2026-11-24T10:00:00Z", "host": "%s", "grant": "%s", "username": "alice", "requester": "alice@EXAMPLE.COM", "detail": {"uid": 70000, "cause": "expired", "error": "userdel: still busy\\nSubject: forged\\u2028Grant status: revoked\\u202e"}}' "$1" "$2" "${3:-web01.test}" "$G"
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
alerts() { api GET /v1/alerts root-token-xxxxxxxxxxx; }
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
# An approver sees that alerts went out, of which type, when and how
# they fared, not to whom (doc/design.md, S30): no recipient, channel or
# error naming one.
api GET /v1/alerts boss-token-xxxxxxxxxxx > "$T/alerts.boss"
expect_eq "an approver reading the deliveries" "$(cat "$T/api.status")" 200
/usr/bin/python3 - "$T/alerts.boss" <<'PY' || fail "an approver's deliveries: $(cat "$T/alerts.boss")"
import json, sys
a = json.load(open(sys.argv[1]))["alerts"]
assert len(a) == 4, a
for x in a:
    assert not {"recipient", "channel", "last_error"} & set(x), x
    assert {"type", "status", "created", "event"} <= set(x), x
assert sorted(x["status"] for x in a) == ["failed", "sent", "sent", "sent"], a
PY
grep -q 'example.com\|127.0.0.1\|sendmail' "$T/alerts.boss" && fail "an approver sees a recipient: $(cat "$T/alerts.boss")"
ok "GET /v1/alerts: recipients, channels and their errors for admins only; an approver sees type, time and status"

expect_eq "mails" "$(ls "$T/mail" | wc -l)" 2
created=$(grep -l "^Subject: JIT account created: alice on web01.test$" "$T/mail"/*) || fail "mail: $(cat "$T/mail"/*)"
failed=$(grep -l "^Subject: JIT account FAILED TO DISABLE: alice on web01.test$" "$T/mail"/*) || fail "mail: $(cat "$T/mail"/*)"
grep -q -- "--argv: -oi -t" "$T/mail/0" || fail "argv: $(cat "$T/mail/0")"
for want in "Account:        alice" "Host:           web01.test" \
    "Requester:      alice@EXAMPLE.COM" "Credential:     db-admin" \
    "Policy:         db-admin-web" "Reason:         alerts" "Grant:          $G" \
    "Until:          20"; do
    grep -q "^$want" "$created" || fail "mail body has no '$want': $(cat "$created")"
done
grep -q '[{}]' "$created" "$failed" && fail "JSON in a mail body: $(cat "$created" "$failed")"
# The host's reason is in words, its newline and the header it tried to
# slip in made harmless.
grep -q "^Host's reason: *expired: userdel: still busy?Subject: forged?Grant status: revoked?$" "$failed" \
    || fail "failure mail: $(cat "$failed")"
[ "$(grep -c '^Subject:' "$failed")" = 1 ] || fail "a second Subject: $(cat "$failed")"
grep -rq "quiet@example.com" "$T/mail" && fail "a recipient of a type that is off was mailed"
ok "mail in words (account, host, requester, credential, policy, reason, until, grant; the host's reason for a failure), no JSON, no header from a host's text; no mail for a type that is off"
expect_eq "webhook posts (one refused, one accepted)" "$(ls "$T/hook" | wc -l)" 2
/usr/bin/python3 -c '
import json, sys
b = json.load(open(sys.argv[1]))
assert b["alert"] == "account.disable_failed" and b["event"]["id"] == "a3" and b["event"]["host"] == "web01.test", b
assert b["summary"] == "JIT account FAILED TO DISABLE: alice on web01.test", b
assert b["grant"]["credential"] == "db-admin" and b["grant"]["policy"] == "db-admin-web", b' "$T/hook/1" \
    || fail "webhook body: $(cat "$T/hook/1")"
ok "webhook: an HTTPS POST of the alert, its event and grant, retried after a 500"
# A receiver's check (jit-apid(8), ALERTS): HMAC-SHA256 with the shared
# secret over "<t>.<body>", t in X-Jit-Timestamp and in the signature.
/usr/bin/python3 - "$T/hook/1" "$T/hook-1.sig" "$T/hook.secret" <<'PY' || fail "webhook signature: $(cat "$T/hook-1.sig")"
import hashlib, hmac, json, sys
body = open(sys.argv[1], "rb").read()
sig = open(sys.argv[2]).read().split("\n")[0]
key = open(sys.argv[3], "rb").read().rstrip(b"\n")
parts = dict(p.split("=", 1) for p in sig.split(","))
ts = parts["t"]
assert json.loads(body)["recipient"].endswith("/jit"), body
want = hmac.new(key, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
assert hmac.compare_digest(parts["v1"], want), (parts, want)
bad = hmac.new(b"another-secret-0123456789", ts.encode() + b"." + body, hashlib.sha256).hexdigest()
assert not hmac.compare_digest(parts["v1"], bad)
tampered = hmac.new(key, ts.encode() + b"." + body.replace(b"alice", b"mallory"), hashlib.sha256).hexdigest()
assert not hmac.compare_digest(parts["v1"], tampered)
PY
ok "webhook: its signature (over its timestamp and a body naming the receiver) verifies with the secret, and not for another secret or a changed body"

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
# The operations log: the grant's host events once (under its request),
# each with its requester, however many operations the grant has.
api POST "/v1/grants/$G/revoke" alice-token-xxxxxxxxxx '{"reason": "done"}' >/dev/null
expect_eq "revoke" "$(cat "$T/api.status")" 200
api GET "/v1/operations?grant=$G" boss-token-xxxxxxxxxxx > "$T/ops"
/usr/bin/python3 - "$T/ops" <<'PY' || fail "operations: $(cat "$T/ops")"
import json, sys
ops = json.load(open(sys.argv[1]))["operations"]
assert [o["action"] for o in ops] == ["revoke", "approve", "request"], ops
with_events = [o for o in ops if "host_events" in o]
assert len(with_events) == 1 and with_events[0]["action"] == "request", ops
ev = with_events[0]["host_events"]
assert len(ev) == 4 and all(e["requester"] == "alice@EXAMPLE.COM" for e in ev), ev
PY
ok "operations log: host events once per grant, under its request, each with its requester"

# ---- Alert settings at run time (doc/design.md, S27): jit alerts ----
JIT=$top_builddir/contrib/jit-apid/jit
for p in root boss alice; do
    grep "^$p@EXAMPLE.COM " "$T/apid/people" | awk '{print $3}' > "$T/$p.token"
    chmod 600 "$T/$p.token"
done
export JIT_URL="$APID_URL" JIT_CA_FILE="$T/certs/ca.pem"
as() { _who=$1; shift; JIT_TOKEN_FILE="$T/$_who.token" "$JIT" "$@"; }
row() { printf '%-24s %s\n' "$1" "$2"; }
out=$(as root alerts list) || fail "jit alerts list: $out"
expect_eq "the file's settings, seeded" "$out" "$(row account.created enabled; row account.enabled disabled; row account.disable_failed enabled)
email secops@example.com: account.created account.enabled account.disable_failed
webhook $HOOK: account.disable_failed
email quiet@example.com: account.enabled
email broken@example.com: account.created"
for p in boss alice; do
    rc=0; out=$(as $p alerts list 2>&1) || rc=$?
    expect_eq "jit alerts list as $p" "$rc:$out" "1:jit: 403: only admins read or change the alert settings"
    rc=0; out=$(as $p alerts enable account.enabled 2>&1) || rc=$?
    expect_eq "jit alerts enable as $p" "$rc:$out" "1:jit: 403: only admins read or change the alert settings"
    api POST /v1/alerts/recipients "$(cat "$T/$p.token")" '{"email": "me@example.com", "types": ["account.created"]}' >/dev/null
    expect_eq "subscribing as $p" "$(cat "$T/api.status")" 403
done
ok "the alert settings are for admins only (403 for an approver and a requester)"

as root alerts enable account.enabled >/dev/null || fail "enable"
as root alerts disable account.created >/dev/null || fail "disable"
as root alerts subscribe --email new@example.com --type account.disable_failed >/dev/null || fail "subscribe"
out=$(as root alerts subscribe --email new@example.com --type account.disable_failed) || fail "subscribe again"
case $out in *"email new@example.com: account.disable_failed"*) ;; *) fail "subscribed: $out" ;; esac
as root alerts unsubscribe --email quiet@example.com --type account.enabled >/dev/null || fail "unsubscribe"
rc=0; out=$(as root alerts unsubscribe --email quiet@example.com 2>&1) || rc=$?
expect_eq "unsubscribing one not subscribed" "$rc:$out" "1:jit: 404: no such recipient subscribed"
# Without a restart: an account.enabled now alerts (secops), an
# account.created no longer does, and new@ gets a failure.
batch="{\"events\": [$(ev b1 account.created), $(ev b2 account.enabled), $(ev b3 account.disable_failed)]}"
api POST /v1/hosts/web01.test/events host-token-web01-xxxxxxxx "$batch" >/dev/null
expect_eq "events after the changes" "$(cat "$T/api.status")" 200
queued() { alerts | /usr/bin/python3 -c '
import json, sys
for x in sorted(json.load(sys.stdin)["alerts"], key=lambda x: (x["event"], x["recipient"])):
    if x["event"].startswith(sys.argv[1]): print(x["event"], x["recipient"])' "$1"; }
expect_eq "deliveries after the changes" "$(queued b)" "b2 secops@example.com
b3 $HOOK
b3 new@example.com
b3 secops@example.com"
ok "jit alerts enable, disable, subscribe, unsubscribe take effect without a restart; a second subscribe changes nothing; unsubscribing one not subscribed is 404"

# An approver reads the log too, but not whom a change named (doc/design.md, S30).
api GET /v1/operations boss-token-xxxxxxxxxxx > "$T/ops.boss"
/usr/bin/python3 - "$T/ops.boss" <<'PY' || fail "an approver's operations: $(cat "$T/ops.boss")"
import json, sys
ops = [o for o in json.load(open(sys.argv[1]))["operations"] if o["action"].startswith("alerts.")]
assert [o["action"] for o in ops][:4] == ["alerts.unsubscribe", "alerts.subscribe", "alerts.disable", "alerts.enable"], ops
for o in ops:
    if o["action"] in ("alerts.enable", "alerts.disable"):
        assert o["detail"].startswith("type="), o
    else:
        assert "detail" not in o and o["actor"], o
PY
grep -q 'example.com' "$T/ops.boss" && fail "an approver sees a recipient in the log: $(cat "$T/ops.boss")"
api GET /v1/operations root-token-xxxxxxxxxxx > "$T/ops"
/usr/bin/python3 - "$T/ops" <<'PY' || fail "operations: $(cat "$T/ops")"
import json, sys
ops = [(o["action"], o["actor"], o.get("detail")) for o in json.load(open(sys.argv[1]))["operations"] if o["action"].startswith("alerts.")]
want = [("alerts.unsubscribe", "root@EXAMPLE.COM", 'email=quiet@example.com types=["account.enabled"]'),
        ("alerts.subscribe", "root@EXAMPLE.COM", 'email=new@example.com types=["account.disable_failed"]'),
        ("alerts.disable", "root@EXAMPLE.COM", "type=account.created"),
        ("alerts.enable", "root@EXAMPLE.COM", "type=account.enabled")]
assert ops[:4] == want, ops
assert ops[4][0] == "alerts.seed" and ops[4][1] == "jit-apid", ops
PY
ok "each change on the operations log with the admin who made it (a repeated subscribe not again); the seed by jit-apid"

# Hostile settings: refused, naming what, and nothing changed.
hostile() { # WHAT BODY WANT-IN-MESSAGE
    api POST /v1/alerts/recipients root-token-xxxxxxxxxxx "$2" > "$T/hostile"
    expect_eq "$1: status" "$(cat "$T/api.status")" 400
    grep -qF -- "$3" "$T/hostile" || fail "$1: $(cat "$T/hostile")"
}
hostile "an address with CR LF" '{"email": "a@example.com\r\nBcc: x@evil.test", "types": ["account.created"]}' "email: a plain address"
hostile "an address with a control" '{"email": "a\u0001b@example.com", "types": ["account.created"]}' "email: a plain address"
hostile "an address like an option" '{"email": "-oQ/tmp@example.com", "types": ["account.created"]}' "email: a plain address"
hostile "a webhook over http" '{"webhook": "http://hooks.example.com/jit", "types": ["account.created"]}' "webhook: an https URL"
hostile "a webhook URL with a newline" '{"webhook": "https://h.example.com/\nX-Evil: 1", "types": ["account.created"]}' "webhook: an https URL"
# A webhook's key over the API: a name in webhook_key_dir only; any other
# file jit-apid can read is refused before anything on disk is looked at,
# the same words for one that exists and one that does not, and a file
# of the directory that is no usable key is refused with the same words
# whatever is wrong with it (missing, a link, readable by others, a FIFO,
# a directory, too short, a hard link) (doc/design.md, G7).
cp "$T/hook.secret" "$T/hook-open2.secret"; chmod 644 "$T/hook-open2.secret"
hook_body() { printf '{"webhook": "https://h.example.com/x", "secret_file": "%s", "types": ["account.created"]}' "$1"; }
outside="secret_file: the name of a key file in webhook_key_dir $T/keys (letters, digits, ._-)"
for f in "$T/hook.secret" "$T/hook-open2.secret" /etc/shadow /nonexistent/x "$T/keys/../hook.secret" \
    "../hook.secret" "sub.key/x" ".hidden" "$T/keys/link.key/x"; do
    hostile "a secret_file outside webhook_key_dir: $f" "$(hook_body "$f")" "$outside"
    cp "$T/hostile" "$T/hostile.outside.$(echo "$f" | tr -c 'a-z0-9\n' _)"
done
expect_eq "an existing and a missing file outside: the same answer" \
    "$(cat "$T/hostile.outside._etc_shadow")" "$(cat "$T/hostile.outside._nonexistent_x")"
for f in missing.key link.key open.key fifo.key sub.key short.key hard.key; do
    hostile "a key in webhook_key_dir that is no key: $f" "$(hook_body "$f")" \
        "secret_file: no usable key $f in webhook_key_dir (a regular file, not a link, of jit-apid's user or root, mode 0600 or stricter, of 16 to 1024 bytes)"
    sed "s/$f/NAME/" "$T/hostile" > "$T/hostile.in.$f"
done
for f in link.key open.key fifo.key sub.key short.key hard.key; do
    expect_eq "$f: the answer of a missing key" "$(cat "$T/hostile.in.$f")" "$(cat "$T/hostile.in.missing.key")"
done
hostile "a secret_file with a newline (a forged log line)" "{\"webhook\": \"https://h.example.com/x\", \"secret_file\": \"hook1.key\\n2026-12-03T00:00:00Z alerts.disable - by boss@EXAMPLE.COM\", \"types\": [\"account.created\"]}" "$outside"
ok "a webhook's key over the API: only a usable key of webhook_key_dir, by name, opened without following a link; nothing told of any other file"
hostile "a secret_file on mail" "{\"email\": \"m@example.com\", \"secret_file\": \"hook1.key\", \"types\": [\"account.created\"]}" "secret_file: a webhook's"
hostile "an unknown type" '{"email": "m@example.com", "types": ["account.created", "account.pwned"]}' 'unknown alert type \"account.pwned\"'
hostile "no type" '{"email": "m@example.com", "types": []}' "types: at least one alert type"
hostile "two recipients in one" '{"email": "m@example.com", "webhook": "https://h.example.com/x", "types": ["account.created"]}' "one of email, webhook or directory_group"
hostile "a directory group without a directory" '{"directory_group": "secops", "types": ["account.created"]}' "needs people_source ldap or both"
rc=0; out=$(as root alerts enable account.pwned 2>&1) || rc=$?
expect_eq "jit alerts enable of an unknown type" "$rc:$out" '1:jit: 400: unknown alert type "account.pwned" (account.created, account.enabled or account.disable_failed)'
api POST "/v1/alerts/types/account.x%0d%0aEvil/enable" root-token-xxxxxxxxxxx > "$T/hostile"
expect_eq "a type with CR LF" "$(cat "$T/api.status")" 400
grep -q 'unknown alert type \\"?\\"' "$T/hostile" || fail "a type with CR LF named back: $(cat "$T/hostile")"
out=$(as root alerts list | grep -c '^email\|^webhook')
expect_eq "recipients after the hostile ones" "$out" 4
ok "hostile settings refused with 400 naming the field: CR/LF and controls in an address, http or broken webhook URLs, a secret others read, unknown types"

# Another spelling of a subscribed address adds types to it and keeps its
# first spelling (its queued alerts name it so); a long webhook URL's
# change is logged whole.
out=$(as root alerts subscribe --email NEW@Example.COM --type account.created 2>&1) || fail "subscribe in capitals: $out"
case $out in *"email new@example.com: account.created account.disable_failed"*) ;; *) fail "another spelling: $out" ;; esac
as root alerts unsubscribe --email new@example.com --type account.created >/dev/null || fail "unsubscribe the added type"
long="https://h.example.com/$(printf '%02000d' 0)"
as root alerts subscribe --webhook "$long" --secret-file "$T/keys/hook1.key" --type account.created >/dev/null \
    || fail "subscribe a long webhook"
api GET /v1/operations root-token-xxxxxxxxxxx > "$T/ops"
/usr/bin/python3 - "$T/ops" hook1.key <<'PY' || fail "the long webhook's log entry: $(cat "$T/ops")"
import json, sys
op = [o for o in json.load(open(sys.argv[1]))["operations"] if o["action"] == "alerts.subscribe"][0]
assert op["detail"].endswith(' types=["account.created"] secret_file=' + sys.argv[2]), op["detail"][-200:]
PY
as root alerts unsubscribe --webhook "$long" >/dev/null || fail "unsubscribe the long webhook"
ok "another spelling of an address keeps the first; a 2000-byte webhook URL's change logged whole"

# Another instance on the same database: its change is this one's too,
# before the next alert, without a restart.
"$APID" -c "$T/apid/apid.conf" 2>"$T/apid/log2" </dev/null &
TEST_PIDS="$TEST_PIDS $!"
APID2_PID=$!
wait_for 30 grep -q 'serving on' "$T/apid/log2" >/dev/null 2>&1 || fail "second jit-apid: $(cat "$T/apid/log2")"
port2=$(sed -n 's/^jit-apid: serving on 127.0.0.1://p' "$T/apid/log2")
JIT_URL=https://127.0.0.1:$port2 as root alerts enable account.created >/dev/null || fail "enable on the second instance"
api POST /v1/hosts/web01.test/events host-token-web01-xxxxxxxx "{\"events\": [$(ev c1 account.created)]}" >/dev/null
expect_eq "deliveries after the other instance's change" "$(queued c)" "c1 broken@example.com
c1 secops@example.com"
kill -TERM "$APID2_PID"; wait "$APID2_PID" || fail "second jit-apid exit: $(tail -5 "$T/apid/log2")"
ok "a change made on another instance on the same database takes effect here"

# A restart with the same file does not undo the changes: the file seeds
# an empty table only.
stop_apid
start_apid
add_admin
out=$(JIT_URL="$APID_URL" as root alerts list) || fail "list after restart: $out"
case $out in *"email new@example.com: account.disable_failed"*) ;; *) fail "after restart: $out" ;; esac
case $out in *quiet@example.com*) fail "the file undid an unsubscribe: $out" ;; esac
expect_eq "account.enabled after restart" "$(echo "$out" | grep '^account.enabled ')" "$(row account.enabled enabled)"
grep -q "the settings in the database are used" "$T/apid/log" || fail "no word of the file not seeding: $(cat "$T/apid/log")"
ok "a restart keeps the run-time changes (the file seeds an empty table only)"
if [ "${ALERTS_ON_PG:-}" != 1 ]; then
    stop_apid
    APID_DATABASE=sqlite:$T/fresh.db APID_ALERTS= start_apid
    add_admin
    out=$(JIT_URL="$APID_URL" as root alerts list) || fail "list on a fresh database: $out"
    expect_eq "a fresh database" "$out" "$(row account.created disabled; row account.enabled disabled; row account.disable_failed disabled)"
    ok "all alert types off on a fresh database"
fi
stop_apid
ok "stopped cleanly with the deliverer running"
