#!/bin/sh
# SPDX-License-Identifier: MIT
# pam_jit.so links libpam and libc alone and loads its login backend
# (pam_jit_login.so: libcurl, libkrb5, SQLite) only for a user that may be
# ours (doc/design.md, F7): a local user's sudo, su or cron never loads
# it; a backend that is missing, unsafe (not root's, writable by others,
# in a directory others can write, a link), broken or of another build
# fails closed for a user that may be ours, with an audit line naming
# why, and never touches a local user.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
setup_env
setup_pam
sed -i 's/^uid_max = .*/uid_max = 99599/' "$CONF"
[ -f "$PAMBACKEND" ] || fail "$PAMBACKEND not built"

# --- what the two objects link and export ---
if [ -z "$PRELOAD" ]; then
    needed=$(readelf -d "$PAMSO" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
    # ld.so is glibc's own (conf.c's one thread-local message needs it).
    bad=$(printf '%s\n' $needed \
          | grep -vxE 'libc\.so\.6|libpam\.so\.0|ld-linux[-a-z0-9_.]*\.so\.[0-9]+' || true)
    expect_eq "pam_jit.so NEEDED beyond libc, libpam and ld.so (all: $needed)" "$bad" ""
    # The login asks the API through jitctl daemon's relay: no TLS, HTTP
    # or Kerberos library in the backend (doc/design.md, F8) ...
    bneeded=$(readelf -d "$PAMBACKEND" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
    bad=$(printf '%s\n' $bneeded | grep -E '^lib(curl|ssl|crypto|krb5|gssapi|k5crypto)' || true)
    expect_eq "pam_jit_login.so links no TLS, HTTP or Kerberos library (all: $bneeded)" "$bad" ""
    # ... they are in pam_jit_net.so, beside it.
    readelf -d "$PAMNET" | grep -q 'NEEDED.*\[libcurl' \
        || fail "pam_jit_net.so does not link libcurl: check the test"
    ! readelf -d "$PAMNET" | grep -q 'NEEDED.*\[libsqlite' \
        || fail "pam_jit_net.so carries the store (libsqlite3): a second copy of libjit"
    ok "pam_jit_net.so links libcurl (and the rest), not the store"
else
    ok "NEEDED lists not checked: the sanitizer build links its runtimes"
fi
exports=$(nm -D --defined-only "$PAMSO" | awk '{print $3}' | sort | tr '\n' ' ')
expect_eq "pam_jit.so exports" "$exports" \
    "pam_sm_acct_mgmt pam_sm_authenticate pam_sm_close_session pam_sm_open_session pam_sm_setcred "
expect_eq "pam_jit_login.so exports" \
    "$(nm -D --defined-only "$PAMBACKEND" | awk '{print $3}' | tr '\n' ' ')" "jit_login_backend "
expect_eq "pam_jit_net.so exports" \
    "$(nm -D --defined-only "$PAMNET" | awk '{print $3}' | tr '\n' ' ')" "jit_login_net "
# The backend's path is root's (built in, or pam.d's backend=): nothing
# in the environment of a setuid sudo's caller can name another.
envs=$(nm -D --undefined-only "$PAMSO" | awk '{print $2}' | sed 's/@.*//' \
       | grep -xE 'getenv|secure_getenv' || true)
expect_eq "pam_jit.so reads no environment variable" "$envs" ""

# --- who loads the backend: LD_DEBUG=files names each object loaded ---
PAM_UNDER="env LD_DEBUG=files"
pam_op root acct_mgmt open_session close_session \
    || fail "local root: $(cat "$T/pam.out")"
grep -q 'file=.*pam_jit\.so' "$T/pam.out" || fail "pam_jit.so not loaded: check the test: $(cat "$T/pam.out")"
# The backend is loaded from its descriptor: /proc/self/fd/N.
if grep -Eq 'file=.*(pam_jit_login\.so|/proc/self[/.]*/fd/|libcurl|libkrb5|libsqlite3)' "$T/pam.out"; then
    fail "a local user's steps loaded the backend: $(grep 'file=' "$T/pam.out")"
fi
ok "local root, every step: ignored without loading pam_jit_login.so, libcurl, libkrb5 or SQLite"
grant_json bob > "$T/api/grants/bob.json"
pam_op bob acct_mgmt open_session || fail "bob: $(cat "$T/pam.out")"
# Loaded by pam_jit.so, or (as glibc names the caller) by whatever wraps
# dlopen: the sanitizer runtime in the ASan build, the swap shim.
grep -q 'file=/proc/self[/.]*/fd/[0-9]* .*dynamically loaded by ' "$T/pam.out" \
    || fail "bob's login did not load the backend: $(grep 'file=' "$T/pam.out")"
# No jitctl daemon here: the login asks the API itself, with libcurl from
# pam_jit_net.so, loaded as the backend is (from its descriptor).
[ "$(grep -c 'file=/proc/self[/.]*/fd/[0-9]* .*dynamically loaded by ' "$T/pam.out")" -ge 2 ] \
    || fail "bob's login did not load pam_jit_net.so: $(grep 'file=' "$T/pam.out")"
grep -q 'file=libcurl' "$T/pam.out" || fail "no libcurl for a direct call: $(grep 'file=' "$T/pam.out")"
audit_has 'event="login" result="allow" reason="reserved" user="bob"'
audit_has 'event="session.opened" result="allow" reason="home_created" user="bob"'
ok "a granted user, no daemon: the backend and pam_jit_net.so loaded, the login allowed"
pam_op bob close_session || fail "bob's logout: $(cat "$T/pam.out")"
audit_has 'event="session.closed" result="ok" reason="last_logout" user="bob"'
PAM_UNDER=

# --- backends that must not be loaded ---
# try_backend WHAT PATH WHY: a stack with backend=PATH.  root: ignored,
# no word of the backend; carol (granted, may be ours) and a name nobody
# knows: denied, an audit line with reason=backend_error and the log
# line naming PATH and WHY.
grant_json carol > "$T/api/grants/carol.json"
try_backend() {
    what=$1 path=$2 why=$3
    printf 'account  required  %s config=%s backend=%s\naccount  required  pam_permit.so\nsession  required  %s config=%s backend=%s\nsession  required  pam_permit.so\n' \
        "$PAMSO" "$CONF" "$path" "$PAMSO" "$CONF" "$path" > "$T/pam.d/badbk"
    PAM_SVC=badbk
    pam_op root acct_mgmt open_session close_session \
        || fail "$what: local root refused: $(cat "$T/pam.out")"
    if grep -q 'login backend' "$T/pam.out"; then
        fail "$what: local root's steps looked at the backend: $(cat "$T/pam.out")"
    fi
    for u in carol nosuchuser; do
        if pam_op $u acct_mgmt; then
            fail "$what: $u let in: $(cat "$T/pam.out")"
        fi
        grep -q '^pam-run: acct_mgmt: Permission denied$' "$T/pam.out" \
            || fail "$what: $u: want PAM_PERM_DENIED: $(cat "$T/pam.out")"
        audit_has "event=\"login\" result=\"deny\" reason=\"backend_error\" user=\"$u\""
        grep -qF "login backend $path: $why" "$T/pam.out" \
            || fail "$what: no log line 'login backend $path: $why': $(cat "$T/pam.out")"
    done
    PAM_SVC=
    ok "$what: local root ignored; carol and an unknown name denied (backend_error: $why)"
}
B=$T/bk
mkdir -m 755 "$B" "$B/ok" "$B/gw" "$B/dw" "$B/nr" "$B/ln" "$B/junk" "$B/wrong" "$B/other"
try_backend "missing" "$B/none/pam_jit_login.so" "file: No such file or directory"
try_backend "relative path" "pam_jit_login.so" "not an absolute path"
install -m 664 "$PAMBACKEND" "$B/gw/pam_jit_login.so"
try_backend "group-writable" "$B/gw/pam_jit_login.so" "file: writable by group or others"
chmod 757 "$B/dw"
install -m 644 "$PAMBACKEND" "$B/dw/pam_jit_login.so"
try_backend "in a directory others can write" "$B/dw/pam_jit_login.so" \
    "directory: writable by group or others"
install -m 644 -o 99550 "$PAMBACKEND" "$B/nr/pam_jit_login.so"
try_backend "not root's" "$B/nr/pam_jit_login.so" "file: not owned by root"
install -m 644 "$PAMBACKEND" "$B/ok/pam_jit_login.so"
ln -s "$B/ok/pam_jit_login.so" "$B/ln/pam_jit_login.so"
try_backend "a symbolic link" "$B/ln/pam_jit_login.so" "file: not a regular file"
try_backend "a directory" "$B/ok" "file: not a regular file"
printf 'not an ELF object\n' > "$B/junk/pam_jit_login.so"
chmod 644 "$B/junk/pam_jit_login.so"
try_backend "not a shared object" "$B/junk/pam_jit_login.so" "$B/junk/pam_jit_login.so: "
install -m 644 "$PAMSO" "$B/wrong/pam_jit_login.so"
try_backend "a shared object without the table" "$B/wrong/pam_jit_login.so" "no jit_login_backend"
# A package upgrade half done: the table of another version (its
# state_new aborts, so a backend called at all would show).
install -m 644 "$top_builddir/tests/helpers/.libs/other-backend.so" "$B/other/pam_jit_login.so"
try_backend "a backend of another build" "$B/other/pam_jit_login.so" "of another build than pam_jit.so ("

# The same file, root's, 0644, in a root directory: loaded (with
# pam_jit_net.so beside it, for a login without jitctl daemon).
install -m 644 "$PAMNET" "$B/ok/pam_jit_net.so"
printf 'account  required  %s config=%s backend=%s\n' "$PAMSO" "$CONF" "$B/ok/pam_jit_login.so" \
    > "$T/pam.d/okbk"
PAM_SVC=okbk
pam_op carol acct_mgmt || fail "carol with a fit copy of the backend: $(cat "$T/pam.out")"
audit_has 'event="login" result="allow" reason="reserved" user="carol"'
ok "a root-owned copy in a root directory loads"

# pam_jit_net.so missing or unsafe beside a fit backend, no daemon: the
# login cannot ask the API, and says so (fail closed).
mkdir -m 755 "$B/nonet" "$B/netnr" "$B/netother"
install -m 644 "$PAMBACKEND" "$B/nonet/pam_jit_login.so"
install -m 644 "$PAMBACKEND" "$B/netnr/pam_jit_login.so"
install -m 644 -o 99550 "$PAMNET" "$B/netnr/pam_jit_net.so"
install -m 644 "$PAMBACKEND" "$B/netother/pam_jit_login.so"
# (its get_grant_with aborts: called at all, it would show)
install -m 644 "$top_builddir/tests/helpers/.libs/other-backend.so" "$B/netother/pam_jit_net.so"
for c in "nonet:file: No such file or directory" "netnr:file: not owned by root" \
         "netother:of another build than the backend"; do
    d=${c%%:*} why=${c#*:}
    printf 'account  required  %s config=%s backend=%s\n' "$PAMSO" "$CONF" \
        "$B/$d/pam_jit_login.so" > "$T/pam.d/netbk"
    if PAM_SVC=netbk pam_op carol acct_mgmt; then
        fail "carol allowed without a fit pam_jit_net.so ($d)"
    fi
    audit_has 'event="login" result="deny" reason="backend_error" user="carol"'
    grep -qF "API: backend_error: $B/$d/pam_jit_net.so: $why" "$T/pam.out" \
        || fail "$d: no log line naming pam_jit_net.so: $(cat "$T/pam.out")"
    ok "pam_jit_net.so $d, no daemon: carol denied (backend_error: $why)"
done

# --- what is loaded is the file checked ---
# The descriptor checked is what dlopen loads (/proc/self/fd/N), not the
# path again: a file swapped in between (here by a preloaded dlopen that
# renames a backend of another build over it first, as someone who can
# write a directory higher up could) is not what runs.
SHIM=$top_builddir/tests/helpers/.libs/libswap-shim.so
[ -f "$SHIM" ] || fail "$SHIM not built"
mkdir -m 755 "$B/race"
install -m 644 "$PAMBACKEND" "$B/race/pam_jit_login.so"
install -m 644 "$PAMNET" "$B/race/pam_jit_net.so"
install -m 644 "$top_builddir/tests/helpers/.libs/other-backend.so" "$B/race/swap.so"
printf 'account  required  %s config=%s backend=%s\n' "$PAMSO" "$CONF" "$B/race/pam_jit_login.so" \
    > "$T/pam.d/racebk"
PAM_SVC=racebk
# PAM_UNDER is split on blanks: LD_PRELOAD's list here by colons.
PAM_UNDER="env LD_PRELOAD=$(printf '%s' "${PRELOAD:+$PRELOAD }" | tr ' ' ':')$SYSLOG_SHIM:$SHIM SWAP_SHIM_PATH=$B/race/pam_jit_login.so SWAP_SHIM_NEW=$B/race/swap.so LD_DEBUG=files"
pam_op carol acct_mgmt || fail "carol, the backend swapped after its check: $(cat "$T/pam.out")"
PAM_UNDER=
[ ! -e "$B/race/swap.so" ] || fail "the shim swapped nothing: check the test: $(cat "$T/pam.out")"
# Loaded by pam_jit.so, or (as glibc names the caller) by whatever wraps
# dlopen: the sanitizer runtime in the ASan build, the swap shim.
grep -q 'file=/proc/self[/.]*/fd/[0-9]* .*dynamically loaded by ' "$T/pam.out" \
    || fail "the backend not loaded from its descriptor: $(grep 'file=' "$T/pam.out")"
audit_has 'event="login" result="allow" reason="[a-z_]*" user="carol"'
ok "a backend swapped between its check and dlopen: the file checked is what loads"

# --- an upgrade in a long-running process ---
# One process, handle after handle (restart: pam_end, pam_start), as a
# service that authenticates many logins: a backend replaced by rename
# (a new inode, as dpkg installs it) answers the next handle; the old one
# (here of another build, so refused) is not kept by its path name.
mkdir -m 755 "$B/up"
install -m 644 "$top_builddir/tests/helpers/.libs/other-backend.so" "$B/up/pam_jit_login.so"
install -m 644 "$PAMBACKEND" "$B/up/new.so"
install -m 644 "$PAMNET" "$B/up/pam_jit_net.so"
printf 'account  required  %s config=%s backend=%s\n' "$PAMSO" "$CONF" "$B/up/pam_jit_login.so" \
    > "$T/pam.d/upbk"
PAM_SVC=upbk
PAM_RUN_ALL=1; export PAM_RUN_ALL
pam_op carol acct_mgmt "root:mv $B/up/new.so $B/up/pam_jit_login.so" restart acct_mgmt restart acct_mgmt || true
unset PAM_RUN_ALL
PAM_SVC=
got=$(grep '^pam-run: acct_mgmt:' "$T/pam.out" | tr '\n' '|')
[ "$got" = "pam-run: acct_mgmt: Permission denied|pam-run: acct_mgmt: Success|pam-run: acct_mgmt: Success|" ] \
    || fail "one process: want denied (old), then allowed twice (new): $(cat "$T/pam.out")"
grep -q 'of another build than pam_jit.so' "$T/pam.out" \
    || fail "the old backend not refused first: check the test: $(cat "$T/pam.out")"
ok "one process: a backend replaced by rename answers the next pam_start"

# --- the auth step asks its password before refusing ---
# A refusal with no prompt would tell a stranger which names may be JIT
# accounts (doc/design.md, G4): with the backend missing, carol and a name
# nobody knows are asked a password, then denied; root is not ours.
printf 'auth  required  %s config=%s backend=%s\nauth  required  pam_permit.so\n' \
    "$PAMSO" "$CONF" "$B/none/pam_jit_login.so" > "$T/pam.d/authbk"
printf 'whatever' > "$T/pw"
PAM_RUN_PASSWORD_FILE=$T/pw; export PAM_RUN_PASSWORD_FILE
PAM_SVC=authbk
for u in carol nosuchuser; do
    if pam_op $u authenticate; then
        fail "auth, backend missing: $u let in: $(cat "$T/pam.out")"
    fi
    grep -q '^pam-run: prompt: Password: $' "$T/pam.out" \
        || fail "auth, backend missing: $u not asked a password: $(cat "$T/pam.out")"
    audit_has "event=\"auth\" result=\"deny\" reason=\"backend_error\" user=\"$u\""
done
pam_op root authenticate || fail "auth, backend missing: root refused: $(cat "$T/pam.out")"
if grep -q 'prompt:' "$T/pam.out"; then
    fail "auth, backend missing: root (not ours) asked by pam_jit: $(cat "$T/pam.out")"
fi
PAM_SVC=
unset PAM_RUN_PASSWORD_FILE
ok "auth with the backend missing: carol and an unknown name asked a password, then denied; root ignored"
