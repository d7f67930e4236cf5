#!/bin/sh
# SPDX-License-Identifier: MIT
# pam_jit's auth step (sudo, consoles) against a real MIT KDC and the test
# API, through the real libpam: the live grant, then the person's domain
# password checked at the KDC for the grant's requester and verified with
# the host keytab.  Right password: in; wrong password, unknown principal,
# a requester without a realm, the KDC down, a second KDC of the same
# realm that knows the password but not the host key: refused, each with
# its audit reason; a grant revoked after the session opened refuses the
# next auth at once; auth_proof = grant needs no password; a user of
# another source is ignored.  Passwords of 0, 511, 512, 513 bytes and
# 1 MiB, the long ones refused before any KDC work.  The auth path under
# valgrind.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
[ -f /etc/krb5.conf ] || skip "needs /etc/krb5.conf to bind the test's over (package krb5-config)"
setup_env
setup_pam
# The impostor first: start_kdc exports the environment of the last one
# started, and the real KDC is the one everything else uses.
start_kdc "$T/krb5b"
K2=$K
start_kdc
PW=Alice-domain-pw-7
kadm() { kadmin.local -q "$*" >>"$K/setup.log" 2>&1 || fail "kadmin.local $*"; }
kadm cpw -pw $PW alice
LONG=$(/usr/bin/python3 -c 'print("p" * 511 + "q")')
kadm addprinc -pw $LONG long
KRB5_CONFIG=$K2/krb5.conf KRB5_KDC_PROFILE=$K2/kdc.conf \
    kadmin.local -q "cpw -pw $PW alice" >>"$K2/setup.log" 2>&1 || fail "cpw at the second KDC"
ok "two KDCs of JIT.TEST on ports $KDC_PORT and $(sed -n 's/^ *kdc = 127.0.0.1://p' "$K2/krb5.conf"); alice's password the same at both, host/web01.test's key not"

# A test API that asks no token: the host authenticates by Kerberos
# (krb5_keytab, which cannot go with token_file), and the test API takes
# any Authorization.
start_api kapi server
sed -i -e "s|^api_url = .*|api_url = https://127.0.0.1:$API_PORT/|" -e '/^token_file/d' "$CONF"
echo "krb5_keytab = $K/web01.keytab" >> "$CONF"
G=$T/kapi/grants
for svc in jitauth:pam_deny jitauth-next:pam_permit; do
    cat > "$T/pam.d/${svc%%:*}" <<SVC
