/*
 * Validation of grants from the JIT API (see grant.h).  The API is trusted
 * to say who may log in, not to hand us well-formed data: every string is
 * bounded and checked against the rule of its field before anything else
 * on the host sees it.  Unknown fields are ignored (the contract says so);
 * a missing or mistyped required field refuses the grant.  In a host list
 * each entry stands alone: one bad entry never refuses the others, or the
 * API (any requester who can shape an entry) could freeze the host.
 */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grant.h"
#include "timefmt.h"
#include "validate.h"

/* Duplicate keys would let two readers of one answer see two grants. */
#define JSON_FLAGS JSON_REJECT_DUPLICATES

__attribute__((format(printf, 3, 4))) static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* No C0 control, DEL or C1 control (U+0080..U+009F, UTF-8 C2 80..C2 9F);
 * jansson has already checked that the string is valid UTF-8. */
static int
printable(const char *s)
{
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return 0;
        if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
            return 0;
    }
    return 1;
}

static int
charset(const char *s, const char *extra)
{
    for (const char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || strchr(extra, *p) != NULL))
            return 0;
    return 1;
}

/* The string at key, which must exist, be a string, be 1..max bytes and
 * contain no NUL (jansson refuses \u0000 without JSON_ALLOW_NUL). */
static const char *
get_str(json_t *o, const char *key, size_t max, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, key);
    size_t n;

    if (v == NULL) {
        fail(err, errlen, "%s: missing", key);
        return NULL;
    }
    if (!json_is_string(v)) {
        fail(err, errlen, "%s: not a string", key);
        return NULL;
    }
    n = json_string_length(v);
    if (n == 0 || n > max) {
        fail(err, errlen, "%s: must be 1 to %zu bytes", key, max);
        return NULL;
    }
    return json_string_value(v);
}

static int
dup_to(char **dst, const char *s)
{
    *dst = strdup(s);
    return *dst ? 0 : -ENOMEM;
}

static int
get_time(json_t *o, const char *key, int64_t *out, char *err, size_t errlen)
{
    const char *s = get_str(o, key, 64, err, errlen);

    if (s == NULL)
        return -EINVAL;
    if (jit_time_parse(s, out) != 0)
        return fail(err, errlen, "%s: not an RFC 3339 UTC time", key);
    return 0;
}

static const char *const key_types[] = {
    "ssh-ed25519 ", "ssh-rsa ", "ecdsa-sha2-nistp256 ", "ecdsa-sha2-nistp384 ",
    "ecdsa-sha2-nistp521 ", "sk-ssh-ed25519@openssh.com ",
    "sk-ecdsa-sha2-nistp256@openssh.com ",
};

/* A key is one authorized_keys line with no options: a known type first,
 * so a grant cannot smuggle command=, from= or a second line in. */
static const char *
ssh_key_problem(const char *k)
{
    if (!printable(k))
        return "contains control characters";
    for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++)
        if (strncmp(k, key_types[i], strlen(key_types[i])) == 0)
            return charset(k + strlen(key_types[i]), "+/=@. -_")
                ? NULL : "has characters a key does not";
    return "does not start with a known key type";
}

/* An array of 0..max strings, each passing `problem`, without repeats. */
static int
get_str_array(json_t *o, const char *key, int required, size_t max,
              size_t maxlen, const char *(*problem)(const char *),
              char ***out, size_t *n, char *err, size_t errlen)
{
    json_t *a = json_object_get(o, key), *v;
    size_t i;

    *out = NULL;
    *n = 0;
    if (a == NULL)
        return required ? fail(err, errlen, "%s: missing", key) : 0;
    if (!json_is_array(a))
        return fail(err, errlen, "%s: not an array", key);
    if (json_array_size(a) > max)
        return fail(err, errlen, "%s: more than %zu entries", key, max);
    *out = calloc(json_array_size(a) + 1, sizeof(char *));
    if (*out == NULL)
        return -ENOMEM;
    json_array_foreach(a, i, v) {
        const char *s = json_string_value(v), *why;

        if (!json_is_string(v))
            return fail(err, errlen, "%s[%zu]: not a string", key, i);
        if (json_string_length(v) == 0 || json_string_length(v) > maxlen)
            return fail(err, errlen, "%s[%zu]: must be 1 to %zu bytes", key,
                        i, maxlen);
        if ((why = problem(s)) != NULL)
            return fail(err, errlen, "%s[%zu]: %s", key, i, why);
        for (size_t k = 0; k < i; k++)
            if (strcmp((*out)[k], s) == 0)
                return fail(err, errlen, "%s[%zu]: listed twice", key, i);
        if (dup_to(&(*out)[i], s) != 0)
            return -ENOMEM;
        *n = i + 1;
    }
    return 0;
}

