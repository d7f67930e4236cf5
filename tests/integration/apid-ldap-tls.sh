#!/bin/sh
# SPDX-License-Identifier: MIT
# jit-apid's connection to the directory (doc/design.md, R13; threats
# S11, S12): a real slapd on loopback (tests/integration/lib/slapd.sh), ldaps
# and StartTLS with the test CA.  Accepted: ldaps://, ldap:// with
# StartTLS, the bind DN's secret in a 0600 file.  Refused, each with a
# message that says why: a certificate of another CA, a certificate for
# another name (over ldaps and over StartTLS), a server without TLS
# (StartTLS refused), a plain port spoken to as ldaps, nothing listening,
# a server that accepts and never answers (within ldap_timeout), a
# secret file others may read, a wrong secret, and URIs other than
# ldaps:// and ldap://.  A running jit-apid whose directory goes down
# answers 503 to a request that needs it and stores nothing; when the
# directory is back it reconnects by itself.  SASL GSSAPI from a keytab
# (an MIT KDC of tests/integration/lib/kdc.sh) binds as its principal.
. "$top_srcdir/tests/integration/lib.sh"
setup_env
start_slapd
ldap_person alice
ldap_group dba alice

APID_EXTRA="ldap_uri = $LDAP_URI_LDAPS
ldap_ca = $LDAP_CA
ldap_bind_dn = $LDAP_BIND_DN
ldap_bind_secret = $LDAP_BIND_SECRET
ldap_timeout = 2
people_source = both
krb5_realm = EXAMPLE.COM
ldap_people_base = ou=people,$LDAP_BASE
ldap_group_base = ou=groups,$LDAP_BASE"
start_apid
C=$T/apid/apid.conf

# set KEY VALUE: that key's line in jit-apid.conf.
set_key() { sed -i "s|^$1 = .*|$1 = $2|" "$C"; }
# refused WANT: --check fails (78) and says WANT.
refused() {
    _rc=0; _out=$("$APID" -c "$C" --check 2>&1) || _rc=$?
    [ $_rc = 78 ] || fail "--check: status $_rc, want 78: $_out"
    case $_out in *"$1"*) ;; *) fail "--check: $_out; want '$1'" ;; esac
    printf '%s\n' "$_out" | head -1
}

out=$("$APID" -c "$C" --check 2>&1) || fail "--check over ldaps: $out"
case $out in *"directory $LDAP_URI_LDAPS: ok"*) ;; *) fail "--check: $out" ;; esac
set_key ldap_uri "$LDAP_URI_STARTTLS"
out=$("$APID" -c "$C" --check 2>&1) || fail "--check over StartTLS: $out"
ok "ldaps:// and ldap:// with StartTLS, verified against ldap_ca, simple bind"

# Another CA's certificate: the handle trusts ldap_ca only (not the
# system's, not ldap.conf's).
set_key ldap_ca "$T/certs/other-ca.pem"
refused "The certificate issuer is unknown"
set_key ldap_ca "$LDAP_CA"
ok "a CA other than the server's: refused, issuer unknown"

# A server whose certificate names another host.
stop_slapd
MAIN_DIR=$SLAPD_DIR
SLAPD_DIR=$T/slapd-wrongname SLAPD_CERT=wrongname start_slapd
set_key ldap_uri "$LDAP_URI_LDAPS"
refused "The name in the certificate does not match"
set_key ldap_uri "$LDAP_URI_STARTTLS"
refused "The name in the certificate does not match"
ok "a certificate for another name: refused over ldaps and over StartTLS"
stop_slapd

# A server with no TLS: ldap:// is never used without StartTLS.
SLAPD_DIR=$T/slapd-plain SLAPD_TLS=no start_slapd
set_key ldap_uri "$LDAP_URI_STARTTLS"
refused "StartTLS"
ok "a server without TLS: StartTLS refused, no plain bind"
# Its plain port spoken to as ldaps.
set_key ldap_uri "ldaps://127.0.0.1:$LDAP_PORT"
refused "TLS handshake"
ok "ldaps:// to a plain LDAP port: the handshake fails, said so"
stop_slapd

