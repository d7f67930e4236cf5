/* SPDX-License-Identifier: MIT */
/*
 * The alert settings at run time, for admins (doc/design.md, S27;
 * jit-apid(8), ALERTS): which alert types are enabled and who is
 * subscribed, read and changed by the API, kept in the database
 * (alerts.h), each change on the operations log with who made it.
 *
 *   GET  /v1/alerts/settings
 *   POST /v1/alerts/types/{type}/enable | disable
 *   POST /v1/alerts/recipients               subscribe
 *   POST /v1/alerts/recipients/unsubscribe
 *
 * A change is read, edited and written back if no other change came in
 * between (compare and set on the settings' version): two admins, or two
 * instances on one database, never undo each other's change unseen.
 */
#include "config.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"

#define SETTINGS_TRIES 5

static const char *const kinds[] = { "email", "webhook", "directory_group" };

/* The bit of a type's name, or 0. */
static unsigned
type_bit(const char *t)
{
    for (int i = 0; t != NULL && i < APID_ALERT_TYPES; i++)
        if (strcmp(t, apid_alert_type_name(i)) == 0)
            return 1u << i;
    return 0;
}

/* An unknown type, named back where it is printable. */
static void
unknown_type(struct apid_reply *r, const char *t)
{
    apid_reply_error(r, 400, "bad_request", "unknown alert type \"%s\""
                     " (account.created, account.enabled or"
                     " account.disable_failed)",
                     t != NULL && apid_plain_text(t, 64) ? t : "?");
}

/* The stored settings as an object (an empty one if none), and their
 * version; NULL with r set. */
static json_t *
settings_read(struct apid *a, int64_t *version, struct apid_reply *r)
{
    char *json = NULL;
    json_t *o;
    int ret = apid_store_alert_settings_get(a->store, &json, version);

    if (ret != APID_OK && ret != APID_NOT_FOUND) {
        apid_reply_store_error(r, a, ret);
        return NULL;
    }
    o = json != NULL ? json_loads(json, 0, NULL) : json_object();
    free(json);
    if (!json_is_object(o)) {
        json_decref(o);
        apid_reply_error(r, 500, "internal", "the stored alert settings are"
                         " not a JSON object");
        return NULL;
    }
    if (!json_is_array(json_object_get(o, "enabled")))
        json_object_set_new(o, "enabled", json_array());
    if (!json_is_array(json_object_get(o, "recipients")))
        json_object_set_new(o, "recipients", json_array());
    return o;
}

/* The index of the recipient of this kind and value in list, or -1;
 * mail addresses compared without case. */
static long
find_recipient(json_t *list, int kind, const char *value)
{
    size_t i;
    json_t *x;

    json_array_foreach(list, i, x)
    {
        const char *v = json_string_value(json_object_get(x, kinds[kind]));

        if (v != NULL
            && (kind == 0 ? strcasecmp(v, value) : strcmp(v, value)) == 0)
            return (long) i;
    }
    return -1;
}

/* A list of type names from a mask, in their order. */
static json_t *
types_list(unsigned m)
{
    json_t *l = json_array();

    for (int i = 0; l != NULL && i < APID_ALERT_TYPES; i++)
        if (m & (1u << i))
            json_array_append_new(l, json_string(apid_alert_type_name(i)));
    return l;
}

static unsigned
types_of(json_t *l)
{
    unsigned m = 0;
    size_t i;
    json_t *x;

    json_array_foreach(l, i, x)
        m |= type_bit(json_string_value(x));
    return m;
}

/* The answer: each type with whether it is enabled, the recipients, the
 * version. */
static void
reply_settings(struct apid_reply *r, json_t *o, int64_t version)
{
    unsigned on = types_of(json_object_get(o, "enabled"));
    json_t *types = json_array();

    for (int i = 0; types != NULL && i < APID_ALERT_TYPES; i++)
        json_array_append_new(types, json_pack("{s:s, s:b}", "type",
                                               apid_alert_type_name(i),
                                               "enabled", (on >> i) & 1));
    apid_reply_json(r, 200, json_pack("{s:o, s:O, s:I}", "types", types,
                                      "recipients",
                                      json_object_get(o, "recipients"),
                                      "version", (json_int_t) version));
}

/* An edit of the settings: 1 changed (action and detail set for the
 * log), 0 nothing to change, -1 refused (r set). */
typedef int (*edit_fn)(struct apid *a, json_t *o, json_t *in,
                       const char *arg, char *action, char *detail,
                       size_t dlen, struct apid_reply *r);

static int
edit_type(struct apid *a, json_t *o, json_t *in, const char *arg,
          char *action, char *detail, size_t dlen, struct apid_reply *r)
{
    const char *type = json_string_value(json_object_get(in, "type"));
    int enable = strcmp(arg, "enable") == 0;
    unsigned on = types_of(json_object_get(o, "enabled"));
    unsigned bit = type_bit(type);

    (void) a;
    (void) r;
    if (((on & bit) != 0) == enable)
        return 0;
    on = enable ? on | bit : on & ~bit;
    json_object_set_new(o, "enabled", types_list(on));
    snprintf(action, 32, "alerts.%s", arg);
    snprintf(detail, dlen, "type=%s", type);
    return 1;
}

