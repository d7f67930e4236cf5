#!/bin/sh
# SPDX-License-Identifier: MIT
# People sign on to jit-apid with their Kerberos ticket (Negotiate), end
# to end: an MIT KDC on loopback (and one of another realm that it
# trusts), jit-apid with its service keytab and a people file naming
# alice@JIT.TEST, bob@JIT.TEST and erin@JIT.TEST by principal with no
# token, and jit, the people's client, with no token file, using the
# ticket cache that kinit filled.  The grant's requester is the full
# principal; bob's ticket gets bob, never alice; a host's, a service's, a
# two-component, another realm's and an unknown principal's ticket, a
# replayed or a malformed token: 401, the reason in jit-apid's log.  No
# ticket, or an expired one: jit says to run kinit.
. "$top_srcdir/tests/integration/lib.sh"
setup_env
start_kdc
start_other_kdc
JIT=$top_builddir/contrib/jit-apid/jit

# A principal of the test's KDC with a keytab $K/<file>.keytab; one that
# start_kdc made already is kept as it is.
principal() { # NAME FILE
    kadmin.local -q "getprinc $1" 2>/dev/null | grep -q "^Principal: $1@" && return 0
    kadmin.local -q "addprinc -randkey $1" >>"$K/setup.log" 2>&1 \
        && kadmin.local -q "ktadd -k $K/$2.keytab $1" >>"$K/setup.log" 2>&1 \
        || fail "kadmin.local $1: $(tail -3 "$K/setup.log")"
    chmod 600 "$K/$2.keytab"
}
principal bob bob
principal erin erin
principal mallory mallory
principal alice/admin alice-admin
# bob signs on with a password, as people do; the others from a keytab.
kadmin.local -q "cpw -pw bob-password-xxxx bob" >>"$K/setup.log" 2>&1 || fail "cpw bob"

APID_EXTRA="krb5_keytab = $K/http.keytab
krb5_realm = JIT.TEST"
start_apid
# Kerberos people: no token ("-"); erin approves.
cat >> "$T/apid/people" <<'PEOPLE'
alice@JIT.TEST requester -
bob@JIT.TEST requester -
erin@JIT.TEST approver -
PEOPLE
kill -HUP "$APID_PID"
wait_for 30 grep -q 'reloaded policies and tokens' "$T/apid/log" >/dev/null \
    || fail "no reload: $(tail -3 "$T/apid/log")"
out=$("$APID" -c "$T/apid/apid.conf" --check 2>&1) || fail "--check: $out"
ok "jit-apid takes people by principal with no token (KDC on port $KDC_PORT)"

# Each person's own ticket cache under $T, never the default one.
export JIT_URL="$APID_URL" JIT_CA_FILE="$T/certs/ca.pem"
export JIT_TOKEN_FILE=
as() { # CACHE jit ARGS...: jit with that ticket cache
    _cc=$1; shift
    KRB5CCNAME=FILE:$T/$_cc.cc "$JIT" "$@"
}
KRB5CCNAME=FILE:$T/alice.cc kinit -k -t "$K/alice.keytab" alice || fail "kinit alice"
echo bob-password-xxxx | KRB5CCNAME=FILE:$T/bob.cc kinit bob >"$T/kinit.out" 2>&1 \
    || fail "kinit bob with a password: $(cat "$T/kinit.out")"
KRB5CCNAME=FILE:$T/erin.cc kinit -k -t "$K/erin.keytab" erin || fail "kinit erin"

out=$(as alice whoami) || fail "whoami: $out"
expect_eq "alice's whoami" "$out" "person:      alice@JIT.TEST
role:        requester
signed on:   kerberos"
out=$(as bob whoami --json | /usr/bin/python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["person"], d["role"], d["authenticated_by"])')
expect_eq "bob's whoami" "$out" "bob@JIT.TEST requester kerberos"
ok "jit whoami: the API takes each ticket for its own principal"

out=$(as alice request --credential db-admin --host-group web --duration 30m \
    --reason "INC-13 kerberos" --json) || fail "request: $out"
g=$(echo "$out" | field id)
expect_eq "requester" "$(echo "$out" | field requester)" "alice@JIT.TEST"
expect_eq "status" "$(echo "$out" | field status)" "active"
expect_eq "account ({user} of alice@JIT.TEST)" "$(echo "$out" | field username)" "alice"
out=$(as alice log --grant "$g")
case $out in *"request  $g by alice@JIT.TEST: INC-13 kerberos"*) ;; *) fail "log: $out" ;; esac
ok "kinit alice, then jit request with no token file: $g granted, requester alice@JIT.TEST, account alice"

# bob is bob: not alice's grant, nor her name.
rc=0; out=$(as bob show "$g" 2>&1) || rc=$?
expect_eq "bob reads alice's grant" "$rc:$out" "1:jit: 404: no grant $g"
rc=0; out=$(as bob revoke "$g" 2>&1) || rc=$?
expect_eq "bob revokes alice's grant" "$rc:$out" "1:jit: 403: only the requester or an approver may revoke a grant"
out=$(as bob grants --json | /usr/bin/python3 -c 'import json, sys; print(len(json.load(sys.stdin)["grants"]))')
expect_eq "bob's grants" "$out" 0
rc=0; out=$(as bob request --credential pick --host-group web --duration 30m \
    --reason "be alice" --username alice 2>&1) || rc=$?