static int
from_json(json_t *o, struct jit_grant *g, char *err, size_t errlen)
{
    const char *id, *cred, *req, *user, *host, *reason, *status, *onl, *why;
    int ret;

    memset(g, 0, sizeof(*g));
    if (!json_is_object(o))
        return fail(err, errlen, "grant: not a JSON object");
    if (!(id = get_str(o, "id", JIT_GRANT_ID_MAX, err, errlen))
        || !(cred = get_str(o, "credential", JIT_GRANT_CREDENTIAL_MAX, err,
                            errlen))
        || !(req = get_str(o, "requester", JIT_GRANT_REQUESTER_MAX, err,
                           errlen))
        || !(user = get_str(o, "username", 64, err, errlen))
        || !(host = get_str(o, "host", 253, err, errlen))
        || !(reason = get_str(o, "reason", JIT_GRANT_REASON_MAX, err, errlen))
        || !(status = get_str(o, "status", 16, err, errlen))
        || !(onl = get_str(o, "on_logout", 16, err, errlen)))
        return -EINVAL;
    if (!charset(id, "._:-"))
        return fail(err, errlen, "id: only letters, digits and ._:- allowed");
    if (!charset(cred, "._:@+/-"))
        return fail(err, errlen, "credential: only letters, digits and "
                    "._:@+/- allowed");
    if (!printable(req))
        return fail(err, errlen, "requester: contains control characters");
    if ((why = jit_name_problem(user)) != NULL)
        return fail(err, errlen, "username: %s", why);
    if ((why = jit_host_problem(host)) != NULL)
        return fail(err, errlen, "host: %s", why);
    if (!printable(reason))
        return fail(err, errlen, "reason: contains control characters");
    if (strcmp(status, "active") && strcmp(status, "expired")
        && strcmp(status, "revoked"))
        return fail(err, errlen, "status: not active, expired or revoked");
    if (strcmp(onl, "keep") && strcmp(onl, "delete"))
        return fail(err, errlen, "on_logout: not keep or delete");
    if ((ret = get_time(o, "not_before", &g->not_before, err, errlen)) != 0
        || (ret = get_time(o, "expires_at", &g->expires_at, err, errlen)) != 0)
        return ret;
    if (g->expires_at <= g->not_before)
        return fail(err, errlen, "expires_at: not after not_before");
    if (dup_to(&g->id, id) || dup_to(&g->credential, cred)
        || dup_to(&g->requester, req) || dup_to(&g->username, user)
        || dup_to(&g->host, host) || dup_to(&g->reason, reason)
        || dup_to(&g->status, status) || dup_to(&g->on_logout, onl))
        return -ENOMEM;
    if ((ret = get_str_array(o, "groups", 1, 64, 32, jit_group_problem,
                             &g->groups, &g->n_groups, err, errlen)) != 0)
        return ret;
    return get_str_array(o, "ssh_keys", 0, JIT_GRANT_SSH_KEYS_MAX,
                         JIT_GRANT_SSH_KEY_MAX, ssh_key_problem, &g->ssh_keys,
                         &g->n_ssh_keys, err, errlen);
}

static json_t *
load(const char *text, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_FLAGS, &je);

    /* Say where, not what: the text is the API's, not ours to echo. */
    if (j == NULL)
        fail(err, errlen, "not valid JSON (line %d, column %d)", je.line,
             je.column);
    return j;
}

int
jit_grant_parse(const char *text, size_t len, struct jit_grant *g, char *err,
                size_t errlen)
{
    json_t *j = load(text, len, err, errlen);
    int ret;

    memset(g, 0, sizeof(*g));
    if (j == NULL)
        return -EINVAL;
    ret = from_json(j, g, err, errlen);
    if (ret != 0)
        jit_grant_free(g);
    json_decref(j);
    return ret;
}

/* A stable name for an entry without a usable id: FNV-1a over its
 * canonical text (keys sorted), so the same bad entry is the same refusal
 * from one list to the next. */
