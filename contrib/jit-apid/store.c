/* SPDX-License-Identifier: MIT */
/* jit-apid storage: the interface of store.h over a backend. */
#include "config.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "policy.h"
#include "store_impl.h"

struct apid_store {
    const struct apid_backend *b;
    struct apid_conn *c;
    /* One connection, one transaction at a time: every call holds it. */
    pthread_mutex_t mu;
    /* A second one for the reads that must not wait behind a write: a
     * login's grant check, and the hosts' view (after a fleet-wide
     * revocation, 10,000 hosts' event batches are 10,000 fsync'd
     * commits on c).  Each read sees what was committed before it (SQLite
     * WAL, PostgreSQL: a snapshot per statement).  NULL for an in-memory
     * SQLite database, which a second connection would not share: reads
     * then go through c. */
    struct apid_conn *rc;
    pthread_mutex_t rmu;
    /* apid_store_cache's, under its own lock (mu is held for whole
     * queries). */
    pthread_mutex_t cache_mu;
    void *cache;
    void (*cache_drop)(void *);
};

/* Each thread's last error: a request reads its own. */
static __thread char last_err[512];

int
apid_store_vfail(const char *fmt, va_list ap)
{
    vsnprintf(last_err, sizeof(last_err), fmt, ap);
    return APID_FAILED;
}

int
apid_store_fail(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    apid_store_vfail(fmt, ap);
    va_end(ap);
    return APID_FAILED;
}

int
apid_store_name_refused(const struct apid_grant *g, const char *holder,
                        const char *held)
{
    char msg[512];
    int ret = apid_name_held(g, holder, held, msg, sizeof(msg));

    apid_store_fail("%s", msg);
    return ret;
}

const char *
apid_store_error(struct apid_store *s)
{
    (void) s;
    return last_err;
}

struct apid_store *
apid_store_open(const char *spec, char **err)
{
    static const struct apid_backend *const all[] = {
        &apid_sqlite_backend,
        &apid_pg_backend,
    };
    struct apid_store *s;

    *err = NULL;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        size_t len = strlen(all[i]->prefix);

        if (strncmp(spec, all[i]->prefix, len) != 0)
            continue;
        if ((s = calloc(1, sizeof(*s))) == NULL)
            return NULL;
        s->b = all[i];
        if ((s->c = s->b->open(spec + len, err)) == NULL) {
            free(s);
            return NULL;
        }
        if (strcmp(spec + len, ":memory:") != 0
            && (s->rc = s->b->open(spec + len, err)) == NULL) {
            s->b->close(s->c);
            free(s);
            return NULL;
        }
        pthread_mutex_init(&s->mu, NULL);
        pthread_mutex_init(&s->rmu, NULL);
        pthread_mutex_init(&s->cache_mu, NULL);
        return s;
    }
    if (asprintf(err, "database: %s: sqlite:PATH or postgresql:CONNINFO",
                 spec) < 0)
        *err = NULL;
    return NULL;
}

void
apid_store_close(struct apid_store *s)
{
    if (s == NULL)
        return;
    if (s->cache != NULL)
        s->cache_drop(s->cache);
    s->b->close(s->c);
    if (s->rc != NULL)
        s->b->close(s->rc);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->rmu);
    pthread_mutex_destroy(&s->cache_mu);
    free(s);
}

#define LOCKED(call)                                                        \
    do {                                                                    \
        int ret_;                                                           \
        pthread_mutex_lock(&s->mu);                                         \
        ret_ = (call);                                                      \
        pthread_mutex_unlock(&s->mu);                                       \
        return ret_;                                                        \
    } while (0)
/* The same on the reading connection, rc_ in call (c, if there is
 * none). */
#define READ_LOCKED(call)                                                   \
    do {                                                                    \
        int ret_;                                                           \
        struct apid_conn *rc_ = s->rc ? s->rc : s->c;                       \
        pthread_mutex_t *mu_ = s->rc ? &s->rmu : &s->mu;                    \
        pthread_mutex_lock(mu_);                                            \
        ret_ = (call);                                                      \
        pthread_mutex_unlock(mu_);                                          \
        return ret_;                                                        \
    } while (0)

