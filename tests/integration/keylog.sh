#!/bin/sh
# SPDX-License-Identifier: MIT
# No environment variable changes what pam_jit or jitctl do: libcurl
# honours SSLKEYLOGFILE (it opens the file in curl_global_init, with
# plain getenv, so a setuid su honours it too) and would write every TLS
# session's secrets there, as root, at any path the caller names.  With
# the variable set, a login through libpam, jitctl sync, flush and the
# daemon create nothing; and when the hosting process had set libcurl up
# with the variable (so the file is open before pam_jit runs), pam_jit's
# sessions still write nothing into it.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
setup_env
setup_pam
grant_json alice > "$T/api/grants/alice.json"
grant_json bob > "$T/api/grants/bob.json"

# The control: this machine's libcurl does honour the variable (else
# nothing below would prove anything).
command -v curl >/dev/null || skip "needs curl(1) for the control"
SSLKEYLOGFILE=$T/control curl -s -o /dev/null --cacert "$T/certs/ca.pem" \
    "https://127.0.0.1:$API_PORT/" || true
[ -s "$T/control" ] || skip "this libcurl does not honour SSLKEYLOGFILE"
ok "control: curl(1) with SSLKEYLOGFILE writes the secrets ($(wc -l < "$T/control") lines)"

export SSLKEYLOGFILE
SSLKEYLOGFILE=$T/keylog.pam
pam_op alice acct_mgmt open_session close_session \
    || fail "login: $(cat "$T/pam.out")"
[ ! -e "$T/keylog.pam" ] || fail "pam_jit created the key log: $(head -c 300 "$T/keylog.pam")"
ok "a login through libpam with SSLKEYLOGFILE set creates nothing"

SSLKEYLOGFILE=$T/keylog.sync
"$JITCTL" -c "$CONF" sync >/dev/null 2>"$T/sync.err" || fail "sync: $(cat "$T/sync.err")"
[ ! -e "$T/keylog.sync" ] || fail "jitctl sync created the key log"
ok "jitctl sync with SSLKEYLOGFILE set creates nothing"

SSLKEYLOGFILE=$T/keylog.flush
"$JITCTL" -c "$CONF" flush >/dev/null 2>"$T/flush.err" || fail "flush: $(cat "$T/flush.err")"
grep -q '"account.created"' "$T/api/events.jsonl" || fail "flush delivered nothing"
[ ! -e "$T/keylog.flush" ] || fail "jitctl flush created the key log"
ok "jitctl flush with SSLKEYLOGFILE set creates nothing"

SSLKEYLOGFILE=$T/keylog.daemon
start_daemon
# A long poll under way and an event delivered: both spoke TLS.
pam_op bob acct_mgmt open_session || fail "bob's login: $(cat "$T/pam.out")"
delivered() { grep -q '"username": "bob"' "$T/api/events.jsonl"; }
wait_for 60 delivered >/dev/null || fail "the daemon delivered nothing: $(cat "$T/daemon.err")"
wait_for 10 grep -q 'grants?wait=' "$T/api/requests.log" >/dev/null || fail "no long poll"
[ ! -e "$T/keylog.daemon" ] || fail "jitctl daemon created the key log"
kill -TERM "$D"; wait "$D" || fail "daemon exit status $?"
ok "jitctl daemon with SSLKEYLOGFILE set creates nothing"

# The hosting process set libcurl up first, with the variable: the file
# is libcurl's (opened before pam_jit loaded), but pam_jit's TLS sessions
# put nothing in it.
SSLKEYLOGFILE=$T/keylog.host
rm -f "$T/state/"*.new
rc=0
in_ns env LD_PRELOAD="${PRELOAD:+$PRELOAD }$SYSLOG_SHIM $top_builddir/tests/helpers/.libs/libcurl-first.so" \
    "$PAMRUN" "$T/pam.d" jittest alice acct_mgmt > "$T/pam.out" 2>&1 || rc=$?
[ $rc = 0 ] || fail "login: $(cat "$T/pam.out")"
[ -e "$T/keylog.host" ] || fail "the host's libcurl did not open the key log: the case is not tested"
[ ! -s "$T/keylog.host" ] || fail "pam_jit wrote its TLS secrets into the host's key log: $(head -c 300 "$T/keylog.host")"
ok "a host that set libcurl up with SSLKEYLOGFILE: pam_jit writes nothing into the file"
unset SSLKEYLOGFILE
