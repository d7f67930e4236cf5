#!/bin/sh
# SPDX-License-Identifier: MIT
# The API client against the fault-injecting test API (doc/design.md,
# threats B1, B2, B3, A2):
# every fault is refused with its reason, ended by the timeout.
. "$top_srcdir/tests/integration/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (the token file must be root's)"
command -v openssl >/dev/null || skip "needs openssl"
setup_env
GET=$top_builddir/tests/helpers/jit-api-get
API=$top_srcdir/tests/api/jit-test-api.py
sh "$top_srcdir/tests/api/mkcerts.sh" "$T/certs"

printf 's3cret-token\n' > "$T/token"
chmod 600 "$T/token"
# 15 s, as in setup_pam: 2 s ran out on plain answers on a busy machine.
# The faults that only a timeout ends (hang, slow) use short.conf: 2 s.
mkconf() { # file port [extra lines]
    f=$1 port=$2
    shift 2
    { echo "api_url = https://127.0.0.1:$port/"
      echo "host = web01.test"
      echo "state_dir = $STATE"
      echo "ca_file = $T/certs/ca.pem"
      echo "token_file = $T/token"
      echo "timeout = 15"
      echo "connect_timeout = 5"
      for l in "$@"; do echo "$l"; done; } > "$f"
    chmod 600 "$f"
}

start_api good server --token s3cret-token
PORT=$API_PORT
mkconf "$T/c.conf" "$PORT"
sed -e 's/^timeout = .*/timeout = 2/' -e 's/^connect_timeout = .*/connect_timeout = 1/' "$T/c.conf" > "$T/short.conf"
chmod 600 "$T/short.conf"
grant() { # user
    cat <<G
{"id": "g-$1", "credential": "db-admin", "requester": "$1@EXAMPLE.COM",
 "username": "$1", "host": "web01.test", "groups": ["users"],
 "not_before": "2026-01-01T00:00:00Z", "expires_at": "2036-01-01T00:00:00Z",
 "reason": "INC-1", "status": "active", "on_logout": "delete",
 "ssh_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDHkdrpAIOzm8kahQ+kwMFzo5hwUPnBeolqDxfp/ZNY5 alice@laptop"]}
G
}
grant alice > "$T/good/grants/alice.json"

# call WHAT WANT-PREFIX CMD... : run, check output prefix and time bound
call() {
    what=$1 want=$2
    shift 2
    t0=$(date +%s%N)
    set +e
    out=$("$@" 2>&1)
    set -e
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    case $out in
        "$want"*) ;;
        *) fail "$what: got '$out', want '$want...'" ;;
    esac
    # The bound is the feature for the faults (hang would hold the call
    # an hour, slow 100 s; the reason shows the timeout ended it): their
    # timeout (2 s) + 10 s that a busy machine cannot use up.
    [ $ms -le 12000 ] || fail "$what took $ms ms (timeout 2 s + 10 s)"
    ok "$what -> ${out%% detail=*} (${ms} ms)"
}

call "grant" "ok id=g-alice username=alice groups=1 keys=1" "$GET" --config "$T/c.conf" get alice
grep -q '^GET /v1/hosts/web01.test/grants/alice Bearer s3cret-token$' "$T/good/requests.log" \
    || fail "request path or token: $(cat "$T/good/requests.log")"
ok "path /v1/hosts/{host}/grants/{user} with the bearer token"
call "no grant" "not_found" "$GET" --config "$T/c.conf" get bob
for f in 404:not_found 500:"fault reason=http_error" malformed:"fault reason=malformed" \
         empty:"fault reason=malformed" deep:"fault reason=malformed" \
         huge:"fault reason=too_large" huge-nolength:"fault reason=too_large" \
         redirect:"fault reason=http_error" \
         hang:"fault reason=timeout" slow:"fault reason=timeout"; do
    kind=${f%%:*}
    echo "$kind" > "$T/good/faults/f$kind"
    c=$T/c.conf
    case $kind in hang|slow) c=$T/short.conf ;; esac
    call "fault $kind" "${f#*:}" "$GET" --config "$c" get "f$kind"
done
echo '{"id": "g-x"}' > "$T/good/grants/carol.json"
call "grant missing fields" "fault reason=malformed detail=credential: missing" "$GET" --config "$T/c.conf" get carol

# Host authentication problems.
printf 'wrong\n' > "$T/token2"; chmod 600 "$T/token2"
mkconf "$T/badtok.conf" "$PORT" "" 
sed -i "s|^token_file = .*|token_file = $T/token2|" "$T/badtok.conf"
call "wrong token" "fault reason=http_error detail=HTTP status 401" "$GET" --config "$T/badtok.conf" get alice
chmod 644 "$T/token"
call "token file readable by others" "fault reason=token_error" "$GET" --config "$T/c.conf" get alice
chmod 600 "$T/token"