int
apid_store_grant_insert(struct apid_store *s, struct apid_grant *g,
                        const char *actor, const char *op_detail, int64_t now)
{
    LOCKED(s->b->grant_insert(s->c, g, actor, op_detail, now));
}

int
apid_store_grant_transition(struct apid_store *s, const char *id,
                            const char *from, const char *to,
                            const char *actor, const char *op_detail,
                            int64_t now)
{
    LOCKED(s->b->grant_transition(s->c, id, from, to, actor, op_detail, now));
}

int
apid_store_grant_list(struct apid_store *s, const struct apid_grant_filter *f,
                      size_t limit, struct apid_grant **v, size_t *n,
                      int64_t now)
{
    LOCKED(s->b->grant_list(s->c, f, limit, v, n, now));
}

int
apid_store_host_grants(struct apid_store *s, const char *host,
                       const char *user, int64_t now, struct apid_grant **v,
                       size_t *n)
{
    READ_LOCKED(s->b->host_grants(rc_, host, user, now, v, n));
}

int
apid_store_live_grants(struct apid_store *s, int64_t now,
                       struct apid_grant **v, size_t *n)
{
    READ_LOCKED(s->b->live_grants(rc_, now, v, n));
}

int
apid_store_grant_hosts(struct apid_store *s, const char *id, char **hosts)
{
    READ_LOCKED(s->b->grant_hosts(rc_, id, hosts));
}

void *
apid_store_cache(struct apid_store *s, void *(*make)(void),
                 void (*drop)(void *))
{
    void *c;

    pthread_mutex_lock(&s->cache_mu);
    if (s->cache == NULL && (s->cache = make()) != NULL)
        s->cache_drop = drop;
    c = s->cache;
    pthread_mutex_unlock(&s->cache_mu);
    return c;
}

int
apid_store_change_seq(struct apid_store *s, int64_t *seq)
{
    LOCKED(s->b->change_seq(s->c, seq));
}

int
apid_store_grant_accounts(struct apid_store *s, const char *host,
                          char *const *ids, size_t n, char **names,
                          char **requesters)
{
    char *json = apid_strings_json(ids, n);
    int ret;

    for (size_t i = 0; i < n; i++)
        names[i] = requesters[i] = NULL;
    if (json == NULL)
        return apid_store_fail("out of memory");
    pthread_mutex_lock(&s->mu);
    ret = s->b->grant_accounts(s->c, host, json, ids, n, names, requesters);
    pthread_mutex_unlock(&s->mu);
    free(json);
    if (ret != APID_OK)
        for (size_t i = 0; i < n; i++) {
            free(names[i]);
            free(requesters[i]);
            names[i] = requesters[i] = NULL;
        }
    return ret;
}

int
apid_store_events_insert(struct apid_store *s, const struct apid_event *v,
                         size_t n, int64_t now)
{
    LOCKED(s->b->events_insert(s->c, v, n, now));
}

int
apid_store_events_for_grant(struct apid_store *s, const char *grant,
                            struct apid_event **v, size_t *n)
{
    LOCKED(s->b->events_for_grant(s->c, grant, v, n));
}

/* By grant id in strcmp's order (a database's collation need not be
 * it), then as received. */
static int
event_cmp(const void *x, const void *y)
{
    const struct apid_event *a = x, *b = y;
    int c = strcmp(a->grant ? a->grant : "", b->grant ? b->grant : "");

    return c != 0 ? c : (a->seq > b->seq) - (a->seq < b->seq);
}

static int
handover_cmp(const void *x, const void *y)
{
    const struct apid_handover *a = x, *b = y;
    int c = strcmp(a->orig, b->orig);

    return c != 0 ? c : strcmp(a->host, b->host);
}

