#!/bin/sh
# SPDX-License-Identifier: MIT
# The teardown ends systemd --user lingering of the account: its file in
# /var/lib/systemd/linger (here a test directory bound over it in the
# test's namespace) goes, so no user manager of the uid starts again at
# the next boot; another user's file there stays.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
setup_env
setup_pam
G=$T/api/grants
mkdir -m 755 "$T/linger"
grant_json carol > "$G/carol.json"
pam_op carol acct_mgmt open_session || fail "carol: $(cat "$T/pam.out")"
: > "$T/linger/carol"
: > "$T/linger/root"

# /var/lib/systemd/linger need not exist here: as nsrun.sh does for the
# state directory, its nearest existing ancestor gets it by an overlay.
out=$(in_ns sh -c '
    set -e
    T=$1 JITCTL=$2 CONF=$3 L=/var/lib/systemd/linger
    if [ ! -d $L ]; then
        anc=$L missing=
        while [ ! -d "$anc" ]; do missing=$(basename "$anc")/$missing; anc=$(dirname "$anc"); done
        mkdir -p "$T/lingerovl/$missing"
        mount -t overlay overlay -o "lowerdir=$T/lingerovl:$anc" "$anc"
    fi
    mount --bind "$T/linger" $L
    ls $L | tr "\n" " "; echo
    "$JITCTL" -c "$CONF" revoke carol --reason "test linger" 2>"$T/revoke.err"
    ls $L | tr "\n" " "' sh "$T" "$JITCTL" "$CONF") || fail "revoke: $out $(cat "$T/revoke.err")"
expect_eq "carol's linger file goes, root's stays" "$out" "carol root 
revoke carol: grant g-carol revoked on this host; account torn down
root "
