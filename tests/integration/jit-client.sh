#!/bin/sh
# SPDX-License-Identifier: MIT
# jit, the people's client, against jit-apid: request, grants, show,
# approve, revoke, enable, log, with --json; its refusals (a token file
# others can read, a plain-http URL, a bad duration) and the server's
# message passed through.
. "$top_srcdir/tests/integration/lib.sh"
setup_env
start_apid
JIT=$top_builddir/contrib/jit-apid/jit
for p in alice boss; do
    grep "^$p@EXAMPLE.COM " "$T/apid/people" | awk '{print $3}' > "$T/$p.token"
    chmod 600 "$T/$p.token"
done
echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDHkdrpAIOzm8kahQ+kwMFzo5hwUPnBeolqDxfp/ZNY5 alice@laptop' > "$T/alice.pub"
export JIT_URL="$APID_URL" JIT_CA_FILE="$T/certs/ca.pem"
alice() { JIT_TOKEN_FILE="$T/alice.token" "$JIT" "$@"; }
boss() { JIT_TOKEN_FILE="$T/boss.token" "$JIT" "$@"; }

out=$(alice request --credential root-ish --host web01.test --duration 5m \
    --reason "INC-9 disk full" --ssh-key-file "$T/alice.pub")
id=$(echo "$out" | sed -n 's/^grant: *//p')
case $out in *"status:      pending"*"account:     alice-adm on web01.test"*"reason:      INC-9 disk full"*) ;;
    *) fail "request: $out" ;; esac
ok "jit request: $id pending, account alice-adm"

rc=0; out=$(alice request --credential root-ish --host web01.test --duration 5m --reason again 2>&1) || rc=$?
case "$rc:$out" in "1:jit: 409: alice@EXAMPLE.COM already holds an active or pending grant on root-ish") ;;
    *) fail "second request: $rc:$out" ;; esac
rc=0; out=$(alice request --credential root-ish --host web01.test --duration 2h --reason long 2>&1) || rc=$?
expect_eq "over the policy's maximum" "$rc:$out" "1:jit: 400: duration: at most 600 s under policy root-web"
ok "the server's refusals come through with their message"

rc=0; out=$(alice approve "$id" 2>&1) || rc=$?
expect_eq "self-approval" "$rc:$out" "1:jit: 403: an approver other than the requester decides"
out=$(boss approve "$id" --reason "ok, go")
expect_eq "approve" "$out" "$id: active"
out=$(alice grants)
case $out in "GRANT"*"$id"*"active"*"alice@EXAMPLE.COM"*"root-ish"*"alice-adm"*) ;; *) fail "grants: $out" ;; esac
n=$(alice grants --json | /usr/bin/python3 -c 'import json, sys; print(len(json.load(sys.stdin)["grants"]))')
expect_eq "grants --json" "$n" 1
out=$(alice show "$id")
case $out in *"decided by:  boss@EXAMPLE.COM"*) ;; *) fail "show: $out" ;; esac
ok "jit approve (by the approver only), grants, show"

out=$(alice revoke "$id" --reason "fixed")
expect_eq "revoke" "$out" "$id: revoked"
out=$(alice enable "$id" --duration 2m --reason "it is back")
new=$(echo "$out" | sed -n 's/^grant: *//p')
case $out in *"status:      pending"*"re-enables:  $id"*) ;; *) fail "enable: $out" ;; esac
ok "jit revoke and enable ($new re-enables $id)"

out=$(alice log --grant "$id")
case $out in *"revoke   $id by alice@EXAMPLE.COM: fixed"*"approve  $id by boss@EXAMPLE.COM: ok, go"*"request  $id by alice@EXAMPLE.COM: INC-9 disk full"*) ;;
    *) fail "log: $out" ;; esac
rc=0; out=$(alice log 2>&1) || rc=$?
expect_eq "a requester's whole log" "$rc:$out" "1:jit: 403: a requester reads the log of one of their grants (?grant=ID)"
boss log | grep -q "enable   $new by alice@EXAMPLE.COM: it is back" || fail "boss's log: $(boss log)"
ok "jit log: a grant's history for its requester, everything for the approver"

chmod 644 "$T/alice.token"
rc=0; out=$(alice grants 2>&1) || rc=$?
expect_eq "token readable by others" "$rc:$out" "1:jit: $T/alice.token: must be your own file, mode 0600"
chmod 600 "$T/alice.token"
rc=0; out=$(JIT_URL=http://127.0.0.1:$APID_PORT alice grants 2>&1) || rc=$?
expect_eq "plain http" "$rc:$out" "2:jit: --url: https only"
rc=0; alice request --credential db-admin --host web01.test --duration 5x --reason r >/dev/null 2>&1 || rc=$?
expect_eq "bad duration" "$rc" 2
ok "refused: a token file others can read, plain http, a bad duration"