int
apid_store_events_for_grants(struct apid_store *s, char *const *ids,
                             size_t n, struct apid_event **v, size_t *nv)
{
    char *json;
    int ret;

    *v = NULL;
    *nv = 0;
    if (n == 0)
        return APID_OK;
    if ((json = apid_strings_json(ids, n)) == NULL)
        return apid_store_fail("out of memory");
    pthread_mutex_lock(&s->mu);
    ret = s->b->events_for_grants(s->c, json, v, nv);
    pthread_mutex_unlock(&s->mu);
    free(json);
    if (ret == APID_OK && *nv > 1)
        qsort(*v, *nv, sizeof(**v), event_cmp);
    return ret;
}

int
apid_store_handovers(struct apid_store *s, char *const *ids, size_t n,
                     struct apid_handover **v, size_t *nv)
{
    char *json;
    int ret;

    *v = NULL;
    *nv = 0;
    if (n == 0)
        return APID_OK;
    if ((json = apid_strings_json(ids, n)) == NULL)
        return apid_store_fail("out of memory");
    pthread_mutex_lock(&s->mu);
    ret = s->b->handovers(s->c, json, v, nv);
    pthread_mutex_unlock(&s->mu);
    free(json);
    if (ret == APID_OK && *nv > 1)
        qsort(*v, *nv, sizeof(**v), handover_cmp);
    return ret;
}

void
apid_handovers_free(struct apid_handover *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].orig);
        free(v[i].grant);
        free(v[i].host);
    }
    free(v);
}

int
apid_store_ops(struct apid_store *s, const char *grant, size_t limit,
               struct apid_op **v, size_t *n)
{
    LOCKED(s->b->ops(s->c, grant, limit, v, n));
}

int
apid_store_alerts_claim(struct apid_store *s, int64_t now, int64_t lease,
                        size_t limit, struct apid_alert_job **v, size_t *n)
{
    LOCKED(s->b->alerts_claim(s->c, now, lease, limit, v, n));
}

int
apid_store_alert_settle(struct apid_store *s, int64_t id, int sent,
                        const char *error, int64_t next_try, int64_t now)
{
    LOCKED(s->b->alert_settle(s->c, id, sent, error, next_try, now));
}

int
apid_store_alerts_list(struct apid_store *s, size_t limit,
                       struct apid_alert_rec **v, size_t *n)
{
    LOCKED(s->b->alerts_list(s->c, limit, v, n));
}

int
apid_store_alert_settings_get(struct apid_store *s, char **json,
                              int64_t *version)
{
    READ_LOCKED(s->b->alert_settings_get(rc_, json, version));
}

int
apid_store_alert_settings_put(struct apid_store *s, const char *json,
                              int64_t version, const char *actor,
                              const char *action, const char *detail,
                              int64_t now)
{
    LOCKED(s->b->alert_settings_put(s->c, json, version, actor, action,
                                    detail, now));
}

int
apid_store_op_add(struct apid_store *s, const char *actor, const char *action,
                  const char *grant, const char *detail, int64_t now)
{
    LOCKED(s->b->op_add(s->c, actor, action, grant, detail, now));
}

int
apid_store_diracct_hold(struct apid_store *s, const char *username,
                        const char *grant, const char *actor,
                        const char *action, const char *detail, int64_t now)
{
    LOCKED(s->b->diracct_hold(s->c, username, grant, actor, action, detail,
                              now));
}

int
apid_store_diracct_get(struct apid_store *s, const char *grant,
                       struct apid_diracct *out)
{
    LOCKED(s->b->diracct_get(s->c, grant, out));
}

int
apid_store_diracct_claim(struct apid_store *s, int64_t now, int64_t lease,
                         size_t limit, struct apid_diracct **v, size_t *n)
{
    LOCKED(s->b->diracct_claim(s->c, now, lease, limit, v, n));
}

int
apid_store_diracct_settle(struct apid_store *s, const char *username,
                          const char *grant, int ok, const char *error,
                          int64_t next_try, const char *actor,
                          const char *action, const char *detail, int64_t now)
{
    LOCKED(s->b->diracct_settle(s->c, username, grant, ok, error, next_try,
                                actor, action, detail, now));
}

