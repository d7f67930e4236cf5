/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "core/api.h"
#include "daemon/restrict.h"
#include "daemon/sync.h"

/* A grant refused for now is looked at again this long after it was
 * first refused, then after half its age, at most RETRY_MAX_S: a name or
 * an account in the way may soon be gone, or may stay for the grant's
 * whole life (a local account of that name), and each look is a whole
 * list.  A change of the list or a reap looks again at once anyway. */
#define RETRY_S 30
#define RETRY_MAX_S 900
/* At most this many refusal lines per sync; the rest are counted in one
 * line and logged in a later sync, so that a hostile list cannot flood
 * the log in one go. */
#define REFUSAL_LINES_MAX 50

static void
audit_grant(struct jit_audit_queue *q, int prio, const char *result,
            const char *reason, const struct jit_grant *g,
            const char *detail)
{
    struct jit_audit au = {
        .event = "sync", .result = result, .reason = reason,
        .user = g->username, .requester = g->requester,
        .credential = g->credential, .grant = g->id,
        .expires = g->expires_at, .detail = detail,
    };

    jit_audit_defer(q, prio, &au);
}

/* The account is usable from this commit on, so the API hears of it now,
 * not at its first login; queued in the transaction that made it, it is
 * sent once whichever of sync or login got there first. */
static int
account_event(struct jit_store *s, const char *type, const struct jit_grant *g,
              int64_t now)
{
    return jit_store_add_event(s, type, g->id, g->username, g->requester,
                               "{\"by\":\"sync\"}", now);
}

/* One grant, under the caller's savepoint.  Returns the audit reason of a
 * refusal (with what the store said in detail, for its own refusals), or
 * NULL with *what set to what was done.  A refusal may still have
 * narrowed the account (*narrowed): what the grant takes away goes even
 * when what it gives cannot be applied now; the caller keeps that. */
static const char *
sync_grant(struct jit_store *s, const struct jit_conf *conf,
           const struct jit_grant *g, int64_t now, const char **what,
           int *narrowed, int *reduced, char *detail, size_t dlen)
{
    struct jit_account a = { 0 }, other = { 0 };
    const char *why = NULL;
    int ret, store_failed = 0;

    *what = NULL;
    *narrowed = 0;
    *reduced = 0;
    detail[0] = '\0';
    if ((why = jit_grant_misfit(g, conf, g->username, now)) != NULL)
        return why;
    if (jit_store_revoked_locally(s, g->id) != 0)
        return "revoked_locally";
    if (jit_store_put_grant(s, g) != 0) {
        why = "store_error";
        store_failed = 1;
        goto done;
    }
    ret = jit_store_get_account(s, g->username, &a);
    if (ret == 0) {
        if (strcmp(a.requester, g->requester) != 0
            || strcmp(a.credential, g->credential) != 0)
            why = "name_conflict";
        else if (a.state != JIT_ACCOUNT_RESERVED
                 && a.state != JIT_ACCOUNT_ACTIVE)
            why = "account_disabling";
        else if (strcmp(a.grant_id, g->id) == 0 && a.expires == g->expires_at
                 && jit_account_same_groups(&a, g))
            *what = "unchanged"; /* keys and on_logout: put_grant took them */
        else if (a.sessions > 0 && strcmp(a.grant_id, g->id) != 0)
            why = "duplicate_grant"; /* sessions run under the old grant */
        else if ((ret = jit_store_rebind(s, g->username, g)) != 0) {
            why = jit_store_reason(ret);
            store_failed = 1;
        } else if (strcmp(a.grant_id, g->id) == 0)
            *what = "updated";
        else if (account_event(s, "account.enabled", g, now) != 0) {
            why = "store_error";
            store_failed = 1;
        } else
            *what = "rebound";
    } else if (ret == -ENOENT) {
        if (jit_store_find_account(s, g->requester, g->credential, &other)
            == 0)
            why = "duplicate_grant";
        else if ((ret = jit_store_reserve(s, g, now, &a)) != 0) {
            why = jit_store_reason(ret);
            store_failed = 1;
        } else if (account_event(s, "account.created", g, now) != 0) {
            why = "store_error";
            store_failed = 1;
        } else
            *what = "reserved";
    } else {
        why = "store_error";
        store_failed = 1;
    }

done:
    if (store_failed)
        snprintf(detail, dlen, "%s", jit_store_error(s));
    /* An account kept with a group it no longer has. */
    for (size_t i = 0; a.name != NULL && i < a.n_groups && !*reduced; i++) {
        size_t k = 0;

        while (k < g->n_groups && strcmp(g->groups[k], a.groups[i]) != 0)
            k++;
        *reduced = k == g->n_groups;
    }
    /* The same grant, changed, that cannot be applied for now (a group
     * that does not resolve at the moment): what it no longer gives
     * goes all the same. */
    if (why != NULL && store_failed && a.name != NULL
        && strcmp(a.grant_id, g->id) == 0 && strcmp(why, "store_error") == 0
        && (a.expires > g->expires_at || !jit_account_same_groups(&a, g))
        && jit_store_narrow(s, &a, g) == 0)
        *narrowed = 1;
    if (!(*narrowed || (why == NULL && (strcmp(*what, "updated") == 0
                                     || strcmp(*what, "rebound") == 0))))
        *reduced = 0;
    jit_account_free(&other);
    jit_account_free(&a);
    return why;
}

