#!/bin/sh
# SPDX-License-Identifier: MIT
# make bench-login: the login benchmark in a private namespace, against
# the loopback test API; prints a table and the RESULT line.  Needs root.
set -eu
: "${top_builddir:?run through make bench-login}" "${top_srcdir:?}" "${JIT_STATE_DIR_BUILTIN:?}"
. "$top_srcdir/tests/integration/lib.sh"
require_ns
command -v useradd >/dev/null || [ -x /usr/sbin/useradd ] || skip "needs useradd (passwd)"
setup_env
setup_pam
# 1 + 50 + 100 + 8 x 12 + 50 x 4 + 20 logins, each its own user.
i=0
while [ $i -lt 480 ]; do
    grant_json "b$i" > "$T/api/grants/b$i.json"
    i=$((i + 1))
done
# And 100 returning users: kept on logout, each logs in twice.
i=0
while [ $i -lt 100 ]; do
    grant_json "k$i" on_logout='"keep"' > "$T/api/grants/k$i.json"
    i=$((i + 1))
done
mkdir "$T/svc"
printf 'account required %s config=%s\nsession required %s config=%s\n' \
    "$PAMMOD" "$CONF" "$PAMMOD" "$CONF" > "$T/svc/jitbench"
# The peer: the same PAM steps with pam_permit alone.
printf 'account required pam_permit.so\nsession required pam_permit.so\n' \
    > "$T/svc/permitbench"
# A throwaway root for useradd/userdel: the base files, no accounts added.
R=$T/uaroot
mkdir -p "$R/etc/default" "$R/home" "$R/var/mail" "$R/var/spool/mail"
cp /etc/passwd /etc/group /etc/shadow /etc/gshadow /etc/login.defs "$R/etc/"
cp -r /etc/skel "$R/etc/skel"
[ ! -f /etc/default/useradd ] || cp /etc/default/useradd "$R/etc/default/"
fs=$(findmnt -n -o FSTYPE --target "$T" 2>/dev/null || echo '?')
journal=
[ "$fs" != ext4 ] || [ -n "$(ls /proc/fs/jbd2 2>/dev/null)" ] || journal=", no journal"
echo "# $(uname -m), $(nproc) cpus; test API: python3 http.server + TLS on loopback"
echo "# state_dir, homes and the throwaway root on $T ($fs$journal)"
in_ns ${BENCH_UNDER:-} "$top_builddir/tests/bench/bench_login" "$T/svc" "$CONF" "$R"
