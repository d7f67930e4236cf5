#!/bin/sh
# SPDX-License-Identifier: MIT
# Directory accounts (doc/design.md, R15; threats S16, S17) against a
# real slapd (lib/slapd.sh) over ldaps: a request under a policy with
# "target": "directory" creates the account entry and its memberships,
# and its password, answered once (and printed by jit request), binds
# until the grant ends; at expiry or revocation the memberships are
# gone, the account is locked and the old password no longer binds; a
# re-enable restores it with a new password; an approval answers no
# password to the approver, and the requester gets one from
# POST .../password; a directory that refuses the teardown (a read-only
# ACL) leaves the account disable_failed, alerts, and a retry succeeds
# once the ACL is fixed; a directory that is down refuses the request
# (503) and leaves no grant active.  The password is nowhere in the
# database, jit-apid's log or the operations log.  LDAP_ACCOUNTS_ON_PG=1
# runs it all on PostgreSQL (apid-ldap-accounts-pg.sh).
. "$top_srcdir/tests/integration/lib.sh"
PYTHONDONTWRITEBYTECODE=1; export PYTHONDONTWRITEBYTECODE
[ "$(id -u)" = 0 ] || skip "needs root (the secret file must be root's)"
command -v ldapmodify >/dev/null || skip "needs ldap-utils"
setup_env
if [ "${LDAP_ACCOUNTS_ON_PG:-}" = 1 ]; then
    command -v psql >/dev/null || skip "needs psql (package postgresql-client)"
    start_pg
    APID_DATABASE="postgresql:$PG_CONNINFO"
    ok "on PostgreSQL"
fi
start_slapd
ok "slapd on $LDAP_URI_LDAPS"

LDAPTLS_CACERT=$LDAP_CA; export LDAPTLS_CACERT
LDAPTLS_REQCERT=demand; export LDAPTLS_REQCERT
GROUPS_BASE=ou=groups,$LDAP_BASE
ACCOUNTS_BASE=ou=accounts,$LDAP_BASE
adm_get() { # DN ATTR...: the attributes' lines of the entry (LDIF, unwrapped)
    _dn=$1; shift
    ldap_search -b "$_dn" -s base '(objectClass=*)' "$@" 2>/dev/null | sed 1d
}
binds() { # DN PASSWORD: a simple bind over ldaps succeeds
    LDAPCONF=/dev/null LDAPRC=/dev/null \
        ldapwhoami -x -H "$LDAP_URI_LDAPS" -D "$1" -w "$2" >/dev/null 2>&1
}
# jit-apid's DN may read, and write nothing (a directory that refuses).
slapd_acl_read_only() {
    slapd_acl \
        "to attrs=userPassword by dn.exact=\"$LDAP_BIND_DN\" read by self read by anonymous auth by * none" \
        "to * by dn.exact=\"$LDAP_BIND_DN\" read by self read by * none"
}
# The same slapd again, on its ports and database (start_slapd's line).
restart_slapd() {
    /usr/sbin/slapd -F "$SLAPD_DIR/slapd.d" -h "ldap://127.0.0.1:$LDAP_PORT/ $LDAP_URI_LDAPI ldaps://127.0.0.1:$LDAPS_PORT/" \
        -d 0 >>"$SLAPD_DIR/log" 2>&1 </dev/null &
    SLAPD_PID=$!
    TEST_PIDS="$TEST_PIDS $SLAPD_PID"
    wait_for 30 binds "$LDAP_BIND_DN" "$(cat "$LDAP_BIND_SECRET")" >/dev/null \
        || fail "slapd did not start again: $(tail -5 "$SLAPD_DIR/log")"
}
# Each group starts with the admin, as groupOfNames needs a member.
ldap_add <<LDIF
dn: cn=dbadmins,$GROUPS_BASE
objectClass: groupOfNames
cn: dbadmins
member: $LDAP_ADMIN_DN

dn: cn=ops,$GROUPS_BASE
objectClass: groupOfNames
cn: ops
member: $LDAP_ADMIN_DN

dn: cn=ghost,$GROUPS_BASE
objectClass: groupOfNames
cn: ghost
member: $LDAP_ADMIN_DN
LDIF
ok "three groups, dbadmins, ops and ghost (deleted later)"
# A sendmail stand-in: keeps each message.
mkdir -p "$T/mail"
cat > "$T/sendmail" <<SM
#!/bin/sh
n=\$(ls $T/mail | wc -l)
cat > $T/mail/\$n
SM
chmod 755 "$T/sendmail"
cat > "$T/alerts.json" <<JSON
{"enabled": ["account.disable_failed"],
 "sendmail": ["$T/sendmail", "-oi", "-t"],
 "from": "jit-apid@example.com", "retry_seconds": 1, "max_attempts": 3,
 "recipients": [{"email": "secops@example.com",
                 "types": ["account.disable_failed"]}]}