/* Refusals that the same grant will always get again.  Any other (a grant
 * not valid yet, a name or id taken for now, the store) is looked at
 * again later: see retry_at. */
static int
permanent(const char *why)
{
    static const char *const p[] = { "wrong_host", "wrong_user",
                                     "group_not_allowed", "bad_name",
                                     "bad_grant", "grant_expired",
                                     "grant_revoked", "revoked_locally" };

    for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++)
        if (strcmp(why, p[i]) == 0)
            return 1;
    return 0;
}

/* When a grant refused for now is worth another look: when it becomes
 * valid, or after RETRY_S for what another change may lift. */
static int64_t
retry_time(const struct jit_conf *conf, const struct jit_grant *g,
           const char *why, int64_t since, int64_t now)
{
    int64_t wait = (now - since) / 2, t;

    if (wait < RETRY_S)
        wait = RETRY_S;
    if (wait > RETRY_MAX_S)
        wait = RETRY_MAX_S;
    t = now + wait;
    if (strcmp(why, "not_yet_valid") == 0)
        t = g->not_before - (int64_t) conf->clock_skew;
    return t > now ? t : now + 1;
}

static void
earliest(int64_t *at, int64_t t)
{
    if (*at == 0 || t < *at)
        *at = t;
}

/* The ids of the list that keep their accounts, and those refused for
 * good with the reason: an account whose grant is listed but refused as
 * it now stands is ended with that reason, since the host can no longer
 * tell what the grant allows. */
struct listed {
    const char **ids;
    size_t n;
    const char **refused_ids, **refused_why;
    size_t n_refused;
};

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static const char *
refused_reason(const struct listed *ls, const char *id)
{
    for (size_t i = 0; i < ls->n_refused; i++)
        if (strcmp(ls->refused_ids[i], id) == 0)
            return ls->refused_why[i];
    return NULL;
}

/* Accounts of ours whose grant the list no longer holds (or holds but
 * refuses): the grant ended (expired) or was taken back (revoked).  Their
 * lines wait in q for the commit. */
static int
mark_gone(struct jit_store *s, struct jit_audit_queue *q,
          const struct listed *ls, int64_t now, size_t *gone)
{
    struct jit_account *a = NULL;
    size_t na = 0;
    int ret;

    if ((ret = jit_store_list_accounts(s, &a, &na)) != 0)
        return ret;
    for (size_t i = 0; i < na && ret == 0; i++) {
        const char *key = a[i].grant_id, *refused;
        struct jit_grant g;

        if (a[i].state != JIT_ACCOUNT_RESERVED
            && a[i].state != JIT_ACCOUNT_ACTIVE)
            continue;
        if (bsearch(&key, ls->ids, ls->n, sizeof(*ls->ids), cmp_str) != NULL
            || jit_store_get_grant(s, a[i].grant_id, &g) != 0)
            continue;
        refused = refused_reason(ls, a[i].grant_id);
        if (strcmp(g.status, "active") == 0) {
            const char *status = now >= g.expires_at ? "expired" : "revoked";
            struct jit_audit au = {
                .event = "sync", .result = "revoke",
                .reason = refused ? refused
                          : now >= g.expires_at ? "grant_expired"
                                                : "grant_gone",
                .user = a[i].name, .requester = a[i].requester,
                .credential = a[i].credential, .grant = a[i].grant_id,
                .expires = a[i].expires,
            };

            ret = jit_store_set_grant_status(s, a[i].grant_id, status);
            if (ret == 0) {
                (*gone)++;
                jit_audit_defer(q, LOG_NOTICE, &au);
            }
        }
        jit_grant_free(&g);
    }
    jit_accounts_free(a, na);
    return ret;
}