/* The recipient the body names: its kind and value, and its types
 * (a mask, 0 if none given), checked; -1 with r set. */
static int
body_recipient(json_t *in, int need_types, const char **value,
               unsigned *types, struct apid_reply *r)
{
    json_t *tl = json_object_get(in, "types"), *x;
    int kind = -1, n = 0;
    size_t i;

    for (int k = 0; k < 3; k++)
        if (json_object_get(in, kinds[k]) != NULL) {
            kind = k;
            n++;
        }
    if (n != 1 || (*value = json_string_value(json_object_get(in, kinds[kind])))
                      == NULL) {
        apid_reply_error(r, 400, "bad_request", "one of email, webhook or"
                         " directory_group, a string");
        return -1;
    }
    *types = 0;
    if (tl != NULL && !json_is_array(tl)) {
        apid_reply_error(r, 400, "bad_request", "types: a list of alert"
                         " types");
        return -1;
    }
    json_array_foreach(tl, i, x)
    {
        unsigned b = type_bit(json_string_value(x));

        if (b == 0) {
            unknown_type(r, json_string_value(x));
            return -1;
        }
        *types |= b;
    }
    if (need_types && *types == 0) {
        apid_reply_error(r, 400, "bad_request", "types: at least one alert"
                         " type");
        return -1;
    }
    return kind;
}

/* Subscribe: a new recipient, or more types (or a new secret_file) for
 * one already there; the same subscription again changes nothing (200,
 * not logged). */
static int
edit_subscribe(struct apid *a, json_t *o, json_t *in, const char *arg,
               char *action, char *detail, size_t dlen, struct apid_reply *r)
{
    json_t *list = json_object_get(o, "recipients"), *rec, *one;
    /* The recipient replaced, held until the end: value and sf may
     * point into it, and replacing it in the list frees it. */
    json_t *prev = NULL;
    const char *value, *sf = json_string_value(json_object_get(in,
                                                              "secret_file"));
    unsigned types, had = 0;
    char err[512], *text;
    int kind = body_recipient(in, 1, &value, &types, r), bad, given = 0;
    long at;

    (void) arg;
    if (kind < 0)
        return -1;
    if (json_object_get(in, "secret_file") != NULL && sf == NULL) {
        apid_reply_error(r, 400, "bad_request", "secret_file: a string");
        return -1;
    }
    /* An admin's key: a file of webhook_key_dir, by its name (doc/design.md,
     * G7); one the recipient has already (root's, perhaps) is kept as it
     * is. */
    if (sf != NULL) {
        pthread_rwlock_rdlock(&a->lock);
        sf = apid_alerts_key_name(&a->alerts, sf, err, sizeof(err));
        pthread_rwlock_unlock(&a->lock);
        if (sf == NULL) {
            apid_reply_error(r, 400, "bad_request", "%s", err);
            return -1;
        }
        given = 1;
    }
    at = find_recipient(list, kind, value);
    if (at >= 0) {
        rec = json_array_get(list, (size_t) at);
        had = types_of(json_object_get(rec, "types"));
        if ((had | types) == had
            && (sf == NULL
                || (json_string_value(json_object_get(rec, "secret_file"))
                    && strcmp(json_string_value(json_object_get(
                                  rec, "secret_file")), sf) == 0)))
            return 0;
        prev = json_incref(rec);
        if (sf == NULL)
            sf = json_string_value(json_object_get(rec, "secret_file"));
        /* The address as first subscribed: its queued alerts name it so,
         * and another spelling must not drop them as unsubscribed. */
        value = json_string_value(json_object_get(rec, kinds[kind]));
    }
    rec = json_pack("{s:s, s:o}", kinds[kind], value, "types",
                    types_list(had | types));
    if (rec != NULL && sf != NULL)
        json_object_set_new(rec, "secret_file", json_string(sf));
    /* Checked as the file's recipients are (alerts.c): the address, the
     * https URL, the webhook's key, mail configured, groups possible. */
    one = json_pack("{s:[O]}", "recipients", rec);
    text = one ? json_dumps(one, JSON_COMPACT) : NULL;
    pthread_rwlock_rdlock(&a->lock);
    bad = text == NULL
          || apid_alerts_check(&a->alerts, text,
                               given ? APID_ALERTS_FROM_API
                                     : APID_ALERTS_FROM_FILE,
                               err, sizeof(err)) != 0;
    pthread_rwlock_unlock(&a->lock);
    json_decref(one);
    free(text);
    if (bad) {
        json_decref(rec);
        json_decref(prev);
        /* "recipients[0].email: ...": the one recipient of the body. */
        apid_reply_error(r, 400, "bad_request", "%s",
                         strncmp(err, "recipients[0]", 13) == 0
                             ? err + 13 + (err[13] == '.' || err[13] == ':')
                                   + (err[13] == ':')
                             : err);
        return -1;
    }
    if (at >= 0)
        json_array_set_new(list, (size_t) at, rec);
    else
        json_array_append_new(list, rec);
    snprintf(action, 32, "alerts.subscribe");
    text = json_dumps(json_object_get(rec, "types"), JSON_COMPACT);
    snprintf(detail, dlen, "%s=%s types=%s%s%s", kinds[kind], value,
             text ? text : "?", sf ? " secret_file=" : "", sf ? sf : "");
    free(text);
    json_decref(prev);
    return 1;
}

