/* SPDX-License-Identifier: MIT */
/*
 * jit-apid's routing: a request's path to the hosts' or the people's
 * side, and the answers every path shares (wrong method, too large).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "api.h"
#include "core/validate.h"

/* Split url into at most max segments (in buf); the count, or -1. */
static int
split(const char *url, char *buf, size_t buflen, char **seg, int max)
{
    int n = 0;
    char *save = NULL, *p;

    if (snprintf(buf, buflen, "%s", url) >= (int) buflen)
        return -1;
    for (p = strtok_r(buf, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
        if (n == max)
            return -1;
        seg[n++] = p;
    }
    return n;
}

void
apid_route(struct apid *a, const struct apid_req *q, struct apid_reply *r)
{
    char buf[1024], *s[8];
    int n;

    if (strcmp(q->method, "GET") != 0 && strcmp(q->method, "POST") != 0) {
        apid_reply_error(r, 405, "method_not_allowed", "GET or POST");
        return;
    }
    n = split(q->url, buf, sizeof(buf), s, 8);
    if (n < 2 || strcmp(s[0], "v1") != 0) {
        apid_reply_error(r, 404, "not_found", "no such resource");
        return;
    }
    if (strcmp(s[1], "hosts") == 0 && n >= 4) {
        if (jit_host_problem(s[2]) != NULL) {
            apid_reply_error(r, 401, "unauthorized", "host authentication"
                             " failed for ?");
            return;
        }
        apid_host_api(a, q, s[2], s + 3, n - 3, r);
        return;
    }
    apid_people_api(a, q, s, n, r);
}
