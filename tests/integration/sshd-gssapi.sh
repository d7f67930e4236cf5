#!/bin/sh
# SPDX-License-Identifier: MIT
# GSSAPI logins to JIT accounts (doc/design.md, "GSSAPI logins"): a real
# MIT KDC and the real OpenSSH server on loopback, sshd told the test's
# krb5.conf (with the jit localauth plugin) and keytab through
# KRB5_CONFIG and KRB5_KTNAME, never /etc/krb5.conf or /etc/krb5.keytab.
# alice, holding her ticket, logs in to the JIT account her grant made
# (alice-adm) and to nothing else; bob cannot, not even through a
# .k5login in that account's home; after the grant is revoked (the
# snapshot re-derived by jitctl sync) alice cannot either; a local
# account keeps its usual rules.  The same answers through krb5_kuserok
# itself (tests/helpers/kuserok), so the plugin is proven through
# libkrb5's own plugin loading even where sshd cannot run.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
command -v kinit >/dev/null || skip "needs kinit (krb5-user)"
setup_env
setup_pam
start_kdc
kdc_addprinc bob bob
kdc_addprinc host/127.0.0.1 sshhost
G=$T/api/grants
PLUGIN=$top_builddir/localauth_jit/.libs/jit.so
KUSEROK=$top_builddir/tests/helpers/kuserok
[ -f "$PLUGIN" ] || fail "no plugin at $PLUGIN"