auth     [success=done ignore=ignore default=die]  $PAMMOD config=$CONF debug
auth     required  ${svc##*:}.so
account  required  $PAMMOD config=$CONF
account  required  pam_permit.so
session  required  $PAMMOD config=$CONF
session  required  pam_permit.so
SVC
done
sed "s|debug$|debug auth_proof=grant|" "$T/pam.d/jitauth" > "$T/pam.d/jitauth-grant"
PAM_SVC=jitauth
export PAM_SVC

# libkrb5's secure context reads /etc/krb5.conf and nothing the
# environment names: in the namespace, the test's is bound over it.
cat > "$T/krb5ns.sh" <<'SH'
#!/bin/sh
mount --bind "$(dirname "$0")/krb5-etc.conf" /etc/krb5.conf || exit 70
exec "$@"
SH
chmod 755 "$T/krb5ns.sh"
cp "$K/krb5.conf" "$T/krb5-etc.conf"
PAM_UNDER=$T/krb5ns.sh
export PAM_UNDER
password() { printf '%s' "$1" > "$T/pw"; PAM_RUN_PASSWORD_FILE=$T/pw; export PAM_RUN_PASSWORD_FILE; }
no_password() { unset PAM_RUN_PASSWORD_FILE; }
as_reqs() { grep -c "AS_REQ.*$1" "$K/kdc.log" || true; }
refused() { # WHAT USER REASON [OP...]: refused with that audit reason
    _what=$1 _u=$2 _r=$3
    shift 3
    rc=0; pam_op "$_u" authenticate "$@" || rc=$?
    [ $rc != 0 ] || fail "$_what: allowed: $(cat "$T/pam.out")"
    audit_has "event=\"auth\" result=\"deny\" reason=\"$_r\" user=\"$_u\""
}
grant_json alice requester='"alice@JIT.TEST"' > "$G/alice.json"

# A user another source owns: ignored, asked nothing.
no_password
rc=0; pam_op root authenticate || rc=$?
[ $rc != 0 ] || fail "root passed the stack that ends in pam_deny"
PAM_SVC=jitauth-next
pam_op root authenticate || fail "ignore did not reach pam_permit: $(cat "$T/pam.out")"
PAM_SVC=jitauth
grep -q 'user root is not ours: ignored' "$T/pam.out" || fail "no ignore line: $(cat "$T/pam.out")"
! grep -q 'event="auth"\|pam-run: prompt' "$T/pam.out" || fail "root was asked or audited: $(cat "$T/pam.out")"
ok "root (a local user): PAM_IGNORE, no prompt, no audit line"

# The right password, before the account exists (a console's first
# login): the generic prompt, then the account step creates the account.
password $PW
pam_op alice authenticate setcred acct_mgmt open_session \
    || fail "alice with her password: $(cat "$T/pam.out")"
grep -q 'pam-run: prompt: Password: $' "$T/pam.out" || fail "prompt: $(cat "$T/pam.out")"
audit_has 'event="auth" result="allow" reason="password" user="alice" requester="alice@JIT.TEST" credential="db-admin" grant="g-alice"'
grep -q 'TGS_REQ.*alice@JIT.TEST for host/web01.test@JIT.TEST' "$K/kdc.log" \
    || fail "no service ticket for the host principal: $(tail -5 "$K/kdc.log")"
resolves alice || fail "alice's account not created"
ok "right password, live grant: in (AS for alice@JIT.TEST, a ticket for host/web01.test verified with the host keytab)"

# Now the account is ours.  pam_op runs as root, as a console's login
# does, where anyone may type the name: the prompt is what pam_unix says
# of any name, and only once it is answered is the API asked
# (doc/design.md, threat G4).  To the account itself (sudo in one of its
# sessions) the prompt names whose password it is.
pam_op alice authenticate || fail "alice again, at a console: $(cat "$T/pam.out")"
grep -q 'pam-run: prompt: Password: $' "$T/pam.out" || fail "console prompt: $(cat "$T/pam.out")"
! grep -q 'alice@JIT.TEST: $' "$T/pam.out" || fail "the console prompt named the requester"
ok "an existing JIT account at a console: pam_unix's prompt, the requester not named"

# The caller's environment (sudo's user sets it) names the impostor's
# krb5.conf and a ticket cache: the secure context reads neither.
n=$(grep -c 'AS_REQ' "$K2/kdc.log" || true)
KRB5_CONFIG=$K2/krb5.conf KRB5CCNAME=FILE:$T/evil.cc
export KRB5CCNAME
pam_op alice authenticate || fail "alice with KRB5_CONFIG set: $(cat "$T/pam.out")"
KRB5_CONFIG=$K/krb5.conf
unset KRB5CCNAME
expect_eq "AS requests at the second KDC" "$(grep -c 'AS_REQ' "$K2/kdc.log" || true)" "$n"
[ ! -e "$T/evil.cc" ] || fail "KRB5CCNAME was written"
ok "KRB5_CONFIG (another KDC) and KRB5CCNAME in the environment change nothing"

password wrong-$PW
refused "wrong password" alice password_wrong
! grep -q 'no active access grant' "$T/pam.out" || fail "the grant message for a wrong password"
ok "wrong password: refused (password_wrong), the application's own words"

grant_json carol requester='"nobody@JIT.TEST"' > "$G/carol.json"
refused "unknown principal" carol principal_unknown
ok "a requester the KDC does not know: refused (principal_unknown)"

grant_json dave requester='"dave"' > "$G/dave.json"
n=$(as_reqs dave)
refused "no realm" dave no_realm
expect_eq "AS requests for dave" "$(as_reqs dave)" "$n"
ok "a requester without a realm: refused (no_realm), nothing asked of the KDC"

# auth_proof = grant at a console: the live grant proves nothing of who
# typed the name (in the account's own session it is enough: the real
# sudo below).
PAM_SVC=jitauth-grant
password anything
refused "auth_proof=grant at a console" alice grant_needs_session
PAM_SVC=jitauth
ok "auth_proof = grant at a console: refused (grant_needs_session)"

# Passwords at and around the bound (512 bytes, PAM_MAX_RESP_SIZE).
# The bound on time: no wait is due in any of them but the fail delay
# (2 s) of a refusal; 20 s is that, the namespace and a KDC round on a
# busy machine, not a measure of speed.
grant_json long requester='"long@JIT.TEST"' > "$G/long.json"
head -c 1048576 /dev/zero | tr '\0' p > "$T/mib"
for case in 0:password_empty 511:password_wrong 512:allow 513:password_too_long mib:password_too_long; do
    len=${case%%:*} want=${case#*:}
    case $len in
        0) : > "$T/pw" ;;
        511) printf '%s' "$LONG" | head -c 511 > "$T/pw" ;;
        512) printf '%s' "$LONG" > "$T/pw" ;;
        513) printf '%sx' "$LONG" > "$T/pw" ;;
        mib) cp "$T/mib" "$T/pw" ;;
    esac
    PAM_RUN_PASSWORD_FILE=$T/pw
    export PAM_RUN_PASSWORD_FILE
    n=$(as_reqs long@)
    t0=$(date +%s%N)
    rc=0; pam_op long authenticate || rc=$?
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    [ $ms -le 20000 ] || fail "$len bytes: $ms ms"
    if [ "$want" = allow ]; then
        [ $rc = 0 ] || fail "$len bytes: refused: $(cat "$T/pam.out")"
        audit_has 'event="auth" result="allow" reason="password" user="long"'
    else
        [ $rc != 0 ] || fail "$len bytes: allowed"
        # pam_fail_delay's two seconds, less libpam's randomness.
        [ $ms -ge 1000 ] || fail "$len bytes: refused in $ms ms, no fail delay"
        audit_has "event=\"auth\" result=\"deny\" reason=\"$want\" user=\"long\""
        case $want in password_wrong) ;; *)
            expect_eq "AS requests for $len bytes" "$(as_reqs long@)" "$n" ;;
        esac
    fi
    ok "a password of $(wc -c < "$T/pw") bytes: $want in $ms ms"
