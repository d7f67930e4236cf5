/* RFC 3339 UTC times (see timefmt.h). */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "timefmt.h"

void
jit_time_format(int64_t t, char buf[JIT_TIME_LEN])
{
    time_t tt = (time_t) t;
    struct tm tm;

    if ((int64_t) tt != t || gmtime_r(&tt, &tm) == NULL
        || tm.tm_year < 0 || tm.tm_year > 8099
        || strftime(buf, JIT_TIME_LEN, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, JIT_TIME_LEN, "-");
}
