/* SPDX-License-Identifier: MIT */
/*
 * What an answer of the JIT API means (see api.h), apart from the
 * transport: the login reads the grant's answer here whether it asked the
 * API itself or jitctl daemon asked for it (lib/login/relay_client.c), so
 * the verdicts are the same either way, and this file needs no libcurl.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/api.h"

enum jit_api_status
jit_api_fault(struct jit_api_error *err, const char *reason,
              const char *fmt, ...)
{
    va_list ap;

    err->reason = reason;
    err->http = 0;
    va_start(ap, fmt);
    vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
    va_end(ap);
    return JIT_API_FAULT;
}

enum jit_api_status
jit_api_answer(enum jit_api_call call, long http, struct jit_api_error *err)
{
    enum jit_api_status st;

    if (http == 200)
        return JIT_API_OK;
    if (call == JIT_API_CALL_GRANT && http == 404)
        return JIT_API_NOT_FOUND;
    if (call == JIT_API_CALL_LIST && http == 304)
        return JIT_API_NOT_MODIFIED;
    if (call == JIT_API_CALL_LIST && (http == 429 || http == 503)) {
        /* The API is up but will not hold this poll now (jit-apid beyond
         * its long-poll budget): a pause, not a fault to probe at once. */
        st = jit_api_fault(err, "busy",
                           "HTTP status %ld: asked to come back later", http);
    } else {
        st = jit_api_fault(err, "http_error", "HTTP status %ld", http);
    }
    err->http = http;
    return st;
}

enum jit_api_status
jit_api_grant_answer(long http, const char *body, size_t len,
                     struct jit_grant *g, struct jit_api_error *err)
{
    enum jit_api_status st;
    char why[200];

    memset(g, 0, sizeof(*g));
    if ((st = jit_api_answer(JIT_API_CALL_GRANT, http, err)) != JIT_API_OK)
        return st;
    if (body == NULL || len == 0)
        return jit_api_fault(err, "malformed", "empty answer");
    if (jit_grant_parse(body, len, g, why, sizeof(why)) != 0)
        return jit_api_fault(err, "malformed", "%s", why);
    return JIT_API_OK;
}

/* The reasons a fault may carry: a reason that comes over the relay is
 * one of these, or it is not taken. */
static const char *const reasons[] = {
    "config_error", "token_error", "key_error", "krb5_error", "unreachable",
    "timeout", "tls_error", "http_error", "too_large", "busy", "malformed",
    "internal_error", "cancelled",
};

const char *
jit_api_reason(const char *s)
{
    for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
        if (strcmp(s, reasons[i]) == 0)
            return reasons[i];
    return NULL;
}
