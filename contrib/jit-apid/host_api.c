/* SPDX-License-Identifier: MIT */
/*
 * jit-apid's hosts' side: a host's grant list (a long poll), one grant
 * by account name, and the host's events.  A host authenticates with a
 * token, a Kerberos ticket of host/<host>, or a client certificate, and
 * sees only its own grants.
 */
#include "config.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "core/grant.h"
#include "core/timefmt.h"
#include "core/validate.h"
#include "hostview.h"
#include "kerberos.h"
#include "tls.h"

#define EVENTS_MAX 1000

static const char *const event_types[] = {
    "account.created", "account.enabled", "account.deleted",
    "account.disable_failed", "account.revoked", "login.denied",
    "session.opened", "session.closed",
};

json_t *
apid_host_grant_json(const struct apid_grant *g, const char *host)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:s,"
                     " s:s, s:o}",
                     "id", g->id, "credential", g->credential, "requester",
                     g->requester, "username", g->username, "host", host,
                     "groups", apid_json_string_list(g->groups, g->n_groups),
                     "not_before", apid_json_time(g->not_before), "expires_at",
                     apid_json_time(g->expires_at), "reason", g->reason,
                     "status", g->status, "on_logout", g->on_logout,
                     "ssh_keys",
                     apid_json_string_list(g->ssh_keys, g->n_ssh_keys));
}

int
apid_grant_host_check(const struct apid_grant *g, char *err, size_t errlen)
{
    struct apid_grant view = *g;
    struct jit_grant parsed;
    char why[256], active[] = "active";
    size_t longest = 0;
    int ret = 0;

    /* pending becomes active unchanged; the store gives the id later. */
    if (strcmp(g->status, "pending") == 0)
        view.status = active;
    if (view.id[0] == '\0')
        snprintf(view.id, sizeof(view.id), "g-%024d", 0);
    if (g->n_hosts == 0) {
        snprintf(err, errlen, "no hosts");
        return -1;
    }
    /*
     * The hosts' views differ in the field "host" alone (see
     * apid_host_grant_json): each host's name passes the field's own
     * check, and the view of the host with the longest name (the largest
     * text, for any bound on size) is parsed whole.  The same verdict as
     * parsing 10,000 views of a fleet-wide grant, which took 0.5 s.
     */
    for (size_t h = 0; h < g->n_hosts; h++) {
        const char *why_host = jit_grant_field_problem(JIT_GRANT_F_HOST,
                                                       g->hosts[h]);

        if (why_host != NULL) {
            snprintf(err, errlen, "host %.64s: host: %s", g->hosts[h],
                     why_host);
            return -1;
        }
        if (strlen(g->hosts[h]) > strlen(g->hosts[longest]))
            longest = h;
    }
    {
        json_t *o = apid_host_grant_json(&view, g->hosts[longest]);
        char *text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

        if (text == NULL) {
            snprintf(err, errlen, "host %.64s: cannot be rendered",
                     g->hosts[longest]);
            ret = -1;
        } else if (jit_grant_parse(text, strlen(text), &parsed, why,
                                   sizeof(why)) != 0) {
            snprintf(err, errlen, "host %.64s: %s", g->hosts[longest], why);
            ret = -1;
        } else {
            jit_grant_free(&parsed);
        }
        free(text);
        json_decref(o);
    }
    return ret;
}

/* Host authentication: a host token, a Kerberos ticket of host/<host>, or
 * a client certificate for host (tls.c: from client_ca, for clientAuth,
 * not a CA's).  The path's host must be the caller's: a host sees only
 * its own grants. */
static int
host_allowed(struct apid *a, const struct apid_req *q, const char *host)
{
    const char *authz = q->authz;
    const struct apid_principal *p;
    char why[256] = "";
    int ok = 0, r;

    if (authz != NULL && strncasecmp(authz, "Negotiate ", 10) == 0) {
        char *who;

        if (a->conf.krb5_keytab == NULL)
            return 0;
        /* A long poll asked again (woken, or at its deadline) is the
         * request its first pass authenticated for this same path; its
         * authenticator is good once, and checked again it reads as a
         * replay (a 401 where a change was due). */
        if (q->poll_deadline != 0)
            return 1;
        who = apid_krb5_host(a->conf.krb5_keytab, a->conf.krb5_realm, authz,
                             why, sizeof(why));
        if (who == NULL)
            fprintf(stderr, "jit-apid: host %s: %s\n", host, why);
        ok = who != NULL && strcmp(who, host) == 0;
        free(who);
        return ok;
    }
    if (authz != NULL) {
        pthread_rwlock_rdlock(&a->lock);
        p = apid_auth_host(&a->auth, authz);
        ok = p != NULL && strcmp(p->name, host) == 0;
        pthread_rwlock_unlock(&a->lock);
        return ok;
    }
    if (a->conf.client_ca == NULL || q->tls == NULL)
        return 0;
    r = apid_tls_client_host(q->tls, host, why, sizeof(why));
    if (r == -EACCES)
        fprintf(stderr, "jit-apid: host %s: client certificate refused: %s\n",
                host, why);
    return r == 0;
}

