#!/bin/sh
# SPDX-License-Identifier: MIT
# Kerberos (Negotiate) host authentication, end to end: an MIT KDC on
# loopback, jit-apid with its service keytab, pam_jit and jitctl with the
# host's keytab.  The host's ticket is kept in the state directory and
# reused (one AS exchange for many requests, none while the KDC is down);
# another host's or a person's principal, a replayed token and a token of
# another realm are refused; with no usable key the login fails closed.
# curl's own SPNEGO is accepted too.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
setup_env
setup_pam
start_kdc
APID_EXTRA="krb5_keytab = $K/http.keytab
krb5_realm = JIT.TEST"
start_apid
out=$("$APID" -c "$T/apid/apid.conf" --check 2>&1) || fail "--check: $out"
ok "jit-apid serving with its keytab (HTTP/127.0.0.1@JIT.TEST), KDC on port $KDC_PORT"

# The host authenticates by Kerberos only: no token file.
sed -i -e "s|^api_url = .*|api_url = $APID_URL/|" -e '/^token_file/d' "$CONF"
echo "krb5_keytab = $K/web01.keytab" >> "$CONF"
as_req() { grep -c "AS_REQ.*host/web01.test@JIT.TEST" "$K/kdc.log" || true; }

g=$(api POST /v1/grants alice-token-xxxxxxxxxx \
    '{"credential": "db-admin", "host_group": "web", "duration": 1800, "reason": "INC-9 kerberos"}' | field id)
expect_eq "request" "$(cat "$T/api.status")" 201
pam_op alice acct_mgmt open_session || fail "alice's login: $(cat "$T/pam.out")"
audit_has "event=\"login\" result=\"allow\" reason=\"reserved\" user=\"alice\" requester=\"alice@EXAMPLE.COM\" credential=\"db-admin\" grant=\"$g\""
[ "$(stat -c '%a %U' "$STATE/krb5cc_host")" = "600 root" ] \
    || fail "ticket cache: $(stat -c '%a %U' "$STATE/krb5cc_host" 2>&1)"
ok "pam_jit fetched the grant as host/web01.test; its ticket is in the state directory, 0600 root's"

out=$("$JITCTL" -c "$CONF" sync 2>&1) || fail "sync: $out"
pam_op alice acct_mgmt || fail "second check: $(cat "$T/pam.out")"
expect_eq "AS exchanges for 3 requests in 3 processes" "$(as_req)" 1
ok "jitctl sync and a second login reuse the ticket: one AS exchange in all"

# The KDC down: the cached ticket still serves.  (krb5kdc takes a moment
# to go after TERM: wait until its port refuses.)
kdc_up() { /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $KDC_PORT), 0.2)" 2>/dev/null; }
kdc_down() { ! kdc_up; }
kill "$(cat "$K/kdc.pid")"
wait_for 30 kdc_down >/dev/null || fail "krb5kdc did not stop"
pam_op alice acct_mgmt || fail "with the KDC down: $(cat "$T/pam.out")"
ok "with the KDC down, the cached ticket still authenticates the host"

# No cached ticket and no KDC: the login is refused at once.
rm -f "$STATE/krb5cc_host"
t0=$(date +%s%N)
rc=0; pam_op alice acct_mgmt || rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ $rc != 0 ] || fail "allowed without a ticket"
audit_has 'event="login" result="deny" reason="krb5_error" user="alice"'
# No wait is due (the KDC's port refuses): the bound only shows that
# nothing hangs, with 12 s for the namespace on a busy machine.
[ $ms -le 12000 ] || fail "denial took $ms ms (no wait due; bound 12 s)"
ok "no ticket and no KDC: denied in $ms ms, reason=krb5_error"
krb5kdc -n -P "$K/kdc.pid" >>"$K/kdc.out" 2>&1 </dev/null &
TEST_PIDS="$TEST_PIDS $!"
wait_for 30 kdc_up >/dev/null || fail "krb5kdc did not start again"

# A keytab that is not there: denied, nothing asked of the API.
sed "s|^krb5_keytab = .*|krb5_keytab = $K/missing.keytab|" "$CONF" > "$T/nokt.conf"
rm -f "$STATE/krb5cc_host"
rc=0; out=$("$JITCTL" -c "$T/nokt.conf" sync 2>&1) || rc=$?
[ $rc != 0 ] || fail "sync without a keytab succeeded"
case $out in *krb5_error*) ;; *) fail "no keytab: $out" ;; esac
ok "a missing keytab fails closed (krb5_error)"