/* A refusal goes on record; its line only the first time (or when its
 * reason changed), not once per round, and not beyond the round's cap:
 * a new one over the cap is forgotten again, so a later round logs it.
 * 0, or <0 on error. */
static int
refused(struct jit_store *s, struct jit_audit_queue *q, size_t *lines,
        size_t *over, const char *key, const char *why, const char *detail,
        const struct jit_audit *au, int64_t now, int64_t *since)
{
    int ret = jit_store_refusal_note(s, key, why, detail, now, since);

    if (ret != 1)
        return ret;
    if (*lines < REFUSAL_LINES_MAX) {
        jit_audit_defer(q, LOG_NOTICE, au);
        (*lines)++;
        return 0;
    }
    (*over)++;
    return jit_store_refusal_forget(s, key);
}

int
jit_sync_apply(struct jit_store *s, const struct jit_conf *conf,
               const struct jit_log *log, const struct jit_grant_list *l,
               int64_t now, struct jit_sync_stats *st)
{
    struct jit_audit_queue q = { .json = log != NULL && log->json };
    struct listed ls = { 0 };
    const struct jit_grant *v = l->v;
    size_t nall = l->n + l->n_bad, lines = 0, over = 0, n_reduced = 0;
    const char **reduced_names = NULL;
    int64_t since;
    int ret, committed = 0;

    st->grants = nall;
    ls.ids = calloc(nall + 1, sizeof(*ls.ids));
    ls.refused_ids = calloc(nall + 1, sizeof(*ls.refused_ids));
    ls.refused_why = calloc(nall + 1, sizeof(*ls.refused_why));
    reduced_names = calloc(nall + 1, sizeof(*reduced_names));
    if (ls.ids == NULL || ls.refused_ids == NULL || ls.refused_why == NULL
        || reduced_names == NULL) {
        ret = -ENOMEM;
        goto done;
    }
    if ((ret = jit_store_begin(s)) != 0
        || (ret = jit_store_refusals_round(s)) != 0)
        goto done;
    /* Entries that did not even parse: each refused on its own, named by
     * what it said of itself. */
    for (size_t i = 0; i < l->n_bad; i++) {
        const struct jit_grant_refusal *r = &l->bad[i];
        struct jit_audit au = {
            .event = "sync", .result = "deny", .reason = "bad_grant",
            .user = r->username, .grant = r->id, .detail = r->why,
        };

        st->refused++;
        if (r->id != NULL) {
            ls.refused_ids[ls.n_refused] = r->id;
            ls.refused_why[ls.n_refused++] = "bad_grant";
        }
        if ((ret = refused(s, &q, &lines, &over, r->key, "bad_grant",
                           r->why, &au, now, &since)) < 0)
            goto done;
    }
    for (size_t i = 0; i < l->n; i++) {
        const char *what = NULL, *why;
        char detail[256];
        int narrowed, reduced;

        if ((ret = jit_store_savepoint(s)) != 0)
            goto done;
        why = sync_grant(s, conf, &v[i], now, &what, &narrowed, &reduced,
                         detail, sizeof(detail));
        if (reduced)
            reduced_names[n_reduced++] = v[i].username;
        jit_store_savepoint_end(s, why == NULL || narrowed);
        if (narrowed)
            audit_grant(&q, LOG_NOTICE, "restrict", "narrowed", &v[i],
                        "what the grant no longer gives is taken away;"
                        " the rest waits");
        if (why != NULL) {
            struct jit_audit au = {
                .event = "sync", .result = "deny", .reason = why,
                .user = v[i].username, .requester = v[i].requester,
                .credential = v[i].credential, .grant = v[i].id,
                .expires = v[i].expires_at,
                .detail = detail[0] ? detail : NULL,
            };

            st->refused++;
            if ((ret = refused(s, &q, &lines, &over, v[i].id, why, detail,
                               &au, now, &since)) < 0)
                goto done;
            if (permanent(why)) {
                ls.refused_ids[ls.n_refused] = v[i].id;
                ls.refused_why[ls.n_refused++] = why;
            } else {
                ls.ids[ls.n++] = v[i].id;
                earliest(&st->retry_at,
                         retry_time(conf, &v[i], why, since, now));
            }
            continue;
        }
        ls.ids[ls.n++] = v[i].id;
        if (strcmp(what, "unchanged") == 0) {
            st->unchanged++;
        } else {
            if (strcmp(what, "reserved") == 0)
                st->reserved++;
            else
                st->updated++;
            audit_grant(&q, LOG_NOTICE, "allow", what, &v[i], NULL);
        }
    }
    qsort(ls.ids, ls.n, sizeof(*ls.ids), cmp_str);
    if ((ret = mark_gone(s, &q, &ls, now, &st->gone)) != 0
        || (ret = jit_store_refusals_end_round(s)) != 0)
        goto done;
    ret = jit_store_commit(s);
    committed = ret == 0 || ret == -ESTALE;

done:
    if (!committed) {
        /* Nothing of this round happened: none of its lines is true. */
        jit_audit_discard(&q);
        jit_logf(log, LOG_ERR, "sync: state store: %s; nothing changed",
                 jit_store_error(s));
        jit_store_rollback(s); /* nothing if no transaction is open */
    } else {
        if (ret != 0)
            jit_logf(log, LOG_ERR, "sync: %s", jit_store_error(s));
        jit_audit_flush(&q, log);
        if (over > 0)
            jit_logf(log, LOG_NOTICE, "sync: %zu more refused grants, not"
                     " logged one by one this time", over);
        /* Groups taken away end now in running processes too, and in
         * setgid files the account made while it had them. */
        if (jit_restrict_groups(s, conf, log, reduced_names, n_reduced)
            != 0)
            earliest(&st->retry_at, now + RETRY_S);
        for (size_t i = 0; i < n_reduced; i++)
            if (jit_restrict_files(s, conf, log, reduced_names[i]) != 0)
                earliest(&st->retry_at, now + RETRY_S);
    }
    free(reduced_names);
    free(ls.ids);
    free(ls.refused_ids);
    free(ls.refused_why);
    return ret;
}