JSON
APID_ALERTS=$T/alerts.json
APID_EXTRA="ldap_uri = $LDAP_URI_LDAPS
ldap_ca = $LDAP_CA
ldap_bind = simple
ldap_bind_dn = $LDAP_BIND_DN
ldap_bind_secret = $LDAP_BIND_SECRET
ldap_timeout = 3
ldap_group_base = $GROUPS_BASE
ldap_accounts_base = $ACCOUNTS_BASE
ldap_uid_range = 71000-71009
ldap_retry_seconds = 1-2"
start_apid
# The directory policies, loaded by SIGHUP as an administrator would.
cat > "$T/apid/policies.json" <<'POLICIES'
{"policies": [
  {"name": "dir-dba", "credential": "dba", "target": "directory",
   "max_duration": 3600, "groups": ["dbadmins", "ops"],
   "username_template": "{user}-adm", "approval": "auto"},
  {"name": "dir-ops", "credential": "ops", "target": "directory",
   "max_duration": 3600, "groups": ["ops"],
   "username_template": "{user}-ops", "approval": "approver"},
  {"name": "dir-tmp", "credential": "tmp", "target": "directory",
   "max_duration": 600, "groups": ["ops"],
   "username_template": "{user}-tmp", "approval": "auto"},
  {"name": "dir-tmp-dba", "credential": "tmp", "target": "directory",
   "max_duration": 600, "groups": ["dbadmins"],
   "username_template": "{user}-tmp", "approval": "auto"},
  {"name": "dir-ghost", "credential": "ghost", "target": "directory",
   "max_duration": 600, "groups": ["ghost"],
   "username_template": "{user}-g", "approval": "auto"},
  {"name": "web", "credential": "web", "hosts": ["web01.test"],
   "max_duration": 600, "groups": ["users"], "approval": "auto"}]}
POLICIES
echo "root@EXAMPLE.COM admin root-token-xxxxxxxxxxx" >> "$T/apid/people"
kill -HUP "$APID_PID"
wait_for 30 grep -q 'reloaded policies' "$T/apid/log" >/dev/null \
    || fail "reload: $(tail -3 "$T/apid/log")"
out=$("$APID" -c "$T/apid/apid.conf" --check) || fail "--check: $out"
echo "$out" | grep -q "^jit-apid: directory accounts under $ACCOUNTS_BASE: ok$" \
    || fail "--check: $out"
ok "directory policies loaded; --check reads the accounts' base and their groups"
# A policy naming a group the directory lacks: --check says which.
sed 's/"groups": \["ops"\]/"groups": ["nosuch"]/' "$T/apid/policies.json" > "$T/bad.json"
sed "s|^policies = .*|policies = $T/bad.json|" "$T/apid/apid.conf" > "$T/bad.conf"
chmod 600 "$T/bad.json" "$T/bad.conf"
rc=0; "$APID" -c "$T/bad.conf" --check > "$T/check.out" 2>&1 || rc=$?
expect_eq "--check with a missing group" "$rc" 78
grep -q "directory accounts: group nosuch (a directory policy's): no such entry cn=nosuch,$GROUPS_BASE" "$T/check.out" \
    || fail "--check: $(cat "$T/check.out")"
ok "--check names a directory policy's group the directory does not have"

pyget() { # EXPR: evaluated with j the JSON of stdin
    /usr/bin/python3 -c 'import json, sys; j = json.load(sys.stdin); v = eval(sys.argv[1]); print(v if v is not None else "")' "$1"
}
state() { api GET "/v1/grants/$1" boss-token-xxxxxxxxxxx | pyget 'j.get("directory_account", {}).get("state")'; }
members() { adm_get "cn=$1,$GROUPS_BASE" member | sed -n 's/^member: //p' | sort | tr '\n' ' '; }
locked() { adm_get "$1" pwdAccountLockedTime | grep -q '^pwdAccountLockedTime: 000001010000Z'; }
unlocked() { ! adm_get "$1" pwdAccountLockedTime | grep -q '^pwdAccountLockedTime:'; }
ALICE_ADM=uid=alice-adm,$ACCOUNTS_BASE

# 1. A request: the entry, its groups, a password that binds.
api POST /v1/grants alice-token-xxxxxxxxxx \
    '{"credential": "dba", "duration": 600, "reason": "db migration"}' > "$T/r1"
