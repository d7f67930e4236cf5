/* SPDX-License-Identifier: MIT */
/* Helpers for the unit tests (see testlib.h). */
#include "config.h"

#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"

static const uint32_t even_groups[] = { 27, 100 };

char *
t_mkdtemp(void)
{
    const char *base = getenv("TMPDIR");
    char *p = NULL;

    ck_assert_int_ge(asprintf(&p, "%s/jit-test.XXXXXX", base ? base : "/tmp"),
                     0);
    ck_assert_ptr_nonnull(mkdtemp(p));
    ck_assert_int_eq(chmod(p, 0755), 0);
    return p;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void) st;
    (void) ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

void
t_rmtree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *
t_path(const char *dir, const char *name)
{
    char *p = NULL;

    ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
    return p;
}

void
t_accounts_make(struct t_accounts *a, size_t n, const char *prefix,
                const char *tag)
{
    a->n = n;
    a->v = calloc(n ? n : 1, sizeof(*a->v));
    a->names = calloc(n ? n : 1, sizeof(char *));
    a->gecos = calloc(n ? n : 1, sizeof(char *));
    a->dirs = calloc(n ? n : 1, sizeof(char *));
    ck_assert(a->v && a->names && a->gecos && a->dirs);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_ge(asprintf(&a->names[i], "%s%zu", prefix, i), 0);
        ck_assert_int_ge(asprintf(&a->gecos[i], "%s", tag), 0);
        ck_assert_int_ge(asprintf(&a->dirs[i], "/home/jit/%s", a->names[i]),
                         0);
        a->v[i].name = a->names[i];
        a->v[i].gecos = a->gecos[i];
        a->v[i].dir = a->dirs[i];
        a->v[i].shell = "/bin/bash";
        a->v[i].uid = a->v[i].gid = T_ID_MIN + (uint32_t) i;
        a->v[i].gids = i % 2 == 0 ? even_groups : NULL;
        a->v[i].n_gids = i % 2 == 0 ? 2 : 0;
        a->v[i].created = 1700000000;
        a->v[i].expires = 1700003600;
        a->v[i].requester = "alice@JIT.TEST";
        a->v[i].ends = 1700003600;
        a->v[i].live = 1;
    }
}

void
t_accounts_free(struct t_accounts *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->names[i]);
        free(a->gecos[i]);
        free(a->dirs[i]);
    }
    free(a->names);
    free(a->gecos);
    free(a->dirs);
    free(a->v);
    memset(a, 0, sizeof(*a));
}

void
t_build(const struct t_accounts *a, uint64_t gen, struct jit_nssdb_image *img)
{
    int r = jit_nssdb_build(a->v, a->n, T_ID_MIN, T_ID_MAX, gen, 1700000000,
                            img);

    ck_assert_msg(r == 0, "jit_nssdb_build: %d", r);
}

void
t_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
    char *tmp = NULL;
    int fd;

    ck_assert_int_ge(asprintf(&tmp, "%s.tmp%ld", path, (long) getpid()), 0);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t) len);
    ck_assert_int_eq(fchmod(fd, mode), 0);
    ck_assert_int_eq(close(fd), 0);
    ck_assert_int_eq(rename(tmp, path), 0);
    free(tmp);
}

int
t_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
