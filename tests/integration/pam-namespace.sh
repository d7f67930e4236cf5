#!/bin/sh
# SPDX-License-Identifier: MIT
# The recommended defence, exactly as contrib/pam_namespace ships it: with
# namespace.conf.jit in /etc/security/namespace.d and the lines of
# pam.d-sshd.jit after pam_jit's session line, a JIT user's /tmp,
# /var/tmp and /dev/shm are private tmpfs instances (nosuid): what the
# user writes there is not in the shared directories, a setgid copy of a
# binary gives no group even during the session, a local user outside
# the uid range is not affected, and after the teardown nothing of the
# uid is left in the shared directories.  Everything runs in the test's
# namespace, over tmpfs mounts on /tmp, /var/tmp and /dev/shm (never the
# machine's), through the real libpam and pam_namespace.so.
. "$top_srcdir/tests/integration/lib.sh"
require_ns
command -v setpriv >/dev/null || skip "needs setpriv"
MODDIR=$(dirname "$(find /lib /usr/lib -name pam_namespace.so -path '*security*' 2>/dev/null | head -1)")
[ -f "$MODDIR/pam_namespace.so" ] || skip "needs pam_namespace.so (package libpam-modules)"
setup_env
setup_pam
G=$T/api/grants
C=$top_srcdir/contrib/pam_namespace
# The state directory where the session's namespace still sees it, as on
# a real host (/var/lib/jit): the test's own is under the /tmp that
# pam_namespace replaces.  Every step below runs in the test namespace,
# where nsrun.sh binds it there.
sed -i "s|^state_dir = .*|state_dir = $JIT_STATE_DIR_BUILTIN|" "$CONF"
# The scrub's default directories: in the test namespace, tmpfs mounts.
sed -i "s|^scrub_dirs = .*|scrub_dirs = /tmp,/var/tmp,/dev/shm|" "$CONF"
# The session stack: pam_jit's lines, then the contrib lines verbatim.
cat > "$T/pam.d/jittest" <<SVC
account  required  $PAMMOD config=$CONF
account  required  pam_permit.so
session  required  $PAMMOD config=$CONF
$(grep -v '^#' "$C/pam.d-sshd.jit")
session  required  pam_permit.so
SVC
mkdir -p "$T/nsd"
cp "$C/namespace.conf.jit" "$T/nsd/jit.conf"
: > "$T/namespace.conf"
VIDEO=$(getent group video | cut -d: -f3)
grant_json dave > "$G/dave.json"

# In one namespace: tmpfs over /tmp (with $T bound back where it was),
# /var/tmp and /dev/shm; the contrib config as pam_namespace's; then a
# session of dave's (its commands inline: $T is under the /tmp it
# replaces) that writes to the three, makes a setgid copy of
# id(1) and leaves a process; one of nobody's; then the teardown.
cat > "$T/ns.sh" <<'NS'
set -eu
T=$1 PAMRUN=$2 JITCTL=$3 CONF=$4 SHIM=$5 uid=$6 PRELOAD=$7
exec 9<"$T"
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p "$T"
mount --no-canonicalize --bind /proc/self/fd/9 "$T"
exec 9<&-
mount -t tmpfs -o mode=1777 tmpfs /var/tmp
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount --bind "$T/nsd" /etc/security/namespace.d
mount --bind "$T/namespace.conf" /etc/security/namespace.conf
run() { LD_PRELOAD="${PRELOAD:+$PRELOAD }$SHIM" "$PAMRUN" "$T/pam.d" jittest "$@"; }
cat > "$T/dave.sh" <<'DAVE'
#!/bin/sh
echo secret > /tmp/dave-file; echo x > /var/tmp/dave-file; echo x > /dev/shm/dave-file
cp /usr/bin/id /tmp/id; chgrp video /tmp/id; chmod 2755 /tmp/id
echo "dave sees: $(ls /tmp | tr "\n" " ")$(cat /tmp/dave-file)"
echo "setgid id: egid $(/tmp/id -g)"
# (sleep 300: a process of the uid that lives until the teardown ends it)
setsid sleep 300 </dev/null >/dev/null 2>&1 &
DAVE
printf '#!/bin/sh\necho x > /tmp/nobody-file\n' > "$T/nobody.sh"
chmod 755 "$T/dave.sh" "$T/nobody.sh"
# (a file of dave's in the shared /tmp, as a job outside the session,
# at or cron, would leave it)
echo x > /tmp/dave-job; chown "$uid" /tmp/dave-job
run dave acct_mgmt open_session "run:$(cat "$T/dave.sh")" close_session > "$T/dave.out" 2>&1 || { cat "$T/dave.out"; exit 1; }
echo "shared /tmp: $(ls -A /tmp | tr "\n" " ")"
echo "shared /var/tmp: $(ls -A /var/tmp | tr "\n" " ")"
echo "shared /dev/shm: $(ls -A /dev/shm | tr "\n" " ")"
run nobody acct_mgmt open_session "run:$(cat "$T/nobody.sh")" > "$T/nobody.out" 2>&1 \
    || { cat "$T/nobody.out"; exit 1; }
