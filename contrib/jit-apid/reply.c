/* SPDX-License-Identifier: MIT */
/*
 * jit-apid: what every request handler answers with (JSON replies and
 * errors, times, lists, plain text checks).
 */
#include "config.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "core/grant.h"
#include "core/timefmt.h"

int64_t
apid_now(void)
{
    return (int64_t) time(NULL);
}

void
apid_reply_json(struct apid_reply *r, unsigned status, json_t *o)
{
    r->status = status;
    r->body = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
}

void
apid_reply_error(struct apid_reply *r, unsigned status, const char *code,
            const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    apid_reply_json(r, status,
                    json_pack("{s:s, s:s}", "error", code, "message", msg));
}

json_t *
apid_json_string_list(char *const *v, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

json_t *
apid_json_time(int64_t t)
{
    char buf[JIT_TIME_LEN];

    jit_time_format(t, buf);
    return json_string(buf);
}

/* Plain text by the hosts' own rule (lib/core/grant.c): no C0, DEL or C1
 * control, valid UTF-8 (a reason ends up in logs and on terminals). */
int
apid_plain_text(const char *s, size_t max)
{
    size_t n = strlen(s);

    return n > 0 && n <= max && jit_text_problem(s) == NULL;
}

/* The key whose value holds byte pos of body: the last "key": before it
 * (if it is a plain word), so that a 400 can name the field. */
static void
key_before(const char *body, size_t pos, char *out, size_t outlen)
{
    out[0] = '\0';
    for (size_t i = pos; i-- > 0;) {
        size_t end, start;

        if (body[i] != ':')
            continue;
        end = i;
        while (end > 0 && (body[end - 1] == ' ' || body[end - 1] == '\t'
                           || body[end - 1] == '\n' || body[end - 1] == '\r'))
            end--;
        if (end == 0 || body[end - 1] != '"')
            continue;
        start = end - 1;
        while (start > 0 && end - start < 40
               && ((body[start - 1] >= 'a' && body[start - 1] <= 'z')
                   || body[start - 1] == '_'))
            start--;
        if (start > 0 && body[start - 1] == '"' && end - 1 > start)
            snprintf(out, outlen, "%.*s", (int) (end - 1 - start),
                     body + start);
        return;
    }
}

json_t *
apid_body_object(const struct apid_req *q, struct apid_reply *r)
{
    json_error_t je;
    json_t *in = json_loadb(q->body ? q->body : "", q->len,
                            JSON_REJECT_DUPLICATES, &je);
    char key[48];

    if (in == NULL && json_error_code(&je) == json_error_invalid_utf8
        && q->body != NULL && (size_t) je.position <= q->len) {
        key_before(q->body, (size_t) je.position, key, sizeof(key));
        apid_reply_error(r, 400, "bad_request", "%s: is not valid UTF-8",
                         key[0] ? key : "body");
        return NULL;
    }
    if (!json_is_object(in)) {
        json_decref(in);
        apid_reply_error(r, 400, "bad_request", "want a JSON object");
        return NULL;
    }
    return in;
}

/* The store's result as an HTTP reply. */
void
apid_reply_store_error(struct apid_reply *r, struct apid *a, int ret)
{
    if (ret == APID_NOT_FOUND)
        apid_reply_error(r, 404, "not_found", "%s",
                         apid_store_error(a->store));
    else if (ret == APID_CONFLICT)
        apid_reply_error(r, 409, "conflict", "%s", apid_store_error(a->store));
    else if (ret == APID_NAME_REFUSED)
        apid_reply_error(r, 403, "username_not_allowed", "%s",
                         apid_store_error(a->store));
    else {
        fprintf(stderr, "jit-apid: store: %s\n", apid_store_error(a->store));
        apid_reply_error(r, 500, "store_error", "the grant store failed");
    }
}

/* An optional string field: absent or null gives NULL; else plain text
 * of at most max bytes. */
int
apid_opt_text(json_t *o, const char *key, size_t max, const char **out)
{
    json_t *x = json_object_get(o, key);

    *out = NULL;
    if (x == NULL || json_is_null(x))
        return 0;
    if (!json_is_string(x) || !apid_plain_text(json_string_value(x), max))
        return -1;
    *out = json_string_value(x);
    return 0;
}