/* Unsubscribe from the types given, or from all: a recipient left with
 * none is removed.  Not subscribed: 404. */
static int
edit_unsubscribe(struct apid *a, json_t *o, json_t *in, const char *arg,
                 char *action, char *detail, size_t dlen,
                 struct apid_reply *r)
{
    json_t *list = json_object_get(o, "recipients"), *rec;
    const char *value;
    unsigned types, had, left;
    int kind = body_recipient(in, 0, &value, &types, r);
    long at;
    char *text;

    (void) a;
    (void) arg;
    if (kind < 0)
        return -1;
    if ((at = find_recipient(list, kind, value)) < 0) {
        apid_reply_error(r, 404, "not_found", "no such recipient subscribed");
        return -1;
    }
    rec = json_array_get(list, (size_t) at);
    had = types_of(json_object_get(rec, "types"));
    left = types ? had & ~types : 0;
    if (left == had)
        return 0;
    if (left == 0)
        json_array_remove(list, (size_t) at);
    else
        json_object_set_new(rec, "types", types_list(left));
    snprintf(action, 32, "alerts.unsubscribe");
    rec = types_list(had & ~left);
    text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
    json_decref(rec);
    snprintf(detail, dlen, "%s=%s types=%s", kinds[kind], value,
             text ? text : "?");
    free(text);
    return 1;
}

/* Read, edit, write back unless another change came first (then again). */
static void
settings_change(struct apid *a, const struct apid_principal *who,
                json_t *in, edit_fn edit, const char *arg,
                struct apid_reply *r)
{
    for (int t = 0; t < SETTINGS_TRIES; t++) {
        char action[32] = "", detail[8192] = "", *text = NULL;
        int64_t version = 0;
        json_t *o = settings_read(a, &version, r);
        int ch, ret;

        if (o == NULL)
            return;
        if ((ch = edit(a, o, in, arg, action, detail, sizeof(detail), r))
            <= 0) {
            if (ch == 0)
                reply_settings(r, o, version);
            json_decref(o);
            return;
        }
        if ((text = json_dumps(o, JSON_COMPACT)) == NULL) {
            json_decref(o);
            apid_reply_error(r, 500, "internal", "out of memory");
            return;
        }
        ret = apid_store_alert_settings_put(a->store, text, version,
                                            who->name, action, detail,
                                            apid_now());
        free(text);
        if (ret == APID_OK) {
            /* In effect at once here; other instances read the new
             * version before their next alert (apid_alerts_refresh). */
            (void) apid_alerts_refresh(a);
            reply_settings(r, o, version + 1);
        }
        json_decref(o);
        if (ret == APID_OK)
            return;
        if (ret != APID_CONFLICT) {
            apid_reply_store_error(r, a, ret);
            return;
        }
    }
    apid_reply_error(r, 409, "conflict", "the alert settings keep changing;"
                     " try again");
}

void
apid_alerts_api(struct apid *a, const struct apid_principal *who,
                const struct apid_req *q, char **s, int n,
                struct apid_reply *r)
{
    int get = strcmp(q->method, "GET") == 0;
    json_t *in = NULL;

    if (who->role != APID_ADMIN) {
        apid_reply_error(r, 403, "forbidden", "only admins read or change"
                         " the alert settings");
        return;
    }
    if (n == 3 && get && strcmp(s[2], "settings") == 0) {
        int64_t version = 0;
        json_t *o = settings_read(a, &version, r);

        if (o != NULL)
            reply_settings(r, o, version);
        json_decref(o);
        return;
    }
    if (get) {
        apid_reply_error(r, 404, "not_found", "no such resource");
        return;
    }
    if (n == 5 && strcmp(s[2], "types") == 0
        && (strcmp(s[4], "enable") == 0 || strcmp(s[4], "disable") == 0)) {
        if (type_bit(s[3]) == 0) {
            unknown_type(r, s[3]);
            return;
        }
        in = json_pack("{s:s}", "type", s[3]);
        if (in != NULL)
            settings_change(a, who, in, edit_type, s[4], r);
    } else if (strcmp(s[2], "recipients") == 0
               && (n == 3 || (n == 4 && strcmp(s[3], "unsubscribe") == 0))) {
        if ((in = apid_body_object(q, r)) != NULL)
            settings_change(a, who, in,
                            n == 3 ? edit_subscribe : edit_unsubscribe, "",
                            r);
    } else {
        apid_reply_error(r, 404, "not_found", "no such resource");
        return;
    }
    if (in == NULL && r->status == 0)
        apid_reply_error(r, 500, "internal", "out of memory");
    json_decref(in);
}
