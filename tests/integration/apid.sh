#!/bin/sh
# jit-apid: its configuration checks, then every endpoint through
# tests/api/apid-test.py (the one-grant rule under 50 concurrent
# requests, bad input, authentication, host isolation, mTLS), the trust
# edges through tests/api/apid-authz-test.py (an account name is its
# person's; a host's events only for its own grants), and a clean stop on
# SIGTERM.
. "$top_srcdir/tests/integration/lib.sh"
# The API scripts import tests/api/apidtest.py from their own directory;
# leave no bytecode cache of it in the source tree.
PYTHONDONTWRITEBYTECODE=1; export PYTHONDONTWRITEBYTECODE
setup_env
start_apid
ok "jit-apid serving on port $APID_PORT"

# Configuration errors are caught by --check, with the file and the key.
out=$("$APID" -c "$T/apid/apid.conf" --check 2>&1)
expect_eq "--check" "$out" "jit-apid: $T/apid/apid.conf: ok (3 policies, 2 hosts, 6 people, 0 alert recipients)"
cp "$T/apid/apid.conf" "$T/apid/bad.conf"
echo 'max_body = lots' >> "$T/apid/bad.conf"
rc=0; out=$("$APID" -c "$T/apid/bad.conf" --check 2>&1) || rc=$?
expect_eq "bad key" "$rc:$out" "78:jit-apid: $T/apid/bad.conf:9: max_body: 1024..67108864 bytes"
sed 's/"max_duration": 600/"max_duration": "600"/' "$T/apid/policies.json" > "$T/apid/bad.json"
sed "s|^policies = .*|policies = $T/apid/bad.json|" "$T/apid/apid.conf" > "$T/apid/bad.conf"
rc=0; out=$("$APID" -c "$T/apid/bad.conf" --check 2>&1) || rc=$?
expect_eq "bad policy" "$rc:$out" "78:jit-apid: policies[1].max_duration: seconds, an integer"
sed 's/"username_choice": true/"username_choice": "false"/' "$T/apid/policies.json" > "$T/apid/bad.json"
rc=0; out=$("$APID" -c "$T/apid/bad.conf" --check 2>&1) || rc=$?
expect_eq "a choice of names said in a string" "$rc:$out" "78:jit-apid: policies[2].username_choice: true or false"
chmod 644 "$T/apid/people"
rc=0; out=$("$APID" -c "$T/apid/apid.conf" --check 2>&1) || rc=$?
expect_eq "people file readable by others" "$rc:$out" \
    "78:jit-apid: $T/apid/people: must be a regular file of ours, mode 0600 or stricter"
chmod 600 "$T/apid/people"
# One token for two hosts: either could act as the other.
cp "$T/apid/hosts" "$T/apid/hosts.good"
echo 'web03.test host-token-web01-xxxxxxxx' >> "$T/apid/hosts"
rc=0; out=$("$APID" -c "$T/apid/apid.conf" --check 2>&1) || rc=$?
expect_eq "one token for two hosts" "$rc:$out" \
    "78:jit-apid: $T/apid/hosts: web01.test and web03.test have the same token"
mv "$T/apid/hosts.good" "$T/apid/hosts"
ok "configuration errors name the file, line or key"

/usr/bin/python3 "$top_srcdir/tests/api/apid-test.py" "$APID_URL" "$T/certs" "$T/apid/apid.db" \
    "$top_srcdir/contrib/openapi.yaml" \
    || fail "API tests (log: $(tail -5 "$T/apid/log"))"
/usr/bin/python3 "$top_srcdir/tests/api/apid-contract-test.py" "$APID_URL" "$T/certs" "$T/apid/apid.db" "$top_srcdir/contrib/openapi.yaml" || fail "grant contract tests (log: $(tail -5 "$T/apid/log"))"
/usr/bin/python3 "$top_srcdir/tests/api/apid-authz-test.py" "$APID_URL" "$T/certs" "$T/apid/apid.db" "$top_srcdir/contrib/openapi.yaml" || fail "authorization tests (log: $(tail -5 "$T/apid/log"))"
/usr/bin/python3 "$top_srcdir/tests/api/apid-attack-test.py" "$APID_URL" "$T/certs" "$T/apid/apid.db" "$top_srcdir/contrib/openapi.yaml" || fail "attack tests (log: $(tail -5 "$T/apid/log"))"

stop_apid
ok "SIGTERM: stopped cleanly in $APID_STOP_MS ms"
