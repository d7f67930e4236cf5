#!/bin/sh
# SPDX-License-Identifier: MIT
# People from the directory (doc/design.md, R13 and R14; threats S13 and
# S14): jit-apid with people_source = ldap against a real slapd on
# loopback (tests/integration/lib/slapd.sh, ldaps with the test CA).
# Group membership decides who may request and who may approve under a
# policy that lists directory groups; a person the directory disables
# (pwdAccountLockedTime, nsAccountLock, userAccountControl 0x2) or does
# not have is refused, and loses the grants they hold within
# ldap_check_interval (decided_by directory-check); mail, display name
# and SSH keys come from the entry (a bad key left out); names with LDAP
# metacharacters ('*', '(', ')', '\', ',') match only their own entry or
# nothing; AD-style memberOf reads the same groups, posixGroup's
# memberUid its own; with people_source both, the people file's people
# need no entry, but a disabled one is still refused; alerts to a
# directory group reach its enabled members at their mail.
. "$top_srcdir/tests/integration/lib.sh"
setup_env
start_slapd

KEY='ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDHkdrpAIOzm8kahQ+kwMFzo5hwUPnBeolqDxfp/ZNY5 alice@laptop'
ldap_person alice "sshPublicKey: $KEY" "sshPublicKey: ssh-rsa not-a-key" \
    "displayName: Alice Directory"
ldap_person bob
ldap_person carol
ldap_person erin
ldap_person boss
ldap_person frank "nsAccountLock: true"
ldap_person gina "userAccountControl: 514"
ldap_person hank "userAccountControl: 512"
ldap_person 'x*y'
ldap_person ivy
ldap_group dba alice ivy
ldap_group approvers erin ivy
# ppolicy's lock: an operational attribute, set as an administrator does.
lock() { # UID
    printf 'dn: uid=%s,ou=people,%s\nchangetype: modify\nreplace: pwdAccountLockedTime\npwdAccountLockedTime: 000001010000Z\n' \
        "$1" "$LDAP_BASE" | ldap_admin ldapmodify -e relax >"$T/lock.out" 2>&1 \
        || fail "lock $1: $(cat "$T/lock.out")"
}
lock carol

APID_EXTRA="ldap_uri = $LDAP_URI_LDAPS
ldap_ca = $LDAP_CA
ldap_bind_dn = $LDAP_BIND_DN
ldap_bind_secret = $LDAP_BIND_SECRET
people_source = ldap
krb5_realm = EXAMPLE.COM
ldap_people_base = ou=people,$LDAP_BASE
ldap_group_base = ou=groups,$LDAP_BASE
ldap_check_interval = 2"

# The people file's extra people (tokens) and a policy listing directory
# groups, after each start_apid (which writes its own files); a reload.
tables() {
    cat >> "$T/apid/people" <<'PEOPLE'
erin@EXAMPLE.COM requester erin-token-xxxxxxxxxxx
frank@EXAMPLE.COM requester frank-token-xxxxxxxxxx
gina@EXAMPLE.COM requester gina-token-xxxxxxxxxxx
hank@EXAMPLE.COM requester hank-token-xxxxxxxxxxx
ivy@EXAMPLE.COM requester ivy-token-xxxxxxxxxxxx
IVY@EXAMPLE.COM requester ivy2-token-xxxxxxxxxxx
*@EXAMPLE.COM requester star-token-xxxxxxxxxxx
al*@EXAMPLE.COM requester alstar-token-xxxxxxxxx
x*y@EXAMPLE.COM requester xstary-token-xxxxxxxxx
x*@EXAMPLE.COM requester xstar-token-xxxxxxxxxx
alice)(uid=*@EXAMPLE.COM requester inject-token-xxxxxxxxx
a\2a@EXAMPLE.COM requester bslash-token-xxxxxxxxx
alice,ou=people@EXAMPLE.COM requester comma-token-xxxxxxxxxx
PEOPLE
    /usr/bin/python3 - "$T/apid/policies.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["host_groups"]["empty"] = []
p["policies"].insert(0, {
    "name": "dir-db", "credential": "dir-db", "host_groups": ["web"],
    "max_duration": 3600, "groups": ["users"], "approval": "approver",
    "requesters": ["group:dba"], "approvers": ["group:approvers"]})
json.dump(p, open(sys.argv[1], "w"))
PY
    kill -HUP "$APID_PID"
    wait_for 30 grep -q 'reloaded policies and tokens' "$T/apid/log" >/dev/null \
        || fail "no reload: $(tail -3 "$T/apid/log")"
}
start_apid
tables
out=$("$APID" -c "$T/apid/apid.conf" --check 2>&1) || fail "--check: $out"
ok "jit-apid with people from the directory (slapd on $LDAP_URI_LDAPS)"