done

# The impostor: a KDC of the same realm that knows alice's password and
# issues a ticket for host/web01.test, under a key the host never had.
password $PW
cp "$K2/krb5.conf" "$T/krb5-etc.conf"
refused "a KDC without the host key" alice verify_failed
grep -q 'TGS_REQ.*alice@JIT.TEST for host/web01.test@JIT.TEST' "$K2/kdc.log" \
    || fail "the second KDC issued no ticket for the host: $(cat "$T/pam.out")"
cp "$K/krb5.conf" "$T/krb5-etc.conf"
ok "a second KDC that knows the password but not the host key: refused (verify_failed)"

# The KDC down (its port refuses): the host's cached ticket still
# fetches the grant; the password cannot be checked: refused.
kdc_up() { /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $KDC_PORT), 0.2)" 2>/dev/null; }
kdc_down() { ! kdc_up; }
kill "$(cat "$K/kdc.pid")"
wait_for 30 kdc_down >/dev/null || fail "krb5kdc did not stop"
t0=$(date +%s%N)
refused "KDC down" alice kdc_unreachable
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ $ms -le 20000 ] || fail "KDC down: $ms ms (no wait due; bound 20 s)"
ok "KDC down: refused (kdc_unreachable) in $ms ms"
krb5kdc -n -P "$K/kdc.pid" >>"$K/kdc.out" 2>&1 </dev/null &
TEST_PIDS="$TEST_PIDS $!"
wait_for 30 kdc_up >/dev/null || fail "krb5kdc did not start again"

# The real sudo (setuid), in a namespace where the test's sudoers,
# pam.d/sudo and krb5.conf are bound over /etc's and libnss_jit is
# overlaid into the library directory (a setuid program ignores
# LD_LIBRARY_PATH).  One shell of alice's: sudo with her password, sudo
# again on sudo's cached timestamp, then (the grant revoked meanwhile)
# sudo on the timestamp and sudo with the password: both refused.
MULTIARCH=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
LIBDIR=/usr/lib/$MULTIARCH
if [ ! -u /usr/bin/sudo ] || [ ! -f /etc/pam.d/sudo ]; then
    skip_case "sudo: not installed (package sudo, scripts/deps.sh)"
elif [ -n "$PRELOAD" ]; then
    skip_case "sudo: a setuid program does not load a sanitizer-built module"
elif [ ! -d "$LIBDIR" ] || ! command -v setpriv >/dev/null; then
    skip_case "sudo: no $LIBDIR or no setpriv"
