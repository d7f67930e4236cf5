/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/relay_proto.h"
#include "core/validate.h"
#include "login/relay_client.h"

/* Beyond the API's own timeout (the daemon's call is bounded by it): the
 * daemon's share of the wait, after which the login asks the API itself. */
#define SLACK_MS 2000
/* The daemon says "taken" before it calls the API; it has this long. */
#define TAKEN_MS 1000

/* Wait until fd is ready for events or the deadline passes: 0, or -1. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd p = { fd, events, 0 };
        int64_t left = deadline - jit_mono_ms();
        int r;

        if (left <= 0)
            return -1;
        r = poll(&p, 1, left > 60000 ? 60000 : (int) left);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

static int
send_all(int fd, const char *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (wait_fd(fd, POLLOUT, deadline) != 0)
                return -1;
            continue;
        }
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t) w;
    }
    return 0;
}

/* Read into buf (cap bytes) until it holds need bytes, or a whole line
 * when need is 0; never past cap.  *len is what it holds.  0 or -1 (end
 * of stream, error, deadline). */
static int
recv_until(int fd, char *buf, size_t cap, size_t *len, size_t need,
           int64_t deadline)
{
    while (need != 0 ? *len < need : memchr(buf, '\n', *len) == NULL) {
        ssize_t r;

        if (*len == cap)
            return -1;
        r = recv(fd, buf + *len, cap - *len, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (wait_fd(fd, POLLIN, deadline) != 0)
                return -1;
            continue;
        }
        if (r <= 0)
            return -1;
        *len += (size_t) r;
    }
    return 0;
}

/* No answer to take: why is "what[: detail]". */
static int
none(char *why, size_t whylen, const char *what, const char *detail)
{
    snprintf(why, whylen, "%s%s%.64s", what, detail ? ": " : "",
             detail ? detail : "");
    return -1;
}

int
jit_relay_get_grant(const struct jit_conf *conf, const char *user,
                    struct jit_grant *g, struct jit_api_error *err,
                    enum jit_api_status *st, char *why, size_t whylen)
{
    struct sockaddr_un sa;
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    char line[JIT_RELAY_LINE_MAX], *settings = NULL, *body = NULL, *nl, *end;
    size_t slen = 0, len = 0, hlen, blen;
    int64_t deadline;
    unsigned long n;
    long http;
    int fd = -1, ret = -1, k;

    memset(g, 0, sizeof(*g));
    why[0] = '\0';
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (conf->state_dir == NULL || jit_name_problem(user) != NULL
        || (size_t) snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s",
                             conf->state_dir, JIT_RELAY_SOCKET)
               >= sizeof(sa.sun_path)) {
        ret = none(why, whylen, "no relay for this state_dir or name", NULL);
        goto done;
    }
    deadline = jit_mono_ms() + (int64_t) conf->timeout * 1000 + SLACK_MS;
    /* Non-blocking: with the daemon's queue full, connect fails at once
     * rather than waiting for it. */
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
        ret = none(why, whylen, "no relay", strerror(errno));
        goto done;
    }
    /* Only root's daemon speaks for the API. */
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0
        || clen != sizeof(cred) || cred.uid != 0) {
        ret = none(why, whylen, "the relay is not root's", NULL);
        goto done;
    }
    if ((settings = jit_relay_settings(conf, &slen)) == NULL) {
        ret = none(why, whylen, "settings too long for the relay", NULL);
        goto done;
    }
    k = snprintf(line, sizeof(line), "grant %s %zu\n", user, slen);
    if (k < 0 || (size_t) k >= sizeof(line)
        || send_all(fd, line, (size_t) k, deadline) != 0
        || send_all(fd, settings, slen, deadline) != 0) {
        ret = none(why, whylen, "the relay did not take the request", NULL);
        goto done;
    }
    /* A daemon stopped or wedged has not taken the request by then: the
     * login asks itself rather than wait out the API's timeout. */
    if (recv_until(fd, line, sizeof(line) - 1, &len, 0,
                   jit_mono_ms() + TAKEN_MS) != 0) {
        ret = none(why, whylen, "the relay did not take the request in time",
                   NULL);
        goto done;
    }
    if (len >= 6 && memcmp(line, "taken\n", 6) == 0) {
        memmove(line, line + 6, len - 6);
        len -= 6;
        if (recv_until(fd, line, sizeof(line) - 1, &len, 0, deadline) != 0) {
            ret = none(why, whylen, "no answer from the relay in time", NULL);
            goto done;
        }
    }
    nl = memchr(line, '\n', len);
    *nl = '\0';
    hlen = (size_t) (nl - line) + 1;
    if (strncmp(line, "answer ", 7) == 0) {
        errno = 0;
        http = strtol(line + 7, &end, 10);
        if (errno != 0 || end == line + 7 || *end != ' ' || http < 100
            || http > 999) {
            ret = none(why, whylen, "a broken answer from the relay", NULL);
            goto done;
        }
        n = strtoul(end + 1, &end, 10);
        if (errno != 0 || *end != '\0') {
            ret = none(why, whylen, "a broken answer from the relay", NULL);
            goto done;
        }
        /* The caller's own bound, as its own call would have applied. */
        if (n > conf->max_response_size) {
            *st = jit_api_fault(err, "too_large", "answer longer than %u "
                                "bytes", (unsigned) conf->max_response_size);
            ret = 0;
            goto done;
        }
        blen = (size_t) n;
        if ((body = malloc(blen + 1)) == NULL) {
            ret = none(why, whylen, "out of memory", NULL);
            goto done;
        }
        len -= hlen;
        memcpy(body, line + hlen, len);
        if (len > blen
            || (blen > 0
                && recv_until(fd, body, blen, &len, blen, deadline) != 0)) {
            ret = none(why, whylen, "the relay's answer was cut short", NULL);
            goto done;
        }
        body[blen] = '\0';
        *st = jit_api_grant_answer(http, body, blen, g, err);
        ret = 0;
    } else if (strncmp(line, "fault ", 6) == 0) {
        const char *reason, *detail = strchr(line + 6, ' ');
        char r[32];

        snprintf(r, sizeof(r), "%.*s",
                 (int) (detail ? (size_t) (detail - line - 6)
                               : strlen(line + 6)),
                 line + 6);
        reason = jit_api_reason(r);
        /* A daemon stopping cancels its call: no verdict in that. */
        if (reason == NULL || strcmp(reason, "cancelled") == 0) {
            ret = none(why, whylen, "the relay's call ended", r);
            goto done;
        }
        *st = jit_api_fault(err, reason, "%s (asked by jitctl daemon)",
                            detail ? detail + 1 : "");
        ret = 0;
    } else if (strncmp(line, "refused ", 8) == 0) {
        ret = none(why, whylen, "the relay refused", line + 8);
    } else {
        ret = none(why, whylen, "a broken answer from the relay", NULL);
    }

done:
    if (fd >= 0)
        close(fd);
    free(body);
    free(settings);
    return ret;
}