/* The host's list and its ETag, and when the first of its grants ends
 * (the list changes then with no write), from the view of all the hosts'
 * lists (hostview.c): after a change every woken long poll shares one
 * store read.  The text only if the host does not have it already (its
 * If-None-Match is the ETag): a poll woken by another host's change
 * costs a hash of ~100 digests. */
static int
host_list(struct apid *a, const char *host, const char *inm, char **text,
          char etag[80], int64_t *next_end)
{
    struct apid_hostview *v;
    int ret;

    *text = NULL;
    if ((v = apid_hostview_get(a, apid_now(), &ret)) == NULL)
        return ret;
    ret = apid_hostview_list(v, host, NULL, etag, next_end);
    if (ret == APID_OK && (inm == NULL || strcmp(inm, etag) != 0))
        ret = apid_hostview_list(v, host, text, etag, next_end);
    apid_hostview_put(v);
    return ret;
}

/* One pass of a host's long poll: the list if it differs from the one
 * the host has (If-None-Match), 304 at the deadline, else status 0 and
 * when to ask again.  The transport does the waiting, so a waiting host
 * holds no handler. */
static void
get_host_list(struct apid *a, const struct apid_req *q, const char *host,
              struct apid_reply *r)
{
    const char *inm = q->if_none_match;
    const char *w = q->arg(q, "wait");
    uint32_t wait = 0;
    int64_t deadline = q->poll_deadline, next_end;
    char *text = NULL;
    uint64_t gen;
    int ret;

    if (deadline == 0) {
        if (w != NULL && jit_parse_u32(w, 0, 3600, &wait) != 0) {
            apid_reply_error(r, 400, "bad_request", "wait: seconds, 0..3600");
            return;
        }
        if (wait > APID_WAIT_MAX)
            wait = APID_WAIT_MAX;
        deadline = apid_now() + wait;
    }
    /* The generation before the read: a change during it wakes us. */
    pthread_mutex_lock(&a->change_mu);
    gen = a->generation;
    pthread_mutex_unlock(&a->change_mu);
    if ((ret = host_list(a, host, inm, &text, r->etag, &next_end))
        != APID_OK) {
        apid_reply_store_error(r, a, ret);
        return;
    }
    if (text != NULL) {
        r->status = 200;
        r->body = text;
        return;
    }
    if (apid_now() >= deadline || a->stopping) {
        r->status = 304;
        return;
    }
    /* Asleep until a change (made here, or seen by the watcher in
     * another instance's operations), the end of one of the listed
     * grants, or the deadline: an idle long poll costs no query. */
    r->status = 0;
    r->poll_gen = gen;
    r->poll_deadline = deadline;
    r->poll_wake = next_end < deadline ? next_end : deadline;
}

/* A login's check reads the store itself, not the view: one indexed row,
 * and as fresh as the store (a revocation here is committed before its
 * request answers, so the next login refuses it; another instance's
 * likewise, at once), where the view is as fresh as the last signalled
 * change. */
static void
get_host_grant(struct apid *a, const char *host, const char *user,
               struct apid_reply *r)
{
    struct apid_grant *v = NULL;
    size_t n = 0;
    int ret;

    if (jit_name_problem(user) != NULL) {
        apid_reply_error(r, 404, "not_found", "no grant");
        return;
    }
    if ((ret
         = apid_store_host_grants(a->store, host, user, apid_now(), &v, &n))
        != APID_OK) {
        apid_reply_store_error(r, a, ret);
        return;
    }
    if (n > 0)
        apid_reply_json(r, 200, apid_host_grant_json(&v[0], host));
    else
        apid_reply_error(r, 404, "not_found", "no grant");
    apid_grants_free(v, n);
}

static int
event_type_ok(const char *t)
{
    for (size_t i = 0; i < sizeof(event_types) / sizeof(event_types[0]); i++)
        if (strcmp(t, event_types[i]) == 0)
            return 1;
    return 0;
}

static int
event_id_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'
              || s[i] == '.'))
            return 0;
    return 1;
}