# Inside sshd: libc and libkrb5 only, and one symbol out.
# (MIT's own libk5crypto and libcom_err where the linker keeps them, and
# a sanitizer build's runtimes.)
needed=$(readelf -d "$PLUGIN" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' \
    | grep -Ev '^(libk5crypto\.so\.3|libcom_err\.so\.2|libasan\.so.*|libubsan\.so.*)$' | sort | tr '\n' ' ')
expect_eq "jit.so NEEDED" "$needed" "libc.so.6 libkrb5.so.3 "
exported=$(nm -D --defined-only "$PLUGIN" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' | tr '\n' ' ')
expect_eq "jit.so exports" "$exported" "localauth_jit_initvt "
for f in socket connect flock fcntl pthread_mutex_lock getenv secure_getenv dlopen; do
    if nm -D --undefined-only "$PLUGIN" | grep -qw "$f"; then fail "jit.so imports $f"; fi
done
ok "jit.so links libc and libkrb5 alone, exports localauth_jit_initvt alone, no network, lock or environment"

# The client's krb5.conf is start_kdc's; the server's adds the plugin.
cp "$K/krb5.conf" "$K/krb5-jit.conf"
cat >> "$K/krb5-jit.conf" <<KRB5
[plugins]
  localauth = {
    module = jit:$PLUGIN
  }
KRB5
# A local account "alice" (another source's, in the namespace's
# /etc/passwd only): the plugin must leave it to the usual rules.
cp /etc/passwd "$T/passwd"
mkdir -p "$T/home-local"
echo "alice:x:60990:60990:local alice:$T/home-local:/bin/sh" >> "$T/passwd"
getent passwd daemon >/dev/null || fail "this machine has no local user daemon"

# in_nsp CMD...: in_ns with that passwd file.
in_nsp() {
    if [ -n "$PRELOAD" ]; then
        set -- env LD_PRELOAD="$PRELOAD" ASAN_OPTIONS=detect_leaks=0 "$@"
    fi
    LD_LIBRARY_PATH=$NSSLIBS "$top_srcdir/tests/nsrun.sh" \
        "$JIT_STATE_DIR_BUILTIN" "$STATE" "$T/nsswitch.conf" "$T/passwd" \
        "$T" -- "$@"
}
# kuserok CONF PRINCIPAL ACCOUNT: krb5_kuserok's answer, yes or no.
kuserok() {
    in_nsp env KRB5_CONFIG="$1" "$KUSEROK" "$2" "$3" 2>>"$T/kuserok.err" || true
}
expect_kuserok() { # WANT PRINCIPAL ACCOUNT WHY
    expect_eq "krb5_kuserok $2 as $3 ($4)" "$(kuserok "$K/krb5-jit.conf" "$2" "$3")" "$1"
}

# alice's grant makes alice-adm; kept after logout, so that it can be
# revoked with the account still there.
grant_json alice-adm 'requester="alice@JIT.TEST"' 'on_logout="keep"' > "$G/alice-adm.json"
"$JITCTL" -c "$CONF" sync >/dev/null 2>&1
resolves alice-adm || fail "alice-adm does not resolve after sync"

expect_kuserok yes alice@JIT.TEST alice-adm "her grant"
expect_kuserok no bob@JIT.TEST alice-adm "not his grant"
expect_kuserok no host/127.0.0.1@JIT.TEST alice-adm "a host is not a person"
expect_kuserok no alice@OTHER.TEST alice-adm "another realm"
expect_kuserok yes alice@JIT.TEST alice "a local account: an2ln's default rule"
expect_kuserok no alice@JIT.TEST daemon "a local account not hers"
expect_kuserok no bob@JIT.TEST alice "a local account not his"
ok "krb5_kuserok through the plugin: only alice to alice-adm; local accounts by their usual rules"
if grep -q . "$T/kuserok.err"; then fail "kuserok: $(cat "$T/kuserok.err")"; fi

# ---- sshd ----
SSHD_OK=1
if [ ! -x /usr/sbin/sshd ] || ! command -v ssh >/dev/null; then
    skip_case "sshd GSSAPI logins: needs openssh-server and ssh"
    SSHD_OK=
elif [ -n "$PRELOAD" ]; then
    skip_case "sshd GSSAPI logins: sshd does not load a sanitizer-built module (ASan runtime must come first)"
    SSHD_OK=
fi

if [ -n "$SSHD_OK" ]; then
# GSSAPI only.  The keytab holds host/127.0.0.1 alone, the name the
# client asks for; sshd's strict check would want its own hostname.
start_sshd in_nsp "export KRB5_CONFIG=$K/krb5-jit.conf KRB5_KTNAME=FILE:$K/sshhost.keytab" <<CFG
PubkeyAuthentication no
PasswordAuthentication no
KbdInteractiveAuthentication no
GSSAPIAuthentication yes
GSSAPIStrictAcceptorCheck no
AuthorizedKeysFile none
CFG
ok "sshd listening on 127.0.0.1:$PORT, GSSAPI only, the test's krb5.conf and keytab"

kinit -k -t "$K/alice.keytab" -c "FILE:$T/cc.alice" alice >"$T/kinit.log" 2>&1 \
    || fail "kinit alice: $(cat "$T/kinit.log")"
kinit -k -t "$K/bob.keytab" -c "FILE:$T/cc.bob" bob >"$T/kinit.log" 2>&1 \
    || fail "kinit bob: $(cat "$T/kinit.log")"
# gss CCACHE USER CMD...: ssh -K style, GSSAPI and nothing else.
gss() {
    _cc=$1 _u=$2
    shift 2
    KRB5CCNAME=FILE:$_cc ssh -p "$PORT" -o BatchMode=yes \
        -o GSSAPIAuthentication=yes -o PreferredAuthentications=gssapi-with-mic \
        -o GSSAPIDelegateCredentials=no -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=5 \
        "$_u@127.0.0.1" "$@"
}
# refused CCACHE USER WHY: no login, and sshd says gssapi-with-mic failed.
refused() {
    _n=$(grep -c "Failed gssapi-with-mic for $2 " "$T/sshd.log" || true)
    if gss "$1" "$2" true 2>"$T/ssh.err"; then fail "$3: logged in"; fi
    wait_for 30 sh -c '[ "$(grep -c "Failed gssapi-with-mic for $1 " "$2")" -gt "$3" ]' \
        sh "$2" "$T/sshd.log" "$_n" >/dev/null || true
    [ "$(grep -c "Failed gssapi-with-mic for $2 " "$T/sshd.log")" -gt "$_n" ] \
        || fail "$3: sshd did not refuse gssapi-with-mic: $(tail -5 "$T/sshd.log"; cat "$T/ssh.err")"
}

out=$(gss "$T/cc.alice" alice-adm 'id -un; echo "home=$HOME"') \
    || fail "alice could not log in to alice-adm: $(tail -20 "$T/sshd.log")"
expect_eq "alice in alice-adm" "$out" "alice-adm
home=$T/home/alice-adm"
grep -q "Accepted gssapi-with-mic for alice-adm from 127.0.0.1" "$T/sshd.log" \
    || fail "sshd did not accept by gssapi-with-mic: $(tail -5 "$T/sshd.log")"
grep -q 'event="gssapi" result="allow" reason="requester" user="alice-adm" requester="alice@JIT.TEST"' "$T/syslog" \
    || fail "no allow line from the plugin: $(tail -5 "$T/syslog")"
ok "alice (her ticket) logs in to alice-adm by GSSAPI; the plugin's audit line"

refused "$T/cc.bob" alice-adm "bob to alice-adm"
grep -q 'event="gssapi" result="deny" reason="not_requester" user="alice-adm" requester="alice@JIT.TEST" .*detail="bob@JIT.TEST"' "$T/syslog" \
    || fail "no deny line for bob: $(tail -5 "$T/syslog")"
ok "bob (his ticket) to alice-adm: refused, with the plugin's audit line"

refused "$T/cc.alice" daemon "alice to daemon"
ok "alice to a local account not hers (daemon): refused"
out=$(gss "$T/cc.alice" alice 'id -un') || fail "alice could not log in to the local alice: $(tail -5 "$T/sshd.log")"
expect_eq "local alice" "$out" alice
ok "alice to the local account alice: in by the usual rules (the plugin passes)"

# A .k5login in alice-adm's home naming bob: without the plugin libkrb5
# would let bob in; with it, bob stays out.
printf 'bob@JIT.TEST\n' > "$T/home/alice-adm/.k5login"
chown "$UID_MIN" "$T/home/alice-adm/.k5login"
expect_eq "kuserok without the plugin, .k5login naming bob" \
    "$(kuserok "$K/krb5.conf" bob@JIT.TEST alice-adm)" yes
expect_kuserok no bob@JIT.TEST alice-adm ".k5login naming bob"
refused "$T/cc.bob" alice-adm "bob to alice-adm with a .k5login naming him"
ok "a .k5login naming bob in alice-adm's home does not let bob in (it would without the plugin)"
rm "$T/home/alice-adm/.k5login"

# Ended by the clock with nothing run since (no sync, no reaper: the
# daemon down): the snapshot's own end refuses.  The one case that needs
# the end ahead of the clock: 25 s, and a check that the login before it
# ran in time (a busy machine may not manage; then the case is skipped).
end=$(( $(date +%s) + 25 ))
grant_json alice-tmp 'requester="alice@JIT.TEST"' 'credential="web"' 'on_logout="keep"' \
    "expires_at=\"$(date -u -d "@$end" +%Y-%m-%dT%H:%M:%SZ)\"" > "$G/alice-tmp.json"
"$JITCTL" -c "$CONF" sync >/dev/null 2>&1
if gss "$T/cc.alice" alice-tmp true && [ "$(date +%s)" -lt $((end - 2)) ]; then
    ok "alice into alice-tmp before its end"
    wait_for 60 sh -c '[ "$(date +%s)" -ge "$1" ]' sh "$end" >/dev/null || fail "the clock did not pass $end"
    resolves alice-tmp || fail "alice-tmp is gone: the case tests nothing"
    expect_kuserok no alice@JIT.TEST alice-tmp "its end passed"
    refused "$T/cc.alice" alice-tmp "alice to alice-tmp after its end"
    grep -q 'event="gssapi" result="deny" reason="grant_expired" user="alice-tmp"' "$T/syslog" \
        || fail "no grant_expired line: $(tail -5 "$T/syslog")"
    ok "after its end, nothing run since: alice refused by the snapshot's own end while the account resolves"
else
    skip_case "the end by the clock: the login before the end did not finish in time (a busy machine)"
fi
rm "$G/alice-tmp.json"

# Revoked at the API: the next sync marks it and re-derives the snapshot;
# the account still resolves until the reaper comes, and is refused.
rm "$G/alice-adm.json"
"$JITCTL" -c "$CONF" sync >/dev/null 2>&1
resolves alice-adm || fail "alice-adm is gone already: the case tests nothing"
expect_kuserok no alice@JIT.TEST alice-adm "grant revoked"
refused "$T/cc.alice" alice-adm "alice to alice-adm after revocation"
grep -q 'event="gssapi" result="deny" reason="account_ending" user="alice-adm"' "$T/syslog" \
    || fail "no account_ending line: $(tail -5 "$T/syslog")"
ok "after revocation (jitctl sync): alice refused while the account still resolves"
"$JITCTL" -c "$CONF" reap >/dev/null 2>&1
gone alice-adm || fail "alice-adm still resolves after reap"
if gss "$T/cc.alice" alice-adm true 2>/dev/null; then fail "alice logged in to a torn-down account"; fi
ok "after the reap: the account is gone, no login"

stop_sshd
ok "sshd stopped by its pid"
fi
