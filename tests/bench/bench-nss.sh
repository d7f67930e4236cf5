#!/bin/sh
# SPDX-License-Identifier: MIT
# make bench-nss: run bench_nss in a private mount namespace per
# configuration and print one table, the ratios and the RESULT line.
# Needs root.  Takes about a minute.
set -eu
: "${top_builddir:?run through make bench-nss}" "${top_srcdir:?}" "${JIT_STATE_DIR_BUILTIN:?}"
BENCH=$top_builddir/tests/bench/bench_nss
NSSLIBS=$top_builddir/nss_jit/.libs
NSRUN=$top_srcdir/tests/nsrun.sh
SIZES="1000 10000 100000"
[ "$(id -u)" = 0 ] || { echo "bench-nss: needs root (mount namespaces)" >&2; exit 1; }

B=$(mktemp -d /tmp/jit-bench.XXXXXX)
trap 'rm -rf "$B"' EXIT
chmod 755 "$B"
for n in $SIZES; do mkdir "$B/$n"; done
"$BENCH" prepare "$B" $SIZES
sed 's/^passwd:.*/passwd: files/' /etc/nsswitch.conf > "$B/ns-files"
sed 's/^passwd:.*/passwd: files jit/' /etc/nsswitch.conf > "$B/ns-jit"

echo "# $(uname -m), $(nproc) cpus, $(getconf GNU_LIBC_VERSION), base /etc/passwd: $(wc -l < /etc/passwd) lines"
echo "# median of 7 rounds of >= 40 ms each, random keys; ns per call"
for n in $SIZES; do
    "$NSRUN" "$JIT_STATE_DIR_BUILTIN" "$B/$n/state" "$B/ns-files" "$B/$n/passwd" "$B" -- \
        "$BENCH" entry "$NSSLIBS/libnss_jit.so.2" "$n"
    "$NSRUN" "$JIT_STATE_DIR_BUILTIN" "$B/$n/state" "$B/ns-files" "$B/$n/passwd" "$B" -- \
        "$BENCH" glibc glibc_allfiles "$n"
    LD_LIBRARY_PATH=$NSSLIBS "$NSRUN" "$JIT_STATE_DIR_BUILTIN" "$B/$n/state" "$B/ns-jit" - "$B" -- \
        "$BENCH" glibc glibc_filesjit "$n"
done > "$B/rows"

awk -v sizes="$SIZES" '
$1 == "ROW" { v[$2, $3] = $4 }
END {
    ns = split(sizes, S, " ")
    split("floor_hit jit_nam_hit jit_nam_miss jit_uid_hit jit_uid_miss files_nam_hit files_nam_miss files_uid_hit files_uid_miss glibc_filesjit_nam_hit glibc_filesjit_nam_miss glibc_filesjit_uid_hit glibc_allfiles_nam_hit glibc_allfiles_nam_miss glibc_allfiles_uid_hit", W, " ")
    split("(a) plain hash table, hit (floor)|(a) _nss_jit_getpwnam_r hit|(a) _nss_jit_getpwnam_r miss|(a) _nss_jit_getpwuid_r hit|(a) _nss_jit_getpwuid_r miss|(a) _nss_files_getpwnam_r hit, N in passwd|(a) _nss_files_getpwnam_r miss, N in passwd|(a) _nss_files_getpwuid_r hit, N in passwd|(a) _nss_files_getpwuid_r miss, N in passwd|(b) getpwnam_r, files jit, hit|(b) getpwnam_r, files jit, miss|(b) getpwuid_r, files jit, hit|(b) getpwnam_r, all N in /etc/passwd, hit|(b) getpwnam_r, all N in /etc/passwd, miss|(b) getpwuid_r, all N in /etc/passwd, hit", L, "|")
    printf "%-44s", "ns per call"
    for (i = 1; i <= ns; i++) printf " %12s", "N=" S[i]
    printf "\n"
    for (w = 1; w in W; w++) {
        printf "%-44s", L[w]
        for (i = 1; i <= ns; i++) printf " %12.1f", v[S[i], W[w]]
        printf "\n"
    }
    printf "\n%-44s", "ratios"
    for (i = 1; i <= ns; i++) printf " %12s", "N=" S[i]
    printf "\n%-44s", "jit hit / floor"
    for (i = 1; i <= ns; i++) printf " %12.2f", v[S[i], "jit_nam_hit"] / v[S[i], "floor_hit"]
    printf "\n%-44s", "files hit / jit hit (entry points)"
    for (i = 1; i <= ns; i++) printf " %12.1f", v[S[i], "files_nam_hit"] / v[S[i], "jit_nam_hit"]
    printf "\n%-44s", "all-in-files / files jit (through glibc)"
    for (i = 1; i <= ns; i++) printf " %12.1f", v[S[i], "glibc_allfiles_nam_hit"] / v[S[i], "glibc_filesjit_nam_hit"]
    printf "\n\n"
    printf "RESULT nss_jit_hit_ns=%.1f over_floor=%.2f speedup_vs_files_10k=%.1f cost_100k_over_1k=%.2f\n",
        v[10000, "jit_nam_hit"], v[10000, "jit_nam_hit"] / v[10000, "floor_hit"],
        v[10000, "files_nam_hit"] / v[10000, "jit_nam_hit"],
        v[100000, "jit_nam_hit"] / v[1000, "jit_nam_hit"]
}' "$B/rows"