int
apid_store_diracct_set_uuid(struct apid_store *s, const char *username,
                            const char *grant, const char *uuid)
{
    LOCKED(s->b->diracct_set_uuid(s->c, username, grant, uuid));
}

void
apid_diraccts_free(struct apid_diracct *v, size_t n)
{
    for (size_t i = 0; v != NULL && i < n; i++) {
        free(v[i].entry_uuid);
        free(v[i].username);
        free(v[i].grant);
        free(v[i].state);
        free(v[i].last_error);
    }
    free(v);
}

int
apid_store_grant_get(struct apid_store *s, const char *id,
                     struct apid_grant *g, int64_t now)
{
    struct apid_grant_filter f = { .id = id };
    struct apid_grant *v = NULL;
    size_t n = 0;
    int ret;

    if ((ret = apid_store_grant_list(s, &f, 1, &v, &n, now)) != APID_OK)
        return ret;
    if (n == 0) {
        free(v);
        snprintf(last_err, sizeof(last_err), "no grant %s", id);
        return APID_NOT_FOUND;
    }
    *g = v[0];
    free(v);
    return APID_OK;
}

int
apid_json_strings(const char *text, char ***out, size_t *n)
{
    json_t *a = json_loads(text ? text : "[]", 0, NULL);
    size_t i, want;
    json_t *x;
    char **v;

    *out = NULL;
    *n = 0;
    if (!json_is_array(a)) {
        json_decref(a);
        return -1;
    }
    want = json_array_size(a);
    if ((v = calloc(want + 1, sizeof(*v))) == NULL) {
        json_decref(a);
        return -1;
    }
    json_array_foreach(a, i, x)
    {
        if (!json_is_string(x) || (v[i] = strdup(json_string_value(x))) == NULL)
            break;
        *n = i + 1;
    }
    json_decref(a);
    *out = v;
    return *n == want ? 0 : -1;
}

char *
apid_strings_json(char *const *v, size_t n)
{
    json_t *a = json_array();
    char *text;

    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    text = a ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    return text;
}

void
apid_new_id(char out[40])
{
    unsigned char r[12];

    if (getrandom(r, sizeof(r), 0) != (ssize_t) sizeof(r))
        abort(); /* no randomness: nothing safe to do */
    strcpy(out, "g-");
    for (size_t i = 0; i < sizeof(r); i++)
        snprintf(out + 2 + 2 * i, 3, "%02x", r[i]);
}

static void
strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

void
apid_grant_free(struct apid_grant *g)
{
    if (g == NULL)
        return;
    free(g->policy);
    free(g->credential);
    free(g->requester);
    free(g->username);
    free(g->reason);
    free(g->status);
    free(g->on_logout);
    free(g->decided_by);
    free(g->previous);
    strv_free(g->hosts, g->n_hosts);
    strv_free(g->groups, g->n_groups);
    strv_free(g->ssh_keys, g->n_ssh_keys);
    memset(g, 0, sizeof(*g));
}

void
apid_grants_free(struct apid_grant *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        apid_grant_free(&v[i]);
    free(v);
}

static void
event_fields_free(struct apid_event *e)
{
    free(e->id);
    free(e->type);
    free(e->host);
    free(e->grant);
    free(e->username);
    free(e->requester);
    free(e->detail);
}

void
apid_events_free(struct apid_event *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        event_fields_free(&v[i]);
    free(v);
}

void
apid_alert_jobs_free(struct apid_alert_job *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].channel);
        free(v[i].recipient);
        event_fields_free(&v[i].ev);
    }
    free(v);
}

void
apid_alert_recs_free(struct apid_alert_rec *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].event);
        free(v[i].type);
        free(v[i].channel);
        free(v[i].recipient);
        free(v[i].status);
        free(v[i].last_error);
    }
    free(v);
}

void
apid_ops_free(struct apid_op *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].actor);
        free(v[i].action);
        free(v[i].grant);
        free(v[i].detail);
    }
    free(v);
}