else
    mkdir -p "$T/nsslib"
    cp "$NSSMOD" "$T/nsslib/libnss_jit.so.2"
    cat > "$T/sudoers" <<SUDOERS
Defaults !lecture, !fqdn, passwd_tries=1, !syslog
root    ALL=(ALL:ALL) ALL
%video  ALL=(ALL:ALL) ALL
SUDOERS
    chmod 440 "$T/sudoers"
    cat > "$T/pam.d/sudo" <<SVC
auth     [success=done ignore=ignore default=die]  $PAMMOD config=$CONF
auth     required  pam_deny.so
account  [success=ok ignore=ignore default=die]  $PAMMOD config=$CONF
account  required  pam_permit.so
session  required  pam_permit.so
SVC
    printf '%s\n' "$PW" > "$T/pw.line"
    printf 'wrong-%s\n' "$PW" > "$T/wrong.line"
    start_syslog
    cat > "$T/sudo-ns.sh" <<NS
#!/bin/sh
set -e
$(ns_devlog)
mount --bind $T/krb5-etc.conf /etc/krb5.conf
mount --bind $T/sudoers /etc/sudoers
mount --bind $T/pam.d/sudo /etc/pam.d/sudo
mount -t overlay overlay -o lowerdir=$T/nsslib:$LIBDIR $LIBDIR
mount -t tmpfs -o mode=755 tmpfs /run
[ ! -d /var/lib/sudo ] || mount -t tmpfs -o mode=700 tmpfs /var/lib/sudo
u=\$(id -u alice)
exec setpriv --reuid=\$u --regid=\$(id -g alice) --init-groups -- /bin/sh -c "\$1"
NS
    chmod 755 "$T/sudo-ns.sh"
    sudo_ns() { in_ns env -u LD_LIBRARY_PATH "$T/sudo-ns.sh" "$1"; }
    rc=0; sudo_ns "sudo -S -p '' true < $T/wrong.line" > "$T/sudo.out" 2>&1 || rc=$?
    [ $rc != 0 ] || fail "sudo with a wrong password: $(cat "$T/sudo.out")"
    wait_for 30 grep -q 'event="auth" result="deny" reason="password_wrong" user="alice".*service="sudo"' "$T/syslog" >/dev/null \
        || fail "sudo, wrong password: $(cat "$T/sudo.out" "$T/syslog")"
    ok "sudo -S as alice with a wrong password: refused (password_wrong, service sudo)"
    mkdir -m 1777 "$T/flags"
    # auth_proof = grant, in alice's own shell: the live grant alone, no
    # prompt (its input is empty: one would fail); at a console it is
    # refused (above).
    cp "$T/pam.d/sudo" "$T/sudo.password"
    sed "s|config=$CONF\$|config=$CONF auth_proof=grant|" "$T/sudo.password" > "$T/pam.d/sudo"
    rc=0; sudo_ns "sudo -S -p '' true < /dev/null" > "$T/sudo.out" 2>&1 || rc=$?
    [ $rc = 0 ] || fail "sudo with auth_proof=grant: $(cat "$T/sudo.out")"
    wait_for 30 grep -q 'event="auth" result="allow" reason="grant" user="alice".*service="sudo"' "$T/syslog" >/dev/null \
        || fail "no grant allow line: $(cat "$T/syslog")"
    cp "$T/sudo.password" "$T/pam.d/sudo"
    ok "sudo as alice with auth_proof = grant: in on the live grant, nothing read"

    sudo_ns "
        sudo -S -p '' true < $T/pw.line; echo sudo1=\$?
        sudo -n true; echo sudo2=\$?
        touch $T/flags/sudo1.done
        # Wait on the test's flag file (observable state), polled.
        while [ ! -e $T/revoked ]; do sleep 0.1; done
        sudo -n true; echo sudo3=\$?
        sudo -S -k -p '' true < $T/pw.line; echo sudo4=\$?" > "$T/sudo.out" 2>&1 &
    sudo_pid=$!
    TEST_PIDS="$TEST_PIDS $sudo_pid"
    wait_for 60 test -e "$T/flags/sudo1.done" >/dev/null || fail "sudo did not get through: $(cat "$T/sudo.out")"
    grant_json alice requester='"alice@JIT.TEST"' status='"revoked"' > "$G/alice.json"
    touch "$T/revoked"
    wait "$sudo_pid" || true
    out=$(grep '^sudo[0-9]=' "$T/sudo.out" | tr '\n' ' ')
    expect_eq "sudo in alice's shell: password, timestamp, [revoked] timestamp, password" \
        "$out" "sudo1=0 sudo2=0 sudo3=1 sudo4=1 "
    grep -q 'event="auth" result="allow" reason="password" user="alice" requester="alice@JIT.TEST".*service="sudo"' "$T/syslog" \
        || fail "no allow line: $(cat "$T/syslog")"
    expect_eq "revoked: sudo's account and auth steps each refused" \
        "$(grep -c 'result="deny" reason="grant_revoked" user="alice".*service="sudo"' "$T/syslog")" 2
    grant_json alice requester='"alice@JIT.TEST"' > "$G/alice.json"
    ok "real sudo in one shell of alice's: in with her password and on the timestamp; revoked, refused on both"
