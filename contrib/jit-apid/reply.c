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

/* The code point of the UTF-8 sequence at p and its length in *len, or
 * -1 (*len 1) for a byte that starts none: a stray continuation, an
 * overlong form, a surrogate, past U+10FFFF, or cut short. */
static long
utf8_at(const unsigned char *p, size_t *len)
{
    long c;
    size_t n;

    *len = 1;
    if (p[0] < 0x80)
        return p[0];
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        n = 2, c = p[0] & 0x1f;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        n = 3, c = p[0] & 0x0f;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        n = 4, c = p[0] & 0x07;
    else
        return -1;
    for (size_t k = 1; k < n; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return -1; /* the NUL that ends s stops here too */
        c = (c << 6) | (p[k] & 0x3f);
    }
    if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff))
        || (c >= 0xd800 && c <= 0xdfff))
        return -1;
    *len = n;
    return c;
}

/* What a person's screen or mail reader would act on, or not show: '?'
 * for controls, direction marks and overrides, invisible characters and
 * line breaks; ' ' for other spaces; 0 for what is shown as it is. */
static char
unshown(long c)
{
    if (c < 0 || c < 0x20 || (c >= 0x7f && c <= 0x9f))
        return '?'; /* not UTF-8; C0, DEL, C1 */
    if (c == 0x061c || (c >= 0x200e && c <= 0x200f)
        || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069))
        return '?'; /* bidirectional marks, embeddings, overrides, isolates */
    if (c == 0x2028 || c == 0x2029)
        return '?'; /* line and paragraph separators */
    if (c == 0x00ad || c == 0x180e || (c >= 0x200b && c <= 0x200d)
        || (c >= 0x2060 && c <= 0x206f) || c == 0xfeff
        || (c >= 0xfff9 && c <= 0xfffb) || (c >= 0xe0000 && c <= 0xe007f))
        return '?'; /* invisible: zero widths, joiners, tags, BOM */
    if (c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a)
        || c == 0x202f || c == 0x205f || c == 0x3000)
        return ' '; /* the other space separators: a plain space */
    return 0;
}

size_t
apid_shown_text(const char *s, size_t max, char *out)
{
    const unsigned char *p = (const unsigned char *) s;
    size_t o = 0, cut = 0; /* cut: the last end of a character with room
                            * for "..." after it */

    if (max < 3) {
        out[0] = '\0';
        return 0;
    }
    while (*p != '\0') {
        size_t len;
        char r = unshown(utf8_at(p, &len));
        size_t w = r ? 1 : len;

        if (o + w > max) {
            memcpy(out + cut, "...", 3); /* cut at a character, and said so */
            o = cut + 3;
            break;
        }
        if (r)
            out[o] = r;
        else
            memcpy(out + o, p, len);
        o += w;
        if (o <= max - 3)
            cut = o;
        p += len;
    }
    out[o] = '\0';
    return o;
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