# Another host's key cannot fetch web02's grants, nor a person's key.
sed -e 's/^host = .*/host = web02.test/' "$CONF" > "$T/as02.conf"
echo "krb5_principal = host/web01.test" >> "$T/as02.conf"
rc=0; out=$("$JITCTL" -c "$T/as02.conf" sync 2>&1) || rc=$?
[ $rc != 0 ] || fail "web01's key read web02's grants"
case $out in *401*) ;; *) fail "web01 as web02: $out" ;; esac
sed -e "s|^krb5_keytab = .*|krb5_keytab = $K/alice.keytab|" "$CONF" > "$T/alice.conf"
printf 'krb5_principal = alice\nkrb5_ccache = FILE:%s/alice.cc\n' "$K" >> "$T/alice.conf"
rc=0; out=$("$JITCTL" -c "$T/alice.conf" sync 2>&1) || rc=$?
[ $rc != 0 ] || fail "a person's key read a host's grants"
grep -q 'alice@JIT.TEST is not host/<host>@JIT.TEST' "$T/apid/log" \
    || fail "no log of the refusal: $(tail -3 "$T/apid/log")"
ok "web01's key is refused for web02, a person's key for any host (401)"

# curl's SPNEGO is a client too; the same token a second time is a replay.
KRB5CCNAME=FILE:$K/curl.cc kinit -k -t "$K/web01.keytab" host/web01.test \
    || fail "kinit"
code=$(KRB5CCNAME=FILE:$K/curl.cc curl -sS -v --negotiate -u : --cacert "$T/certs/ca.pem" \
    -o "$T/curl.body" -w '%{http_code}' "$APID_URL/v1/hosts/web01.test/grants" 2>"$T/curl.err")
expect_eq "curl --negotiate" "$code" 200
grep -q "\"id\": *\"$g\"" "$T/curl.body" || fail "curl's list: $(cat "$T/curl.body")"
hdr=$(sed -n 's/^> Authorization: //p' "$T/curl.err" | tr -d '\r' | head -1)
case $hdr in "Negotiate "*) ;; *) fail "curl sent no Negotiate header" ;; esac
code=$(curl -sS --cacert "$T/certs/ca.pem" -H "Authorization: $hdr" -o /dev/null \
    -w '%{http_code}' "$APID_URL/v1/hosts/web01.test/grants")
expect_eq "the same token again" "$code" 401
grep -q 'Request is a replay' "$T/apid/log" || fail "replay not named: $(tail -3 "$T/apid/log")"
code=$(curl -sS --cacert "$T/certs/ca.pem" -H "Authorization: Negotiate !!notbase64" \
    -o /dev/null -w '%{http_code}' "$APID_URL/v1/hosts/web01.test/grants")
expect_eq "a malformed token" "$code" 401
ok "curl --negotiate is accepted; its token replayed, or a malformed one, is refused (401)"

# A long poll with Negotiate is asked again each time a change wakes it:
# its token is checked at the first pass only.  Checked again it read as
# a replay, and a Kerberos host got a 401 where its list was due (a
# revocation seen a retry later).  Changes that leave web01's list as it
# is (bob's pending request for root-ish, denied) keep coming while the
# poll waits, so it is woken after it parked whenever it parked: it must
# end at its deadline, 304.
etag=$(KRB5CCNAME=FILE:$K/curl.cc curl -sS --negotiate -u : --cacert "$T/certs/ca.pem" \
    -D - -o /dev/null "$APID_URL/v1/hosts/web01.test/grants" | tr -d '\r' | sed -n 's/^[Ee][Tt]ag: //p')
[ -n "$etag" ] || fail "no ETag"
KRB5CCNAME=FILE:$K/curl.cc curl -sS --negotiate -u : --cacert "$T/certs/ca.pem" \
    -H "If-None-Match: $etag" -o /dev/null -w '%{http_code}' \
    "$APID_URL/v1/hosts/web01.test/grants?wait=3" > "$T/poll.code" 2>"$T/poll.err" &
poll_pid=$!
TEST_PIDS="$TEST_PIDS $poll_pid"
changes=0
while kill -0 "$poll_pid" 2>/dev/null; do
    p=$(api POST /v1/grants bob-token-xxxxxxxxxxxx \
        '{"credential": "root-ish", "host": "web01.test", "duration": 300, "reason": "wake the polls"}' | field id)
    expect_eq "bob's pending request" "$(cat "$T/api.status")" 201
    api POST "/v1/grants/$p/deny" boss-token-xxxxxxxxxxx '{"reason": "no"}' >/dev/null
    expect_eq "deny" "$(cat "$T/api.status")" 200
    changes=$((changes + 2))
done
wait "$poll_pid" || true
expect_eq "a Negotiate long poll woken $changes times, at its deadline" "$(cat "$T/poll.code")" 304
ok "a long poll authenticated by Negotiate, woken $changes times by changes, is not taken for a replay (304 at its deadline)"

# jit-apid refuses to start on a keytab it cannot use.
sed "s|^krb5_keytab = .*|krb5_keytab = $K/missing.keytab|" "$T/apid/apid.conf" > "$T/apid/bad.conf"
chmod 600 "$T/apid/bad.conf"
rc=0; out=$("$APID" -c "$T/apid/bad.conf" --check 2>&1) || rc=$?
expect_eq "--check with no keytab" "$rc" 78
case $out in *"krb5_keytab: $K/missing.keytab"*) ;; *) fail "--check: $out" ;; esac
ok "--check names an unusable keytab"
stop_apid
