#!/bin/sh
# SPDX-License-Identifier: MIT
# The module's allow, deny and fault paths under valgrind (memcheck, leak
# check): the whole life of an account, a denial, a malformed answer.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
command -v valgrind >/dev/null || skip "needs valgrind"
[ -z "$PRELOAD" ] || skip "sanitizer build: valgrind runs in the plain build"
setup_env
setup_pam
# Under valgrind TLS runs tens of times slower: the test's 2 s API timeout
# ran out in the handshake on a busy machine.  No case here is ended by
# the timeout (pam-login.sh tests that), so it can be generous.
sed -i -e 's/^timeout = .*/timeout = 120/' -e 's/^connect_timeout = .*/connect_timeout = 60/' "$CONF"
# (--child-silent-after-fork: the teardown's child that kills as the uid is
# a copy of the login under valgrind; its exit would report the login's heap.)
PAM_UNDER="valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite --child-silent-after-fork=yes --log-file=$T/vg.%p"
export PAM_UNDER
vg() { # WHAT WANT-RC USER OP...
    what=$1 want=$2 user=$3
    shift 3
    rc=0
    pam_op "$user" "$@" || rc=$?
    if [ -n "$(cat "$T"/vg.* 2>/dev/null)" ]; then
        cat "$T"/vg.* | head -60
        fail "$what: valgrind reports errors"
    fi
    [ "$rc" = "$want" ] || fail "$what: rc $rc, want $want: $(tail -5 "$T/pam.out")"
    ok "$what: rc $rc, valgrind clean"
}
grant_json alice > "$T/api/grants/alice.json"
vg "account, open and close with delete" 0 alice acct_mgmt open_session close_session
audit_has 'event="account.deleted" result="ok"'
vg "no grant" 1 bob acct_mgmt
echo malformed > "$T/api/faults/carol"
vg "malformed answer" 1 carol acct_mgmt
echo huge > "$T/api/faults/dave"
vg "oversized answer" 1 dave acct_mgmt
vg "local user, ignored" 0 root acct_mgmt open_session close_session
