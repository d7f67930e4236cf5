/* SPDX-License-Identifier: MIT */
/*
 * Unit tests: the glibc NSS contract of every entry point (doc/design.md,
 * threat E5),
 * run through lib/nss/nss_ops.c on a snapshot in a temporary directory.
 * buflen 0, 1, needed-1 give TRYAGAIN/ERANGE; needed gives SUCCESS with
 * errno 0; a canary right after the buffer is never touched; unknown
 * keys give NOTFOUND/ENOENT.
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nss/nss_ops.h"
#include "testlib.h"

#define CANARY 0xa5

static char *dir, *path;
static struct jit_nssdb_cache cache;
static struct t_accounts accts;

static void
setup(void)
{
    struct jit_nssdb_image img;

    dir = t_mkdtemp();
    path = t_path(dir, "nss.db");
    t_accounts_make(&accts, 10, "user", "JIT a fairly long gecos field");
    t_build(&accts, 1, &img);
    t_write_file(path, img.data, img.len, 0644);
    jit_nssdb_image_free(&img);
    memset(&cache, 0, sizeof(cache));
    cache.path = path;
    cache.owner = geteuid();
    cache.recheck_s = 0;
    cache.checked_s = INT64_MIN;
}

static void
teardown(void)
{
    jit_nssdb_cache_reset(&cache);
    t_accounts_free(&accts);
    t_rmtree(dir);
    free(path);
    free(dir);
}

/* One lookup with a buffer of exactly buflen bytes followed by canaries. */
typedef enum nss_status (*lookup_fn)(void *result, char *buf, size_t len,
                                     int *err);

static enum nss_status
call(lookup_fn fn, void *result, size_t buflen, int *err)
{
    unsigned char *mem = malloc(buflen + 64);
    enum nss_status st;

    ck_assert_ptr_nonnull(mem);
    memset(mem, CANARY, buflen + 64);
    st = fn(result, (char *) mem, buflen, err);
    for (size_t i = buflen; i < buflen + 64; i++)
        ck_assert_msg(mem[i] == CANARY, "wrote past buflen %zu at +%zu",
                      buflen, i - buflen);
    free(mem);
    return st;
}

/* Find the smallest buffer that works, then check the contract around
 * it.  The result structures point into the buffer, so they are only
 * inspected by the caller's own run with a buffer it keeps. */
static size_t
check_contract(lookup_fn fn, void *result)
{
    size_t needed = 0;
    int err;

    for (size_t len = 0; len < 8192; len++) {
        err = -1;
        enum nss_status st = call(fn, result, len, &err);

        if (st == NSS_STATUS_SUCCESS) {
            ck_assert_int_eq(err, 0);
            needed = len;
            break;
        }
        ck_assert_int_eq(st, NSS_STATUS_TRYAGAIN);
        ck_assert_int_eq(err, ERANGE);
    }
    ck_assert_uint_gt(needed, 1);
    err = -1;
    ck_assert_int_eq(call(fn, result, 0, &err), NSS_STATUS_TRYAGAIN);
    ck_assert_int_eq(err, ERANGE);
    ck_assert_int_eq(call(fn, result, 1, &err), NSS_STATUS_TRYAGAIN);
    ck_assert_int_eq(call(fn, result, needed - 1, &err), NSS_STATUS_TRYAGAIN);
    ck_assert_int_eq(err, ERANGE);
    ck_assert_int_eq(call(fn, result, needed, &err), NSS_STATUS_SUCCESS);
    ck_assert_int_eq(err, 0);
    return needed;
}

static const char *want_name = "user3";
static uid_t want_id = T_ID_MIN + 3;

static enum nss_status
pwnam(void *r, char *b, size_t l, int *e)
{
    return jit_nss_getpwnam(&cache, want_name, r, b, l, e);
}
static enum nss_status
pwuid(void *r, char *b, size_t l, int *e)
{
    return jit_nss_getpwuid(&cache, want_id, r, b, l, e);
}
static enum nss_status
grnam(void *r, char *b, size_t l, int *e)
{
    return jit_nss_getgrnam(&cache, want_name, r, b, l, e);
}
static enum nss_status
grgid(void *r, char *b, size_t l, int *e)
{
    return jit_nss_getgrgid(&cache, want_id, r, b, l, e);
}
static enum nss_status
spnam(void *r, char *b, size_t l, int *e)
{
    return jit_nss_getspnam(&cache, want_name, r, b, l, e);
}