expect_eq "bob asks for alice's name" "$rc:$out" "1:jit: 409: username: alice is taken"
out=$(as bob request --credential db-admin --host web02.test --duration 30m \
    --reason "INC-13 bob" --json) || fail "bob's request: $out"
expect_eq "bob's requester" "$(echo "$out" | field requester)" "bob@JIT.TEST"
expect_eq "bob's account" "$(echo "$out" | field username)" "bob"
rc=0; out=$(as alice request --credential pick --host-group web --duration 30m \
    --reason "be bob" --username bob 2>&1) || rc=$?
expect_eq "alice asks for bob's name" "$rc:$out" "1:jit: 409: username: bob is taken"
ok "bob's ticket: no read, no revoke of alice's grant, not her name; his own grant is bob@JIT.TEST's, account bob; nor can alice take bob's name"

# Approval by principal: erin (approver) decides, alice may not.
out=$(as alice request --credential root-ish --host web01.test --duration 5m \
    --reason "INC-13 root" --json) || fail "root-ish: $out"
p=$(echo "$out" | field id)
expect_eq "root-ish account" "$(echo "$out" | field username)" "alice-adm"
rc=0; out=$(as alice approve "$p" 2>&1) || rc=$?
expect_eq "alice approves her own" "$rc:$out" "1:jit: 403: an approver other than the requester decides"
rc=0; out=$(as bob approve "$p" 2>&1) || rc=$?
expect_eq "bob (a requester) approves" "$rc:$out" "1:jit: 403: an approver other than the requester decides"
out=$(as erin approve "$p" --reason "ok")
expect_eq "erin approves" "$out" "$p: active"
out=$(as alice show "$p" --json | field decided_by)
expect_eq "decided_by" "$out" "erin@JIT.TEST"
out=$(as alice revoke "$p" --reason done)
expect_eq "alice revokes her own" "$out" "$p: revoked"
ok "approval by principal: erin@JIT.TEST decides alice's request; alice and bob may not"

# Tokens stay an option: alice@EXAMPLE.COM's bearer token, beside.
out=$(api GET /v1/whoami alice-token-xxxxxxxxxx)
expect_eq "token whoami" "$(cat "$T/api.status") $(echo "$out" | field person) $(echo "$out" | field authenticated_by)" \
    "200 alice@EXAMPLE.COM token"
ok "a person's bearer token still signs on (authenticated_by token)"

# Tickets that are nobody's person: 401, the reason in the log.
refused() { # CACHE KINIT-ARGS... : kinit into CACHE, jit whoami must get 401
    _cc=$1; shift
    KRB5CCNAME=FILE:$T/$_cc.cc kinit "$@" || fail "kinit $*"
    rc=0; out=$(as "$_cc" whoami 2>&1) || rc=$?
    case "$rc:$out" in "1:jit: 401: Kerberos authentication failed"*) ;;
        *) fail "$_cc: $rc:$out" ;; esac
}
refused host -k -t "$K/web01.keytab" host/web01.test
grep -q 'person refused: Negotiate: host/web01.test@JIT.TEST is not a person of JIT.TEST' "$T/apid/log" \
    || fail "host: $(tail -3 "$T/apid/log")"
refused http -k -t "$K/http.keytab" HTTP/127.0.0.1
grep -q 'person refused: Negotiate: HTTP/127.0.0.1@JIT.TEST is not a person' "$T/apid/log" \
    || fail "service: $(tail -3 "$T/apid/log")"
refused admin -k -t "$K/alice-admin.keytab" alice/admin
grep -q 'person refused: Negotiate: alice/admin@JIT.TEST is not a person' "$T/apid/log" \
    || fail "alice/admin: $(tail -3 "$T/apid/log")"
refused mallory -k -t "$K/mallory.keytab" mallory
grep -q 'person refused: Negotiate: mallory@JIT.TEST is not in the people file' "$T/apid/log" \
    || fail "mallory: $(tail -3 "$T/apid/log")"
ok "a host's, a service's, alice/admin's and an unknown principal's ticket: 401, each named in the log"

# Another realm, through a real cross-realm trust: jit-apid's keys open
# alice@OTHER.TEST's ticket, and the people file names alice@OTHER.TEST
# (with a token), yet her ticket is no person of JIT.TEST.
refused other -k -t "$K/other-alice.keytab" alice@OTHER.TEST
KRB5CCNAME=FILE:$T/other.cc klist > "$T/other.klist" 2>&1
grep -q 'HTTP/127.0.0.1@JIT.TEST' "$T/other.klist" || fail "no cross-realm service ticket: $(cat "$T/other.klist")"
grep -q 'person refused: Negotiate: alice@OTHER.TEST is not a person of JIT.TEST' "$T/apid/log" \
    || fail "other realm: $(tail -3 "$T/apid/log")"
