/* SPDX-License-Identifier: MIT */
/* Unit tests: account names, ids and strict numbers (lib/core/validate.c);
 * (doc/design.md, threats C1, C2). */
#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/validate.h"
#include "testlib.h"

START_TEST(test_names_rejected)
{
    static const char *const bad[] = {
        "", "0day", "1000", "0x10", "-rf", "../x", "a/b", "a:b", "a b",
        "a\nb", "a\tb", "ROOT", "Root", "root", "daemon", "nobody", "sudo",
        "wheel", "docker", "adm", "shadow", "disk", "lxd", "systemd-network",
        "_apt", "caf\xc3\xa9", "a$", "a@b", "abcdefghijklmnopqrstuvwxyz0123456",
        ".hidden", "a;id", "$(id)", "--help",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(jit_name_check(bad[i]) == -EINVAL,
                      "accepted bad name #%zu", i);
    ck_assert_int_eq(jit_name_check(NULL), -EINVAL);
}
END_TEST

START_TEST(test_names_accepted)
{
    static const char *const good[] = {
        "alice", "a", "db-admin", "alice.smith", "bob_2", "x0",
        "abcdefghijklmnopqrstuvwxyz012345", /* 32 */
    };

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ck_assert_msg(jit_name_check(good[i]) == 0, "refused %s", good[i]);
}
END_TEST

START_TEST(test_name_nul_inside)
{
    /* "a\0b" is "a" to C: the validator sees only what the NUL leaves. */
    const char s[] = { 'a', '\0', 'b', '\0' };

    ck_assert_int_eq(jit_name_check(s), 0);
    ck_assert_str_eq(s, "a");
}
END_TEST

START_TEST(test_ids)
{
    ck_assert_int_eq(jit_id_check(70000, 70000, 99999), 0);
    ck_assert_int_eq(jit_id_check(99999, 70000, 99999), 0);
    ck_assert_int_eq(jit_id_check(69999, 70000, 99999), -EINVAL);
    ck_assert_int_eq(jit_id_check(100000, 70000, 99999), -EINVAL);
    /* Forbidden whatever the range says. */
    ck_assert_int_eq(jit_id_check(0, 0, UINT32_MAX), -EINVAL);
    ck_assert_int_eq(jit_id_check(65534, 1000, 200000), -EINVAL);
    ck_assert_int_eq(jit_id_check(65535, 1000, 200000), -EINVAL);
    ck_assert_int_eq(jit_id_check(65536, 1000, 200000), -EINVAL);
    ck_assert_int_eq(jit_id_check(131070, 1000, 200000), -EINVAL);
    ck_assert_int_eq(jit_id_check(UINT32_MAX, 1000, UINT32_MAX), -EINVAL);
    ck_assert_int_eq(jit_id_check(0x80000000u, 1000, UINT32_MAX), -EINVAL);
    ck_assert_int_eq(jit_id_check(999, 1, 200000), -EINVAL);
    ck_assert_int_eq(jit_id_check(1000, 1, 200000), 0);
}
END_TEST

START_TEST(test_parse_u32)
{
    static const char *const bad[] = { "", "-1", "+1", " 1", "1 ", "1e3",
                                       "0x3e8", "01", "1.0", "a", "1a" };
    uint32_t v = 7;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(jit_parse_u32(bad[i], 0, UINT32_MAX, &v) == -EINVAL,
                      "accepted \"%s\"", bad[i]);
    ck_assert_int_eq(jit_parse_u32("4294967296", 0, UINT32_MAX, &v), -ERANGE);
    ck_assert_int_eq(jit_parse_u32("99999999999", 0, UINT32_MAX, &v),
                     -ERANGE);
    ck_assert_int_eq(jit_parse_u32("5", 6, 9, &v), -ERANGE);
    ck_assert_uint_eq(v, 7);
    ck_assert_int_eq(jit_parse_u32("0", 0, 9, &v), 0);
    ck_assert_uint_eq(v, 0);
    ck_assert_int_eq(jit_parse_u32("4294967295", 0, UINT32_MAX, &v), 0);
    ck_assert_uint_eq(v, UINT32_MAX);
    ck_assert_int_eq(jit_parse_u32(NULL, 0, 9, &v), -EINVAL);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("validate");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_names_rejected);
    tcase_add_test(tc, test_names_accepted);
    tcase_add_test(tc, test_name_nul_inside);
    tcase_add_test(tc, test_ids);
    tcase_add_test(tc, test_parse_u32);
    suite_add_tcase(s, tc);
    return t_run(s);
}
