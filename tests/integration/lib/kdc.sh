# SPDX-License-Identifier: MIT
# An MIT KDC of the test's own (jit-apid's Kerberos login and the
# hosts' Kerberos identities).  Sourced by ../lib.sh.

# start_kdc [DIR]: an MIT KDC of Debian's packages on 127.0.0.1 (a free
# port), realm JIT.TEST, its database and logs in DIR (default $T/krb5;
# another DIR is another KDC of the same realm, with keys of its own).  Principals
# host/web01.test, host/web02.test, HTTP/127.0.0.1 (jit-apid's service)
# and alice, each with a keytab $T/krb5/<first part>.keytab (web01, web02,
# http, alice).  Exports KRB5_CONFIG (the test's krb5.conf, never
# /etc/krb5.conf), KRB5_KDC_PROFILE and KRB5RCACHEDIR (else the
# replay cache would go to /var/tmp); sets KDC_PORT and K.  A relation on
# the same line as a section's "{" is silently ignored by libkrb5's
# profile parser (kdb5_util then creates its database in /var/lib/krb5kdc
# and a stash in /etc/krb5kdc), so each relation has its own line, and
# the test checks that nothing appeared there.
start_kdc() {
    command -v krb5kdc >/dev/null && command -v kadmin.local >/dev/null \
        || skip "needs an MIT KDC (packages krb5-kdc, krb5-admin-server)"
    K=${1:-$T/krb5}
    mkdir -p "$K/rcache"
    KDC_PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    cat > "$K/krb5.conf" <<KRB5
[libdefaults]
  default_realm = JIT.TEST
  dns_lookup_kdc = false
  dns_lookup_realm = false
  dns_canonicalize_hostname = false
  rdns = false
  udp_preference_limit = 1
[realms]
  JIT.TEST = {
    kdc = 127.0.0.1:$KDC_PORT
  }
[domain_realm]
  127.0.0.1 = JIT.TEST
  .test = JIT.TEST
[logging]
  kdc = FILE:$K/kdc.log
KRB5
    kdc_conf JIT.TEST "$K" "$KDC_PORT"
    : > "$K/kadm5.acl"
    export KRB5_CONFIG="$K/krb5.conf" KRB5_KDC_PROFILE="$K/kdc.conf" \
        KRB5RCACHEDIR="$K/rcache"
    kdb5_util create -s -r JIT.TEST -P masterpw-xxxxxxxx >"$K/setup.log" 2>&1 \
        || fail "kdb5_util: $(tail -3 "$K/setup.log")"
    [ -f "$K/principal" ] && [ -f "$K/stash" ] && [ ! -e /etc/krb5kdc/.k5.JIT.TEST ] \
        || fail "kdb5_util did not use the test's kdc.conf"
    for _p in host/web01.test:web01 host/web02.test:web02 HTTP/127.0.0.1:http alice:alice; do
        kadmin.local -q "addprinc -randkey ${_p%%:*}" >>"$K/setup.log" 2>&1 \
            && kadmin.local -q "ktadd -k $K/${_p##*:}.keytab ${_p%%:*}" >>"$K/setup.log" 2>&1 \
            || fail "kadmin.local ${_p%%:*}: $(tail -3 "$K/setup.log")"
    done
    chmod 600 "$K"/*.keytab
    krb5kdc -n -P "$K/kdc.pid" >"$K/kdc.out" 2>&1 </dev/null &
    TEST_PIDS="$TEST_PIDS $!"
    wait_for 30 /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $KDC_PORT), 0.2)" >/dev/null 2>&1 && return 0
    fail "krb5kdc did not start: $(cat "$K/kdc.out" "$K/kdc.log" 2>/dev/null | tail -5)"
}

# start_other_kdc (after start_kdc): a second MIT KDC, realm OTHER.TEST,
# in $K/other, whose principals JIT.TEST's services trust (the
# cross-realm key krbtgt/JIT.TEST@OTHER.TEST in both databases, [capaths]
# in the test's krb5.conf), with alice@OTHER.TEST and her keytab
# $K/other-alice.keytab: a stranger's ticket that a server of JIT.TEST
# accepts as genuine.  libkrb5 merges the [realms] section added here with
# start_kdc's.
start_other_kdc() {
    _k2=$K/other
    mkdir -p "$_k2"
    OTHER_KDC_PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    kdc_conf OTHER.TEST "$_k2" "$OTHER_KDC_PORT"
    cat >> "$K/krb5.conf" <<KRB5
[realms]
  OTHER.TEST = {
    kdc = 127.0.0.1:$OTHER_KDC_PORT
  }
[capaths]
  OTHER.TEST = {
    JIT.TEST = .
  }
KRB5
    KRB5_KDC_PROFILE=$_k2/kdc.conf kdb5_util create -s -r OTHER.TEST \
        -P masterpw-xxxxxxxx >>"$K/setup.log" 2>&1 \
        || fail "kdb5_util OTHER.TEST: $(tail -3 "$K/setup.log")"
    [ -f "$_k2/principal" ] && [ ! -e /etc/krb5kdc/.k5.OTHER.TEST ] \
        || fail "kdb5_util did not use the test's kdc.conf for OTHER.TEST"
    kadmin.local -q "addprinc -pw cross-realm-xxxxxxxx krbtgt/JIT.TEST@OTHER.TEST" >>"$K/setup.log" 2>&1 \
        && KRB5_KDC_PROFILE=$_k2/kdc.conf kadmin.local -r OTHER.TEST \
            -q "addprinc -pw cross-realm-xxxxxxxx krbtgt/JIT.TEST@OTHER.TEST" >>"$K/setup.log" 2>&1 \
        && KRB5_KDC_PROFILE=$_k2/kdc.conf kadmin.local -r OTHER.TEST \
            -q "addprinc -randkey alice@OTHER.TEST" >>"$K/setup.log" 2>&1 \
        && KRB5_KDC_PROFILE=$_k2/kdc.conf kadmin.local -r OTHER.TEST \
            -q "ktadd -k $K/other-alice.keytab alice@OTHER.TEST" >>"$K/setup.log" 2>&1 \
        || fail "kadmin.local OTHER.TEST: $(tail -3 "$K/setup.log")"
    chmod 600 "$K/other-alice.keytab"
    KRB5_KDC_PROFILE=$_k2/kdc.conf krb5kdc -n -r OTHER.TEST -P "$_k2/kdc.pid" \
        >"$_k2/kdc.out" 2>&1 </dev/null &
    TEST_PIDS="$TEST_PIDS $!"
    wait_for 30 /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $OTHER_KDC_PORT), 0.2)" >/dev/null 2>&1 && return 0
    fail "krb5kdc OTHER.TEST did not start: $(tail -5 "$_k2/kdc.out")"
}

# kdc_conf REALM DIR PORT: DIR/kdc.conf, a KDC of REALM on 127.0.0.1:PORT
# with its database in DIR (the ACL file is $K's).
kdc_conf() {
    cat > "$2/kdc.conf" <<KDC
[kdcdefaults]
  kdc_listen = 127.0.0.1:$3
  kdc_tcp_listen = 127.0.0.1:$3
[realms]
  $1 = {
    database_name = $2/principal
    key_stash_file = $2/stash
    acl_file = $K/kadm5.acl
  }
KDC
}

# kdc_addprinc PRINCIPAL KEYTAB: one more principal of the test's KDC
# (after start_kdc), random key, in the keytab $K/KEYTAB.keytab (0600).
kdc_addprinc() {
    kadmin.local -q "addprinc -randkey $1" >>"$K/setup.log" 2>&1 \
        && kadmin.local -q "ktadd -k $K/$2.keytab $1" >>"$K/setup.log" 2>&1 \
        || fail "kadmin.local $1: $(tail -3 "$K/setup.log")"
    chmod 600 "$K/$2.keytab"
}