/* The ETag of the last list applied, and when a grant it refused for
 * now is worth another look (0: none).  Lost in a crash, they cost one
 * full list, nothing else. */
static void
remember(struct jit_store *s, const char *etag, int64_t retry_at)
{
    char t[24];

    snprintf(t, sizeof(t), "%lld", (long long) retry_at);
    if (jit_store_begin(s) != 0
        || jit_store_kv_put(s, JIT_SYNC_ETAG_KEY, etag) != 0
        || jit_store_kv_put(s, JIT_SYNC_RETRY_KEY, retry_at ? t : NULL) != 0
        || jit_store_commit(s) != 0)
        jit_store_rollback(s);
}

int64_t
jit_sync_retry_at(struct jit_store *s)
{
    char *v = NULL;
    long long t = 0;

    if (jit_store_kv_get(s, JIT_SYNC_RETRY_KEY, &v) == 0
        && sscanf(v, "%lld", &t) != 1)
        t = 0;
    free(v);
    return (int64_t) t;
}

void
jit_sync_retry_soon(struct jit_store *s, int64_t now)
{
    char t[24];
    int64_t at = jit_sync_retry_at(s);

    if (at == 0 || at <= now)
        return;
    snprintf(t, sizeof(t), "%lld", (long long) now);
    if (jit_store_begin(s) != 0
        || jit_store_kv_put(s, JIT_SYNC_RETRY_KEY, t) != 0
        || jit_store_commit(s) != 0)
        jit_store_rollback(s);
}

int
jit_sync_forget(struct jit_store *s)
{
    int ret;

    /* A round that notes nothing forgets every refusal. */
    if ((ret = jit_store_begin(s)) != 0
        || (ret = jit_store_refusals_round(s)) != 0
        || (ret = jit_store_refusals_end_round(s)) != 0
        || (ret = jit_store_kv_put(s, JIT_SYNC_ETAG_KEY, NULL)) != 0
        || (ret = jit_store_kv_put(s, JIT_SYNC_RETRY_KEY, NULL)) != 0
        || (ret = jit_store_commit(s)) != 0)
        jit_store_rollback(s);
    return ret;
}

/* The configuration's effective values (jit_conf_print) as a 64-bit
 * FNV-1a digest: a change detector, not a secret's hash (nothing secret
 * is printed).  0, or -ENOMEM. */