# Nothing listening (the plain server's port, now closed).
refused "cannot connect to 127.0.0.1 port $LDAP_PORT"
ok "nothing listening: refused, said so"

# A server that accepts and never answers: bounded by ldap_timeout (2 s;
# the connect, the handshake and our diagnosis each within it; the bound
# asserted is the timeout's with a margin a busy machine cannot use up).
/usr/bin/python3 - "$T/hang.port" <<'PY' &
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
held = []
while True:
    c, _ = s.accept(); held.append(c)
PY
TEST_PIDS="$TEST_PIDS $!"
wait_for 30 test -s "$T/hang.port" >/dev/null || fail "no hanging server"
set_key ldap_uri "ldaps://127.0.0.1:$(cat "$T/hang.port")"
t0=$(date +%s%N)
refused "ldaps://127.0.0.1:$(cat "$T/hang.port")"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ $ms -lt 20000 ] || fail "a server that never answers held --check ${ms} ms (ldap_timeout 2 s)"
ok "a server that never answers: refused after ${ms} ms (ldap_timeout 2 s)"

# The main server again, on its own ports.
use_slapd "$MAIN_DIR"
restart_slapd
set_key ldap_uri "$LDAP_URI_LDAPS"
"$APID" -c "$C" --check >/dev/null 2>&1 || fail "the main slapd again: $("$APID" -c "$C" --check 2>&1)"

# The bind secret: a file of jit-apid's user that no one else reads, and
# the right one.
chmod 640 "$LDAP_BIND_SECRET"
refused "mode 0600 or stricter"
chmod 600 "$LDAP_BIND_SECRET"
cp "$LDAP_BIND_SECRET" "$T/secret.good"
echo wrong-password > "$LDAP_BIND_SECRET"
refused "Invalid credentials"
cp "$T/secret.good" "$LDAP_BIND_SECRET"
ok "the bind secret: refused when others may read it, or wrong"

# ldap_ca: whoever may write it chooses the directory jit-apid believes
# (doc/design.md, S11).
ca_mode=$(stat -c %a "$LDAP_CA")
chmod 664 "$LDAP_CA"
refused "ldap_ca $LDAP_CA: must be a regular file of root's or jit-apid's user, writable by no one else"
chmod "$ca_mode" "$LDAP_CA"
"$APID" -c "$C" --check >/dev/null 2>&1 || fail "ldap_ca back to $ca_mode: $("$APID" -c "$C" --check 2>&1)"
ok "ldap_ca writable by others: refused, said so"

# Only ldaps:// and ldap:// (StartTLS) URIs are taken at all.
for u in "ldapi:///run/slapd/ldapi" "http://127.0.0.1:$LDAPS_PORT" \
    "ldaps://a ldaps://b" "ldaps://127.0.0.1/dc=jit,dc=test??sub" "ldaps://"; do
    set_key ldap_uri "$u"
    refused "ldap_uri: ldaps://HOST[:PORT], or ldap://HOST[:PORT] (then always StartTLS)" >/dev/null
done
set_key ldap_uri "$LDAP_URI_LDAPS"
ok "ldapi://, http://, a list, a URL with a DN, no host: refused at load"

# The running jit-apid (started against the main server): the directory
# down, a request that needs it is answered 503 and stores nothing.
T0=alice-token-xxxxxxxxxx
body='{"credential": "db-admin", "host_group": "web", "duration": 600, "reason": "INC-14 tls"}'
stop_slapd
api POST /v1/grants $T0 "$body" > "$T/r.json"
expect_eq "request with the directory down" "$(cat "$T/api.status")" 503
grep -q '"directory_unavailable"' "$T/r.json" || fail "503 body: $(cat "$T/r.json")"
grep -q 'jit-apid: directory: alice@EXAMPLE.COM:' "$T/apid/log" \
    || fail "no log line for the failed lookup: $(tail -3 "$T/apid/log")"
n=$(api GET "/v1/grants?requester=alice@EXAMPLE.COM" $T0 \
    | /usr/bin/python3 -c 'import json, sys; print(len(json.load(sys.stdin)["grants"]))')
expect_eq "grants stored while the directory was down" "$n" 0

