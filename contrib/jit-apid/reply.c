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
#include "timefmt.h"

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

/* Plain text: no control characters (a reason ends up in logs). */
int
apid_plain_text(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
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

