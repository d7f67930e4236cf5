/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/clock.h"
#include "core/relay_proto.h"

static int
put(char *buf, size_t cap, size_t *len, const char *key, const char *value)
{
    size_t k = strlen(key) + 1, v = strlen(value ? value : "") + 1;

    if (k + v > cap - *len)
        return -1;
    memcpy(buf + *len, key, k);
    memcpy(buf + *len + k, value ? value : "", v);
    *len += k + v;
    return 0;
}

char *
jit_relay_settings(const struct jit_conf *c, size_t *len)
{
    char *buf = malloc(JIT_RELAY_SETTINGS_MAX), num[3][16];
    const struct { const char *key, *value; } s[] = {
        { "api_url", c->api_url }, { "host", c->host },
        { "ca_file", c->ca_file }, { "pinned_pubkey", c->pinned_pubkey },
        { "token_file", c->token_file }, { "client_cert", c->client_cert },
        { "client_key", c->client_key }, { "krb5_keytab", c->krb5_keytab },
        { "krb5_principal", c->krb5_principal },
        { "krb5_ccache", c->krb5_ccache },
        { "krb5_service", c->krb5_service },
        /* (the default ccache is made there) */
        { "state_dir", c->state_dir },
        { "timeout", num[0] }, { "connect_timeout", num[1] },
        { "max_response_size", num[2] },
    };

    *len = 0;
    if (buf == NULL)
        return NULL;
    snprintf(num[0], sizeof(num[0]), "%u", (unsigned) c->timeout);
    snprintf(num[1], sizeof(num[1]), "%u", (unsigned) c->connect_timeout);
    snprintf(num[2], sizeof(num[2]), "%u", (unsigned) c->max_response_size);
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
        if (put(buf, JIT_RELAY_SETTINGS_MAX, len, s[i].key, s[i].value)
            != 0) {
            free(buf);
            *len = 0;
            return NULL;
        }
    return buf;
}

int
jit_relay_wait(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd p = { fd, events, 0 };
        int64_t left = deadline - jit_mono_ms();
        int n;

        if (left <= 0)
            return -1;
        if ((n = poll(&p, 1, left > 60000 ? 60000 : (int) left)) > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

int
jit_relay_send(int fd, const char *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (jit_relay_wait(fd, POLLOUT, deadline) != 0)
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
