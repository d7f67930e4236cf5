/* SPDX-License-Identifier: MIT */
/* Time for waiting: the monotonic clock and retry times (clock.h). */
#include "config.h"

#include <time.h>

#include "core/clock.h"

int64_t
jit_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
jit_backoff(int64_t now, int failures, int64_t min, int64_t max)
{
    int64_t d = min;

    for (int i = 0; i < failures && d < max; i++)
        d *= 2;
    return now + (d < max ? d : max);
}