# status_of TOKEN METHOD PATH [BODY]: the HTTP status; body in $T/r.json
status_of() {
    api "$2" "$3" "$1" ${4:+"$4"} > "$T/r.json"
    cat "$T/api.status"
}
j() { /usr/bin/python3 -c "import json, sys; d = json.load(open('$T/r.json')); print($1)"; }

A=alice-token-xxxxxxxxxx
expect_eq "alice's whoami" "$(status_of $A GET /v1/whoami)" 200
expect_eq "mail from the directory" "$(j 'd["directory"]["mail"]')" "alice@jit.test"
expect_eq "display name" "$(j 'd["directory"]["display_name"]')" "Alice Directory"
expect_eq "groups" "$(j 'd["directory"]["groups"]')" "['dba']"
expect_eq "dn" "$(j 'd["directory"]["dn"]')" "uid=alice,ou=people,$LDAP_BASE"

# Requesters: group:dba.
dirdb='{"credential": "dir-db", "host_group": "web", "duration": 600, "reason": "INC-14 directory"}'
expect_eq "alice (dba) requests dir-db" "$(status_of $A POST /v1/grants "$dirdb")" 201
g=$(j 'd["id"]')
expect_eq "her grant waits for an approver" "$(j 'd["status"]')" pending
expect_eq "keys from the directory (the bad one left out)" "$(j 'd["ssh_keys"]')" "['$KEY']"
grep -q "alice@EXAMPLE.COM: directory sshPublicKey 1 left out" "$T/apid/log" \
    || fail "no log line for the bad key: $(tail -3 "$T/apid/log")"
B=bob-token-xxxxxxxxxxxx
expect_eq "bob (not in dba) requests dir-db" "$(status_of $B POST /v1/grants "$dirdb")" 403
expect_eq "bob's refusal" "$(j 'd["error"]')" not_a_requester
ok "a policy's requesters: a directory group decides"
db='{"credential": "db-admin", "host_group": "web", "duration": 600, "reason": "INC-14 bob", "ssh_keys": []}'
expect_eq "bob under a policy with no lists" "$(status_of $B POST /v1/grants "$db")" 201
gb=$(j 'd["id"]')
expect_eq "bob's grant" "$(j 'd["status"]')" active

# Approvers: group:approvers, whatever the people file's role.
expect_eq "boss (approver in the file, not in the group)" \
    "$(status_of boss-token-xxxxxxxxxxx POST /v1/grants/$g/approve '{}')" 403
E=erin-token-xxxxxxxxxxx
expect_eq "erin (requester in the file, in approvers)" \
    "$(status_of $E POST /v1/grants/$g/approve '{}')" 200
expect_eq "alice's grant" "$(j 'd["status"]')" active
ok "a policy's approvers: a directory group decides, not the file's role"

# One person, two names (doc/design.md, S15): ivy requests under one, and
# neither that name nor another that the directory takes for the same
# entry ("IVY", matched alike) approves; another approver does.
I=ivy-token-xxxxxxxxxxxx
expect_eq "ivy (dba) requests dir-db" "$(status_of $I POST /v1/grants "$dirdb")" 201
gi=$(j 'd["id"]')
expect_eq "ivy approves her own grant" \
    "$(status_of $I POST /v1/grants/$gi/approve '{}')" 403
