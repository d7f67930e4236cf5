/* SPDX-License-Identifier: MIT */
/* Times as the API and our output write them: RFC 3339, UTC, seconds. */
#ifndef JIT_TIMEFMT_H
#define JIT_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#pragma GCC visibility push(hidden)

#define JIT_TIME_LEN 21 /* "2026-11-24T10:00:00Z" + NUL */

/* Write t as YYYY-MM-DDTHH:MM:SSZ; "-" if it cannot be represented. */
void jit_time_format(int64_t t, char buf[JIT_TIME_LEN]);

/* Parse an RFC 3339 UTC time: YYYY-MM-DDTHH:MM:SS, optional fraction
 * (dropped), then Z or +00:00.  Years 1970..9999; every field checked
 * (February 29 only in leap years; a leap second counts as :59).
 * Returns 0 or -EINVAL. */
int jit_time_parse(const char *s, int64_t *out);

#pragma GCC visibility pop

#endif