# Back: the same handle reconnects (one retry after the lost connection).
restart_slapd
api POST /v1/grants $T0 "$body" > "$T/r.json"
expect_eq "request once the directory is back" "$(cat "$T/api.status")" 201
ok "directory down: 503 directory_unavailable, nothing stored; back: reconnected"
stop_apid

# SASL GSSAPI from a keytab: jit-apid@JIT.TEST (its keytab, no ticket
# cache of anyone's) binds to a slapd whose service is ldap/127.0.0.1,
# over ldaps; slapd maps the principal to the bind DN.
if [ ! -e /usr/lib/x86_64-linux-gnu/sasl2/libgssapiv2.so ] \
    && ! ls /usr/lib/*/sasl2/libgssapiv2.so >/dev/null 2>&1; then
    skip_case "GSSAPI bind: needs Cyrus SASL's GSSAPI module (libsasl2-modules-gssapi-mit)"
else
    start_kdc
    kdc_addprinc ldap/127.0.0.1 ldap
    kdc_addprinc jit-apid jitapid
    export KRB5_KTNAME="$K/ldap.keytab"
    SLAPD_DIR=$T/slapd-gss SLAPD_EXTRA_CONF="sasl-host 127.0.0.1
sasl-realm JIT.TEST
authz-regexp \"^uid=([^,]*),cn=jit.test,cn=gssapi,cn=auth\$\" \"cn=\$1,dc=jit,dc=test\"" start_slapd
    unset KRB5_KTNAME
    cat > "$T/gss.conf" <<CONF
$(grep -Ev '^ldap_(uri|ca|bind|bind_dn|bind_secret|keytab|timeout) ' "$C")
ldap_uri = $LDAP_URI_LDAPS
ldap_ca = $LDAP_CA
ldap_bind = gssapi
ldap_keytab = $K/jitapid.keytab
ldap_timeout = 5
CONF
    chmod 600 "$T/gss.conf"
    # Under LeakSanitizer only: a GSS-API credential acquired inside the
    # SASL and GSS-API libraries during the bind (gss_acquire_cred_from,
    # no frame of ours on its stack) is still held at exit, after the
    # unbind and our cache's destruction; leaks stay checked in every
    # other jit-apid run of the suite.
    ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
    KRB5CCNAME=FILE:$T/nobody.cc "$APID" -c "$T/gss.conf" --check > "$T/gss.out" 2>&1 \
        || fail "GSSAPI bind: $(cat "$T/gss.out"; tail -5 "$SLAPD_DIR/log")"
    [ ! -e "$T/nobody.cc" ] || fail "GSSAPI bind wrote the default ticket cache"
    ok "SASL GSSAPI bind from ldap_keytab (a memory cache of its own) over ldaps"
    # (--check read the people base, which only the mapped bind DN may:
    # the bind was jit-apid@JIT.TEST's.)  A keytab with no key fails
    # before the server is asked, and says so.
    # A keytab others may read: refused before it is read.
    chmod 640 "$K/jitapid.keytab"
    rc=0; out=$(KRB5CCNAME=FILE:$T/nobody.cc "$APID" -c "$T/gss.conf" --check 2>&1) || rc=$?
    chmod 600 "$K/jitapid.keytab"
    [ $rc = 78 ] || fail "a readable keytab: status $rc: $out"
    case $out in *"ldap_keytab $K/jitapid.keytab: must be a regular file of root's or jit-apid's user, mode 0600 or stricter"*) ;;
        *) fail "a readable keytab: $out" ;; esac
    ok "an ldap_keytab others may read: refused, said so"
    : > "$T/empty.keytab"; chmod 600 "$T/empty.keytab"
    sed -i "s|^ldap_keytab = .*|ldap_keytab = $T/empty.keytab|" "$T/gss.conf"
    rc=0; out=$("$APID" -c "$T/gss.conf" --check 2>&1) || rc=$?
    [ $rc = 78 ] || fail "an empty keytab: status $rc: $out"
    case $out in *"no credentials from ldap_keytab"*) ;; *) fail "an empty keytab: $out" ;; esac
    ok "an unusable ldap_keytab: refused, said so"
fi
