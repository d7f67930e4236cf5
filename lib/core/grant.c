/* SPDX-License-Identifier: MIT */
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

#include "core/conf.h"
#include "core/grant.h"
#include "core/timefmt.h"
#include "core/validate.h"

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

#define STR_(x) #x
#define STR(x) STR_(x)

/* The length of the UTF-8 sequence at p, in its shortest form, not a
 * surrogate and at most U+10FFFF; 0 if there is none. */
static size_t
utf8_len(const unsigned char *p)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t n;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        n = 2;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        n = 3;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        n = 4;
    else
        return 0;
    if (p[0] == 0xe0)
        lo = 0xa0; /* overlong */
    else if (p[0] == 0xed)
        hi = 0x9f; /* surrogates */
    else if (p[0] == 0xf0)
        lo = 0x90; /* overlong */
    else if (p[0] == 0xf4)
        hi = 0x8f; /* above U+10FFFF */
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return n;
}

/* No C0 control, DEL or C1 control (U+0080..U+009F, UTF-8 C2 80..C2 9F):
 * a terminal acts on all three (C1's CSI is ESC [).  jansson checks
 * UTF-8 on the way in; this check stands alone, for text from elsewhere. */
const char *
jit_text_problem(const char *s)
{
    const unsigned char *p = (const unsigned char *) s;

    while (*p) {
        size_t n;

        if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] <= 0x9f))
            return "contains control characters";
        if ((n = utf8_len(p)) == 0)
            return "is not valid UTF-8";
        p += n;
    }
    return NULL;
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

static const char *const key_types[] = {
    "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521", "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
};

