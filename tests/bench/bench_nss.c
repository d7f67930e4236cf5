/* SPDX-License-Identifier: MIT */
/*
 * NSS lookup benchmark (make bench-nss; driven by bench-nss.sh, which runs
 * each mode in its own mount namespace).
 *
 *   bench_nss prepare DIR N...   snapshot and passwd files for each N
 *   bench_nss entry NSSLIB N     at the entry points: libnss_jit's
 *                                _nss_jit_getpw*_r, glibc's own
 *                                _nss_files_getpw*_r over a passwd of N
 *                                accounts, and a plain hash table (floor)
 *   bench_nss glibc LABEL N      getpwnam_r/getpwuid_r through glibc with
 *                                whatever nsswitch.conf is mounted
 *
 * Each figure is the median of ROUNDS rounds, each round at least
 * ROUND_NS long, of lookups cycling through random keys.  Output lines are
 * "ROW <N> <what> <ns per call>".
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <nss.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nss/nssdb_format.h"
#include "state/nssdb_write.h"

#define ROUNDS 7
#define ROUND_NS 40000000LL
#define KEYS 1024
#define ID_BASE 1000000u

typedef enum nss_status (*byname_fn)(const char *, struct passwd *, char *,
                                     size_t, int *);
typedef enum nss_status (*byuid_fn)(uid_t, struct passwd *, char *, size_t,
                                    int *);

static volatile uintptr_t sink;

static int64_t
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The i-th account's uid: sequential, skipping ids never handed out. */
static uint32_t
uid_of(size_t i)
{
    uint32_t id = ID_BASE;

    for (size_t k = 0; k <= i; id++)
        if (!jit_nssdb_id_forbidden(id) && k++ == i)
            return id;
    return 0;
}

static void
die(const char *what)
{
    perror(what);
    exit(1);
}

static int
prepare(const char *dir, size_t n)
{
    struct jit_nssdb_account *v = calloc(n, sizeof(*v));
    char **names = calloc(n, sizeof(char *)), **dirs = calloc(n, sizeof(char *));
    struct jit_nssdb_image img;
    char path[4096], line[512];
    FILE *base, *out;
    uint32_t id = ID_BASE;

    if (!v || !names || !dirs)
        die("calloc");
    for (size_t i = 0; i < n; i++, id++) {
        while (jit_nssdb_id_forbidden(id))
            id++;
        if (asprintf(&names[i], "u%zu", i) < 0
            || asprintf(&dirs[i], "/home/jit/u%zu", i) < 0)
            die("asprintf");
        v[i].name = names[i];
        v[i].gecos = "JIT db-admin";
        v[i].dir = dirs[i];
        v[i].shell = "/bin/bash";
        v[i].uid = v[i].gid = id;
        v[i].created = 1700000000;
        v[i].expires = 1800000000;
        v[i].requester = "alice@EXAMPLE.COM";
        v[i].ends = 1800000000;
        v[i].live = 1;
    }
    if (jit_nssdb_build(v, n, ID_BASE, ID_BASE + 2 * (uint32_t) n + 16, 1, 0,
                        &img) != 0)
        die("jit_nssdb_build");
    snprintf(path, sizeof(path), "%s/%zu/state", dir, n);
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        die(path);
    snprintf(path, sizeof(path), "%s/%zu/state/nss.db", dir, n);
    out = fopen(path, "wb");
    if (!out || fwrite(img.data, 1, img.len, out) != img.len || fclose(out))
        die(path);
    chmod(path, 0644);
    jit_nssdb_image_free(&img);

    /* The same accounts after the base system's own, as useradd would. */
    snprintf(path, sizeof(path), "%s/%zu/passwd", dir, n);
    out = fopen(path, "w");
    base = fopen("/etc/passwd", "r");
    if (!out || !base)
        die("passwd");
    while (fgets(line, sizeof(line), base))
        fputs(line, out);
    fclose(base);
    for (size_t i = 0; i < n; i++)
        fprintf(out, "%s:x:%u:%u:JIT db-admin:%s:/bin/bash\n", names[i],
                (unsigned) v[i].uid, (unsigned) v[i].gid, dirs[i]);
    if (fclose(out))
        die("passwd");
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
        free(dirs[i]);
    }
    free(names);
    free(dirs);
    free(v);
    return 0;
}

