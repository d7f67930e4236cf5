#!/bin/sh
# SPDX-License-Identifier: MIT
# Threads and fork (doc/design.md, threat E3) through glibc and the real
# module: 16 threads resolve while the snapshot is replaced 100 times (through the real state store), and a
# fork in the middle leaves a child that still resolves, new accounts too.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
setup_env
PROG=$top_builddir/tests/integration/nss_threads

for k in 0 1 2 3 4 5 6 7 8 9; do
    "$FIXTURE" --config "$CONF" add "s$k" --groups users >/dev/null
done
in_ns "$PROG" "$T/stop" "$T/fork" "$T/late" > "$T/out" 2>&1 &
pid=$!
give_up() { touch "$T/stop"; wait $pid || true; fail "$*: $(cat "$T/out")"; }
wait_for 30 grep -q '^started$' "$T/out" >/dev/null || give_up "the readers did not start"
for i in $(seq 1 100); do
    if [ $((i % 2)) = 1 ]; then
        "$FIXTURE" --config "$CONF" add flip >/dev/null
    else
        "$FIXTURE" --config "$CONF" delete flip
    fi
    if [ "$i" = 50 ]; then
        touch "$T/fork"
        wait_for 30 grep -q '^forked$' "$T/out" >/dev/null || give_up "no fork"
        "$FIXTURE" --config "$CONF" add late --credential other >/dev/null
        touch "$T/late"
    fi
done
touch "$T/stop"
set +e
wait $pid; rc=$?
set -e
cat "$T/out"
[ $rc = 0 ] || fail "wrong answers or a failed child (rc $rc)"
ok "16 threads, 100 replacements, a fork: every answer right"
