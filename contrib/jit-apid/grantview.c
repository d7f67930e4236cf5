/* SPDX-License-Identifier: MIT */
/*
 * What each host did with a grant's account, read from the events the
 * hosts reported: the operations view of GET /v1/grants/{id}, jit show
 * and jit grants (doc/design.md, S25).  Derived, never stored: the
 * events are the record, and this is only their reading.
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api.h"
#include "grantview.h"
#include "store.h"

/* A host's reason, as much as a person reads on one line. */
#define REASON_MAX 300

struct host_view {
    const char *host;
    const char *state; /* see grant_hosts_json */
    int64_t since, deleted_at;
    long sessions;
    const char *error; /* a failed teardown: the host's words */
    int seen;          /* any event of the account's life */
};

/* A host's words go to people's terminals (jit show). */
static json_t *
printable(const char *s)
{
    char buf[REASON_MAX + 1];

    apid_shown_text(s, REASON_MAX, buf);
    return json_string(buf);
}

/* The host's words for a failed teardown: its error, else its cause. */
static const char *
failure_reason(const struct apid_event *e, json_t *keep)
{
    json_t *d, *t;
    const char *s = NULL;

    if (e->detail == NULL
        || (d = json_loads(e->detail, JSON_REJECT_DUPLICATES, NULL)) == NULL)
        return NULL;
    if (!json_is_object(d)) {
        json_decref(d);
        return NULL;
    }
    s = json_string_value(json_object_get(d, "error"));
    if (s == NULL)
        s = json_string_value(json_object_get(d, "cause"));
    if (s != NULL && (t = printable(s)) != NULL) {
        /* It lives as long as keep: the caller drops that at the end. */
        json_array_append_new(keep, t);
        s = json_string_value(t);
    } else
        s = NULL;
    json_decref(d);
    return s;
}

/* How many sessions a session.closed ends: one, or the count a host
 * gives for the sessions a reboot ended (detail "sessions"). */
static long
closed_count(const struct apid_event *e)
{
    json_t *d, *n;
    long k = 1;

    if (e->detail == NULL
        || (d = json_loads(e->detail, JSON_REJECT_DUPLICATES, NULL)) == NULL)
        return 1;
    n = json_object_get(d, "sessions");
    if (json_is_integer(n) && json_integer_value(n) > 1
        && json_integer_value(n) <= LONG_MAX)
        k = (long) json_integer_value(n);
    json_decref(d);
    return k;
}

/* One event onto its host's account, in the order jit-apid received
 * them (see by_arrival), so the last word stands. */
static void
apply(struct host_view *h, const struct apid_event *e, json_t *keep)
{
    const char *t = e->type;

    if (strcmp(t, "account.created") == 0
        || strcmp(t, "account.enabled") == 0) {
        h->state = "reserved";
        h->sessions = 0;
        h->error = NULL;
        h->deleted_at = 0;
    } else if (strcmp(t, "session.opened") == 0) {
        h->sessions++;
        if (strcmp(h->state, "tearing_down") != 0
            && strcmp(h->state, "disable_failed") != 0)
            h->state = "active";
    } else if (strcmp(t, "session.closed") == 0) {
        long n = closed_count(e);

        h->sessions = h->sessions > n ? h->sessions - n : 0;
        if (h->sessions == 0 && strcmp(h->state, "active") == 0)
            h->state = "reserved";
    } else if (strcmp(t, "account.revoked") == 0) {
        h->state = "tearing_down";
    } else if (strcmp(t, "account.disable_failed") == 0) {
        h->state = "disable_failed";
        h->error = failure_reason(e, keep);
        if (h->error == NULL)
            h->error = "no reason given";
    } else if (strcmp(t, "account.deleted") == 0) {
        h->state = "deleted";
        h->sessions = 0;
        h->error = NULL;
        h->deleted_at = e->time;
    } else {
        return; /* login.denied and what a later host version adds */
    }
    h->since = e->time;
    h->seen = 1;
}

static struct host_view *
host_of(struct host_view *v, size_t *n, size_t cap, const char *host)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(v[i].host, host) == 0)
            return &v[i];
    if (*n == cap)
        return NULL;
    memset(&v[*n], 0, sizeof(v[*n]));
    v[*n].host = host;
    v[*n].state = "pending";
    return &v[(*n)++];
}

int
apid_grant_ended(const struct apid_grant *g, int64_t now)
{
    return strcmp(g->status, "expired") == 0
           || strcmp(g->status, "revoked") == 0
           || (strcmp(g->status, "active") == 0 && g->expires_at <= now);
}