struct keys {
    char name[KEYS][24];
    uid_t uid[KEYS];
};

static void
make_keys(struct keys *k, size_t n, int hit, unsigned seed)
{
    for (int i = 0; i < KEYS; i++) {
        size_t j = (size_t) rand_r(&seed) % n;

        if (hit) {
            snprintf(k->name[i], sizeof(k->name[i]), "u%zu", j);
            k->uid[i] = uid_of(j);
        } else {
            snprintf(k->name[i], sizeof(k->name[i]), "miss%zu", j);
            k->uid[i] = 3000000 + (uid_t) j;
        }
    }
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;

    return x < y ? -1 : x > y;
}

/* Median ns per call of `op` over ROUNDS rounds. */
#define MEASURE(result, op)                                              \
    do {                                                                 \
        int64_t per_[ROUNDS];                                            \
        for (int r_ = 0; r_ < ROUNDS; r_++) {                            \
            int64_t t0_ = now(), t_;                                     \
            long calls_ = 0;                                             \
            do {                                                         \
                for (int i = 0; i < 64; i++, calls_++) {                 \
                    int k = (int) (calls_ % KEYS);                       \
                    op;                                                  \
                }                                                        \
                t_ = now() - t0_;                                        \
            } while (t_ < ROUND_NS);                                     \
            per_[r_] = t_ * 1000 / calls_; /* ns * 1000 */              \
        }                                                                \
        qsort(per_, ROUNDS, sizeof(per_[0]), cmp_i64);                   \
        (result) = (double) per_[ROUNDS / 2] / 1000.0;                   \
    } while (0)

/* The floor: an open-addressing table of names, nothing else. */
struct floor {
    char (*names)[24];
    uint32_t *slot, mask;
};

static void
floor_build(struct floor *f, size_t n)
{
    uint32_t b = 1;

    while (b <= 2 * n)
        b <<= 1;
    f->names = calloc(n, sizeof(*f->names));
    f->slot = calloc(b, sizeof(*f->slot));
    f->mask = b - 1;
    if (!f->names || !f->slot)
        die("calloc");
    for (size_t i = 0; i < n; i++) {
        uint32_t h;

        snprintf(f->names[i], sizeof(f->names[i]), "u%zu", i);
        h = jit_nssdb_hash_name(f->names[i]);
        while (f->slot[h & f->mask])
            h++;
        f->slot[h & f->mask] = (uint32_t) i + 1;
    }
}

static const char *
floor_find(const struct floor *f, const char *name)
{
    for (uint32_t h = jit_nssdb_hash_name(name);; h++) {
        uint32_t e = f->slot[h & f->mask];

        if (e == 0)
            return NULL;
        if (strcmp(f->names[e - 1], name) == 0)
            return f->names[e - 1];
    }
}

