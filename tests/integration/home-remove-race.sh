#!/bin/sh
# SPDX-License-Identifier: MIT
# Hostile home during removal (doc/design.md, threat D2): while the
# teardown removes a home, a process of its user keeps swapping ~/a/b between a directory and
# a symlink to a canary tree outside the home.  HOME_RACE_RUNS runs (1000
# by default): the canary is never touched.
. "$top_srcdir/tests/integration/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root"
command -v setpriv >/dev/null || skip "needs setpriv"
setup_env
RUNS=${HOME_RACE_RUNS:-1000}
HELPER=$top_builddir/tests/helpers/home-remove
UID_=97123 # a uid outside every test's range (lib/pam.sh: setup_pam; 70000-95999)
mkdir -m 755 "$T/home" "$T/canary"
mkdir -m 700 "$T/sig"; chown $UID_ "$T/sig"
mkdir "$T/canary/sub"
echo keep > "$T/canary/file"
echo keep > "$T/canary/sub/file"
canary_sum() { (cd "$T/canary" && find . -printf '%p %m %u %s\n' | sort && cat file sub/file); }
before=$(canary_sum)
removed=0 refused=0 i=0
while [ $i -lt "$RUNS" ]; do
    i=$((i + 1))
    mkdir -p "$T/home/eve/a/b/c"
    for f in 1 2 3; do echo x > "$T/home/eve/a/b/c/f$f"; echo y > "$T/home/eve/a/f$f"; done
    chown -R $UID_:$UID_ "$T/home/eve"
    chmod 700 "$T/home/eve"
    # The user's swapper: ~/a/b <-> a symlink to the canary, as fast as
    # it can, until the home is gone.
    setpriv --reuid=$UID_ --regid=$UID_ --clear-groups /usr/bin/python3 -c '
import os, sys
home, canary = sys.argv[1], sys.argv[2]
b, tmp = os.path.join(home, "a", "b"), os.path.join(home, "a", ".b")
swaps = 0
for _ in range(200000):
    try:
        os.rename(b, tmp)
        os.symlink(canary, b)
        os.unlink(b)
        os.rename(tmp, b)
        swaps += 1
        if swaps == 50:
            open(sys.argv[3], "w").close()  # racing now
    except OSError:
        if not os.path.isdir(home):
            break
' "$T/home/eve" "$T/canary" "$T/sig/ready" 2>/dev/null &
    sw=$!
    # (waits on the swapper's ready file; the pause is the poll's interval)
    while [ ! -e "$T/sig/ready" ] && kill -0 $sw 2>/dev/null; do sleep 0.005; done
    rm -f "$T/sig/ready"
    if "$HELPER" "$T/home" eve >/dev/null; then removed=$((removed + 1)); else refused=$((refused + 1)); fi
    kill $sw 2>/dev/null || true
    wait $sw 2>/dev/null || true
    [ "$(canary_sum)" = "$before" ] || fail "run $i: the canary changed"
    rm -rf "$T/home/eve"
done
ok "$RUNS removals raced by the user's swapper ($removed complete, $refused cut short by the race): canary untouched"
