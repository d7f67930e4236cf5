#!/bin/sh
# SPDX-License-Identifier: MIT
# pam_jit installed but not configured (doc/design.md, R16): with no
# jit.conf at the built-in path, users our snapshot does not list are
# ignored (local users keep logging in), one it lists is refused with
# reason=not_configured, and a jit.conf that exists but is broken fails
# closed for everyone.  The built-in path is hidden in the test's mount
# namespace by an empty tmpfs, never touched on the machine.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
[ -n "${JIT_CONF_BUILTIN:-}" ] || fail "JIT_CONF_BUILTIN: run through make check"
setup_env
setup_pam
cfgdir=$(dirname "$JIT_CONF_BUILTIN")
[ -d "$cfgdir" ] || [ -d "$(dirname "$cfgdir")" ] \
    || skip "neither $cfgdir nor its parent exists to hide"
# nocfg.sh MODE CMD...: CMD with the built-in configuration directory
# empty (MODE absent) or holding a jit.conf that does not parse (broken).
cat > "$T/nocfg.sh" <<'SH'
set -eu
conf=$1 mode=$2
shift 2
d=$(dirname "$conf")
if [ -d "$d" ]; then
    mount -t tmpfs -o mode=755 jit-nocfg "$d"
else
    mount -t tmpfs -o mode=755 jit-nocfg "$(dirname "$d")"
    mkdir -m 755 "$d"
fi
[ "$mode" = absent ] || printf 'this is not a key\n' > "$conf"
exec "$@"
SH
printf 'auth  required  %s debug\nauth  required  pam_permit.so\naccount  required  %s debug\naccount  required  pam_permit.so\nsession  required  %s debug\nsession  required  pam_permit.so\n' \
    "$PAMMOD" "$PAMMOD" "$PAMMOD" > "$T/pam.d/nocfg"

# An account of ours, made while configured (config= names $CONF).
grant_json alice > "$T/api/grants/alice.json"
pam_op alice acct_mgmt || fail "configured login: $(cat "$T/pam.out")"
audit_has 'event="login" result="allow"'

PAM_SVC=nocfg PAM_UNDER="sh $T/nocfg.sh $JIT_CONF_BUILTIN absent"
export PAM_SVC
pam_op root acct_mgmt open_session close_session \
    || fail "root, not configured: $(cat "$T/pam.out")"
audit_has 'not configured; user root: ignored'
ok "not configured: a local user (root) is ignored at every step"

pam_op nosuchuser acct_mgmt || fail "unknown name: $(cat "$T/pam.out")"
audit_has 'user nosuchuser: ignored'
ok "not configured: a name nobody knows is ignored (the stack decides)"

if pam_op alice acct_mgmt; then
    fail "not configured: our own account alice was let in: $(cat "$T/pam.out")"
fi
audit_has 'event="login" result="deny" reason="not_configured"'
ok "not configured: an account our snapshot lists is refused, reason=not_configured"
# The auth step asks its password before refusing one of ours, as a
# configured host does: no prompt would tell a stranger the name is a
# JIT account.  root (not ours): no prompt at all.
printf 'whatever' > "$T/pw"
PAM_RUN_PASSWORD_FILE=$T/pw
export PAM_RUN_PASSWORD_FILE
if pam_op alice authenticate; then
    fail "not configured: alice authenticated: $(cat "$T/pam.out")"
fi
grep -q 'pam-run: prompt: Password: $' "$T/pam.out" || fail "alice was not asked a password: $(cat "$T/pam.out")"
audit_has 'event="auth" result="deny" reason="not_configured" user="alice"'
pam_op root authenticate || fail "root's auth, not configured: $(cat "$T/pam.out")"
! grep -q 'pam-run: prompt' "$T/pam.out" || fail "root was asked a password: $(cat "$T/pam.out")"
unset PAM_RUN_PASSWORD_FILE
ok "not configured: auth asks a password before refusing an account of ours (reason=not_configured); root is not asked"
pam_op alice close_session || fail "not configured: a logout of ours refused: $(cat "$T/pam.out")"
ok "not configured: a logout is ignored, never refused"

# Hosts that name their file: its absence is a fault, not "unconfigured".
printf 'account  required  %s config=%s\naccount  required  pam_permit.so\n' \
    "$PAMMOD" "$T/missing.conf" > "$T/pam.d/named"
PAM_SVC=named
if pam_op root acct_mgmt; then
    fail "config= naming a missing file let root through: $(cat "$T/pam.out")"
fi
audit_has 'missing.conf: cannot open'
ok "config= naming a missing file fails closed, even for root"

PAM_SVC=nocfg PAM_UNDER="sh $T/nocfg.sh $JIT_CONF_BUILTIN broken"
if pam_op root acct_mgmt; then
    fail "a broken jit.conf let root through: $(cat "$T/pam.out")"
fi
audit_has 'configuration:'
ok "a jit.conf that exists but does not parse fails closed, even for root"