START_TEST(test_passwd_contract)
{
    struct passwd pw;
    char buf[1024];
    int err;
    size_t needed = check_contract(pwnam, &pw);

    /* name, "x", gecos, dir, shell, each NUL-terminated */
    ck_assert_uint_eq(needed, 6 + 2 + 30 + 16 + 10);
    check_contract(pwuid, &pw);
    ck_assert_int_eq(jit_nss_getpwnam(&cache, "user3", &pw, buf, sizeof(buf),
                                      &err), NSS_STATUS_SUCCESS);
    ck_assert_str_eq(pw.pw_name, "user3");
    ck_assert_str_eq(pw.pw_passwd, "x");
    ck_assert_uint_eq(pw.pw_uid, T_ID_MIN + 3);
    ck_assert_uint_eq(pw.pw_gid, T_ID_MIN + 3);
    ck_assert_str_eq(pw.pw_dir, "/home/jit/user3");
    ck_assert_str_eq(pw.pw_shell, "/bin/bash");
}
END_TEST

START_TEST(test_group_contract)
{
    struct group gr;
    char buf[1024];
    int err;

    check_contract(grnam, &gr);
    check_contract(grgid, &gr);
    /* An odd buffer address must still give an aligned gr_mem. */
    ck_assert_int_eq(jit_nss_getgrgid(&cache, T_ID_MIN + 3, &gr, buf + 1,
                                      sizeof(buf) - 1, &err),
                     NSS_STATUS_SUCCESS);
    ck_assert_str_eq(gr.gr_name, "user3");
    ck_assert_uint_eq(gr.gr_gid, T_ID_MIN + 3);
    ck_assert_uint_eq((uintptr_t) gr.gr_mem % sizeof(char *), 0);
    ck_assert_ptr_null(gr.gr_mem[0]);
}
END_TEST

START_TEST(test_shadow_contract)
{
    struct spwd sp;
    char buf[1024];
    int err;

    ck_assert_uint_eq(check_contract(spnam, &sp), 6 + 3);
    ck_assert_int_eq(jit_nss_getspnam(&cache, "user3", &sp, buf, sizeof(buf),
                                      &err), NSS_STATUS_SUCCESS);
    ck_assert_str_eq(sp.sp_pwdp, "!*");
    ck_assert_int_eq(sp.sp_expire, 19676);
    ck_assert_int_eq(sp.sp_lstchg, 19675);
}
END_TEST

START_TEST(test_not_found)
{
    struct passwd pw;
    struct group gr;
    struct spwd sp;
    char buf[1024];
    int err;

    err = 0;
    ck_assert_int_eq(jit_nss_getpwnam(&cache, "root", &pw, buf, sizeof(buf),
                                      &err), NSS_STATUS_NOTFOUND);
    ck_assert_int_eq(err, ENOENT);
    ck_assert_int_eq(jit_nss_getpwnam(&cache, "", &pw, buf, sizeof(buf),
                                      &err), NSS_STATUS_NOTFOUND);
    ck_assert_int_eq(jit_nss_getpwnam(&cache, NULL, &pw, buf, sizeof(buf),
                                      &err), NSS_STATUS_NOTFOUND);
    ck_assert_int_eq(jit_nss_getpwuid(&cache, 0, &pw, buf, sizeof(buf), &err),
                     NSS_STATUS_NOTFOUND);
    ck_assert_int_eq(jit_nss_getgrgid(&cache, 27, &gr, buf, sizeof(buf),
                                      &err), NSS_STATUS_NOTFOUND);
    ck_assert_int_eq(jit_nss_getspnam(&cache, "user99", &sp, buf,
                                      sizeof(buf), &err), NSS_STATUS_NOTFOUND);
    ck_assert_int_eq(err, ENOENT);
    err = 0;
    ck_assert_int_eq(jit_nss_getpwnam(&cache, "user3", &pw, NULL, 10, &err),
                     NSS_STATUS_UNAVAIL);
    ck_assert_int_eq(err, EINVAL);
    /* No snapshot at all: not found, not an error that stops the chain. */
    unlink(path);
    ck_assert_int_eq(jit_nss_getpwnam(&cache, "user3", &pw, buf, sizeof(buf),
                                      &err), NSS_STATUS_NOTFOUND);
    ck_assert_int_eq(err, ENOENT);
}
END_TEST