expect_eq "IVY (her entry under another name) approves it" \
    "$(status_of ivy2-token-xxxxxxxxxxx POST /v1/grants/$gi/approve '{}')" 403
expect_eq "erin approves it" "$(status_of $E POST /v1/grants/$gi/approve '{}')" 200
ok "self-approval refused under a second name of the same directory entry"

# A host group with no hosts names no host: not a grant on nothing (which
# would be taken for a directory account; doc/design.md, S18).
empty='{"credential": "db-admin", "host_group": "empty", "duration": 600, "reason": "INC-14 empty", "ssh_keys": []}'
expect_eq "a request on an empty host group" \
    "$(status_of $I POST /v1/grants "$empty")" 400
ok "a host group with no hosts is refused (400), not a directory account"

# Disabled and missing people: refused, with the reason.
expect_eq "carol (pwdAccountLockedTime)" "$(status_of carol-token-xxxxxxxxxx GET /v1/whoami)" 403
expect_eq "carol's refusal" "$(j 'd["error"]')" person_disabled
case $(j 'd["message"]') in *pwdAccountLockedTime*) ;; *) fail "carol: $(cat "$T/r.json")" ;; esac
expect_eq "carol may not request" "$(status_of carol-token-xxxxxxxxxx POST /v1/grants "$db")" 403
expect_eq "frank (nsAccountLock)" "$(status_of frank-token-xxxxxxxxxx GET /v1/whoami)" 403
case $(j 'd["message"]') in *nsAccountLock*) ;; *) fail "frank: $(cat "$T/r.json")" ;; esac
expect_eq "gina (userAccountControl 514)" "$(status_of gina-token-xxxxxxxxxxx GET /v1/whoami)" 403
case $(j 'd["message"]') in *userAccountControl*) ;; *) fail "gina: $(cat "$T/r.json")" ;; esac
expect_eq "hank (userAccountControl 512: enabled)" "$(status_of hank-token-xxxxxxxxxxx GET /v1/whoami)" 200
expect_eq "dave (no entry)" "$(status_of dave-token-xxxxxxxxxxx POST /v1/grants "$db")" 403
expect_eq "dave's refusal" "$(j 'd["error"]')" not_in_directory
ok "disabled (three ways) and missing people: refused"

# Metacharacters: each name is one literal value.  Unescaped, '*' would
# match every entry, 'al*' alice's, 'x*' x*y's, and the injection alice's.
for t in star-token-xxxxxxxxxxx alstar-token-xxxxxxxxx xstar-token-xxxxxxxxxx \
    inject-token-xxxxxxxxx bslash-token-xxxxxxxxx comma-token-xxxxxxxxxx; do
    expect_eq "token $t: no entry" "$(status_of $t GET /v1/whoami)" 403
    expect_eq "token $t: refusal" "$(j 'd["error"]')" not_in_directory
done
expect_eq "x*y: its own entry" "$(status_of xstary-token-xxxxxxxxx GET /v1/whoami)" 200
expect_eq "x*y's dn" "$(j 'd["directory"]["dn"]')" "uid=x*y,ou=people,$LDAP_BASE"
ok "names with * ( ) \\ , match their own entry or none"

# The periodic check: alice disabled, bob's entry deleted; their active
# grants revoked within ldap_check_interval (2 s; the bound asserted has
# a margin a busy machine cannot use up).
revoked() { # GRANT
    api GET "/v1/grants/$1" boss-token-xxxxxxxxxxx > "$T/g.json"
    grep -q '"status": *"revoked"' "$T/g.json"
}
lock alice
printf 'dn: uid=bob,ou=people,%s\nchangetype: delete\n' "$LDAP_BASE" | ldap_modify
t0=$(date +%s%N)
wait_for 30 revoked "$g" >/dev/null || fail "alice's grant not revoked: $(cat "$T/g.json")"
wait_for 30 revoked "$gb" >/dev/null || fail "bob's grant not revoked: $(cat "$T/g.json")"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ $ms -lt 17000 ] || fail "revoked after $ms ms (ldap_check_interval 2 s)"
api GET "/v1/grants/$g" boss-token-xxxxxxxxxxx > "$T/r.json"
expect_eq "decided_by" "$(j 'd["decided_by"]')" directory-check
grep -q "directory-check: revoked grant $g of alice@EXAMPLE.COM: disabled in the directory (pwdAccountLockedTime)" "$T/apid/log" \
    || fail "no log line: $(grep directory-check "$T/apid/log")"