static int
conf_digest(const struct jit_conf *conf, char out[17])
{
    uint64_t h = 1469598103934665603ULL;
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    int ret = -ENOMEM;

    if (f == NULL)
        goto done;
    jit_conf_print(conf, f);
    if (fclose(f) != 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char) text[i];
        h *= 1099511628211ULL;
    }
    snprintf(out, 17, "%016llx", (unsigned long long) h);
    ret = 0;

done:
    free(text);
    return ret;
}

/* Grants refused under another configuration are examined again under
 * this one (a group now allowed, a uid range widened): with a digest
 * that differs from the last round's, the refusals and the ETag go
 * (*etag too, the daemon's copy).  A first round only records the
 * digest.  A fault here costs nothing but the re-examination, which the
 * next round tries again. */
static void
reexamine_if_changed(struct jit_store *s, const struct jit_conf *conf,
                     const struct jit_log *log, char **etag)
{
    char digest[17], *old = NULL;
    int known;

    if (conf_digest(conf, digest) != 0)
        return;
    known = jit_store_kv_get(s, JIT_SYNC_CONF_KEY, &old) == 0;
    if (known && strcmp(old, digest) == 0)
        goto done;
    if (known) {
        if (jit_sync_forget(s) != 0)
            goto done;
        free(*etag);
        *etag = NULL;
        jit_logf(log, LOG_NOTICE, "sync: the configuration changed; every"
                 " grant is examined again");
    }
    if (jit_store_begin(s) != 0
        || jit_store_kv_put(s, JIT_SYNC_CONF_KEY, digest) != 0
        || jit_store_commit(s) != 0)
        jit_store_rollback(s);

done:
    free(old);
}

int
jit_sync_poll(struct jit_store *s, const struct jit_conf *conf,
              const struct jit_log *log, char **etag, unsigned wait_s,
              struct jit_sync_stats *st, const char **api_reason)
{
    struct jit_api_error err;
    struct jit_grant_list l = { 0 };
    char *new_etag = NULL;
    int64_t now, retry_at;
    int ret;

    memset(st, 0, sizeof(*st));
    *api_reason = NULL;
    reexamine_if_changed(s, conf, log, etag);
    now = (int64_t) time(NULL);
    retry_at = jit_sync_retry_at(s);
    /* A grant refused for now is due another look: the whole list, at
     * once, even if it has not changed.  Otherwise the long poll keeps
     * its ETag: a refusal never makes the host ask again and again. */
    if (retry_at != 0 && now >= retry_at)
        wait_s = 0;
    st->held = wait_s > 0;
    switch (jit_api_list_grants(conf, retry_at != 0 && now >= retry_at
                                          ? NULL : *etag,
                                wait_s, &l, &new_etag, &err)) {
    case JIT_API_OK:
        break;
    case JIT_API_NOT_MODIFIED:
        st->not_modified = 1;
        st->retry_at = retry_at;
        return 0;
    case JIT_API_WOKEN:
        st->woken = 1; /* no answer: *etag stays for the next poll */
        st->retry_at = retry_at;
        return 0;
    default:
        *api_reason = err.reason;
        snprintf(st->api_detail, sizeof(st->api_detail), "%s", err.detail);
        if (strcmp(err.reason, "busy") != 0)
            jit_logf(log, LOG_ERR, "sync: API: %s: %s", err.reason,
                     err.detail);
        st->retry_at = retry_at;
        return -EIO;
    }
    ret = jit_sync_apply(s, conf, log, &l, (int64_t) time(NULL), st);
    if (ret == 0) {
        /* Only a list applied moves the ETag on. */
        remember(s, new_etag, st->retry_at);
        free(*etag);
        *etag = new_etag;
        new_etag = NULL;
    } else {
        st->retry_at = retry_at;
    }
    free(new_etag);
    jit_grant_list_free(&l);
    return ret;
}

int
jit_sync_once(struct jit_store *s, const struct jit_conf *conf,
              const struct jit_log *log, struct jit_sync_stats *st,
              const char **api_reason)
{
    char *etag = NULL;
    int ret;

    /* The last list applied: if it has not changed, nothing to do. */
    if (jit_store_kv_get(s, JIT_SYNC_ETAG_KEY, &etag) != 0)
        etag = NULL;
    ret = jit_sync_poll(s, conf, log, &etag, 0, st, api_reason);
    if (*api_reason != NULL && strcmp(*api_reason, "busy") == 0)
        jit_logf(log, LOG_WARNING, "sync: API: busy: %s", st->api_detail);
    free(etag);
    return ret;
}