static char *
entry_key(json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    uint64_t h = 1469598103934665603ULL;
    char *key = NULL;

    if (text == NULL)
        return NULL;
    for (const unsigned char *p = (const unsigned char *) text; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    free(text);
    if (asprintf(&key, "#%016llx", (unsigned long long) h) < 0)
        key = NULL;
    return key;
}

/* What an entry that failed still says usably about itself. */
static int
refuse(json_t *o, size_t index, const char *why, struct jit_grant_refusal *r)
{
    json_t *id = json_is_object(o) ? json_object_get(o, "id") : NULL;
    json_t *user = json_is_object(o) ? json_object_get(o, "username") : NULL;
    const char *s;

    memset(r, 0, sizeof(*r));
    r->index = index;
    snprintf(r->why, sizeof(r->why), "%s", why);
    s = json_string_value(id);
    if (s != NULL && json_string_length(id) > 0
        && json_string_length(id) <= JIT_GRANT_ID_MAX && charset(s, "._:-")
        && (r->id = strdup(s)) == NULL)
        return -ENOMEM;
    s = json_string_value(user);
    if (s != NULL && jit_name_problem(s) == NULL
        && (r->username = strdup(s)) == NULL)
        return -ENOMEM;
    r->key = r->id ? strdup(r->id) : entry_key(o);
    return r->key ? 0 : -ENOMEM;
}

struct id_at {
    const char *id;
    size_t pos;  /* in l->v, or in l->bad when bad is set */
    int bad;
};

static int
cmp_id_at(const void *a, const void *b)
{
    return strcmp(((const struct id_at *) a)->id,
                  ((const struct id_at *) b)->id);
}

/* Move every passed grant whose id another entry also has to the refused
 * ones.  The ids are sorted, so a list of 100,000 costs a sort, not
 * 10^10 comparisons.  (bad has room for every entry: see
 * jit_grant_list_parse.) */
static int
refuse_repeated_ids(json_t *a, size_t *vidx, struct jit_grant_list *l)
{
    struct id_at *ids = calloc(l->n + l->n_bad + 1, sizeof(*ids));
    char *repeated = calloc(l->n + 1, 1);
    size_t keep = 0, nids = 0, n_bad = l->n_bad;
    int ret = 0;

    if (ids == NULL || repeated == NULL) {
        ret = -ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < l->n; i++)
        ids[nids++] = (struct id_at) { l->v[i].id, i, 0 };
    for (size_t k = 0; k < n_bad; k++)
        if (l->bad[k].id != NULL)
            ids[nids++] = (struct id_at) { l->bad[k].id, k, 1 };
    qsort(ids, nids, sizeof(*ids), cmp_id_at);
    for (size_t i = 0; i + 1 < nids; i++)
        if (strcmp(ids[i].id, ids[i + 1].id) == 0) {
            if (!ids[i].bad)
                repeated[ids[i].pos] = 1;
            if (!ids[i + 1].bad)
                repeated[ids[i + 1].pos] = 1;
        }
    for (size_t i = 0; i < l->n; i++) {
        if (!repeated[i]) {
            if (keep != i) {
                l->v[keep] = l->v[i];
                vidx[keep] = vidx[i];
                memset(&l->v[i], 0, sizeof(l->v[i]));
            }
            keep++;
            continue;
        }
        /* counted even on failure, so that the list's free takes it */
        if (ret == 0)
            ret = refuse(json_array_get(a, vidx[i]), vidx[i],
                         "id: listed more than once", &l->bad[l->n_bad++]);
        jit_grant_free(&l->v[i]);
    }
    l->n = keep;

done:
    free(repeated);
    free(ids);
    return ret;
}

int
jit_grant_list_parse(const char *text, size_t len, struct jit_grant_list *l,
                     char *err, size_t errlen)
{
    json_t *j = load(text, len, err, errlen), *a, *o;
    size_t i, total, *vidx = NULL;
    int ret;

    memset(l, 0, sizeof(*l));
    if (j == NULL)
        return -EINVAL;
    a = json_is_object(j) ? json_object_get(j, "grants") : NULL;
    if (!json_is_array(a)) {
        ret = fail(err, errlen, "grants: missing or not an array");
        goto done;
    }
    total = json_array_size(a);
    if (total > JIT_GRANT_LIST_MAX) {
        ret = fail(err, errlen, "grants: more than %d", JIT_GRANT_LIST_MAX);
        goto done;
    }
    l->v = calloc(total + 1, sizeof(*l->v));
    l->bad = calloc(total + 1, sizeof(*l->bad));
    vidx = calloc(total + 1, sizeof(*vidx));
    if (l->v == NULL || l->bad == NULL || vidx == NULL) {
        ret = -ENOMEM;
        goto done;
    }
    json_array_foreach(a, i, o) {
        char why[256];

        ret = from_json(o, &l->v[l->n], why, sizeof(why));
        if (ret == 0) {
            vidx[l->n++] = i;
            continue;
        }
        jit_grant_free(&l->v[l->n]);
        if (ret == -ENOMEM)
            goto done;
        if ((ret = refuse(o, i, why, &l->bad[l->n_bad++])) != 0)
            goto done;
    }
    ret = total > 1 ? refuse_repeated_ids(a, vidx, l) : 0;

done:
    if (ret != 0)
        jit_grant_list_free(l);
    free(vidx);
    json_decref(j);
    return ret;
}

void
jit_grant_list_free(struct jit_grant_list *l)
{
    if (l == NULL)
        return;
    jit_grants_free(l->v, l->n);
    for (size_t i = 0; l->bad != NULL && i < l->n_bad; i++) {
        free(l->bad[i].key);
        free(l->bad[i].id);
        free(l->bad[i].username);
    }
    free(l->bad);
    memset(l, 0, sizeof(*l));
}

static void
strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void
jit_grant_free(struct jit_grant *g)
{
    if (g == NULL)
        return;
    free(g->id);
    free(g->credential);
    free(g->requester);
    free(g->username);
    free(g->host);
    free(g->reason);
    free(g->status);
    free(g->on_logout);
    strv_free(g->groups, g->n_groups);
    strv_free(g->ssh_keys, g->n_ssh_keys);
    memset(g, 0, sizeof(*g));
}

void
jit_grants_free(struct jit_grant *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        jit_grant_free(&v[i]);
    free(v);
}
