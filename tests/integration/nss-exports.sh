#!/bin/sh
# SPDX-License-Identifier: MIT
# libnss_jit.so.2 links libc only and exports only _nss_jit_*
# (doc/design.md, R1).
. "$top_srcdir/tests/integration/lib.sh"
[ -f "$NSSMOD" ] || fail "$NSSMOD not built"
[ -z "$PRELOAD" ] || skip "sanitizer build links the sanitizer runtimes"

needed=$(readelf -d "$NSSMOD" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
expect_eq "NEEDED" "$needed" "libc.so.6 "
expect_eq "SONAME" "$(readelf -d "$NSSMOD" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')" \
    "libnss_jit.so.2"
others=$(nm -D --defined-only "$NSSMOD" | awk '{print $3}' | grep -v '^_nss_jit_' || true)
expect_eq "exported symbols other than _nss_jit_*" "$others" ""
for f in getpwnam_r getpwuid_r setpwent getpwent_r endpwent getgrnam_r \
         getgrgid_r setgrent getgrent_r endgrent getspnam_r setspent \
         getspent_r endspent initgroups_dyn; do
    nm -D --defined-only "$NSSMOD" | grep -q " T _nss_jit_$f\$" \
        || fail "_nss_jit_$f not exported"
done
ok "all entry points exported"
# No writable executable segments, and full RELRO.
readelf -lW "$NSSMOD" | grep -q 'GNU_RELRO' || fail "no RELRO"
readelf -d "$NSSMOD" | grep -q 'BIND_NOW' || fail "no BIND_NOW"
ok "RELRO and BIND_NOW"

# What the module may call: no network, logging, locks, environment,
# dynamic loading or heap beyond initgroups' realloc (doc/design.md, R1;
# threats E1, E6).
imports=$(nm -D --undefined-only "$NSSMOD" | awk '{print $2}' | sed 's/@.*//')
bad=$(printf '%s\n' $imports | grep -xE 'socket|connect|send|sendto|sendmsg|recv|recvfrom|recvmsg|getaddrinfo|gethostbyname.*|syslog|vsyslog|openlog|closelog|flock|fcntl|fcntl64|lockf|pthread_mutex_lock|pthread_rwlock_.*|getenv|secure_getenv|dlopen|malloc|calloc|fopen|fopen64' || true)
expect_eq "forbidden imports" "$bad" ""
printf '%s\n' $imports | grep -qx realloc || fail "realloc (initgroups) not imported: check the test"
ok "imports: $(printf '%s ' $imports)"