static int
b64(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* The key's data: base64 (padded, as OpenSSH writes it) of the wire
 * form, which starts with the type's name as an SSH string and goes on
 * with the key itself. */
static const char *
key_blob_problem(const char *b, size_t n, const char *type)
{
    unsigned char head[64];
    size_t got = 0, tl = strlen(type);

    if (n == 0 || n % 4 != 0)
        return "key data is not base64";
    for (size_t i = 0; i < n; i += 4) {
        uint32_t q = 0;
        int pad = 0;

        for (size_t j = 0; j < 4; j++) {
            int v = b64((unsigned char) b[i + j]);

            if (b[i + j] == '=' && i + 4 == n && j >= 2)
                pad++;
            else if (pad || v < 0)
                return "key data is not base64";
            q = q << 6 | (uint32_t) (v < 0 ? 0 : v);
        }
        for (int k = 0; k < 3 - pad; k++, got++)
            if (got < sizeof(head))
                head[got] = (unsigned char) (q >> (16 - 8 * k));
    }
    if (got < 4 + tl + 4
        || ((uint32_t) head[0] << 24 | (uint32_t) head[1] << 16
            | (uint32_t) head[2] << 8 | head[3]) != tl
        || memcmp(head + 4, type, tl) != 0)
        return "key data is not a key of its type";
    return NULL;
}

/* The comment: printable ASCII (0x20-0x7e), what ssh-keygen -C writes
 * for "alice (work laptop)" or "alice@host [yubikey]".  sshd ignores it
 * (the line is read by AuthorizedKeysCommand, jitctl authorized-keys,
 * and the key is matched by its data), so it is only ever a label for
 * people: jitctl prints it, jit-apid shows it, an admin reads it to tell
 * whose key is whose.  No control (jit_text_problem has refused those),
 * and no UTF-8 either: a bidi override or a letter that looks like
 * another makes one key's label read as another's, and no real comment
 * needs one. */
static int
comment_ok(const char *c)
{
    for (const unsigned char *p = (const unsigned char *) c; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            return 0;
    return 1;
}

/* A key is one authorized_keys line with no options: a known type first,
 * so a grant cannot smuggle command=, from= or a second line in; then
 * the key's data, which must be a key of that type (sshd would skip a
 * line that is not, and the grant would give a key that opens nothing);
 * then an optional comment (comment_ok). */
static const char *
ssh_key_problem(const char *k)
{
    const char *why, *type = NULL, *blob, *end;

    if ((why = jit_text_problem(k)) != NULL)
        return why;
    for (size_t i = 0; i < sizeof(key_types) / sizeof(key_types[0]); i++)
        if (strncmp(k, key_types[i], strlen(key_types[i])) == 0
            && k[strlen(key_types[i])] == ' ')
            type = key_types[i];
    if (type == NULL)
        return "does not start with a known key type";
    blob = k + strlen(type) + 1;
    end = blob + strcspn(blob, " ");
    if ((why = key_blob_problem(blob, (size_t) (end - blob), type)) != NULL)
        return why;
    return *end == '\0' || comment_ok(end + 1)
        ? NULL : "has a comment that is not printable ASCII";
}

const char *
jit_grant_field_problem(enum jit_grant_field f, const char *v)
{
    size_t n = strlen(v);

    switch (f) {
    case JIT_GRANT_F_ID:
        if (n == 0 || n > JIT_GRANT_ID_MAX)
            return "must be 1 to " STR(JIT_GRANT_ID_MAX) " bytes";
        return charset(v, "._:-") ? NULL
                                  : "only letters, digits and ._:- allowed";
    case JIT_GRANT_F_CREDENTIAL:
        /* No ':': the credential is the account's gecos ("JIT <cred>"),
         * a field of passwd's colon-separated lines. */
        if (n == 0 || n > JIT_GRANT_CREDENTIAL_MAX)
            return "must be 1 to " STR(JIT_GRANT_CREDENTIAL_MAX) " bytes";
        return charset(v, "._@+/-") ? NULL
                                    : "only letters, digits and ._@+/- allowed";
    case JIT_GRANT_F_REQUESTER:
        if (n == 0 || n > JIT_GRANT_REQUESTER_MAX)
            return "must be 1 to " STR(JIT_GRANT_REQUESTER_MAX) " bytes";
        return jit_text_problem(v);
    case JIT_GRANT_F_USERNAME:
        return jit_name_problem(v);
    case JIT_GRANT_F_HOST:
        return jit_host_problem(v);
    case JIT_GRANT_F_REASON:
        if (n == 0 || n > JIT_GRANT_REASON_MAX)
            return "must be 1 to " STR(JIT_GRANT_REASON_MAX) " bytes";
        return jit_text_problem(v);
    case JIT_GRANT_F_GROUP:
        return jit_group_problem(v);
    case JIT_GRANT_F_SSH_KEY:
        if (n == 0 || n > JIT_GRANT_SSH_KEY_MAX)
            return "must be 1 to " STR(JIT_GRANT_SSH_KEY_MAX) " bytes";
        return ssh_key_problem(v);
    }
    return "not a field of a grant";
}

const char *
jit_grant_list_problem(enum jit_grant_field f, char *const *v, size_t n,
                       size_t *at)
{
    const char *why;

    *at = n;
    if (f == JIT_GRANT_F_GROUP && n > JIT_MAX_GROUPS)
        return "more than " STR(JIT_MAX_GROUPS) " entries";
    if (f == JIT_GRANT_F_SSH_KEY && n > JIT_GRANT_SSH_KEYS_MAX)
        return "more than " STR(JIT_GRANT_SSH_KEYS_MAX) " entries";
    if (f != JIT_GRANT_F_GROUP && f != JIT_GRANT_F_SSH_KEY)
        return "not a list of a grant";
    for (size_t i = 0; i < n; i++) {
        *at = i;
        if ((why = jit_grant_field_problem(f, v[i])) != NULL)
            return why;
        for (size_t k = 0; k < i; k++)
            if (strcmp(v[k], v[i]) == 0)
                return "listed twice";
    }
    *at = n;
    return NULL;
}

/* The string at key, which must exist and be a string without NUL
 * (jansson refuses \u0000 without JSON_ALLOW_NUL); its rule is then the
 * field's.  max bounds the fields without a rule of their own. */
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
    if (max > 0 && (n == 0 || n > max)) {
        fail(err, errlen, "%s: must be 1 to %zu bytes", key, max);
        return NULL;
    }
    return json_string_value(v);
}

/* A text field: a string passing jit_grant_field_problem. */
static const char *
get_field(json_t *o, const char *key, enum jit_grant_field f, char *err,
          size_t errlen)
{
    const char *s = get_str(o, key, 0, err, errlen), *why;

    if (s != NULL && (why = jit_grant_field_problem(f, s)) != NULL) {
        fail(err, errlen, "%s: %s", key, why);
        return NULL;
    }
    return s;
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

/* An array of strings that must pass jit_grant_list_problem. */
static int
get_str_array(json_t *o, const char *key, int required,
              enum jit_grant_field f, char ***out, size_t *n, char *err,
              size_t errlen)
{
    json_t *a = json_object_get(o, key), *v;
    size_t i, at, max = f == JIT_GRANT_F_GROUP ? JIT_MAX_GROUPS
                                               : JIT_GRANT_SSH_KEYS_MAX;
    const char *why;

    *out = NULL;
    *n = 0;
    if (a == NULL)
        return required ? fail(err, errlen, "%s: missing", key) : 0;
    if (!json_is_array(a))
        return fail(err, errlen, "%s: not an array", key);
    /* Counted before anything is copied: the list's own bound. */
    if (json_array_size(a) > max)
        return fail(err, errlen, "%s: more than %zu entries", key, max);
    *out = calloc(json_array_size(a) + 1, sizeof(char *));
    if (*out == NULL)
        return -ENOMEM;
    json_array_foreach(a, i, v) {
        if (!json_is_string(v))
            return fail(err, errlen, "%s[%zu]: not a string", key, i);
        if (dup_to(&(*out)[i], json_string_value(v)) != 0)
            return -ENOMEM;
        *n = i + 1;
    }
    if ((why = jit_grant_list_problem(f, *out, *n, &at)) != NULL)
        return at < *n ? fail(err, errlen, "%s[%zu]: %s", key, at, why)
                       : fail(err, errlen, "%s: %s", key, why);
    return 0;
}

static int
from_json(json_t *o, struct jit_grant *g, char *err, size_t errlen)
{
    const char *id, *cred, *req, *user, *host, *reason, *status, *onl;
    int ret;

    memset(g, 0, sizeof(*g));
    if (!json_is_object(o))
        return fail(err, errlen, "grant: not a JSON object");
    if (!(id = get_field(o, "id", JIT_GRANT_F_ID, err, errlen))
        || !(cred = get_field(o, "credential", JIT_GRANT_F_CREDENTIAL, err,
                              errlen))
        || !(req = get_field(o, "requester", JIT_GRANT_F_REQUESTER, err,
                             errlen))
        || !(user = get_field(o, "username", JIT_GRANT_F_USERNAME, err,
                              errlen))
        || !(host = get_field(o, "host", JIT_GRANT_F_HOST, err, errlen))
        || !(reason = get_field(o, "reason", JIT_GRANT_F_REASON, err,
                                errlen))
        || !(status = get_str(o, "status", 16, err, errlen))
        || !(onl = get_str(o, "on_logout", 16, err, errlen)))
        return -EINVAL;
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
    if ((ret = get_str_array(o, "groups", 1, JIT_GRANT_F_GROUP, &g->groups,
                             &g->n_groups, err, errlen)) != 0)
        return ret;
    return get_str_array(o, "ssh_keys", 0, JIT_GRANT_F_SSH_KEY, &g->ssh_keys,
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
        && jit_grant_field_problem(JIT_GRANT_F_ID, s) == NULL
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

enum jit_grant_standing
jit_grant_standing(const struct jit_grant *g, int64_t now, uint32_t skew)
{
    if (strcmp(g->status, "revoked") == 0)
        return JIT_GRANT_REVOKED;
    if (strcmp(g->status, "active") != 0)
        return JIT_GRANT_CLOSED;
    if (g->not_before > now + (int64_t) skew)
        return JIT_GRANT_NOT_YET;
    if (now >= g->expires_at)
        return JIT_GRANT_OVER;
    return JIT_GRANT_IN_FORCE;
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

const char *
jit_grant_misfit(const struct jit_grant *g, const struct jit_conf *conf,
                 const char *user, int64_t now)
{
    enum jit_grant_standing st = jit_grant_standing(g, now, conf->clock_skew);

    /* The status first, then whose grant it is, then the time: the
     * order of the reasons the audit lines have always given. */
    if (st == JIT_GRANT_REVOKED)
        return "grant_revoked";
    if (st == JIT_GRANT_CLOSED)
        return "grant_expired";
    if (conf->host == NULL || strcmp(g->host, conf->host) != 0)
        return "wrong_host";
    if (strcmp(g->username, user) != 0)
        return "wrong_user";
    if (st == JIT_GRANT_NOT_YET)
        return "not_yet_valid";
    if (st == JIT_GRANT_OVER)
        return "grant_expired";
    return NULL;
}
