#!/bin/sh
# SPDX-License-Identifier: MIT
# Hostile homes (doc/design.md, R8; threat D1): a symlink where the home
# goes, a home owned by someone else, and a loop swapping the home path between a directory, a
# symlink to a canary tree outside home_base and nothing, during
# open_session (HOME_RACE_RUNS runs, 1000 by default).  The session fails
# closed, and nothing outside home_base changes.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
setup_env
setup_pam
RUNS=${HOME_RACE_RUNS:-1000}

mkdir -p "$T/canary/sub"
echo "do not touch" > "$T/canary/file"
chmod 755 "$T/canary"
canary_sum() { (cd "$T/canary" && find . -printf '%p %m %u %g %s\n' | sort && cat file); }
before=$(canary_sum)

# A symlink at the home path.
grant_json eve 'on_logout="keep"' > "$T/api/grants/eve.json"
ln -s "$T/canary" "$T/home/eve"
pam_op eve acct_mgmt || fail "eve: account"
rc=0; pam_op eve open_session || rc=$?
[ $rc != 0 ] && grep -q 'Cannot make/remove' "$T/pam.out" || fail "symlinked home accepted: $(cat "$T/pam.out")"
audit_has 'event="session.opened" result="deny" reason="home_unsafe" user="eve"'
[ -L "$T/home/eve" ] || fail "the symlink was replaced"
ok "symlink at the home path: PAM_SESSION_ERR, home_unsafe, link left alone"

# A directory owned by someone else.
grant_json fred 'on_logout="keep"' > "$T/api/grants/fred.json"
mkdir -m 755 "$T/home/fred"; echo mine > "$T/home/fred/note"; chown -R 12345:12345 "$T/home/fred"
fred_before=$(stat -c '%a %u %g' "$T/home/fred" "$T/home/fred/note")
pam_op fred acct_mgmt || fail "fred: account"
rc=0; pam_op fred open_session || rc=$?
[ $rc != 0 ] || fail "someone else's home accepted"
audit_has 'reason="home_unsafe" user="fred"'
expect_eq "that home unchanged" "$(stat -c '%a %u %g' "$T/home/fred" "$T/home/fred/note")" "$fred_before"

# A file there.
grant_json gus 'on_logout="keep"' > "$T/api/grants/gus.json"
echo x > "$T/home/gus"
pam_op gus acct_mgmt || fail "gus: account"
rc=0; pam_op gus open_session || rc=$?
[ $rc != 0 ] || fail "a file as home accepted"
ok "a file at the home path: refused"

# The race: a swapper keeps replacing $T/home/hal.
grant_json hal 'on_logout="keep"' > "$T/api/grants/hal.json"
pam_op hal acct_mgmt || fail "hal: account"
touch "$T/race.start"
/usr/bin/python3 - "$T/home" hal "$T/canary" "$T/swapper.stop" <<'PY' &
import os, random, sys, time
base, name, canary, stop = sys.argv[1:]
path = os.path.join(base, name)
tmpd, tmpl = os.path.join(base, ".sw-d"), os.path.join(base, ".sw-l")
while not os.path.exists(stop):
    for step in range(3):
        try:
            if step == 0:
                os.mkdir(tmpd, 0o700)
                os.rename(tmpd, path)       # a directory of root's
            elif step == 1:
                os.symlink(canary, tmpl)
                os.rename(tmpl, path)       # replaced by a symlink
            else:
                os.unlink(path)             # and nothing at all,
                time.sleep(random.random() * 0.003)  # for a moment
        except OSError:
            pass
        try:
            os.rename(path, os.path.join(base, ".sw-moved"))  # moved away
            os.rename(os.path.join(base, ".sw-moved"), path)
        except OSError:
            pass
PY
SWAPPER=$!
TEST_PIDS="$TEST_PIDS $SWAPPER"
okruns=0 failruns=0 i=0
while [ $i -lt "$RUNS" ]; do
    i=$((i + 1))
    if pam_op hal open_session; then okruns=$((okruns + 1)); else failruns=$((failruns + 1)); grep -o "home of hal: .*" "$T/pam.out" | sed "s/jit-it[^/]*//" >> "$T/race.why" || true; fi
    # Whatever is there now, take it away without following it.
    rm -rf "$T/home/hal" 2>/dev/null || true
done
touch "$T/swapper.stop"
wait "$SWAPPER" 2>/dev/null || true
ok "$RUNS open_session runs against the swapper: $okruns opened, $failruns refused"
sort "$T/race.why" 2>/dev/null | uniq -c | sort -rn | head -5
expect_eq "canary tree outside home_base untouched" "$(canary_sum)" "$before"
strays=$(find "$T" -mindepth 1 -path "$T/home" -prune -o -path "$T/state" -prune -o -path "$T/api" -prune \
    -o -newer "$T/race.start" ! -name pam.out ! -name swapper.stop ! -name race.why -print 2>/dev/null | head -5)
expect_eq "nothing else outside home_base changed during the race" "$strays" ""