START_TEST(test_enumeration)
{
    struct jit_nss_cursor cur = { 0 };
    struct passwd pw;
    struct group gr;
    struct spwd sp;
    char buf[1024];
    int err, n = 0;

    /* A too-small buffer does not advance the cursor. */
    ck_assert_int_eq(jit_nss_getpwent(&cache, &cur, &pw, buf, 3, &err),
                     NSS_STATUS_TRYAGAIN);
    ck_assert_int_eq(err, ERANGE);
    while (jit_nss_getpwent(&cache, &cur, &pw, buf, sizeof(buf), &err)
           == NSS_STATUS_SUCCESS) {
        ck_assert_uint_eq(pw.pw_uid, T_ID_MIN + (uid_t) n);
        n++;
    }
    ck_assert_int_eq(n, 10);
    ck_assert_int_eq(err, ENOENT);
    cur.next = 0;
    for (n = 0; jit_nss_getgrent(&cache, &cur, &gr, buf, sizeof(buf), &err)
                == NSS_STATUS_SUCCESS; n++)
        ;
    ck_assert_int_eq(n, 10);
    cur.next = 0;
    for (n = 0; jit_nss_getspent(&cache, &cur, &sp, buf, sizeof(buf), &err)
                == NSS_STATUS_SUCCESS; n++)
        ;
    ck_assert_int_eq(n, 10);
}
END_TEST

START_TEST(test_initgroups)
{
    long start = 1, size = 2;
    gid_t *groups = malloc(2 * sizeof(gid_t));
    int err;

    ck_assert_ptr_nonnull(groups);
    groups[0] = T_ID_MIN + 2;
    /* user2 (even) has 27 and 100; the array must grow. */
    ck_assert_int_eq(jit_nss_initgroups(&cache, "user2", T_ID_MIN + 2, &start,
                                        &size, &groups, 0, &err),
                     NSS_STATUS_SUCCESS);
    ck_assert_int_eq(start, 3);
    ck_assert_int_ge(size, 3);
    ck_assert_uint_eq(groups[1], 27);
    ck_assert_uint_eq(groups[2], 100);
    /* Again: no duplicates. */
    ck_assert_int_eq(jit_nss_initgroups(&cache, "user2", T_ID_MIN + 2, &start,
                                        &size, &groups, 0, &err),
                     NSS_STATUS_SUCCESS);
    ck_assert_int_eq(start, 3);
    /* The limit is honoured. */
    start = 1;
    ck_assert_int_eq(jit_nss_initgroups(&cache, "user2", T_ID_MIN + 2, &start,
                                        &size, &groups, 2, &err),
                     NSS_STATUS_SUCCESS);
    ck_assert_int_eq(start, 2);
    start = 1;
    ck_assert_int_eq(jit_nss_initgroups(&cache, "user1", T_ID_MIN + 1, &start,
                                        &size, &groups, 0, &err),
                     NSS_STATUS_SUCCESS);
    ck_assert_int_eq(start, 1);
    ck_assert_int_eq(jit_nss_initgroups(&cache, "nobody", 65534, &start,
                                        &size, &groups, 0, &err),
                     NSS_STATUS_NOTFOUND);
    ck_assert_int_eq(err, ENOENT);
    free(groups);
}
END_TEST

START_TEST(test_replacement_seen)
{
    struct t_accounts b;
    struct jit_nssdb_image img;
    struct passwd pw;
    char buf[1024];
    int err;

    ck_assert_int_eq(jit_nss_getpwnam(&cache, "user3", &pw, buf, sizeof(buf),
                                      &err), NSS_STATUS_SUCCESS);
    t_accounts_make(&b, 3, "other", "x");
    t_build(&b, 2, &img);
    t_write_file(path, img.data, img.len, 0644);
    ck_assert_int_eq(jit_nss_getpwnam(&cache, "user3", &pw, buf, sizeof(buf),
                                      &err), NSS_STATUS_NOTFOUND);
    ck_assert_int_eq(jit_nss_getpwnam(&cache, "other1", &pw, buf, sizeof(buf),
                                      &err), NSS_STATUS_SUCCESS);
    /* A group-writable replacement is refused, even though it parses. */
    ck_assert_int_eq(chmod(path, 0664), 0);
    ck_assert_int_eq(jit_nss_getpwnam(&cache, "other1", &pw, buf, sizeof(buf),
                                      &err), NSS_STATUS_NOTFOUND);
    jit_nssdb_image_free(&img);
    t_accounts_free(&b);
}
END_TEST

START_TEST(test_miss_rechecks_at_once)
{
    struct t_accounts b;
    struct jit_nssdb_image img;
    struct passwd pw;
    char buf[1024];
    int err;

    /* Hits trust the mapping for an hour here, misses never do: an
     * account reserved a moment ago must resolve at once. */
    cache.recheck_s = 3600;
    ck_assert_int_eq(jit_nss_getpwnam(&cache, "user3", &pw, buf, sizeof(buf),
                                      &err), NSS_STATUS_SUCCESS);
    t_accounts_make(&b, 12, "user", "x");
    t_build(&b, 2, &img);
    t_write_file(path, img.data, img.len, 0644);
    ck_assert_int_eq(jit_nss_getpwnam(&cache, "user11", &pw, buf, sizeof(buf),
                                      &err), NSS_STATUS_SUCCESS);
    jit_nssdb_image_free(&img);
    t_accounts_free(&b);
}
END_TEST

