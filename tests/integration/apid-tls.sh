#!/bin/sh
# SPDX-License-Identifier: MIT
# jit-apid's TLS: a host's client certificate authenticates it only when
# it chains to client_ca, is in its validity period, is not a CA, names
# the host and carries the clientAuth key purpose (a serverAuth-only one,
# the server's own included, is refused); only TLS 1.2 and 1.3 with
# forward-secret AEAD suites are negotiated; tls_priority changes that,
# and a bad one stops jit-apid at startup naming where it is wrong; jit,
# the people's client, refuses TLS below 1.2 whatever OpenSSL allows.
. "$top_srcdir/tests/integration/lib.sh"
command -v openssl >/dev/null || skip "needs openssl(1)"
command -v curl >/dev/null || skip "needs curl(1)"
setup_env
start_apid
C=$T/certs

# as CERT HOST: the HTTP status of GET /v1/hosts/HOST/grants with CERT
# (and its chain, CERT-chain.pem, where there is one).
as() {
    _pem=$C/$1.pem
    [ ! -f "$C/$1-chain.pem" ] || _pem=$C/$1-chain.pem
    curl -s -o /dev/null -w '%{http_code}' --max-time 60 --cacert "$C/ca.pem" \
        --cert "$_pem" --key "$C/$1.key" "$APID_URL/v1/hosts/$2/grants" \
        || true
}
# refused CERT HOST WHY: 401, and the log says why, on one line.
refused() {
    expect_eq "$1 for $2" "$(as "$1" "$2")" 401
    grep -q "^jit-apid: host $2: client certificate refused: $3\$" "$T/apid/log" \
        || fail "$1: no line 'host $2: client certificate refused: $3' in: $(cat "$T/apid/log")"
}

expect_eq "clientAuth certificate for web01.test" "$(as client web01.test)" 200
expect_eq "serverAuth and clientAuth certificate for web01.test" \
    "$(as web01-both web01.test)" 200
expect_eq "clientAuth certificate through an intermediate CA" \
    "$(as web01-ica web01.test)" 200
refused web01-server web01.test "no clientAuth key purpose"
refused server localhost "no clientAuth key purpose"
refused web01-noeku web01.test "no extended key usage (clientAuth is required)"
refused web01-ca web01.test "a CA certificate"
refused web01-other web01.test "not verified against client_ca (.*issuer is unknown.*)"
refused web01-expired web01.test "not verified against client_ca (.*expired.*)"
refused web01-ica-server web01.test "a CA of its chain does not allow clientAuth"
refused client web02.test "does not name web02.test"
ok "client certificates: clientAuth (the chain's CAs allowing it), not a CA, from client_ca, in date, naming the host"

# tls ARGS...: "PROTOCOL CIPHER" that openssl s_client negotiates with
# jit-apid, or "refused" when the handshake fails; the whole
# conversation (-msg) in $T/tls.out.
tls() {
    openssl s_client -connect "127.0.0.1:$APID_PORT" -CAfile "$C/ca.pem" \
        -brief -msg "$@" </dev/null >"$T/tls.out" 2>&1 || true
    if grep -q '^CONNECTION ESTABLISHED' "$T/tls.out"; then
        echo "$(sed -n 's/^Protocol version: //p' "$T/tls.out")" \
            "$(sed -n 's/^Ciphersuite: //p' "$T/tls.out")"
    else
        echo refused
    fi
}
# old_refused FLAG NAME: SECLEVEL=0 lets this OpenSSL offer the old
# version, which the ClientHello shows; the server is the one that says no.
old_refused() {
    got=$(tls "$1" -cipher 'DEFAULT:@SECLEVEL=0')
    grep -q "^>>> $2, Handshake .*ClientHello" "$T/tls.out" \
        || fail "$2: the client did not offer it: $(head -20 "$T/tls.out")"
    expect_eq "$2 refused" "$got" refused
    ! grep -q '^<<< .*ServerHello' "$T/tls.out" \
        || fail "$2: the server answered: $(cat "$T/tls.out")"
}
old_refused -tls1 "TLS 1.0"
old_refused -tls1_1 "TLS 1.1"
ok "TLS 1.0 and 1.1, offered by the client, refused by the server"

expect_eq "TLS 1.2 static RSA AES128-GCM-SHA256" "$(tls -tls1_2 -cipher AES128-GCM-SHA256)" refused
expect_eq "TLS 1.2 static RSA AES256-SHA" "$(tls -tls1_2 -cipher AES256-SHA)" refused
expect_eq "TLS 1.2 ECDHE with CBC" "$(tls -tls1_2 -cipher ECDHE-RSA-AES128-SHA256:ECDHE-RSA-AES256-SHA)" refused
expect_eq "TLS 1.2 ECDHE-RSA-AES128-GCM-SHA256" "$(tls -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256)" \
    "TLSv1.2 ECDHE-RSA-AES128-GCM-SHA256"
