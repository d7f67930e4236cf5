# SPDX-License-Identifier: MIT
# Shared helpers for the integration tests (sourced, POSIX sh).
#
# They run the built libnss_jit through real glibc inside a private mount
# namespace: our own /etc/nsswitch.conf is bind-mounted there, and the test
# state directory over the compiled-in one, so nothing of this machine's
# /etc or /var changes.  Without root or unshare they skip (exit 77).
#
# A test sources this file alone; the helpers live by concern in lib/:
#   env.sh      the test's directory, its end, ok/FAIL/SKIP, stop by pid
#   wait.sh     wait_for, wait_uid, slow_sleeps: waiting on what is seen;
#               lone_thread: a process shown as a zombie that runs on
#   ns.sh       the namespace: require_ns, in_ns, resolves/gone, /dev/log
#   testapi.sh  the fault-injecting test API and the grants it serves
#   pam.sh      logins through libpam (setup_pam: each test's uid range)
#   jitctl.sh   jitctl daemon, a grant ended now in the store
#   apid.sh     jit-apid, and calls to it as a person
#   pg.sh       a PostgreSQL server of the test's own
#   kdc.sh      an MIT KDC of the test's own
#   sshd.sh     the real sshd in its own namespace
#   slapd.sh    an OpenLDAP slapd of the test's own (TLS, cn=config ACLs)

set -eu

: "${top_builddir:?run through make check}"
: "${top_srcdir:?run through make check}"
: "${JIT_STATE_DIR_BUILTIN:?run through make check}"

for _lib in env wait ns testapi pam jitctl apid pg kdc sshd slapd; do
    . "$top_srcdir/tests/integration/lib/$_lib.sh"
done
unset _lib
