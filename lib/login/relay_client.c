/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
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
            if (jit_relay_wait(fd, POLLIN, deadline) != 0)
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

/* The relay's socket, connected: state_dir (root's, not writable by
 * others, not a link) holds a socket of root's with mode 0600 at
 * JIT_RELAY_SOCKET, reached through the directory's descriptor, and its
 * listener is root.  The fd (non-blocking, close-on-exec), or -1 with
 * why set. */
static int
connect_relay(const char *state_dir, char *why, size_t whylen)
{
    struct sockaddr_un sa;
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    struct stat st;
    int dfd = -1, fd = -1, ok = 0;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    dfd = open(state_dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0 || fstat(dfd, &st) != 0) {
        none(why, whylen, "no relay: state_dir", strerror(errno));
        goto done;
    }
    if (st.st_uid != 0 || (st.st_mode & 022) != 0) {
        none(why, whylen, "no relay: state_dir not root's alone", NULL);
        goto done;
    }
    if (fstatat(dfd, JIT_RELAY_SOCKET, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        none(why, whylen, "no relay", strerror(errno));
        goto done;
    }
    if (!S_ISSOCK(st.st_mode) || st.st_uid != 0 || (st.st_mode & 077) != 0) {
        none(why, whylen, "no relay: not a socket of root's with mode 0600",
             NULL);
        goto done;
    }
    snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dfd,
             JIT_RELAY_SOCKET);
    /* Non-blocking: with the daemon's queue full, connect fails at once
     * rather than waiting for it. */
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0) {
        none(why, whylen, "no relay", strerror(errno));
        goto done;
    }
    /* Only root's daemon speaks for the API. */
    memset(&cred, 0, sizeof(cred));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0
        || clen != sizeof(cred) || cred.uid != 0) {
        none(why, whylen, "the relay is not root's", NULL);
        goto done;
    }
    ok = 1;

done:
    if (dfd >= 0)
        close(dfd);
    if (!ok && fd >= 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* "HTTP LEN" of an answer line, strictly decimal: 0 or -1. */
static int
answer_numbers(char *s, uint32_t *http, uint32_t *len)
{
    char *sp = strchr(s, ' ');

    if (sp == NULL)
        return -1;
    *sp = '\0';
    return jit_parse_u32(s, 100, 999, http) == 0
           && jit_parse_u32(sp + 1, 0, UINT32_MAX, len) == 0 ? 0 : -1;
}

int
jit_relay_get_grant(const struct jit_conf *conf, const char *user,
                    struct jit_grant *g, struct jit_api_error *err,
                    enum jit_api_status *st, char *why, size_t whylen)
{
    char line[JIT_RELAY_LINE_MAX], *settings = NULL, *body = NULL, *nl;
    size_t slen = 0, len = 0, hlen, blen;
    uint32_t http, n;
    int64_t deadline;
    int fd = -1, ret = -1, k;

    memset(g, 0, sizeof(*g));
    why[0] = '\0';
    if (conf->state_dir == NULL || jit_name_problem(user) != NULL) {
        ret = none(why, whylen, "no relay for this state_dir or name", NULL);
        goto done;
    }
    deadline = jit_mono_ms() + (int64_t) conf->timeout * 1000 + SLACK_MS;
    if ((fd = connect_relay(conf->state_dir, why, whylen)) < 0)
        goto done;
    if ((settings = jit_relay_settings(conf, &slen)) == NULL) {
        ret = none(why, whylen, "settings too long for the relay", NULL);
        goto done;
    }
    k = snprintf(line, sizeof(line), "grant %s %zu\n", user, slen);
    if (k < 0 || (size_t) k >= sizeof(line)
        || jit_relay_send(fd, line, (size_t) k, deadline) != 0
        || jit_relay_send(fd, settings, slen, deadline) != 0) {
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
        /* The daemon's call had the same bound: a longer body is not its
         * answer. */
        if (answer_numbers(line + 7, &http, &n) != 0
            || n > conf->max_response_size || len - hlen > n) {
            ret = none(why, whylen, "a broken answer from the relay", NULL);
            goto done;
        }
        blen = (size_t) n;
        if ((body = malloc(blen + 1)) == NULL) {
            ret = none(why, whylen, "out of memory", NULL);
            goto done;
        }
        len -= hlen;
        memcpy(body, line + hlen, len);
        if (blen > len
            && recv_until(fd, body, blen, &len, blen, deadline) != 0) {
            ret = none(why, whylen, "the relay's answer was cut short", NULL);
            goto done;
        }
        body[blen] = '\0';
        *st = jit_api_grant_answer((long) http, body, blen, g, err);
        ret = 0;
    } else if (strncmp(line, "fault ", 6) == 0) {
        const char *reason, *detail = strchr(line + 6, ' ');
        char r[32];

        snprintf(r, sizeof(r), "%.*s",
                 (int) (detail ? (size_t) (detail - line - 6)
                               : strlen(line + 6)),
                 line + 6);
        reason = jit_api_reason(r);
        /* A daemon stopping cancels its call, and its own trouble
         * (memory) says nothing of the API: no verdict in either. */
        if (reason == NULL || strcmp(reason, "cancelled") == 0
            || strcmp(reason, "internal_error") == 0) {
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
