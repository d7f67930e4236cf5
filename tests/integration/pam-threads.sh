#!/bin/sh
# SPDX-License-Identifier: MIT
# 16 threads call pam_acct_mgmt at once (doc/design.md, threat B5:
# libcurl's global state
# in someone else's process): every login passes, no crash (under ASan in
# the sanitizer build), and the caller's SIGPIPE/SIGALRM handlers stay.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
setup_env
setup_pam
THREADS=16 ROUNDS=4
for t in $(seq 0 $((THREADS - 1))); do
    for r in $(seq 0 $((ROUNDS - 1))); do
        grant_json "t$t-$r" > "$T/api/grants/t$t-$r.json"
    done
done
mkdir "$T/svc"
printf 'account required %s config=%s\n' "$PAMMOD" "$CONF" > "$T/svc/jitthreads"
# The syslog shim puts the module's lines in the output, so a refused
# login says why.
out=$(in_ns env LD_PRELOAD="${PRELOAD:+$PRELOAD }$SYSLOG_SHIM" \
    "$top_builddir/tests/helpers/pam-threads" "$T/svc" jitthreads $THREADS $ROUNDS 2>&1) \
    || fail "$(printf '%s\n' "$out" | grep -v '^SYSLOG(info)')"
out=$(printf '%s\n' "$out" | grep -v '^SYSLOG')
expect_eq "threads" "$out" "$THREADS threads x $ROUNDS logins: 0 failed"
n=$("$JITCTL" -c "$CONF" list --json | grep -c '"name"')
expect_eq "one account per login" "$n" $((THREADS * ROUNDS))