echo "after nobody: $(ls -A /tmp | tr "\n" " ")"
echo "dave: $("$JITCTL" -c "$CONF" list --json | grep -o '"state": *"[a-z_]*"')"
"$JITCTL" -c "$CONF" reap 2>"$T/revoke.err"
echo "uid's files: $(find /tmp /var/tmp /dev/shm -xdev -user "$uid" | tr "\n" " ")"
NS
# (the uid is known once the account step reserved it)
pam_op dave acct_mgmt || fail "dave: $(cat "$T/pam.out")"
uid=$(in_ns id -u dave)
out=$(in_ns sh "$T/ns.sh" "$T" "$PAMRUN" "$JITCTL" "$CONF" "$SYSLOG_SHIM" "$uid" "$PRELOAD" 2>&1) \
    || fail "namespace script: $out $(cat "$T/dave.out" "$T/revoke.err" 2>/dev/null)"
grep -q "pam-run: open_session: Success" "$T/dave.out" && grep -q "pam-run: run: exit 0" "$T/dave.out" \
    && grep -q "pam-run: close_session: Success" "$T/dave.out" || fail "dave's session: $(cat "$T/dave.out")"
expect_eq "dave's /tmp is his own" "$(grep '^dave sees' "$T/dave.out")" "dave sees: dave-file id secret"
expect_eq "a setgid copy gives no group in it (nosuid)" "$(grep '^setgid id' "$T/dave.out")" "setgid id: egid $uid"
expect_eq "the shared directories never saw dave's session's files" "$(echo "$out" | grep '^shared')" "shared /tmp: dave-job ${T#/tmp/} 
shared /var/tmp: 
shared /dev/shm: "
expect_eq "nobody (outside the uid range) is not polyinstantiated" "$(echo "$out" | grep '^after nobody')" \
    "after nobody: dave-job ${T#/tmp/} nobody-file "
grep -q "teardown of dave left to the reaper: this process is in the session's own mount namespace" "$T/dave.out" \
    || fail "the last logout tore down inside the session's namespace: $(cat "$T/dave.out")"
expect_eq "the last logout, inside the session's namespace, leaves the teardown to the reaper" \
    "$(echo "$out" | grep '^dave: ')" 'dave: "state": "tearing_down"'
case $out in
    *"tore down dave: resumed"*) ;;
    *) fail "teardown: $out $(cat "$T/revoke.err")" ;;
esac
ok "the reaper, in the host's namespace, tore dave down"
expect_eq "after the teardown, nothing of the uid in the shared directories" "$(echo "$out" | grep "^uid's files")" "uid's files: "
grep -q "scrub of dave: 1 removed, 0 defused" "$T/revoke.err" || fail "scrub: $(cat "$T/revoke.err")"
ok "the scrub found only the job's file"

# pam_jit(8) shows the same lines as the files this test ran.
norm() { tr -s ' \t' '  '; }
grep -v '^#' "$C/namespace.conf.jit" "$C/pam.d-sshd.jit" | sed 's/^[^:]*://' | norm | while IFS= read -r line; do
    norm < "$top_srcdir/man/pam_jit.8" | grep -qxF -- "$line" || fail "pam_jit(8) lacks the contrib line: $line"
done
ok "pam_jit(8) shows the contrib lines"
