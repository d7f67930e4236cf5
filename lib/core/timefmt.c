/* SPDX-License-Identifier: MIT */
/* RFC 3339 UTC times (see timefmt.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/timefmt.h"

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

static int
digits(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil), so no TZ or timegm is involved. */
static int64_t
days_from_civil(int y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int
jit_time_parse(const char *s, int64_t *out)
{
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30,
                                 31 };
    int y, mo, d, h, mi, sec, leap;
    const char *p;

    if (s == NULL || strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-'
        || digits(s + 5, 2, &mo) || s[7] != '-' || digits(s + 8, 2, &d)
        || (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h)
        || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':'
        || digits(s + 17, 2, &sec))
        return -EINVAL;
    p = s + 19;
    if (*p == '.') {
        if (p[1] < '0' || p[1] > '9')
            return -EINVAL;
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    }
    if (!((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0')
        && strcmp(p, "+00:00") != 0)
        return -EINVAL;
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1
        || d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 || mi > 59
        || sec > 60)
        return -EINVAL;
    if (sec == 60)
        sec = 59;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
    return 0;
}
