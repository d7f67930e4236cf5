/* SPDX-License-Identifier: MIT */
/*
 * Time for waiting, as opposed to time for grants: the monotonic clock
 * that deadlines are measured on, and when to try a failed step again.
 */
#ifndef JIT_CLOCK_H
#define JIT_CLOCK_H

#include <stdint.h>

#pragma GCC visibility push(hidden)

/* CLOCK_MONOTONIC in milliseconds: for deadlines, which a change of the
 * wall clock must not move. */
int64_t jit_mono_ms(void);

/* When to try again after `failures` failures (0 for the first): min
 * seconds after now, doubling with each further failure, at most max. */
int64_t jit_backoff(int64_t now, int failures, int64_t min, int64_t max);

#pragma GCC visibility pop

#endif