/* The order jit-apid received a host's events in (seq), not the host's
 * clock: a host whose clock is wrong, or that lies, cannot reorder its
 * own record (an account.deleted stamped before its account.created
 * still comes after it).  Equal seqs (events not read from a store)
 * keep their order in v. */
struct arrival {
    int64_t seq;
    size_t i;
};

static int
by_arrival(const void *x, const void *y)
{
    const struct arrival *a = x, *b = y;

    if (a->seq != b->seq)
        return a->seq < b->seq ? -1 : 1;
    return (a->i > b->i) - (a->i < b->i);
}

json_t *
apid_grant_hosts_json(const struct apid_grant *g, const struct apid_event *v,
                      size_t n, const struct apid_handover *ho, size_t nho,
                      int64_t now)
{
    struct host_view *hv = NULL;
    json_t *arr = json_array(), *keep = json_array();
    size_t nh = 0, cap = g->n_hosts + n;
    struct arrival *ord = NULL;
    int ended = apid_grant_ended(g, now);
    int in_force = !ended && (strcmp(g->status, "active") == 0
                              || strcmp(g->status, "pending") == 0);

    if (arr == NULL || keep == NULL
        || (cap > 0 && (hv = calloc(cap, sizeof(*hv))) == NULL)
        || (n > 0 && (ord = calloc(n, sizeof(*ord))) == NULL))
        goto fail;
    for (size_t i = 0; i < n; i++) {
        ord[i].seq = v[i].seq;
        ord[i].i = i;
    }
    if (n > 1)
        qsort(ord, n, sizeof(*ord), by_arrival);
    /* The grant's hosts in its order, then any other host that reported
     * on it (a host list changed since, or a host that should not have):
     * both are on the record. */
    for (size_t i = 0; i < g->n_hosts; i++)
        (void) host_of(hv, &nh, cap, g->hosts[i]);
    for (size_t j = 0; j < n; j++) {
        const struct apid_event *e = &v[ord[j].i];
        struct host_view *h = e->host ? host_of(hv, &nh, cap, e->host)
                                      : NULL;

        if (h != NULL)
            apply(h, e, keep);
    }
    for (size_t i = 0; i < nh; i++) {
        struct host_view *h = &hv[i];
        const char *handed = NULL;
        json_t *o;

        /* A kept account a later grant of the same person took over on
         * this host (its account.enabled, or account.created, there) is
         * that grant's now, not a teardown this one still owes: the
         * earliest such grant for this host, whatever other hosts did
         * in between. */
        for (size_t k = 0; ended && h->seen && k < nho && handed == NULL;
             k++)
            if (ho[k].host && ho[k].orig && ho[k].grant
                && strcmp(ho[k].orig, g->id) == 0
                && strcmp(ho[k].host, h->host) == 0
                && strcmp(h->state, "deleted") != 0) {
                handed = ho[k].grant;
                h->state = "handed_over";
                h->since = ho[k].time;
            }
        /* Ended, its account reported and not yet deleted: the host owes
         * the teardown (it may not have reported it yet). */
        if (ended && h->seen && handed == NULL
            && (strcmp(h->state, "reserved") == 0
                || strcmp(h->state, "active") == 0))
            h->state = "tearing_down";
        if (!h->seen && !in_force && handed == NULL)
            h->state = "none"; /* no account was ever reported */
        o = json_pack("{s:s, s:s}", "host", h->host, "state", h->state);
        if (o == NULL)
            goto fail;
        if (h->seen)
            json_object_set_new(o, "since", apid_json_time(h->since));
        if (h->sessions > 0)
            json_object_set_new(o, "sessions", json_integer(h->sessions));
        if (strcmp(h->state, "disable_failed") == 0) {
            json_object_set_new(o, "error", json_string(h->error));
            /* The host retries a failed teardown with backoff until it
             * succeeds (doc/design.md, R5). */
            json_object_set_new(o, "retried", json_true());
        }
        if (handed != NULL)
            json_object_set_new(o, "handed_over_to", json_string(handed));
        if (strcmp(h->state, "deleted") == 0)
            json_object_set_new(o, "deleted_at",
                                apid_json_time(h->deleted_at));
        else if (in_force) {
            /* When it goes unless someone acts: at the grant's end, or
             * before that at the last logout for on_logout delete. */
            json_object_set_new(o, "deletion_due",
                                apid_json_time(g->expires_at));
            json_object_set_new(o, "deletion_at_last_logout",
                                json_boolean(g->on_logout != NULL
                                             && strcmp(g->on_logout,
                                                       "delete") == 0));
        }
        json_array_append_new(arr, o);
    }
    free(hv);
    free(ord);
    json_decref(keep);
    return arr;

fail:
    free(hv);
    free(ord);
    json_decref(keep);
    json_decref(arr);
    return NULL;
}