expect_eq "TLS 1.2 ECDHE-RSA-CHACHA20-POLY1305" "$(tls -tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305)" \
    "TLSv1.2 ECDHE-RSA-CHACHA20-POLY1305"
got=$(tls -tls1_3)
case $got in "TLSv1.3 TLS_AES_"*"_GCM_"*|"TLSv1.3 TLS_CHACHA20_POLY1305_SHA256") ;;
    *) fail "TLS 1.3: $got" ;; esac
ok "TLS 1.3: $got"
ok "TLS 1.2: static RSA and CBC suites refused, ECDHE with AEAD accepted"
stop_apid

# A bad priority string: --check and a start both refuse it, naming the
# file, the line and where GnuTLS stopped reading.
cp "$T/apid/apid.conf" "$T/apid/bad.conf"
echo 'tls_priority = NORMAL:-VERS-ALL:+VERS-TLS1.2:+NO-SUCH-THING' >> "$T/apid/bad.conf"
line=$(wc -l < "$T/apid/bad.conf")
want="78:jit-apid: $T/apid/bad.conf:$line: tls_priority: GnuTLS refuses it at character 31 ('+NO-SUCH-THING'): The request is invalid."
rc=0; out=$("$APID" -c "$T/apid/bad.conf" --check 2>&1) || rc=$?
expect_eq "--check with a bad tls_priority" "$rc:$out" "$want"
# A start that failed to refuse would serve: timeout ends it, and the
# test fails on its status.
rc=0; out=$(timeout 60 "$APID" -c "$T/apid/bad.conf" 2>&1 </dev/null) || rc=$?
expect_eq "start with a bad tls_priority" "$rc:$out" "$want"
ok "a bad tls_priority stops jit-apid at startup, naming the position"

# A custom priority is what is negotiated: TLS 1.2 only, AES-256-GCM only.
APID_EXTRA='tls_priority = NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+ECDHE-RSA:-CIPHER-ALL:+AES-256-GCM:-MAC-ALL:+AEAD'
start_apid
expect_eq "custom: TLS 1.3 refused" "$(tls -tls1_3)" refused
expect_eq "custom: AES128-GCM refused" "$(tls -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256)" refused
expect_eq "custom: what a client gets" "$(tls)" "TLSv1.2 ECDHE-RSA-AES256-GCM-SHA384"
expect_eq "custom: clientAuth certificate still works" "$(as client web01.test)" 200
stop_apid
ok "a custom tls_priority is honoured"

# jit, the people's client, against a server that speaks only TLS 1.1,
# with an OpenSSL configuration that would allow it: jit refuses, and
# its token never crosses that connection.
cat > "$T/weak.cnf" <<'CNF'
openssl_conf = init
[init]
ssl_conf = ssl
[ssl]
system_default = sys
[sys]
MinProtocol = TLSv1
CipherString = DEFAULT:@SECLEVEL=0
CNF
openssl s_server -accept 127.0.0.1:0 -cert "$C/server.pem" -key "$C/server.key" \
    -www -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' </dev/null >"$T/s_server.out" 2>&1 &
TEST_PIDS="$TEST_PIDS $!"
wait_for 30 grep -q '^ACCEPT' "$T/s_server.out" >/dev/null || fail "s_server: $(cat "$T/s_server.out")"
port=$(sed -n 's/^ACCEPT 127.0.0.1://p' "$T/s_server.out")
printf 'alice-token-xxxxxxxxxx\n' > "$T/alice.token"
chmod 600 "$T/alice.token"
# The weak configuration does let OpenSSL speak TLS 1.1 to it.
got=$(OPENSSL_CONF=$T/weak.cnf openssl s_client -connect "127.0.0.1:$port" \
    -CAfile "$C/ca.pem" -brief </dev/null 2>&1 | sed -n 's/^Protocol version: //p')
expect_eq "the TLS 1.1 server, to a client that allows it" "$got" "TLSv1.1"
rc=0; out=$(OPENSSL_CONF=$T/weak.cnf JIT_URL="https://127.0.0.1:$port" \
    JIT_CA_FILE="$C/ca.pem" JIT_TOKEN_FILE="$T/alice.token" \
    "$top_builddir/contrib/jit-apid/jit" grants 2>&1) || rc=$?
case "$rc:$out" in "1:jit: https://127.0.0.1:$port: SSL connect error"|"1:jit: https://127.0.0.1:$port: "*"SSL"*) ;;
    *) fail "jit against TLS 1.1: $rc:$out" ;; esac
ok "jit refuses a server that offers only TLS 1.1 ($out)"
