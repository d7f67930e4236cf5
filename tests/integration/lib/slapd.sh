# SPDX-License-Identifier: MIT
# An OpenLDAP slapd of the test's own (jit-apid's directory).  Sourced by
# ../lib.sh.
#
# start_slapd: Debian's slapd on 127.0.0.1, two free ports (ldap:// with
# StartTLS, and ldaps://), the test CA's server certificate, an mdb
# database in $T/slapd, schemas core, cosine, inetorgperson, nis, the
# ppolicy overlay (its schema is built in) with a default policy, the
# memberof overlay (memberOf on groupOfNames members), openssh-lpk and
# tests/ldap/jit-test.schema (nsAccountLock, userAccountControl).  Its
# configuration is cn=config (slapd.d), so a test changes the ACL of the
# running server with slapd_acl: no restart, the ports kept.
#
# Entries made: $LDAP_BASE (dc=jit,dc=test), ou=people, ou=groups,
# ou=accounts, ou=policies (cn=default: the ppolicy default, pwdLockout
# on), and jit-apid's bind DN $LDAP_BIND_DN whose password is in
# $LDAP_BIND_SECRET (a 0600 file).  The ACL at start: jit-apid's DN writes
# everything, people read their own entry and bind, nothing else.
#
# Variables: LDAP_PORT, LDAPS_PORT, LDAP_URI_STARTTLS (ldap://127.0.0.1:P),
# LDAP_URI_LDAPS, LDAP_URI_LDAPI (the admin's socket), LDAP_BASE, LDAP_ADMIN_DN, LDAP_ADMIN_PW, LDAP_CA,
# LDAP_BIND_DN, LDAP_BIND_SECRET, SLAPD_PID; the log is $T/slapd/log.
#
# SLAPD_CERT=NAME (default server) serves $T/certs/NAME.pem (mkcerts.sh:
# wrongname for a certificate of another name); SLAPD_TLS=no serves no
# TLS at all (StartTLS refused; LDAP_URI_LDAPS then unset).
# SLAPD_DIR (default $T/slapd) lets a test run a second one.
# SLAPD_EXTRA_CONF: lines for slapd.conf's global section (sasl-host...).
# stop_slapd, then restart_slapd: the same server again, on its ports;
# use_slapd DIR switches the variables back to the one in DIR.

# ldap_admin CMD ARGS...: an ldap-utils command as the directory's admin,
# over slapd's own socket (ldapi://, in $SLAPD_DIR: it works whatever
# certificate a test gives the TLS ports).
ldap_admin() {
    _cmd=$1; shift
    LDAPCONF=/dev/null LDAPRC=/dev/null \
        "$_cmd" -x -H "$LDAP_URI_LDAPI" -D "$LDAP_ADMIN_DN" \
        -w "$LDAP_ADMIN_PW" "$@"
}

# ldap_add, ldap_modify: LDIF on stdin, as the admin; fail the test on error.
ldap_add() {
    ldap_admin ldapadd >"$SLAPD_DIR/op.out" 2>&1 \
        || fail "ldapadd: $(tail -3 "$SLAPD_DIR/op.out")"
}
ldap_modify() {
    ldap_admin ldapmodify >"$SLAPD_DIR/op.out" 2>&1 \
        || fail "ldapmodify: $(tail -3 "$SLAPD_DIR/op.out")"
}

# ldap_search ARGS...: ldapsearch -LLL -o ldif-wrap=no as the admin.
ldap_search() {
    ldap_admin ldapsearch -LLL -o ldif-wrap=no "$@"
}

# slapd_acl RULE...: replace the database's ACL (olcAccess, one rule an
# argument, in order) through cn=config, at once, on the running server.
slapd_acl() {
    {
        printf 'dn: olcDatabase={1}mdb,cn=config\nchangetype: modify\nreplace: olcAccess\n'
        for _r in "$@"; do printf 'olcAccess: %s\n' "$_r"; done
    } | LDAPCONF=/dev/null LDAPRC=/dev/null \
        ldapmodify -x -H "$LDAP_URI_LDAPI" -D cn=config \
        -w "$LDAP_ADMIN_PW" >"$SLAPD_DIR/acl.out" 2>&1 \
        || fail "slapd_acl: $(tail -3 "$SLAPD_DIR/acl.out")"
}