static int
entry(const char *nsslib, size_t n)
{
    static struct keys hit, miss;
    struct passwd pw;
    char buf[1024];
    int err;
    double v;
    void *h = dlopen(nsslib, RTLD_NOW | RTLD_LOCAL);
    byname_fn jit_nam, files_nam;
    byuid_fn jit_uid, files_uid;
    struct floor fl;

    if (h == NULL) {
        fprintf(stderr, "dlopen %s: %s\n", nsslib, dlerror());
        return 1;
    }
    jit_nam = (byname_fn) dlsym(h, "_nss_jit_getpwnam_r");
    jit_uid = (byuid_fn) dlsym(h, "_nss_jit_getpwuid_r");
    /* nss_files lives in libc since glibc 2.34 (GLIBC_PRIVATE). */
    files_nam = (byname_fn) dlsym(RTLD_DEFAULT, "_nss_files_getpwnam_r");
    files_uid = (byuid_fn) dlsym(RTLD_DEFAULT, "_nss_files_getpwuid_r");
    if (!jit_nam || !jit_uid || !files_nam || !files_uid) {
        fprintf(stderr, "dlsym: missing entry points\n");
        return 1;
    }
    make_keys(&hit, n, 1, 1);
    make_keys(&miss, n, 0, 2);
    if (jit_nam(hit.name[0], &pw, buf, sizeof(buf), &err)
            != NSS_STATUS_SUCCESS
        || files_nam(hit.name[0], &pw, buf, sizeof(buf), &err)
               != NSS_STATUS_SUCCESS) {
        fprintf(stderr, "sanity: %s not found through both\n", hit.name[0]);
        return 1;
    }
    floor_build(&fl, n);

    MEASURE(v, sink += (uintptr_t) floor_find(&fl, hit.name[k]));
    printf("ROW %zu floor_hit %.1f\n", n, v);
    MEASURE(v, sink += jit_nam(hit.name[k], &pw, buf, sizeof(buf), &err));
    printf("ROW %zu jit_nam_hit %.1f\n", n, v);
    MEASURE(v, sink += jit_nam(miss.name[k], &pw, buf, sizeof(buf), &err));
    printf("ROW %zu jit_nam_miss %.1f\n", n, v);
    MEASURE(v, sink += jit_uid(hit.uid[k], &pw, buf, sizeof(buf), &err));
    printf("ROW %zu jit_uid_hit %.1f\n", n, v);
    MEASURE(v, sink += jit_uid(miss.uid[k], &pw, buf, sizeof(buf), &err));
    printf("ROW %zu jit_uid_miss %.1f\n", n, v);
    MEASURE(v, sink += files_nam(hit.name[k], &pw, buf, sizeof(buf), &err));
    printf("ROW %zu files_nam_hit %.1f\n", n, v);
    MEASURE(v, sink += files_nam(miss.name[k], &pw, buf, sizeof(buf), &err));
    printf("ROW %zu files_nam_miss %.1f\n", n, v);
    MEASURE(v, sink += files_uid(hit.uid[k], &pw, buf, sizeof(buf), &err));
    printf("ROW %zu files_uid_hit %.1f\n", n, v);
    MEASURE(v, sink += files_uid(miss.uid[k], &pw, buf, sizeof(buf), &err));
    printf("ROW %zu files_uid_miss %.1f\n", n, v);
    return 0;
}

static int
through_glibc(const char *label, size_t n)
{
    static struct keys hit, miss;
    struct passwd pw, *res;
    char buf[1024];
    double v;

    make_keys(&hit, n, 1, 1);
    make_keys(&miss, n, 0, 2);
    if (getpwnam_r(hit.name[0], &pw, buf, sizeof(buf), &res) != 0
        || res == NULL) {
        fprintf(stderr, "sanity: %s not found through glibc\n", hit.name[0]);
        return 1;
    }
    MEASURE(v, sink += (uintptr_t) getpwnam_r(hit.name[k], &pw, buf,
                                              sizeof(buf), &res));
    printf("ROW %zu %s_nam_hit %.1f\n", n, label, v);
    MEASURE(v, sink += (uintptr_t) getpwnam_r(miss.name[k], &pw, buf,
                                              sizeof(buf), &res));
    printf("ROW %zu %s_nam_miss %.1f\n", n, label, v);
    MEASURE(v, sink += (uintptr_t) getpwuid_r(hit.uid[k], &pw, buf,
                                              sizeof(buf), &res));
    printf("ROW %zu %s_uid_hit %.1f\n", n, label, v);
    return 0;
}

int
main(int argc, char **argv)
{
    uint32_t n;

    if (argc >= 3 && strcmp(argv[1], "prepare") == 0) {
        for (int i = 3; i < argc; i++)
            prepare(argv[2], (size_t) strtoul(argv[i], NULL, 10));
        return 0;
    }
    if (argc == 4 && (n = (uint32_t) strtoul(argv[3], NULL, 10)) > 0) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        if (strcmp(argv[1], "entry") == 0)
            return entry(argv[2], n);
        if (strcmp(argv[1], "glibc") == 0)
            return through_glibc(argv[2], n);
    }
    fprintf(stderr, "usage: bench_nss prepare DIR N... | entry NSSLIB N | "
                    "glibc LABEL N\n");
    return 2;
}