fi

# Revoked at the API while alice's session is open (her account is
# still in the snapshot: no daemon here): the next auth is refused at
# once, before any prompt, whatever the proof.
pam_op alice authenticate || fail "alice before the revocation: $(cat "$T/pam.out")"
grant_json alice requester='"alice@JIT.TEST"' status='"revoked"' > "$G/alice.json"
resolves alice || fail "alice's account went"
refused "revoked" alice grant_revoked
grep -q 'no active access grant' "$T/pam.out" || fail "no message: $(cat "$T/pam.out")"
PAM_SVC=jitauth-grant
refused "revoked, auth_proof=grant" alice grant_revoked
PAM_SVC=jitauth
rm "$G/alice.json"
refused "no grant" alice no_grant
ok "grant revoked, then gone: the next auth refused (grant_revoked, no_grant)"

# The API down: fail closed.
grant_json alice requester='"alice@JIT.TEST"' > "$G/alice.json"
echo 500 > "$T/kapi/faults/alice"
refused "API fault" alice http_error
rm "$T/kapi/faults/alice"
ok "the API failing: refused (http_error)"

# Under valgrind: allowed, wrong password, no realm, too long, ignored.
if ! command -v valgrind >/dev/null; then
    skip_case "valgrind: not installed"
elif [ -n "$PRELOAD" ]; then
    skip_case "valgrind: sanitizer build (valgrind runs in the plain build)"
else
    sed -i -e 's/^timeout = .*/timeout = 120/' -e 's/^connect_timeout = .*/connect_timeout = 60/' "$CONF"
    PAM_UNDER="$T/krb5ns.sh valgrind -q --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite --log-file=$T/vg.%p"
    for case in alice:$PW:0 alice:wrong:1 dave:$PW:1 long:mib:1 root:x:1; do
        u=${case%%:*} p=${case#*:} want=${case##*:}
        p=${p%:*}
        if [ "$p" = mib ]; then cp "$T/mib" "$T/pw"; else password "$p"; fi
        rc=0; pam_op "$u" authenticate setcred || rc=$?
        if [ -n "$(cat "$T"/vg.* 2>/dev/null)" ]; then
            head -60 "$T"/vg.*
            fail "valgrind: $u ($p): errors"
        fi
        [ "$rc" = "$want" ] || fail "valgrind: $u: rc $rc, want $want: $(tail -5 "$T/pam.out")"
    done
    ok "under valgrind: allow, password_wrong, no_realm, password_too_long, ignore: clean"
fi
# Revoked on this host (jitctl revoke), while the API still lists the
# grant: refused for good.
out=$("$JITCTL" -c "$CONF" revoke alice --reason 'INC-13 laptop lost' 2>&1) || fail "jitctl revoke: $out"
password $PW
refused "revoked locally" alice revoked_locally
ok "jitctl revoke: the next auth refused (revoked_locally) though the API still lists the grant"

# pam_jit(8) shows the lines of the contrib files.
norm() { tr -s ' \t' '  '; }
grep -hv '^#' "$top_srcdir/contrib/pam.d/sudo.jit" "$top_srcdir/contrib/pam.d/login.jit" | norm | sort -u | while IFS= read -r line; do
    norm < "$top_srcdir/man/pam_jit.8" | grep -qxF -- "$line" || fail "pam_jit(8) lacks the contrib line: $line"
done
ok "pam_jit(8) shows the contrib lines for sudo and login"
[ -z "$SKIPPED_CASES" ] || skip "cases not run:$SKIPPED_CASES"