/* A host retries a teardown that failed and reports each failure (the
 * record keeps them all), but the "failed to disable" alert is raised
 * once per account of a grant on a host: by the first account.disable_failed
 * since that account came to be (account.created or account.enabled) or
 * since the last one was deleted, so a second account of the same grant
 * (on_logout delete, then sync again) that fails alerts again
 * (doc/design.md, F6).  The events already stored are read in their
 * order, then this batch's before e.  A store that cannot tell alerts
 * again rather than never. */
static int
account_mark(const struct apid_event *x, const struct apid_event *e,
             int told)
{
    if (x->type == NULL || x->id == NULL || x->host == NULL
        || x->username == NULL || strcmp(x->host, e->host) != 0
        || strcmp(x->username, e->username) != 0)
        return told;
    if (strcmp(x->type, "account.disable_failed") == 0)
        return strcmp(x->id, e->id) != 0 ? 1 : told;
    if (strcmp(x->type, "account.created") == 0
        || strcmp(x->type, "account.enabled") == 0
        || strcmp(x->type, "account.deleted") == 0)
        return 0;
    return told;
}

static int
failure_told(struct apid *a, const struct apid_event *v, size_t k)
{
    const struct apid_event *e = &v[k];
    struct apid_event *old = NULL;
    size_t n_old = 0;
    int told = 0;

    if (e->type == NULL || strcmp(e->type, "account.disable_failed") != 0
        || e->grant == NULL || e->host == NULL || e->username == NULL
        || apid_store_events_for_grant(a->store, e->grant, &old, &n_old)
               != APID_OK)
        return 0;
    for (size_t i = 0; i < n_old; i++)
        told = account_mark(&old[i], e, told);
    for (size_t i = 0; i < k; i++)
        if (v[i].grant != NULL && strcmp(v[i].grant, e->grant) == 0)
            told = account_mark(&v[i], e, told);
    apid_events_free(old, n_old);
    return told;
}

/*
 * Whether a batch's events are the posting host's to report (doc/design.md,
 * "Events"): an event that names a grant is accepted only if the grant
 * lists this host and the event's username is the grant's account on it
 * (and its requester, if given, the grant's); a grant that does not exist
 * gets the same answer as another host's, so that a host learns nothing
 * of the ids it does not hold.  An event with no grant is a login.denied
 * of a name no grant gives (anyone may try names): it is kept, attached
 * to no grant, and alerts no one (every alert type is an account.*
 * event, and those need a grant, as session.* events do).
 *
 * One read for the batch, before the insert's transaction: a grant's
 * hosts and its account name are written with it and never change (only
 * their `live` flag does), and a grant is never deleted, so nothing
 * between this read and the insert can make an accepted event foreign.
 * 0, or the reply made and -1.
 */
static int
events_owned(struct apid *a, const char *host, const struct apid_event *v,
             size_t n, struct apid_reply *r)
{
    char **ids = calloc(n + 1, sizeof(char *));
    char **names = calloc(n + 1, sizeof(char *));
    char **reqs = calloc(n + 1, sizeof(char *));
    size_t k = 0, i;
    int ret = -1, sret;

    if (ids == NULL || names == NULL || reqs == NULL) {
        apid_reply_error(r, 500, "out_of_memory", "out of memory");
        goto done;
    }
    for (i = 0; i < n; i++) {
        if (v[i].grant != NULL)
            ids[k++] = v[i].grant;
        else if (strcmp(v[i].type, "login.denied") != 0) {
            apid_reply_error(r, 400, "bad_request", "events[%zu].grant:"
                             " required for %s", i, v[i].type);
            goto done;
        }
    }
    if (k > 0 && (sret = apid_store_grant_accounts(a->store, host, ids, k,
                                                   names, reqs)) != APID_OK) {
        apid_reply_store_error(r, a, sret);
        goto done;
    }
    for (i = 0, k = 0; i < n; i++) {
        if (v[i].grant == NULL)
            continue;
        if (names[k] == NULL) {
            apid_reply_error(r, 403, "forbidden", "events[%zu].grant: %s is"
                             " not this host's", i, v[i].grant);
            goto done;
        }
        if (v[i].username == NULL || strcmp(v[i].username, names[k]) != 0) {
            apid_reply_error(r, 403, "forbidden", "events[%zu].username: not"
                             " the account of grant %s on %s", i,
                             v[i].grant, host);
            goto done;
        }
        if (v[i].requester != NULL && strcmp(v[i].requester, reqs[k]) != 0) {
            apid_reply_error(r, 403, "forbidden", "events[%zu].requester: not"
                             " the requester of grant %s", i, v[i].grant);
            goto done;
        }
        k++;
    }
    ret = 0;

done:
    for (i = 0; names != NULL && reqs != NULL && i < n; i++) {
        free(names[i]);
        free(reqs[i]);
    }
    free(ids);
    free(names);
    free(reqs);
    return ret;
}