grep -q "directory-check: revoked grant $gb of bob@EXAMPLE.COM: not in the directory" "$T/apid/log" \
    || fail "no log line: $(grep directory-check "$T/apid/log")"
expect_eq "alice now" "$(status_of $A POST /v1/grants "$dirdb")" 403
ok "disabled and deleted people lose their grants within ${ms} ms (interval 2 s), decided_by directory-check"
# A person the directory answers with an error (a second entry of ivy's
# name: fail closed, not "fine"): logged each round, and after
# 3 rounds in a row their grants are revoked (doc/design.md, S23).
printf 'dn: cn=ivy twin,ou=people,%s\nobjectClass: inetOrgPerson\nobjectClass: ldapPublicKey\nobjectClass: jitTestAccount\nuid: ivy\ncn: ivy twin\nsn: twin\n' \
    "$LDAP_BASE" | ldap_add
t0=$(date +%s%N)
wait_for 40 revoked "$gi" >/dev/null || fail "ivy's grant not revoked: $(cat "$T/g.json"; grep ivy "$T/apid/log" | tail -3)"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
grep -q "directory-check: ivy@EXAMPLE.COM: two directory entries for uid=ivy .* (error 1 of 3 in a row)" "$T/apid/log" \
    || fail "no error line: $(grep 'directory-check: ivy' "$T/apid/log")"
grep -q "directory-check: ivy@EXAMPLE.COM: .* (error 2 of 3 in a row)" "$T/apid/log" \
    || fail "no second error line: $(grep 'directory-check: ivy' "$T/apid/log")"
grep -q "directory-check: revoked grant $gi of ivy@EXAMPLE.COM: the directory answered the lookup with an error 3 rounds in a row: two directory entries" "$T/apid/log" \
    || fail "no revocation line: $(grep 'directory-check' "$T/apid/log" | tail -3)"
api GET "/v1/grants/$gi" boss-token-xxxxxxxxxxx > "$T/r.json"
expect_eq "ivy's grant decided_by" "$(j 'd["decided_by"]')" directory-check
printf 'dn: cn=ivy twin,ou=people,%s\nchangetype: delete\n' "$LDAP_BASE" | ldap_modify
ok "a person the directory answers with an error: logged, revoked after 3 rounds in a row (${ms} ms, interval 2 s)"
stop_apid

# Active Directory's way: groups from the person's memberOf (slapd's
# memberof overlay keeps it), limited to ldap_group_base.
printf 'dn: cn=dba,ou=groups,%s\nchangetype: modify\nadd: member\nmember: uid=hank,ou=people,%s\n' \
    "$LDAP_BASE" "$LDAP_BASE" | ldap_modify
APID_EXTRA="$APID_EXTRA
ldap_group_member = memberOf"
start_apid
tables
expect_eq "hank's whoami (memberOf)" "$(status_of hank-token-xxxxxxxxxxx GET /v1/whoami)" 200
expect_eq "hank's groups from memberOf" "$(j 'd["directory"]["groups"]')" "['dba']"
expect_eq "hank requests dir-db" "$(status_of hank-token-xxxxxxxxxxx POST /v1/grants "$dirdb")" 201
ok "memberOf (Active Directory's way): the same groups, the same rule"
stop_apid

# both: the people file's people need no entry (dave), but one the
# directory disables is still refused (carol); posixGroup's memberUid.
printf 'dn: cn=pdba,ou=groups,%s\nobjectClass: posixGroup\ncn: pdba\ngidNumber: 5000\nmemberUid: hank\n' \
    "$LDAP_BASE" | ldap_add
