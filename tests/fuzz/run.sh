#!/bin/sh
# SPDX-License-Identifier: MIT
# Build one libFuzzer target with clang (ASan+UBSan) and run it for a
# bounded time from a seed corpus made on the spot.
#   run.sh nssdb|conf|grant|apid SECONDS WORKDIR
set -eu
target=$1 seconds=$2 work=$3
SRC=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$work/corpus-$target" "$work/crashes-$target"
cfg="-I$work -I$SRC/lib -include $work/config.h -DJIT_STATE_DIR=\"/var/lib/jit\""
printf '#define _GNU_SOURCE 1\n#define PACKAGE_VERSION "fuzz"\n' > "$work/config.h"
san="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION"
case $target in
nssdb)
    srcs="$SRC/lib/nss/nss_ops.c $SRC/lib/nss/nssdb_read.c $SRC/lib/nss/nssdb_format.c
        $SRC/lib/krb5/localauth.c $SRC/lib/core/audit.c $SRC/lib/core/escape.c $SRC/lib/core/timefmt.c"
    # Seeds: real snapshots from the writer, empty and with accounts.
    cat > "$work/seed.c" <<'C'
#include <stdio.h>
#include "state/nssdb_write.h"
int main(int argc, char **argv) {
    static const uint32_t g[] = { 27, 100 };
    struct jit_nssdb_account a[3] = {
        { "alice", "JIT db", "/home/jit/alice", "/bin/bash", 70000, 70000, g, 2, 1700000000, 1700003600, "alice@JIT.TEST", 1700003600, 1 },
        { "bob", "", "/home/jit/bob", "/bin/sh", 70001, 70001, NULL, 0, 1700000000, 1700003600, "bob@JIT.TEST", 1700003600, 0 },
        { "carol", "x", "/home/jit/carol", "/bin/bash", 70005, 70005, g, 1, 1700000000, 1800000000, "carol", 1800000000, 1 } };
    for (int n = 0; n <= 3 && n + 1 < argc; n++) {
        struct jit_nssdb_image img;
        FILE *f = fopen(argv[n + 1], "wb");
        if (!f || jit_nssdb_build(a, (size_t) n, 70000, 99999, 1, 0, &img)) return 1;
        fwrite(img.data, 1, img.len, f); fclose(f); jit_nssdb_image_free(&img);
    }
    return 0;
}
C
    # shellcheck disable=SC2086
    clang -g $cfg "$work/seed.c" "$SRC/lib/state/nssdb_write.c" "$SRC/lib/nss/nssdb_format.c" \
        "$SRC/lib/core/validate.c" -o "$work/seed"
    "$work/seed" "$work/corpus-$target/s0" "$work/corpus-$target/s1" \
        "$work/corpus-$target/s2" "$work/corpus-$target/s3"
    ;;
conf)
    srcs="$SRC/lib/core/conf.c $SRC/lib/core/validate.c $SRC/lib/nss/nssdb_format.c"
    printf 'api_url = https://jit.example.com\nhost = web01\ntimeout = 5\nallowed_groups = sudo,adm\nhome_policy = archive\nshells = /bin/bash,/bin/sh\nuid_min = 70000\n# comment\n' \
        > "$work/corpus-$target/s0"
    printf 'timeout = 1e3\nfoo\n= x\nclock_skew = 99999999999\n' > "$work/corpus-$target/s1"
    ;;
grant)
    srcs="$SRC/lib/core/grant.c $SRC/lib/core/validate.c $SRC/lib/core/timefmt.c $SRC/lib/nss/nssdb_format.c $(pkg-config --libs jansson)"
    g='{"id": "g-1", "credential": "db-admin", "requester": "alice@EXAMPLE.COM", "username": "alice", "host": "web01.example.com", "groups": ["sudo"], "not_before": "2026-11-23T09:00:00Z", "expires_at": "2026-11-23T10:00:00Z", "reason": "INC-1", "status": "active", "on_logout": "keep", "ssh_keys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDHkdrpAIOzm8kahQ+kwMFzo5hwUPnBeolqDxfp/ZNY5 a@b"]}'
    printf '%s' "$g" > "$work/corpus-$target/s0"
    printf '{"grants": [%s, %s]}' "$g" "$g" > "$work/corpus-$target/s1"
    ;;
apid)
    # jit-apid's handlers without main.c, the transport or the client.
    cfg="$cfg -I$SRC -I$SRC/tests/unit -DSYSCONFDIR=\"/etc\" -pthread"
    srcs="$SRC/tests/unit/apidlib.c $(ls "$SRC"/contrib/jit-apid/*.c | grep -Ev '/(main|server|jit)\.c$' | tr '\n' ' ')
        $SRC/lib/core/grant.c $SRC/lib/core/validate.c $SRC/lib/core/timefmt.c $SRC/lib/nss/nssdb_format.c $SRC/lib/core/negotiate.c
        $(pkg-config --cflags --libs gnutls jansson sqlite3 libpq libcurl krb5 krb5-gssapi ldap)"
    # Seeds: one valid request of each kind (byte 0 the method: 0 GET,
    # 1 POST; byte 1 the token: 1 alice, 2 boss, 3 web01).
    seed() { printf "$1" > "$work/corpus-$target/$2"; }
    k='ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDHkdrpAIOzm8kahQ+kwMFzo5hwUPnBeolqDxfp/ZNY5 alice@laptop'
    seed '\001\001/v1/grants\n\n{"credential": "db-admin", "host": "web01.test", "duration": 600, "reason": "INC-1 caf\303\251", "groups": ["users", "a-b.c_9"], "ssh_keys": ["'"$k"'"]}' s0
    seed '\001\001/v1/grants\n\n{"credential": "db-admin", "host_group": "web", "duration": 60, "reason": "r", "groups": ["users", "users"]}' s1
    seed '\001\001/v1/grants\n\n{"credential": "root-ish", "host": "web01.test", "duration": 60, "reason": "r"}' s2
    seed '\000\001/v1/grants?status=active&credential=db-admin\n\n' s3
    seed '\000\003/v1/hosts/web01.test/grants?wait=0\n"0123"\n' s4
    seed '\000\003/v1/hosts/web01.test/grants/alice\n\n' s5
    seed '\001\003/v1/hosts/web01.test/events\n\n{"events": [{"id": "e-1", "type": "account.created", "time": "2026-11-23T09:00:00Z", "host": "web01.test", "grant": "g-1", "username": "alice", "requester": "alice@EXAMPLE.COM", "detail": {"uid": 70000}}]}' s6
    seed '\001\002/v1/grants/g-000000000000000000000000/approve\n\n{"reason": "ok"}' s7
    seed '\000\002/v1/operations\n\n' s8
    seed '\000\001/v1/whoami\n\n' s9
    ;;
*) echo "unknown target $target" >&2; exit 2 ;;
esac
# shellcheck disable=SC2086
clang $san $cfg "$SRC/tests/fuzz/fuzz_$target.c" $srcs -o "$work/fuzz_$target"
cd "$work/crashes-$target"
"$work/fuzz_$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "$work/corpus-$target"