static int
open_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;

    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Lookups, misses and remaps leave no descriptor behind (doc/design.md,
 * threat E6). */
START_TEST(test_no_fd_left)
{
    struct t_accounts b;
    struct jit_nssdb_image img;
    struct passwd pw;
    char buf[1024];
    int err, before = open_fds();

    for (int i = 0; i < 50; i++) {
        jit_nss_getpwnam(&cache, "user3", &pw, buf, sizeof(buf), &err);
        jit_nss_getpwnam(&cache, "nosuch", &pw, buf, sizeof(buf), &err);
        jit_nss_getpwuid(&cache, 1, &pw, buf, sizeof(buf), &err);
    }
    t_accounts_make(&b, 2, "x", "y");
    t_build(&b, 2, &img);
    t_write_file(path, img.data, img.len, 0644);
    jit_nss_getpwnam(&cache, "x1", &pw, buf, sizeof(buf), &err);
    ck_assert_int_eq(open_fds(), before);
    jit_nssdb_image_free(&img);
    t_accounts_free(&b);
}
END_TEST

/* After fork only the forking thread lives; pins that other threads held
 * in the parent would keep the child from ever remapping.  Stage that
 * exactly: both slots pinned by "threads" that are gone. */
START_TEST(test_atfork_forgets_dead_pins)
{
    struct t_accounts b;
    struct jit_nssdb_image img;
    struct passwd pw;
    char buf[1024];
    int err;

    ck_assert_int_eq(jit_nss_getpwnam(&cache, "user3", &pw, buf, sizeof(buf),
                                      &err), NSS_STATUS_SUCCESS);
    atomic_fetch_add(&cache.slot[0].readers, 1);
    atomic_fetch_add(&cache.slot[1].readers, 1);
    t_accounts_make(&b, 2, "other", "x");
    t_build(&b, 2, &img);
    t_write_file(path, img.data, img.len, 0644);
    /* Without the handler: stuck on the old snapshot. */
    ck_assert_int_eq(jit_nss_getpwnam(&cache, "other1", &pw, buf, sizeof(buf),
                                      &err), NSS_STATUS_NOTFOUND);
    jit_nssdb_cache_atfork_child(&cache);
    ck_assert_int_eq(jit_nss_getpwnam(&cache, "other1", &pw, buf, sizeof(buf),
                                      &err), NSS_STATUS_SUCCESS);
    jit_nssdb_image_free(&img);
    t_accounts_free(&b);
}
END_TEST

/* A thread's first lookup while another thread is mapping the snapshot
 * waits for that mapping instead of answering "not found" for an account
 * that exists, however slowly the other thread gets the CPU (CI, loaded:
 * a wait bounded by a count of sched_yield calls ran out).  Staged: the
 * remap flag is held by a "thread" that lets go after 500 ms. */
static void *
release_remap_later(void *arg)
{
    struct timespec ts = { 0, 500 * 1000 * 1000 };

    (void) arg;
    nanosleep(&ts, NULL);
    atomic_store(&cache.remapping, 0);
    return NULL;
}

START_TEST(test_first_lookup_waits_for_mapping)
{
    pthread_t t;
    struct passwd pw;
    char buf[1024];
    int err;

    atomic_store(&cache.remapping, 1);
    ck_assert_int_eq(pthread_create(&t, NULL, release_remap_later, NULL), 0);
    ck_assert_int_eq(jit_nss_getpwnam(&cache, "user3", &pw, buf, sizeof(buf),
                                      &err), NSS_STATUS_SUCCESS);
    pthread_join(t, NULL);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("nss_contract");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_passwd_contract);
    tcase_add_test(tc, test_group_contract);
    tcase_add_test(tc, test_shadow_contract);
    tcase_add_test(tc, test_not_found);
    tcase_add_test(tc, test_enumeration);
    tcase_add_test(tc, test_initgroups);
    tcase_add_test(tc, test_replacement_seen);
    tcase_add_test(tc, test_miss_rechecks_at_once);
    tcase_add_test(tc, test_no_fd_left);
    tcase_add_test(tc, test_atfork_forgets_dead_pins);
    tcase_add_test(tc, test_first_lookup_waits_for_mapping);
    suite_add_tcase(s, tc);
    return t_run(s);
}