APID_EXTRA=$(printf '%s\n' "$APID_EXTRA" | sed -e 's/^people_source = ldap$/people_source = both/' \
    -e 's/^ldap_group_member = memberOf$/ldap_group_member = memberUid/')
start_apid
tables
expect_eq "dave (file, no entry) under both" "$(status_of dave-token-xxxxxxxxxxx GET /v1/whoami)" 200
expect_eq "dave's whoami has no directory part" "$(j '"directory" in d')" False
expect_eq "carol (file, disabled entry) under both" "$(status_of carol-token-xxxxxxxxxx GET /v1/whoami)" 403
expect_eq "hank's groups from memberUid" "$(status_of hank-token-xxxxxxxxxxx GET /v1/whoami) $(j 'd["directory"]["groups"]')" "200 ['pdba']"
expect_eq "hank (not in dba by memberUid) requests dir-db" "$(status_of hank-token-xxxxxxxxxxx POST /v1/grants "$dirdb")" 403
ok "people_source both, and posixGroup memberUid"
stop_apid

# Alerts to a directory group: its enabled members at the mail the
# directory has at delivery (alice is locked: left out; a member whose
# mail would add a recipient: left out, logged).
printf 'dn: uid=mallory,ou=people,%s\nobjectClass: inetOrgPerson\nuid: mallory\ncn: m\nsn: m\nmail: mallory@jit.test, boss@evil.example\n' \
    "$LDAP_BASE" | ldap_add
printf 'dn: cn=dba,ou=groups,%s\nchangetype: modify\nadd: member\nmember: uid=mallory,ou=people,%s\n' \
    "$LDAP_BASE" "$LDAP_BASE" | ldap_modify
mkdir -p "$T/mail"
cat > "$T/sendmail" <<SM
#!/bin/sh
n=\$(ls $T/mail | wc -l)
cat > $T/mail/\$n
SM
chmod 755 "$T/sendmail"
cat > "$T/alerts.json" <<JSON
{"enabled": ["account.created"], "sendmail": ["$T/sendmail", "-oi", "-t"],
 "from": "jit-apid@example.com", "retry_seconds": 1, "max_attempts": 3,
 "recipients": [{"directory_group": "dba", "types": ["account.created"]}]}
JSON
APID_ALERTS=$T/alerts.json
APID_EXTRA=$(printf '%s\n' "$APID_EXTRA" | sed -e 's/^people_source = both$/people_source = ldap/' \
    -e 's/^ldap_group_member = memberUid$/ldap_group_member = member/')
start_apid
tables
api POST /v1/grants erin-token-xxxxxxxxxxx \
    '{"credential": "db-admin", "host": "web01.test", "duration": 600, "reason": "alerts", "ssh_keys": []}' > "$T/r.json"
[ "$(cat "$T/api.status")" = 201 ] || fail "erin's grant on web01: $(cat "$T/api.status") $(cat "$T/r.json")"
G=$(j 'd["id"]')
api POST /v1/hosts/web01.test/events host-token-web01-xxxxxxxx \
    "{\"events\": [{\"id\": \"e-dir-1\", \"type\": \"account.created\", \"time\": \"2026-11-24T10:00:00Z\", \"host\": \"web01.test\", \"grant\": \"$G\", \"username\": \"erin\", \"requester\": \"erin@EXAMPLE.COM\", \"detail\": {\"uid\": 70000}}]}" >/dev/null
expect_eq "the event" "$(cat "$T/api.status")" 200
wait_for 30 test -s "$T/mail/0" >/dev/null || fail "no mail: $(tail -5 "$T/apid/log")"
expect_eq "To: the group's enabled members with a plain address" \
    "$(grep '^To:' "$T/mail/0")" "To: ivy@jit.test, hank@jit.test"
grep -q "alerts: group:dba: a member's mail left out" "$T/apid/log" \
    || fail "no log line for mallory's mail: $(tail -3 "$T/apid/log")"
ok "alerts to a directory group: its enabled members' mail, a hostile one left out"
stop_apid