ok "alice@OTHER.TEST's cross-realm ticket, accepted by the keytab: 401, not a person of JIT.TEST"

# A token seen once is spent: curl's SPNEGO token, replayed.
code=$(KRB5CCNAME=FILE:$T/alice.cc curl -sS -v --negotiate -u : --cacert "$T/certs/ca.pem" \
    -o "$T/curl.body" -w '%{http_code}' "$APID_URL/v1/whoami" 2>"$T/curl.err")
expect_eq "curl --negotiate" "$code" 200
expect_eq "curl's person" "$(field person < "$T/curl.body")" "alice@JIT.TEST"
hdr=$(sed -n 's/^> Authorization: //p' "$T/curl.err" | tr -d '\r' | tail -1)
case $hdr in "Negotiate "*) ;; *) fail "curl sent no Negotiate header" ;; esac
n0=$(grep -c 'Request is a replay' "$T/apid/log" || true)
code=$(curl -sS --cacert "$T/certs/ca.pem" -H "Authorization: $hdr" -o "$T/curl.body" \
    -w '%{http_code}' "$APID_URL/v1/whoami")
expect_eq "the same token again" "$code" 401
[ "$(grep -c 'person refused: .*Request is a replay' "$T/apid/log")" -gt "$n0" ] \
    || fail "replay not named: $(tail -3 "$T/apid/log")"
k=0
for bad in 'Negotiate !!notbase64' 'Negotiate ' 'Negotiate AAAA' \
    "Negotiate $(head -c 3000 /dev/urandom | base64 -w0)"; do
    k=$((k + 1))
    code=$(curl -sS --cacert "$T/certs/ca.pem" -H "Authorization: $bad" -o /dev/null \
        -w '%{http_code}' -X POST -d '{"credential": "db-admin", "host": "web01.test", "duration": 60, "reason": "x"}' \
        "$APID_URL/v1/grants")
    expect_eq "malformed token $k" "$code" 401
done
grep -q 'person refused: malformed Negotiate token' "$T/apid/log" \
    || fail "malformed not named: $(tail -3 "$T/apid/log")"
n=$(as alice grants --json | /usr/bin/python3 -c 'import json, sys; print(len(json.load(sys.stdin)["grants"]))')
expect_eq "alice's grants after the refusals" "$n" 2
ok "a replayed token and malformed ones: 401, nothing done, the reason in the log"

# No ticket, an expired one: jit says to kinit.
rc=0; out=$(as nobody whoami 2>&1) || rc=$?
case "$rc:$out" in "1:jit: no Kerberos sign-on"*"$T/nobody.cc"*"run kinit"*) ;; *) fail "no ticket: $rc:$out" ;; esac
echo "$out" | sed 's/^/    /'
KRB5CCNAME=FILE:$T/short.cc kinit -l 3s -k -t "$K/alice.keytab" alice || fail "kinit -l 3s"
wait_for 60 sh -c "! KRB5CCNAME=FILE:$T/short.cc klist -s" >/dev/null || fail "the short ticket did not expire"
rc=0; out=$(as short whoami 2>&1) || rc=$?
case "$rc:$out" in "1:jit: no Kerberos sign-on (your Kerberos ticket has expired)"*"run kinit"*) ;; *) fail "expired ticket: $rc:$out" ;; esac
echo "$out" | sed 's/^/    /'
ok "no ticket, or an expired one: jit fails and says to run kinit"

# The people file: "-" only for a principal of krb5_realm.
cp "$T/apid/people" "$T/apid/people.good"
echo 'carol@OTHER.TEST requester -' >> "$T/apid/people"
rc=0; out=$("$APID" -c "$T/apid/apid.conf" --check 2>&1) || rc=$?
case "$rc:$out" in *"carol@OTHER.TEST: no token (\"-\"), so the name must be a principal of JIT.TEST"*) ;;
    *) fail "another realm's -: $rc:$out" ;; esac
cp "$T/apid/people.good" "$T/apid/people"
echo 'alice@JIT.TEST admin -' >> "$T/apid/people"
rc=0; out=$("$APID" -c "$T/apid/apid.conf" --check 2>&1) || rc=$?
case "$rc:$out" in *"alice@JIT.TEST has two roles"*) ;; *) fail "two roles: $rc:$out" ;; esac
cp "$T/apid/people.good" "$T/apid/people"
grep -v '^krb5_' "$T/apid/apid.conf" > "$T/apid/nokrb.conf"; chmod 600 "$T/apid/nokrb.conf"
rc=0; out=$("$APID" -c "$T/apid/nokrb.conf" --check 2>&1) || rc=$?
case "$rc:$out" in *"alice@JIT.TEST: no token (\"-\") needs krb5_keytab and krb5_realm"*) ;;
    *) fail "no keytab: $rc:$out" ;; esac
ok "the people file: \"-\" for another realm's name, one name with two roles, \"-\" without a keytab: refused at load"
stop_apid
