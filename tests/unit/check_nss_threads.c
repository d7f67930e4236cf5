/* SPDX-License-Identifier: MIT */
/*
 * Threads and fork (doc/design.md, threat E3): 16 threads do mixed
 * lookups through lib/nss/nss_ops.c while the snapshot is replaced 100 times, and a child
 * forked in the middle of it all can still look up.  No crash, and no
 * wrong answer: every answer comes whole from one generation.
 *
 * Each generation g holds "stable0".."stable49" (same uids always) and
 * "gen<g>" at uid T_ID_MIN + 100 + g % 2; every gecos is "gen <g>" and
 * every home "/home/jit/<name>", so a torn or mixed answer shows.
 * Also run under ThreadSanitizer by .ci/run.
 */
#include "config.h"

#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nss/nss_ops.h"
#include "testlib.h"

#define THREADS 16
#define REPLACEMENTS 100
#define STABLE 50

static char *dir, *path;
static struct jit_nssdb_cache cache;
static atomic_int stop, bad, lookups;
/* The first wrong answer, for the failure message. */
static char first_bad[160];
static pthread_mutex_t first_bad_mu = PTHREAD_MUTEX_INITIALIZER;

static void
note_bad(int kind, enum nss_status st, int err, const char *name)
{
    pthread_mutex_lock(&first_bad_mu);
    if (first_bad[0] == '\0')
        snprintf(first_bad, sizeof(first_bad), "case %d: status %d errno %d name %s",
                 kind, (int) st, err, name ? name : "-");
    pthread_mutex_unlock(&first_bad_mu);
    atomic_fetch_add(&bad, 1);
}

static void
write_generation(int g)
{
    struct jit_nssdb_account v[STABLE + 1];
    char names[STABLE + 1][32], dirs[STABLE + 1][64], gecos[32];
    struct jit_nssdb_image img;
    static const uint32_t groups[] = { 27 };

    snprintf(gecos, sizeof(gecos), "gen %d", g);
    for (int i = 0; i <= STABLE; i++) {
        if (i < STABLE)
            snprintf(names[i], sizeof(names[i]), "stable%d", i);
        else
            snprintf(names[i], sizeof(names[i]), "gen%d", g);
        snprintf(dirs[i], sizeof(dirs[i]), "/home/jit/%s", names[i]);
        memset(&v[i], 0, sizeof(v[i]));
        v[i].name = names[i];
        v[i].gecos = gecos;
        v[i].dir = dirs[i];
        v[i].shell = "/bin/sh";
        v[i].uid = v[i].gid = i < STABLE ? T_ID_MIN + (uint32_t) i
                                         : T_ID_MIN + 100 + (uint32_t) (g % 2);
        v[i].gids = groups;
        v[i].n_gids = 1;
        v[i].created = 1700000000;
        v[i].expires = 1700003600;
        v[i].requester = "alice@JIT.TEST";
    }
    ck_assert_int_eq(jit_nssdb_build(v, STABLE + 1, T_ID_MIN, T_ID_MAX,
                                     (uint64_t) g, 0, &img), 0);
    t_write_file(path, img.data, img.len, 0644);
    jit_nssdb_image_free(&img);
}

static int
consistent(const struct passwd *pw)
{
    char want_dir[64];
    int g;

    if (sscanf(pw->pw_gecos, "gen %d", &g) != 1)
        return 0;
    snprintf(want_dir, sizeof(want_dir), "/home/jit/%s", pw->pw_name);
    if (strcmp(pw->pw_dir, want_dir) != 0 || pw->pw_gid != pw->pw_uid)
        return 0;
    if (strncmp(pw->pw_name, "stable", 6) == 0)
        return pw->pw_uid == T_ID_MIN + (uid_t) atoi(pw->pw_name + 6);
    return strncmp(pw->pw_name, "gen", 3) == 0
        && atoi(pw->pw_name + 3) == g
        && pw->pw_uid == T_ID_MIN + 100 + (uid_t) (g % 2);
}