static void
post_events(struct apid *a, const char *host, const struct apid_req *q,
            struct apid_reply *r)
{
    json_error_t je;
    json_t *root = json_loadb(q->body ? q->body : "", q->len,
                              JSON_REJECT_DUPLICATES, &je);
    json_t *list = json_object_get(root, "events"), *e;
    struct apid_event *v = NULL;
    size_t i, n;
    int ret;

    if (!json_is_array(list)) {
        apid_reply_error(r, 400, "bad_request", "want {\"events\": [...]}");
        goto done;
    }
    n = json_array_size(list);
    if (n > EVENTS_MAX) {
        apid_reply_error(r, 413, "too_large", "at most %d events per batch",
                    EVENTS_MAX);
        goto done;
    }
    if ((v = calloc(n ? n : 1, sizeof(*v))) == NULL) {
        apid_reply_error(r, 500, "out_of_memory", "out of memory");
        goto done;
    }
    json_array_foreach(list, i, e)
    {
        const char *id = json_string_value(json_object_get(e, "id"));
        const char *type = json_string_value(json_object_get(e, "type"));
        const char *tm = json_string_value(json_object_get(e, "time"));
        const char *h = json_string_value(json_object_get(e, "host"));
        json_t *detail = json_object_get(e, "detail");
        const char *grant, *user, *reqr;

        if (!json_is_object(e) || id == NULL || !event_id_ok(id)
            || type == NULL || !event_type_ok(type) || tm == NULL
            || jit_time_parse(tm, &v[i].time) != 0 || h == NULL
            || strcmp(h, host) != 0
            || apid_opt_text(e, "grant", JIT_GRANT_ID_MAX, &grant) != 0
            || apid_opt_text(e, "username", JIT_NAME_MAX, &user) != 0
            || apid_opt_text(e, "requester", JIT_GRANT_REQUESTER_MAX, &reqr)
                   != 0
            || (detail != NULL && !json_is_object(detail)
                && !json_is_null(detail))) {
            apid_reply_error(r, 400, "bad_request",
                        "events[%zu]: id, type, time and this host's name"
                        " required; grant, username, requester plain text;"
                        " detail an object", i);
            goto done;
        }
        v[i].id = (char *) id;
        v[i].type = (char *) type;
        v[i].host = (char *) host;
        v[i].grant = (char *) grant;
        v[i].username = (char *) user;
        v[i].requester = (char *) reqr;
        v[i].detail = json_is_object(detail)
                          ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS)
                          : NULL;
        if (v[i].detail != NULL && strlen(v[i].detail) > 4096) {
            apid_reply_error(r, 400, "bad_request", "events[%zu].detail: too"
                        " large", i);
            goto done;
        }
    }
    if (events_owned(a, host, v, n, r) != 0)
        goto done;
    /* The alerts each event calls for, queued with it if it is new: by
     * the settings as they are now (an admin's change, of any instance). */
    (void) apid_alerts_refresh(a);
    pthread_rwlock_rdlock(&a->lock);
    for (size_t k = 0; k < n; k++)
        if (!failure_told(a, v, k))
            v[k].alerts = apid_alerts_plan(&a->alerts, v[k].type,
                                           &v[k].n_alerts);
    ret = apid_store_events_insert(a->store, v, n, apid_now());
    pthread_rwlock_unlock(&a->lock);
    if (ret != APID_OK) {
        apid_reply_store_error(r, a, ret);
        goto done;
    }
    apid_reply_json(r, 200, json_pack("{s:I}", "accepted", (json_int_t) n));

done:
    for (size_t k = 0; v && k < n; k++) {
        free(v[k].detail);
        free((void *) v[k].alerts);
    }
    free(v);
    json_decref(root);
}

/* ---- people side ---- */


void
apid_host_api(struct apid *a, const struct apid_req *q, const char *host,
              char **s, int n, struct apid_reply *r)
{
    int get = strcmp(q->method, "GET") == 0;
    int post = strcmp(q->method, "POST") == 0;

    if (!host_allowed(a, q, host)) {
        apid_reply_error(r, 401, "unauthorized", "host authentication"
                         " failed for %s", host);
        return;
    }
    if (n == 1 && get && strcmp(s[0], "grants") == 0)
        get_host_list(a, q, host, r);
    else if (n == 2 && get && strcmp(s[0], "grants") == 0)
        get_host_grant(a, host, s[1], r);
    else if (n == 1 && post && strcmp(s[0], "events") == 0)
        post_events(a, host, q, r);
    else
        apid_reply_error(r, 404, "not_found", "no such resource");
}
