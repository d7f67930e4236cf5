/* SPDX-License-Identifier: MIT */
/*
 * Reading a process's credentials from /proc/PID/status, as the check for
 * groups no longer granted does (lib/daemon/restrict.c).
 */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "daemon/restrict.h"
#include "testlib.h"

START_TEST(test_parse)
{
    struct jit_proc_creds c;

    ck_assert_int_eq(jit_proc_creds_parse(
        "Name:\tsleep\nState:\tS (sleeping)\nUid:\t1000\t1001\t1002\t1003\n"
        "Gid:\t2000\t2001\t2002\t2003\nGroups:\t44 100 \nNgid:\t0\n", &c), 0);
    ck_assert_int_eq(c.state, 'S');
    ck_assert_uint_eq(c.uid[0], 1000);
    ck_assert_uint_eq(c.uid[3], 1003);
    ck_assert_uint_eq(c.gid[1], 2001);
    ck_assert_uint_eq(c.n_groups, 2);
    ck_assert_uint_eq(c.groups[0], 44);
    ck_assert_uint_eq(c.groups[1], 100);
    jit_proc_creds_free(&c);
    /* No supplementary groups: an empty Groups line. */
    ck_assert_int_eq(jit_proc_creds_parse(
        "Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n", &c), 0);
    ck_assert_uint_eq(c.n_groups, 0);
    jit_proc_creds_free(&c);
    /* A zombie is dead only as its group's last thread: a first thread
     * that exited alone leaves the others running with its ids. */
    ck_assert_int_eq(jit_proc_creds_parse(
        "State:\tZ (zombie)\nThreads:\t2\nUid:\t7\t7\t7\t7\n"
        "Gid:\t7\t7\t7\t7\nGroups:\t44\n", &c), 0);
    ck_assert_uint_eq(c.threads, 2);
    ck_assert(!jit_proc_creds_dead(&c));
    jit_proc_creds_free(&c);
    ck_assert_int_eq(jit_proc_creds_parse(
        "State:\tZ (zombie)\nThreads:\t1\nUid:\t7\t7\t7\t7\n"
        "Gid:\t7\t7\t7\t7\nGroups:\t44\n", &c), 0);
    ck_assert(jit_proc_creds_dead(&c));
    jit_proc_creds_free(&c);
    /* (no Threads line: not taken as dead) */
    ck_assert_int_eq(jit_proc_creds_parse(
        "State:\tZ (zombie)\nUid:\t7\t7\t7\t7\n"
        "Gid:\t7\t7\t7\t7\nGroups:\t44\n", &c), 0);
    ck_assert(!jit_proc_creds_dead(&c));
    jit_proc_creds_free(&c);
    ck_assert_int_eq(jit_proc_creds_parse(
        "State:\tS (sleeping)\nThreads:\t1\nUid:\t7\t7\t7\t7\n"
        "Gid:\t7\t7\t7\t7\nGroups:\t44\n", &c), 0);
    ck_assert(!jit_proc_creds_dead(&c));
    jit_proc_creds_free(&c);
    /* Missing or broken lines: refused, nothing guessed. */
    ck_assert_int_eq(jit_proc_creds_parse("Uid:\t1\t2\t3\t4\n", &c), -EINVAL);
    ck_assert_int_eq(jit_proc_creds_parse(
        "Uid:\t1\t2\t3\nGid:\t0\t0\t0\t0\nGroups:\n", &c), -EINVAL);
    ck_assert_int_eq(jit_proc_creds_parse(
        "Uid:\t1\t2\t3\t4\nGid:\t0\t0\t0\t0\nGroups:\t12x\n", &c), -EINVAL);
    ck_assert_int_eq(jit_proc_creds_parse(
        "Uid:\t99999999999\t2\t3\t4\nGid:\t0\t0\t0\t0\nGroups:\n", &c),
        -EINVAL);
}
END_TEST

START_TEST(test_own_status)
{
    struct jit_proc_creds c;
    char buf[65536];
    size_t n;
    FILE *f = fopen("/proc/self/status", "re");

    ck_assert_ptr_nonnull(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    ck_assert_int_eq(jit_proc_creds_parse(buf, &c), 0);
    ck_assert_uint_eq(c.uid[0], getuid());
    ck_assert_uint_eq(c.gid[1], getegid());
    ck_assert_uint_eq(c.n_groups, (size_t) getgroups(0, NULL));
    jit_proc_creds_free(&c);
}
END_TEST

int
main(void)
{
    Suite *su = suite_create("restrict");
    TCase *tc = tcase_create("creds");

    tcase_add_test(tc, test_parse);
    tcase_add_test(tc, test_own_status);
    suite_add_tcase(su, tc);
    return t_run(su);
}