static void *
reader(void *arg)
{
    unsigned seed = (unsigned) (uintptr_t) arg;
    char buf[512], name[32];
    struct passwd pw;
    struct group gr;
    int err;

    while (!atomic_load(&stop)) {
        int k = (int) (rand_r(&seed) % STABLE);
        enum nss_status st;

        switch (rand_r(&seed) % 5) {
        case 0:
            snprintf(name, sizeof(name), "stable%d", k);
            st = jit_nss_getpwnam(&cache, name, &pw, buf, sizeof(buf), &err);
            if (st != NSS_STATUS_SUCCESS || !consistent(&pw))
                note_bad(0, st, err, st == NSS_STATUS_SUCCESS ? pw.pw_gecos : name);
            break;
        case 1:
            st = jit_nss_getpwuid(&cache, T_ID_MIN + (uid_t) k, &pw, buf,
                                  sizeof(buf), &err);
            if (st != NSS_STATUS_SUCCESS || !consistent(&pw))
                note_bad(1, st, err, st == NSS_STATUS_SUCCESS ? pw.pw_gecos : NULL);
            break;
        case 2:
            /* Present in every other generation: either answer is fine,
             * a mixed one is not. */
            st = jit_nss_getpwuid(&cache, T_ID_MIN + 100 + (uid_t) (k % 2),
                                  &pw, buf, sizeof(buf), &err);
            if (st == NSS_STATUS_SUCCESS && !consistent(&pw))
                note_bad(2, st, err, pw.pw_name);
            break;
        case 3:
            st = jit_nss_getgrgid(&cache, T_ID_MIN + (gid_t) k, &gr, buf,
                                  sizeof(buf), &err);
            snprintf(name, sizeof(name), "stable%d", k);
            if (st != NSS_STATUS_SUCCESS || strcmp(gr.gr_name, name) != 0)
                note_bad(3, st, err, name);
            break;
        default: {
            long start = 1, size = 4;
            gid_t *groups = malloc(4 * sizeof(gid_t));

            snprintf(name, sizeof(name), "stable%d", k);
            groups[0] = T_ID_MIN + (gid_t) k;
            st = jit_nss_initgroups(&cache, name, groups[0], &start, &size,
                                    &groups, 0, &err);
            if (st != NSS_STATUS_SUCCESS || start != 2 || groups[1] != 27)
                note_bad(4, st, err, name);
            free(groups);
            break;
        }
        }
        atomic_fetch_add(&lookups, 1);
    }
    return NULL;
}

/* In the child only this thread exists; the others' pins must not block
 * it from seeing a new snapshot. */
static int
child_lookups(void)
{
    char buf[512];
    struct passwd pw;
    int err;

    jit_nssdb_cache_atfork_child(&cache);
    if (jit_nss_getpwnam(&cache, "stable7", &pw, buf, sizeof(buf), &err)
        != NSS_STATUS_SUCCESS || !consistent(&pw))
        return 1;
    write_generation(1000);
    if (jit_nss_getpwnam(&cache, "gen1000", &pw, buf, sizeof(buf), &err)
        != NSS_STATUS_SUCCESS || !consistent(&pw))
        return 2;
    return 0;
}

START_TEST(test_threads_replace_fork)
{
    pthread_t t[THREADS];
    int status = -1;
    pid_t pid;

    dir = t_mkdtemp();
    path = t_path(dir, "nss.db");
    write_generation(0);
    memset(&cache, 0, sizeof(cache));
    cache.path = path;
    cache.owner = geteuid();
    cache.recheck_s = 0; /* re-check on every call: most remaps */
    cache.checked_s = INT64_MIN;

    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, reader,
                                        (void *) (uintptr_t) (i + 1)), 0);
    for (int g = 1; g <= REPLACEMENTS; g++) {
        write_generation(g);
        /* Pacing, not synchronisation: the readers get time between
         * replacements; nothing below depends on what they did. */
        usleep(2000);
        if (g == REPLACEMENTS / 2) {
            pid = fork();
            ck_assert_int_ge(pid, 0);
            if (pid == 0)
                _exit(child_lookups());
            ck_assert_int_eq(waitpid(pid, &status, 0), pid);
            ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                          "child lookups failed: %d", status);
        }
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    ck_assert_msg(atomic_load(&bad) == 0, "%d wrong answers; the first: %s",
                  atomic_load(&bad), first_bad);
    ck_assert_int_gt(atomic_load(&lookups), 1000);
    jit_nssdb_cache_reset(&cache);
    t_rmtree(dir);
    free(path);
    free(dir);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("nss_threads");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_threads_replace_fork);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    /* fork() in the test itself: keep check from forking around it too. */
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