# The environment is never honoured (doc/design.md, threat A2): proxies,
# CA overrides.
call "https_proxy in the environment" "ok id=g-alice" \
    env https_proxy=http://127.0.0.1:1 HTTPS_PROXY=http://127.0.0.1:1 ALL_PROXY=http://127.0.0.1:1 \
    "$GET" --config "$T/c.conf" get alice
mkconf "$T/sysca.conf" "$PORT"
sed -i '/^ca_file/d' "$T/sysca.conf"
call "system CAs only (test CA unknown)" "fault reason=tls_error" \
    env SSL_CERT_FILE="$T/certs/ca.pem" CURL_CA_BUNDLE="$T/certs/ca.pem" \
    "$GET" --config "$T/sysca.conf" get alice

# TLS (doc/design.md, threat B1): wrong name, expired, another CA, pinning.
start_api wrong wrongname
P2=$API_PORT
mkconf "$T/w.conf" "$P2"
call "certificate for another name" "fault reason=tls_error" "$GET" --config "$T/w.conf" get alice
start_api expired expired
P3=$API_PORT
mkconf "$T/e.conf" "$P3"
call "expired certificate" "fault reason=tls_error" "$GET" --config "$T/e.conf" get alice
mkconf "$T/o.conf" "$PORT"
sed -i "s|^ca_file = .*|ca_file = $T/certs/other-ca.pem|" "$T/o.conf"
call "certificate from another CA" "fault reason=tls_error" "$GET" --config "$T/o.conf" get alice
pin=$(openssl x509 -in "$T/certs/server.pem" -pubkey -noout | openssl pkey -pubin -outform der \
    | openssl dgst -sha256 -binary | base64)
mkconf "$T/pin.conf" "$PORT" "pinned_pubkey = sha256//$pin"
call "pinned key matches" "ok id=g-alice" "$GET" --config "$T/pin.conf" get alice
mkconf "$T/pin2.conf" "$PORT" "pinned_pubkey = sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
call "pinned key differs" "fault reason=tls_error" "$GET" --config "$T/pin2.conf" get alice

# Host authentication by client certificate (mTLS), no token.
start_api mtls server --client-ca "$T/certs/ca.pem"
grant alice > "$T/mtls/grants/alice.json"
mkconf "$T/m.conf" "$API_PORT" "client_cert = $T/certs/client.pem" "client_key = $T/certs/client.key"
sed -i '/^token_file/d' "$T/m.conf"
call "mTLS with the host's certificate" "ok id=g-alice" "$GET" --config "$T/m.conf" get alice
chmod 644 "$T/certs/client.key"
call "client key readable by others" "fault reason=key_error" "$GET" --config "$T/m.conf" get alice
chmod 600 "$T/certs/client.key"
mkconf "$T/m2.conf" "$API_PORT"
sed -i '/^token_file/d' "$T/m2.conf"
call "mTLS server, no client certificate" "fault reason=" "$GET" --config "$T/m2.conf" get alice
case $out in *reason=tls_error*|*reason=unreachable*) ;; *) fail "no certificate: $out" ;; esac

# Nothing listening; an address that never answers.
mkconf "$T/closed.conf" 1
call "nothing listening" "fault reason=unreachable" "$GET" --config "$T/closed.conf" get alice
mkconf "$T/blackhole.conf" 443
sed -i 's|^api_url = .*|api_url = https://192.0.2.1:443/|' "$T/blackhole.conf"
call "address that never answers" "fault reason=" "$GET" --config "$T/blackhole.conf" get alice

# The host list: ETag, 304, long poll.
grant bob > "$T/good/grants/bob.json"
out=$("$GET" --config "$T/c.conf" list)
case $out in "ok n=2 etag=\""*) ;; *) fail "list: $out" ;; esac
etag=${out#*etag=}
call "list unchanged" "not_modified" "$GET" --config "$T/c.conf" list "$etag"
# The change comes while the poll is held (its request is in the API's
# log), and not before 1 s in: the wait the poll must show.
held() { grep -q 'grants?wait=30' "$T/good/requests.log" 2>/dev/null; }
t0=$(date +%s%N)
( wait_for 30 held >/dev/null || exit 0
  # (a pause that is the feature: the change 1 s in, by the clock)
  while [ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 1000 ]; do sleep 0.05; done
  grant dave > "$T/good/grants/dave.json" ) &
TEST_PIDS="$TEST_PIDS $!"
out=$("$GET" --config "$T/c.conf" list "$etag" 30)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
case $out in "ok n=3 "*) ;; *) fail "long poll: $out" ;; esac
# It waited for the change (1 s in), and the change ended it: well before
# the 30 s wait was over, with 19 s that scheduling cannot use up.
[ $ms -ge 800 ] && [ $ms -le 20000 ] || fail "long poll answered after $ms ms"
ok "long poll answers when the list changes (${ms} ms)"