# The ACL start_slapd sets (and a test that changed it restores).
slapd_acl_default() {
    slapd_acl \
        "to attrs=userPassword by dn.exact=\"$LDAP_BIND_DN\" write by self read by anonymous auth by * none" \
        "to * by dn.exact=\"$LDAP_BIND_DN\" write by self read by * none"
}

slapd_free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_slapd() {
    [ -x /usr/sbin/slapd ] && command -v ldapadd >/dev/null \
        || skip "needs slapd and ldap-utils (packages slapd, ldap-utils)"
    [ -d "$T/certs" ] || sh "$top_srcdir/tests/api/mkcerts.sh" "$T/certs"
    SLAPD_DIR=${SLAPD_DIR:-$T/slapd}
    mkdir -p "$SLAPD_DIR/db" "$SLAPD_DIR/slapd.d"
    LDAP_BASE=dc=jit,dc=test
    LDAP_ADMIN_DN=cn=admin,$LDAP_BASE
    LDAP_ADMIN_PW=admin-pw-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
    LDAP_BIND_DN=cn=jit-apid,$LDAP_BASE
    LDAP_BIND_SECRET=$SLAPD_DIR/bind.secret
    LDAP_CA=$T/certs/ca.pem
    _cert=${SLAPD_CERT:-server}
    LDAP_PORT=$(slapd_free_port)
    LDAPS_PORT=$(slapd_free_port)
    LDAP_URI_STARTTLS=ldap://127.0.0.1:$LDAP_PORT
    LDAP_URI_LDAPI=ldapi://$(printf '%s' "$SLAPD_DIR/ldapi" | sed 's|/|%2F|g')
    _urls="ldap://127.0.0.1:$LDAP_PORT/ $LDAP_URI_LDAPI"
    _tls=
    if [ "${SLAPD_TLS:-yes}" = yes ]; then
        LDAP_URI_LDAPS=ldaps://127.0.0.1:$LDAPS_PORT
        _urls="$_urls ldaps://127.0.0.1:$LDAPS_PORT/"
        # slapd (GnuTLS) reads the key as root; 0600 as mkcerts.sh left it.
        _tls="TLSCACertificateFile $LDAP_CA
TLSCertificateFile $T/certs/$_cert.pem
TLSCertificateKeyFile $T/certs/$_cert.key"
    else
        unset LDAP_URI_LDAPS
    fi
    cat > "$SLAPD_DIR/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
include $top_srcdir/tests/ldap/openssh-lpk.schema
include $top_srcdir/tests/ldap/jit-test.schema
pidfile $SLAPD_DIR/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
moduleload memberof
$_tls
${SLAPD_EXTRA_CONF:-}
database config
rootdn cn=config
rootpw $LDAP_ADMIN_PW
database mdb
maxsize 104857600
suffix "$LDAP_BASE"
rootdn "$LDAP_ADMIN_DN"
rootpw $LDAP_ADMIN_PW
directory $SLAPD_DIR/db
index objectClass eq
index uid,cn,member,memberUid eq
access to attrs=userPassword by dn.exact="$LDAP_BIND_DN" write by self read by anonymous auth by * none
access to * by dn.exact="$LDAP_BIND_DN" write by self read by * none
overlay memberof
overlay ppolicy
ppolicy_default "cn=default,ou=policies,$LDAP_BASE"
CONF
    slaptest -n 0 -f "$SLAPD_DIR/slapd.conf" -F "$SLAPD_DIR/slapd.d" \
        >"$SLAPD_DIR/slaptest.out" 2>&1 \
        || fail "slaptest: $(tail -5 "$SLAPD_DIR/slaptest.out")"
    # (-n 0: only cn=config is written; the mdb database is opened by
    # slapd itself, which slaptest of bookworm fails to do at first.)
    SLAPD_URLS=$_urls
    # What use_slapd reads back, to switch to this server again.
    cat > "$SLAPD_DIR/env" <<ENV
SLAPD_URLS='$SLAPD_URLS'
LDAP_PORT=$LDAP_PORT
LDAPS_PORT=$LDAPS_PORT
LDAP_URI_STARTTLS=$LDAP_URI_STARTTLS
LDAP_URI_LDAPS=${LDAP_URI_LDAPS:-}
LDAP_URI_LDAPI=$LDAP_URI_LDAPI
LDAP_ADMIN_PW=$LDAP_ADMIN_PW
ENV
    run_slapd
    _pw=bind-pw-$(od -An -N9 -tx1 /dev/urandom | tr -d ' \n')
    printf '%s\n' "$_pw" > "$LDAP_BIND_SECRET"
    chmod 600 "$LDAP_BIND_SECRET"
    ldap_add <<LDIF
dn: $LDAP_BASE
objectClass: dcObject
objectClass: organization
o: jit test
dc: jit

dn: ou=people,$LDAP_BASE
objectClass: organizationalUnit
ou: people

dn: ou=groups,$LDAP_BASE
objectClass: organizationalUnit
ou: groups

dn: ou=accounts,$LDAP_BASE
objectClass: organizationalUnit
ou: accounts

dn: ou=policies,$LDAP_BASE
objectClass: organizationalUnit
ou: policies

dn: cn=default,ou=policies,$LDAP_BASE
objectClass: device
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdLockout: TRUE

dn: $LDAP_BIND_DN
objectClass: applicationProcess
objectClass: simpleSecurityObject
cn: jit-apid
userPassword: $_pw
LDIF
}

