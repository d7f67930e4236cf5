/* SPDX-License-Identifier: MIT */
/* Unit tests: retry times and the monotonic clock (lib/core/clock.c), which
 * the outbox and the teardown both wait on. */
#include "config.h"

#include <check.h>
#include <stdint.h>

#include "core/clock.h"
#include "daemon/outbox.h"
#include "core/teardown.h"
#include "testlib.h"

START_TEST(test_backoff)
{
    /* The first failure waits min; each further one doubles it. */
    ck_assert_int_eq(jit_backoff(1000, 0, 30, 3600), 1030);
    ck_assert_int_eq(jit_backoff(1000, 1, 30, 3600), 1060);
    ck_assert_int_eq(jit_backoff(1000, 2, 30, 3600), 1120);
    ck_assert_int_eq(jit_backoff(1000, 6, 30, 3600), 1000 + 1920);
    /* 3840 would pass the cap: an hour, and an hour from then on, even
     * after more failures than the doubling could count. */
    ck_assert_int_eq(jit_backoff(1000, 7, 30, 3600), 4600);
    ck_assert_int_eq(jit_backoff(1000, 8, 30, 3600), 4600);
    ck_assert_int_eq(jit_backoff(1000, 100000, 30, 3600), 4600);
    ck_assert_int_eq(jit_backoff(1000, INT32_MAX, 30, 3600), 4600);
    /* A negative count is no failure yet. */
    ck_assert_int_eq(jit_backoff(1000, -1, 30, 3600), 1030);
    /* The outbox's and the teardown's bounds: 30 s to an hour. */
    ck_assert_int_eq(jit_backoff(0, 0, JIT_OUTBOX_RETRY_MIN,
                                 JIT_OUTBOX_RETRY_MAX), 30);
    ck_assert_int_eq(jit_backoff(0, 50, JIT_TEARDOWN_RETRY_MIN,
                                 JIT_TEARDOWN_RETRY_MAX), 3600);
}
END_TEST

START_TEST(test_mono_ms)
{
    int64_t a = jit_mono_ms(), b = jit_mono_ms();

    ck_assert_int_ge(a, 0);
    ck_assert_int_ge(b, a);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("clock");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, test_backoff);
    tcase_add_test(tc, test_mono_ms);
    suite_add_tcase(s, tc);
    return t_run(s);
}