expect_eq "a directory account's request" "$(cat "$T/api.status")" 201
G1=$(pyget 'j["id"]' < "$T/r1")
PW1=$(pyget 'j["password"]' < "$T/r1")
expect_eq "its hosts" "$(pyget 'j["hosts"]' < "$T/r1")" "[]"
expect_eq "its account" "$(pyget 'j["directory_account"]["state"]' < "$T/r1")" enabled
[ ${#PW1} -ge 20 ] || fail "password: '$PW1'"
entry=$(adm_get "$ALICE_ADM" uid uidNumber objectClass)
echo "$entry" | grep -q '^uidNumber: 7100[0-9]$' || fail "entry: $entry"
echo "$entry" | grep -q '^objectClass: posixAccount$' || fail "entry: $entry"
expect_eq "dbadmins" "$(members dbadmins)" "$LDAP_ADMIN_DN $ALICE_ADM "
expect_eq "ops" "$(members ops)" "$LDAP_ADMIN_DN $ALICE_ADM "
binds "$ALICE_ADM" "$PW1" || fail "the password given does not bind"
unlocked "$ALICE_ADM" || fail "a new account is locked"
ok "request: entry uid=alice-adm (a uidNumber of the range), in both groups, the password binds"

# The password is the answer's alone (doc/design.md, threat S17).
api GET "/v1/grants/$G1" alice-token-xxxxxxxxxx > "$T/r1b"
grep -q "$PW1" "$T/r1b" && fail "the password is in a later read of the grant"
api GET "/v1/operations?grant=$G1" boss-token-xxxxxxxxxxx > "$T/ops1"
grep -q "$PW1" "$T/ops1" "$T/apid/log" && fail "the password is in the operations log or jit-apid's log"
if [ "${LDAP_ACCOUNTS_ON_PG:-}" = 1 ]; then
    psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d jit -Atc \
        "SELECT * FROM grants; SELECT * FROM operations; SELECT * FROM dir_accounts; SELECT * FROM events" > "$T/db.dump"
else
    cat "$T/apid/apid.db"* > "$T/db.dump"
fi
grep -aq "$PW1" "$T/db.dump" && fail "the password is in the database"
for a in directory.hold directory.create directory.password directory.unlock directory.group_add; do
    grep -q "\"action\":\"$a\"\|\"action\": \"$a\"" "$T/ops1" || fail "no $a on the operations log: $(cat "$T/ops1")"
done
ok "the password is in the answer only: not in a later read, the logs or the database; each step on the operations log"

# 2. Revocation: out of the groups, locked, the password no longer binds.
api POST "/v1/grants/$G1/revoke" alice-token-xxxxxxxxxx '{"reason": "done"}' >/dev/null
expect_eq "revoke" "$(cat "$T/api.status")" 200
disabled() { [ "$(state "$1")" = disabled ]; }
wait_for 30 disabled "$G1" >/dev/null || fail "not disabled after revocation: $(api GET "/v1/grants/$G1" boss-token-xxxxxxxxxxx)"
expect_eq "dbadmins after revocation" "$(members dbadmins)" "$LDAP_ADMIN_DN "
expect_eq "ops after revocation" "$(members ops)" "$LDAP_ADMIN_DN "
locked "$ALICE_ADM" || fail "not locked: $(adm_get "$ALICE_ADM" pwdAccountLockedTime)"
binds "$ALICE_ADM" "$PW1" && fail "the old password binds after revocation"
ok "revocation: out of both groups, locked, the password no longer binds"

# 3. Re-enable: a new password, back in the groups, unlocked.
api POST "/v1/grants/$G1/enable" alice-token-xxxxxxxxxx \
    '{"duration": 600, "reason": "migration, part 2"}' > "$T/r2"
expect_eq "re-enable" "$(cat "$T/api.status")" 201
G2=$(pyget 'j["id"]' < "$T/r2")
PW2=$(pyget 'j["password"]' < "$T/r2")
[ -n "$PW2" ] && [ "$PW2" != "$PW1" ] || fail "re-enable password: '$PW2'"
binds "$ALICE_ADM" "$PW2" || fail "the re-enabled account's password does not bind"
binds "$ALICE_ADM" "$PW1" && fail "the first password binds again"
unlocked "$ALICE_ADM" || fail "re-enabled, still locked"
expect_eq "dbadmins after re-enable" "$(members dbadmins)" "$LDAP_ADMIN_DN $ALICE_ADM "
api POST "/v1/grants/$G2/revoke" alice-token-xxxxxxxxxx '{}' >/dev/null
wait_for 30 disabled "$G2" >/dev/null || fail "re-enabled grant not disabled"
ok "re-enable: a new password that binds, the old one not; memberships restored; revoked again"
# An admin re-enabling alice's account does not learn its password: the
# answer has none, alice asks for hers.
api POST "/v1/grants/$G2/enable" root-token-xxxxxxxxxxx \
    '{"duration": 600, "reason": "re-enabled for alice by an admin"}' > "$T/r2b"
expect_eq "an admin's re-enable" "$(cat "$T/api.status")" 201
G2B=$(pyget 'j["id"]' < "$T/r2b")
expect_eq "its answer holds no password" "$(pyget 'j.get("password")' < "$T/r2b")" ""
api POST "/v1/grants/$G2B/password" alice-token-xxxxxxxxxx '{}' > "$T/r2c"
PW2B=$(pyget 'j["password"]' < "$T/r2c")
binds "$ALICE_ADM" "$PW2B" || fail "alice's password after an admin's re-enable does not bind"
api POST "/v1/grants/$G2B/revoke" alice-token-xxxxxxxxxx '{}' >/dev/null
wait_for 30 disabled "$G2B" >/dev/null || fail "admin-re-enabled grant not disabled"
ok "an admin's re-enable of another person's account answers no password; its requester gets one"

# 4. Expiry, through jit request (which prints the password once).
printf 'bob-token-xxxxxxxxxxxx\n' > "$T/bob.token"
chmod 600 "$T/bob.token"
JIT=$top_builddir/contrib/jit-apid/jit
"$JIT" --url "$APID_URL" --ca-file "$T/certs/ca.pem" --token-file "$T/bob.token" \
    request --credential tmp --policy dir-tmp --duration 3 --reason "short look" > "$T/jit.out" \
    || fail "jit request: $(cat "$T/jit.out")"
PW3=$(sed -n 's/^password: *//p' "$T/jit.out")
G3=$(sed -n 's/^grant: *//p' "$T/jit.out")
grep -q '^account: *bob-tmp in the directory' "$T/jit.out" || fail "jit request: $(cat "$T/jit.out")"
BOB_TMP=uid=bob-tmp,$ACCOUNTS_BASE
binds "$BOB_TMP" "$PW3" || fail "jit request's password does not bind: $(cat "$T/jit.out")"
expect_eq "ops with bob-tmp" "$(members ops)" "$LDAP_ADMIN_DN $BOB_TMP "
ok "jit request prints the password, which binds"
wait_for 30 disabled "$G3" >/dev/null || fail "not disabled at expiry: $(api GET "/v1/grants/$G3" boss-token-xxxxxxxxxxx)"
expect_eq "ops after expiry" "$(members ops)" "$LDAP_ADMIN_DN "
locked "$BOB_TMP" || fail "not locked at expiry"
binds "$BOB_TMP" "$PW3" && fail "the password binds after expiry"
ok "expiry: out of the group, locked, the password no longer binds"
# Re-enabled under another policy: that policy's groups.
api POST "/v1/grants/$G3/enable" bob-token-xxxxxxxxxxxx \
    '{"duration": 600, "reason": "again", "policy": "dir-tmp-dba"}' > "$T/r3"
expect_eq "re-enable under another policy" "$(cat "$T/api.status")" 201
G3B=$(pyget 'j["id"]' < "$T/r3")
expect_eq "dbadmins with bob-tmp" "$(members dbadmins)" "$LDAP_ADMIN_DN $BOB_TMP "
expect_eq "ops without bob-tmp" "$(members ops)" "$LDAP_ADMIN_DN "
api POST "/v1/grants/$G3B/revoke" bob-token-xxxxxxxxxxxx '{}' >/dev/null
wait_for 30 disabled "$G3B" >/dev/null || fail "not disabled"
ok "re-enable under another policy: its groups"

# 5. Approval: the approver's answer holds no password; the requester
# gets one, the approver cannot.
api POST /v1/grants carol-token-xxxxxxxxxx \
    '{"credential": "ops", "duration": 600, "reason": "on call"}' > "$T/r4"
expect_eq "pending" "$(pyget 'j["status"]' < "$T/r4")" pending
G4=$(pyget 'j["id"]' < "$T/r4")
api POST "/v1/grants/$G4/approve" boss-token-xxxxxxxxxxx '{}' > "$T/r5"
expect_eq "approve" "$(cat "$T/api.status")" 200
expect_eq "no password for the approver" "$(pyget 'j.get("password")' < "$T/r5")" ""
CAROL_OPS=uid=carol-ops,$ACCOUNTS_BASE
expect_eq "ops with carol-ops" "$(members ops)" "$LDAP_ADMIN_DN $CAROL_OPS "
api POST "/v1/grants/$G4/password" boss-token-xxxxxxxxxxx '{}' >/dev/null
expect_eq "the approver asks for the password" "$(cat "$T/api.status")" 403
api POST "/v1/grants/$G4/password" alice-token-xxxxxxxxxx '{}' >/dev/null
expect_eq "another requester asks for it" "$(cat "$T/api.status")" 403
printf 'carol-token-xxxxxxxxxx\n' > "$T/carol.token"
chmod 600 "$T/carol.token"
"$JIT" --url "$APID_URL" --ca-file "$T/certs/ca.pem" --token-file "$T/carol.token" \
    password "$G4" > "$T/jit2.out" || fail "jit password: $(cat "$T/jit2.out")"
PW4=$(sed -n 's/^password: *//p' "$T/jit2.out")
binds "$CAROL_OPS" "$PW4" || fail "jit password's password does not bind"
ok "approval: nothing for the approver; the requester's jit password binds"

# 6. A directory that refuses the teardown (a read-only ACL):
# disable_failed, the alert, then a retry that succeeds once it is fixed.
slapd_acl_read_only
api POST "/v1/grants/$G4/revoke" carol-token-xxxxxxxxxx '{}' >/dev/null
failed() { [ "$(state "$1")" = disable_failed ]; }
wait_for 30 failed "$G4" >/dev/null || fail "not disable_failed: $(api GET "/v1/grants/$G4" boss-token-xxxxxxxxxxx)"
api GET "/v1/grants/$G4" boss-token-xxxxxxxxxxx > "$T/r6"
[ -n "$(pyget 'j["directory_account"].get("last_error")' < "$T/r6")" ] || fail "no last_error: $(cat "$T/r6")"
binds "$CAROL_OPS" "$PW4" || fail "the refused teardown changed the password"
mailed() { grep -l "^Subject: JIT account FAILED TO DISABLE: " "$T/mail"/* >/dev/null 2>&1; }
wait_for 30 mailed >/dev/null || fail "no disable_failed alert: $(api GET /v1/alerts boss-token-xxxxxxxxxxx)"
grep -q "carol-ops" "$T/mail"/* || fail "alert: $(cat "$T/mail"/*)"
api GET "/v1/operations?grant=$G4" boss-token-xxxxxxxxxxx | grep -q 'directory.disable_failed' \
    || fail "no directory.disable_failed on the operations log"
retried() { api GET "/v1/grants/$G4" boss-token-xxxxxxxxxxx | pyget 'j["directory_account"]["attempts"]' | grep -qv '^[01]$'; }
wait_for 30 retried >/dev/null || fail "not retried: $(api GET "/v1/grants/$G4" boss-token-xxxxxxxxxxx)"
ok "a read-only directory: disable_failed with its error, the account.disable_failed alert, retried"
slapd_acl_default
wait_for 30 disabled "$G4" >/dev/null || fail "not disabled after the ACL fix: $(api GET "/v1/grants/$G4" boss-token-xxxxxxxxxxx)"
expect_eq "ops after the retry" "$(members ops)" "$LDAP_ADMIN_DN "
locked "$CAROL_OPS" || fail "not locked after the retry"
binds "$CAROL_OPS" "$PW4" && fail "the password binds after the retry"
expect_eq "one alert for the grant" "$(grep -l "carol-ops" "$T/mail"/* | wc -l)" 1
ok "the ACL fixed: the retry disables it; one alert in all"

# 7. Refused requests: a host with a directory credential, a group the
# policy does not allow.
api POST /v1/grants dave-token-xxxxxxxxxxx \
    '{"credential": "dba", "host": "web01.test", "duration": 60, "reason": "x"}' >/dev/null
expect_eq "a directory credential on a host" "$(cat "$T/api.status")" 403
api POST /v1/grants dave-token-xxxxxxxxxxx \
    '{"credential": "web", "duration": 60, "reason": "x"}' >/dev/null
expect_eq "a host credential in the directory" "$(cat "$T/api.status")" 403
api POST /v1/grants dave-token-xxxxxxxxxxx \
    '{"credential": "tmp", "policy": "dir-tmp", "duration": 60, "reason": "x", "groups": ["dbadmins"]}' >/dev/null
expect_eq "a group the policy does not allow" "$(cat "$T/api.status")" 403
adm_get "uid=dave-adm,$ACCOUNTS_BASE" uid | grep -q . && fail "a refused request made an entry"
adm_get "uid=dave-tmp,$ACCOUNTS_BASE" uid | grep -q . && fail "a refused request made an entry"
ok "refused: a directory credential on a host, a host credential without one, a group outside the policy; no entry made"

# A new password only for an active directory grant.
api POST "/v1/grants/$G1/password" alice-token-xxxxxxxxxx '{}' >/dev/null
expect_eq "a password for a revoked grant" "$(cat "$T/api.status")" 409
GW=$(api POST /v1/grants dave-token-xxxxxxxxxxx \
    '{"credential": "web", "host": "web01.test", "duration": 60, "reason": "x"}' | pyget 'j["id"]')
api POST "/v1/grants/$GW/password" dave-token-xxxxxxxxxxx '{}' >/dev/null
expect_eq "a password for a grant on hosts" "$(cat "$T/api.status")" 409
api POST "/v1/grants/$GW/revoke" dave-token-xxxxxxxxxxx '{}' >/dev/null
ok "a password is given only for an active directory account"

# A group the administrator deleted: the request is refused (502) and
# revoked, and its teardown is not stuck on the missing group.
ldap_admin ldapdelete "cn=ghost,$GROUPS_BASE" >/dev/null 2>&1 || fail "ldapdelete ghost"
api POST /v1/grants dave-token-xxxxxxxxxxx \
    '{"credential": "ghost", "duration": 600, "reason": "a deleted group"}' > "$T/r12"
expect_eq "a request for a deleted group" "$(cat "$T/api.status")" 502
grep -q 'directory_refused' "$T/r12" || fail "502: $(cat "$T/r12")"
GG=$(api GET "/v1/grants?requester=dave@EXAMPLE.COM&credential=ghost" boss-token-xxxxxxxxxxx | pyget 'j["grants"][0]["id"]')
wait_for 30 disabled "$GG" >/dev/null || fail "not settled: $(api GET "/v1/grants/$GG" boss-token-xxxxxxxxxxx)"
locked "uid=dave-g,$ACCOUNTS_BASE" || fail "the half-made account is not locked"
ok "a deleted group: 502, the grant revoked, the half-made account locked"

# An entry of the account's DN that is not this person's pam-jit account
# (an administrator's, made by hand): never enabled, locked or given a
# password, whatever is asked.
ldap_add <<LDIF
dn: uid=boss-adm,$ACCOUNTS_BASE
objectClass: account
objectClass: posixAccount
uid: boss-adm
cn: boss-adm
uidNumber: 71005
gidNumber: 71005
homeDirectory: /home/boss-adm
userPassword: boss-own-password
description: the DBA team's break-glass account
LDIF
ldap_modify <<LDIF
dn: cn=dbadmins,$GROUPS_BASE
changetype: modify
add: member
member: uid=boss-adm,$ACCOUNTS_BASE
LDIF
api POST /v1/grants boss-token-xxxxxxxxxxx \
    '{"credential": "dba", "duration": 600, "reason": "take it over"}' > "$T/r13"
expect_eq "a request for a foreign entry" "$(cat "$T/api.status")" 502
grep -q 'not boss@EXAMPLE.COM.s pam-jit account' "$T/r13" || fail "502: $(cat "$T/r13")"
GB=$(api GET "/v1/grants?requester=boss@EXAMPLE.COM&credential=dba" boss-token-xxxxxxxxxxx | pyget 'j["grants"][0]["id"]')
wait_for 30 disabled "$GB" >/dev/null || fail "not settled: $(api GET "/v1/grants/$GB" boss-token-xxxxxxxxxxx)"
binds "uid=boss-adm,$ACCOUNTS_BASE" boss-own-password || fail "the foreign entry's password changed"
unlocked "uid=boss-adm,$ACCOUNTS_BASE" || fail "the foreign entry was locked"
expect_eq "dbadmins keeps the foreign entry" "$(members dbadmins)" "$LDAP_ADMIN_DN uid=boss-adm,$ACCOUNTS_BASE "
api GET "/v1/operations?grant=$GB" boss-token-xxxxxxxxxxx | grep -q 'directory.foreign' \
    || fail "no directory.foreign on the operations log"
ok "an entry that is not the person's pam-jit account: 502, left as it was (password, lock, groups)"

# The holder rewrites its own description, the ownership mark, where the
# directory lets an entry write its own description (doc/design.md,
# S19): the account, known by the entryUUID recorded at its creation, is
# torn down all the same (out of its group, locked, its password
# rotated), and its row is disable_failed with the alert, since the
# entry is no longer marked as ours; the mark restored, it settles.
slapd_acl \
    "to attrs=userPassword by dn.exact=\"$LDAP_BIND_DN\" write by self read by anonymous auth by * none" \
    "to attrs=description by dn.exact=\"$LDAP_BIND_DN\" write by self write by * none" \
    "to * by dn.exact=\"$LDAP_BIND_DN\" write by self read by * none"
api POST /v1/grants dave-token-xxxxxxxxxxx \
    '{"credential": "tmp", "policy": "dir-tmp", "duration": 600, "reason": "mark"}' > "$T/r15"
expect_eq "dave's request" "$(cat "$T/api.status")" 201
GM=$(pyget 'j["id"]' < "$T/r15")
PWM=$(pyget 'j["password"]' < "$T/r15")
DAVE_TMP=uid=dave-tmp,$ACCOUNTS_BASE
LDAPCONF=/dev/null LDAPRC=/dev/null ldapmodify -x -H "$LDAP_URI_LDAPS" -D "$DAVE_TMP" -w "$PWM" \
    > "$T/selfmod.out" 2>&1 <<LDIF || fail "the holder could not rewrite its description: $(cat "$T/selfmod.out")"
dn: $DAVE_TMP
changetype: modify
replace: description
description: dave's own account now
LDIF
adm_get "$DAVE_TMP" description | grep -q "^description: dave's own account now$" \
    || fail "description: $(adm_get "$DAVE_TMP" description)"
api POST "/v1/grants/$GM/revoke" dave-token-xxxxxxxxxxx '{}' >/dev/null
wait_for 30 failed "$GM" >/dev/null || fail "not disable_failed: $(api GET "/v1/grants/$GM" boss-token-xxxxxxxxxxx)"
expect_eq "ops without dave-tmp" "$(members ops)" "$LDAP_ADMIN_DN "
locked "$DAVE_TMP" || fail "the unmarked account is not locked"
binds "$DAVE_TMP" "$PWM" && fail "the unmarked account's password still binds"
api GET "/v1/grants/$GM" boss-token-xxxxxxxxxxx | pyget 'j["directory_account"].get("last_error")' | grep -q 'lost its pam-jit mark' \
    || fail "last_error: $(api GET "/v1/grants/$GM" boss-token-xxxxxxxxxxx)"
dave_mailed() { grep -l "dave-tmp" "$T/mail"/* >/dev/null 2>&1; }
wait_for 30 dave_mailed >/dev/null || fail "no disable_failed alert for dave-tmp: $(api GET /v1/alerts boss-token-xxxxxxxxxxx)"
api GET "/v1/operations?grant=$GM" boss-token-xxxxxxxxxxx | grep -q 'directory.mark_lost' \
    || fail "no directory.mark_lost on the operations log"
ok "a holder that rewrites its mark: torn down by entryUUID (out of ops, locked, password rotated), disable_failed, alerted"
# Not enabled again while unmarked.
api POST "/v1/grants/$GM/enable" dave-token-xxxxxxxxxxx '{"duration": 60, "reason": "again"}' > "$T/r16"
expect_eq "re-enable of an unmarked account" "$(cat "$T/api.status")" 502
grep -q 'lost its pam-jit mark' "$T/r16" || fail "502: $(cat "$T/r16")"
GM2=$(api GET "/v1/grants?requester=dave@EXAMPLE.COM&credential=tmp" boss-token-xxxxxxxxxxx \
    | pyget '[g["id"] for g in j["grants"] if g["id"] != "'"$GM"'"][0]')
expect_eq "ops still without dave-tmp" "$(members ops)" "$LDAP_ADMIN_DN "
locked "$DAVE_TMP" || fail "a refused re-enable unlocked it"
ldap_modify <<LDIF
dn: $DAVE_TMP
changetype: modify
replace: description
description: pam-jit directory account of dave@EXAMPLE.COM
LDIF
wait_for 30 disabled "$GM2" >/dev/null || fail "not settled once the mark is back: $(api GET "/v1/grants/$GM2" boss-token-xxxxxxxxxxx)"
slapd_acl_default
ok "not re-enabled while unmarked; the mark restored by an administrator, it settles"

# Another entry put at the account's DN (ours deleted, the mark copied by
# hand, the DN still in the group): not the entry made (its entryUUID
# differs), so its password and lock are left alone, but the DN's place
# in the grant's group goes, and the account is disable_failed until the
# impostor is gone (doc/design.md, S19).
api POST /v1/grants bob-token-xxxxxxxxxxxx \
    '{"credential": "tmp", "policy": "dir-tmp", "duration": 600, "reason": "swap"}' > "$T/r20"
expect_eq "bob's request" "$(cat "$T/api.status")" 201
GS=$(pyget 'j["id"]' < "$T/r20")
expect_eq "ops with bob-tmp" "$(members ops)" "$LDAP_ADMIN_DN $BOB_TMP "
ldap_admin ldapdelete "$BOB_TMP" >/dev/null 2>&1 || fail "ldapdelete bob-tmp"
ldap_add <<LDIF
dn: $BOB_TMP
objectClass: account
objectClass: posixAccount
uid: bob-tmp
cn: bob-tmp
uidNumber: 71001
gidNumber: 71001
homeDirectory: /home/bob-tmp
userPassword: impostor-password
description: pam-jit directory account of bob@EXAMPLE.COM
LDIF
api POST "/v1/grants/$GS/revoke" bob-token-xxxxxxxxxxxx '{}' >/dev/null
wait_for 30 failed "$GS" >/dev/null || fail "not disable_failed: $(api GET "/v1/grants/$GS" boss-token-xxxxxxxxxxx)"
api GET "/v1/grants/$GS" boss-token-xxxxxxxxxxx | pyget 'j["directory_account"].get("last_error")' | grep -q 'is not the one made for the account' \
    || fail "last_error: $(api GET "/v1/grants/$GS" boss-token-xxxxxxxxxxx)"
expect_eq "ops without the impostor's DN" "$(members ops)" "$LDAP_ADMIN_DN "
binds "$BOB_TMP" impostor-password || fail "the other entry's password was changed"
unlocked "$BOB_TMP" || fail "the other entry was locked"
api GET "/v1/operations?grant=$GS" boss-token-xxxxxxxxxxx | grep -q 'directory.replaced' \
    || fail "no directory.replaced on the operations log"
ldap_admin ldapdelete "$BOB_TMP" >/dev/null 2>&1 || fail "ldapdelete the impostor"
wait_for 30 disabled "$GS" >/dev/null || fail "not settled once the impostor is gone: $(api GET "/v1/grants/$GS" boss-token-xxxxxxxxxxx)"
ok "another entry at the account's DN: left alone but out of the group, disable_failed; settled once it is gone"


# 8. The directory down: the request is refused (503), no grant stays
# active, and nothing is left enabled once it is back.
stop_slapd
api POST /v1/grants dave-token-xxxxxxxxxxx \
    '{"credential": "dba", "duration": 600, "reason": "while down"}' > "$T/r7"
expect_eq "a request with the directory down" "$(cat "$T/api.status")" 503
grep -q 'directory' "$T/r7" || fail "503: $(cat "$T/r7")"
api GET "/v1/grants?requester=dave@EXAMPLE.COM&status=active" boss-token-xxxxxxxxxxx > "$T/r8"
expect_eq "dave's active grants" "$(pyget 'len(j["grants"])' < "$T/r8")" 0
api GET "/v1/grants?requester=dave@EXAMPLE.COM&credential=dba" boss-token-xxxxxxxxxxx > "$T/r9"
G7=$(pyget 'j["grants"][0]["id"]' < "$T/r9")
expect_eq "the refused request's grant" "$(pyget 'j["grants"][0]["status"] + " " + j["grants"][0]["decided_by"]' < "$T/r9")" "revoked jit-apid"
wait_for 30 failed "$G7" >/dev/null || fail "its teardown not waiting: $(api GET "/v1/grants/$G7" boss-token-xxxxxxxxxxx)"
restart_slapd
G7=$(api GET "/v1/grants?requester=dave@EXAMPLE.COM&credential=dba" boss-token-xxxxxxxxxxx | pyget 'j["grants"][0]["id"]')
wait_for 60 disabled "$G7" >/dev/null || fail "the refused request's account not settled: $(api GET "/v1/grants/$G7" boss-token-xxxxxxxxxxx)"
adm_get "uid=dave-adm,$ACCOUNTS_BASE" uid | grep -q . && fail "an entry made while the directory was down"
ok "the directory down: 503 naming it, the grant revoked at once, nothing enabled once it is back"

# On PostgreSQL, two instances share the teardowns: each is done once.
if [ "${LDAP_ACCOUNTS_ON_PG:-}" = 1 ]; then
    "$APID" -c "$T/apid/apid.conf" 2>"$T/apid/b.log" </dev/null &
    B_PID=$!
    TEST_PIDS="$TEST_PIDS $B_PID"
    wait_for 30 grep -q 'serving on' "$T/apid/b.log" >/dev/null || fail "$(cat "$T/apid/b.log")"
    for i in 1 2 3; do
        G=$(api POST "/v1/grants" alice-token-xxxxxxxxxx \
            '{"credential": "dba", "duration": 600, "reason": "two instances"}' | pyget 'j["id"]')
        api POST "/v1/grants/$G/revoke" alice-token-xxxxxxxxxx '{}' >/dev/null
        wait_for 30 disabled "$G" >/dev/null || fail "not disabled with two instances"
        ops=$(api GET "/v1/operations?grant=$G" boss-token-xxxxxxxxxxx)
        n=$(echo "$ops" | pyget 'len([o for o in j["operations"] if o["action"] in ("directory.disabled", "directory.lock")])')
        expect_eq "teardown steps of grant $i with two instances" "$n" 2
    done
    # Two new accounts at once, one on each instance: each gets a
    # uidNumber of its own (doc/design.md, S24), whichever instance
    # chose first.
    B_URL=https://127.0.0.1:$(sed -n 's/^jit-apid: serving on 127.0.0.1://p' "$T/apid/b.log")
    for r in 1 2; do mkdir -p "$T/race$r"; ln -sf "$T/certs" "$T/race$r/certs"; done
    (T=$T/race1; api POST /v1/grants bob-token-xxxxxxxxxxxx \
        '{"credential": "dba", "duration": 600, "reason": "race 1"}' > "$T/out") &
    PID_A=$!
    (T=$T/race2; APID_URL=$B_URL; api POST /v1/grants carol-token-xxxxxxxxxx \
        '{"credential": "dba", "duration": 600, "reason": "race 2"}' > "$T/out") &
    PID_B=$!
    wait "$PID_A" "$PID_B"
    expect_eq "bob-adm's request" "$(cat "$T/race1/api.status")" 201
    expect_eq "carol-adm's request" "$(cat "$T/race2/api.status")" 201
    u1=$(adm_get "uid=bob-adm,$ACCOUNTS_BASE" uidNumber | sed -n 's/^uidNumber: //p')
    u2=$(adm_get "uid=carol-adm,$ACCOUNTS_BASE" uidNumber | sed -n 's/^uidNumber: //p')
    [ -n "$u1" ] && [ -n "$u2" ] && [ "$u1" != "$u2" ] || fail "uidNumbers: bob-adm '$u1', carol-adm '$u2'"
    dups=$(ldap_search -b "$ACCOUNTS_BASE" '(uidNumber=*)' uidNumber | sed -n 's/^uidNumber: //p' | sort | uniq -d)
    expect_eq "uidNumbers on two entries" "$dups" ""
    for r in 1 2; do
        G=$(pyget 'j["id"]' < "$T/race$r/out")
        tok=bob-token-xxxxxxxxxxxx; [ $r = 2 ] && tok=carol-token-xxxxxxxxxx
        api POST "/v1/grants/$G/revoke" "$tok" '{}' >/dev/null
        wait_for 30 disabled "$G" >/dev/null || fail "race grant $r not disabled"
    done
    ok "two accounts made at once on two instances: uidNumbers $u1 and $u2, none on two entries"
    kill -TERM "$B_PID"
    wait "$B_PID" || fail "the second instance's exit: $(tail -3 "$T/apid/b.log")"
    ok "two instances on one database: each teardown done once"
fi

# A grant that ends while jit-apid is stopped is torn down when it is
# back: the account's row waits in the store (doc/design.md, R15).
api POST /v1/grants bob-token-xxxxxxxxxxxx \
    '{"credential": "tmp", "policy": "dir-tmp", "duration": 2, "reason": "across a restart"}' > "$T/r14"
expect_eq "a short grant" "$(cat "$T/api.status")" 201
GR=$(pyget 'j["id"]' < "$T/r14")
END=$(( $(date +%s) + 2 ))
stop_apid
ok "stopped cleanly with the directory worker running"
past_end() { [ "$(date +%s)" -gt "$END" ]; }
wait_for 30 past_end >/dev/null || fail "the clock"
unlocked "$BOB_TMP" || fail "locked while jit-apid was stopped"
"$APID" -c "$T/apid/apid.conf" 2>"$T/apid/again.log" </dev/null &
AGAIN_PID=$!
TEST_PIDS="$TEST_PIDS $AGAIN_PID"
wait_for 30 grep -q 'serving on' "$T/apid/again.log" >/dev/null || fail "$(cat "$T/apid/again.log")"
APID_URL=https://127.0.0.1:$(sed -n 's/^jit-apid: serving on 127.0.0.1://p' "$T/apid/again.log")
wait_for 30 disabled "$GR" >/dev/null || fail "not torn down after the restart: $(api GET "/v1/grants/$GR" boss-token-xxxxxxxxxxx)"
locked "$BOB_TMP" || fail "not locked after the restart"
kill -TERM "$AGAIN_PID"
wait "$AGAIN_PID" || fail "exit after the restart: $(tail -3 "$T/apid/again.log")"
ok "a grant that ended while jit-apid was stopped: torn down once it is back"

# 9. A directory whose certificate is for another name: the request is
# refused (503, saying so) and no grant stays active.
SLAPD_DIR=$T/slapd2 SLAPD_CERT=wrongname start_slapd
sed -e "s|^ldap_uri = .*|ldap_uri = $LDAP_URI_LDAPS|" \
    -e "s|^ldap_bind_secret = .*|ldap_bind_secret = $LDAP_BIND_SECRET|" \
    "$T/apid/apid.conf" > "$T/apid/wrong.conf"
chmod 600 "$T/apid/wrong.conf"
"$APID" -c "$T/apid/wrong.conf" 2>"$T/apid/wrong.log" </dev/null &
TEST_PIDS="$TEST_PIDS $!"
wait_for 30 grep -q 'serving on' "$T/apid/wrong.log" >/dev/null || fail "$(cat "$T/apid/wrong.log")"
APID_URL=https://127.0.0.1:$(sed -n 's/^jit-apid: serving on 127.0.0.1://p' "$T/apid/wrong.log")
api POST /v1/grants dave-token-xxxxxxxxxxx \
    '{"credential": "tmp", "policy": "dir-tmp", "duration": 600, "reason": "wrong name"}' > "$T/r10"
expect_eq "a request to a directory of another name" "$(cat "$T/api.status")" 503
grep -qi 'certificate' "$T/r10" || fail "503 without the certificate: $(cat "$T/r10")"
api GET "/v1/grants?requester=dave@EXAMPLE.COM&status=active" boss-token-xxxxxxxxxxx > "$T/r11"
expect_eq "dave's active grants" "$(pyget 'len(j["grants"])' < "$T/r11")" 0
ok "a certificate for another name: 503 saying so ($(pyget 'j["message"]' < "$T/r10")); no grant active"