# run_slapd: slapd on its configuration and ports (start_slapd's, or the
# same again after stop_slapd: restart_slapd), until it answers.
run_slapd() {
    # -d 0: in the foreground, so that its pid is ours to stop.
    /usr/sbin/slapd -F "$SLAPD_DIR/slapd.d" -h "$SLAPD_URLS" -d 0 \
        >>"$SLAPD_DIR/log" 2>&1 </dev/null &
    SLAPD_PID=$!
    TEST_PIDS="$TEST_PIDS $SLAPD_PID"
    wait_for 30 slapd_answers >/dev/null \
        || fail "slapd did not start: $(tail -5 "$SLAPD_DIR/log")"
}
restart_slapd() { run_slapd; }

# use_slapd DIR: the variables of the server start_slapd made in DIR
# (a test that ran a second one goes back to its first).
use_slapd() {
    SLAPD_DIR=$1
    . "$SLAPD_DIR/env"
    LDAP_BIND_SECRET=$SLAPD_DIR/bind.secret
}

# slapd_answers: the anonymous root DSE answers on the admin's socket.
slapd_answers() {
    LDAPNOINIT=1 ldapsearch -x -H "$LDAP_URI_LDAPI" -s base -b "" \
        -LLL namingContexts >/dev/null 2>&1
}

# stop_slapd: SIGTERM to the slapd of start_slapd, and wait for its end.
stop_slapd() {
    kill -TERM "$SLAPD_PID" 2>/dev/null || true
    wait "$SLAPD_PID" 2>/dev/null || true
}

# ldap_person UID [EXTRA LDIF LINES]: an inetOrgPerson under ou=people
# (uid, cn "UID person", mail UID@jit.test, ldapPublicKey and
# jitTestAccount classes for sshPublicKey and the lock attributes).
ldap_person() {
    _uid=$1; shift
    {
        printf 'dn: uid=%s,ou=people,%s\n' "$_uid" "$LDAP_BASE"
        printf 'objectClass: inetOrgPerson\nobjectClass: ldapPublicKey\n'
        printf 'objectClass: jitTestAccount\n'
        printf 'uid: %s\ncn: %s person\nsn: %s\nmail: %s@jit.test\n' \
            "$_uid" "$_uid" "$_uid" "$_uid"
        for _l in "$@"; do printf '%s\n' "$_l"; done
    } | ldap_add
}

# ldap_group CN MEMBER_UID...: a groupOfNames under ou=groups (its
# members by DN, people under ou=people).
ldap_group() {
    _cn=$1; shift
    {
        printf 'dn: cn=%s,ou=groups,%s\nobjectClass: groupOfNames\ncn: %s\n' \
            "$_cn" "$LDAP_BASE" "$_cn"
        for _m in "$@"; do
            printf 'member: uid=%s,ou=people,%s\n' "$_m" "$LDAP_BASE"
        done
    } | ldap_add
}
