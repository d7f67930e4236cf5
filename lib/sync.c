#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "api.h"
#include "login.h"
#include "sync.h"

static void
audit_grant(const struct jit_log *log, int prio, const char *result,
            const char *reason, const struct jit_grant *g)
{
    struct jit_audit au = {
        .event = "sync", .result = result, .reason = reason,
        .user = g->username, .requester = g->requester,
        .credential = g->credential, .grant = g->id,
        .expires = g->expires_at,
    };

    jit_audit(log, prio, &au);
}

static const char *
store_reason(int ret)
{
    switch (ret) {
    case -EEXIST:
        return "name_taken";
    case -EPERM:
        return "group_not_allowed";
    case -ENOSPC:
        return "no_free_id";
    case -EINVAL:
        return "bad_name";
    default:
        return "store_error";
    }
}

/* One grant, under the caller's savepoint.  Returns the audit reason of a
 * refusal, or NULL with *what set to what was done. */
static const char *
sync_grant(struct jit_store *s, const struct jit_conf *conf,
           const struct jit_grant *g, int64_t now, const char **what)
{
    struct jit_account a = { 0 }, other = { 0 };
    const char *why = NULL;
    int ret;

    *what = NULL;
    if ((why = jit_grant_misfit(g, conf, g->username, now)) != NULL)
        return why;
    if (jit_store_revoked_locally(s, g->id) != 0)
        return "revoked_locally";
    if ((ret = jit_store_put_grant(s, g)) != 0)
        return "store_error";
    ret = jit_store_get_account(s, g->username, &a);
    if (ret == 0) {
        if (strcmp(a.requester, g->requester) != 0
            || strcmp(a.credential, g->credential) != 0)
            why = "name_conflict";
        else if (a.state != JIT_ACCOUNT_RESERVED
                 && a.state != JIT_ACCOUNT_ACTIVE)
            why = "account_disabling";
        else if (strcmp(a.grant_id, g->id) == 0 && a.expires == g->expires_at)
            *what = "unchanged";
        else if (a.sessions > 0 && strcmp(a.grant_id, g->id) != 0)
            why = "duplicate_grant"; /* sessions run under the old grant */
        else if ((ret = jit_store_rebind(s, g->username, g)) != 0)
            why = store_reason(ret);
        else
            *what = "updated";
    } else if (ret == -ENOENT) {
        if (jit_store_find_account(s, g->requester, g->credential, &other)
            == 0)
            why = "duplicate_grant";
        else if ((ret = jit_store_reserve(s, g, now, &a)) != 0)
            why = store_reason(ret);
        else
            *what = "reserved";
    } else {
        why = "store_error";
    }
    jit_account_free(&other);
    jit_account_free(&a);
    return why;
}

/* Refusals that the same list will always get again.  Any other (a grant
 * not valid yet, a name or id taken for now, the store) means the same
 * list must be looked at again, even though its ETag has not changed. */
static int
permanent(const char *why)
{
    static const char *const p[] = { "wrong_host", "wrong_user",
                                     "group_not_allowed", "bad_name",
                                     "grant_expired", "grant_revoked",
                                     "revoked_locally" };

    for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++)
        if (strcmp(why, p[i]) == 0)
            return 1;
    return 0;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Accounts of ours whose grant the API no longer lists: the grant ended
 * (expired) or was taken back (revoked). */
static int
mark_gone(struct jit_store *s, const struct jit_log *log,
          const struct jit_grant *v, size_t n, int64_t now, size_t *gone)
{
    struct jit_account *a = NULL;
    size_t na = 0;
    int ret;

    const char **ids = NULL;

    if ((ret = jit_store_list_accounts(s, &a, &na)) != 0)
        return ret;
    /* The listed ids, sorted: a lookup per account, not a scan. */
    if ((ids = calloc(n ? n : 1, sizeof(*ids))) == NULL) {
        jit_accounts_free(a, na);
        return -ENOMEM;
    }
    for (size_t k = 0; k < n; k++)
        ids[k] = v[k].id;
    qsort(ids, n, sizeof(*ids), cmp_str);
    for (size_t i = 0; i < na && ret == 0; i++) {
        const char *key = a[i].grant_id;
        struct jit_grant g;
        int live;

        if (a[i].state != JIT_ACCOUNT_RESERVED
            && a[i].state != JIT_ACCOUNT_ACTIVE)
            continue;
        if (bsearch(&key, ids, n, sizeof(*ids), cmp_str) != NULL
            || jit_store_get_grant(s, a[i].grant_id, &g) != 0)
            continue;
        live = strcmp(g.status, "active") == 0;
        if (live) {
            const char *status = now >= g.expires_at ? "expired" : "revoked";
            struct jit_audit au = {
                .event = "sync", .result = "revoke",
                .reason = now >= g.expires_at ? "grant_expired"
                                              : "grant_gone",
                .user = a[i].name, .requester = a[i].requester,
                .credential = a[i].credential, .grant = a[i].grant_id,
                .expires = a[i].expires,
            };

            ret = jit_store_set_grant_status(s, a[i].grant_id, status);
            if (ret == 0) {
                (*gone)++;
                jit_audit(log, LOG_NOTICE, &au);
            }
        }
        jit_grant_free(&g);
    }
    free(ids);
    jit_accounts_free(a, na);
    return ret;
}

int
jit_sync_apply(struct jit_store *s, const struct jit_conf *conf,
               const struct jit_log *log, const struct jit_grant *v, size_t n,
               int64_t now, struct jit_sync_stats *st)
{
    int ret;

    st->grants = n;
    if ((ret = jit_store_begin(s)) != 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        const char *what = NULL, *why;

        if ((ret = jit_store_savepoint(s)) != 0)
            goto done;
        why = sync_grant(s, conf, &v[i], now, &what);
        jit_store_savepoint_end(s, why == NULL);
        if (why != NULL) {
            st->refused++;
            if (!permanent(why))
                st->retry_later = 1;
            if (strcmp(why, "store_error") == 0)
                jit_logf(log, LOG_ERR, "sync: %s: %s", v[i].username,
                         jit_store_error(s));
            audit_grant(log, LOG_NOTICE, "deny", why, &v[i]);
        } else if (strcmp(what, "unchanged") == 0) {
            st->unchanged++;
        } else {
            if (strcmp(what, "reserved") == 0)
                st->reserved++;
            else
                st->updated++;
            audit_grant(log, LOG_NOTICE, "allow", what, &v[i]);
        }
    }
    if ((ret = mark_gone(s, log, v, n, now, &st->gone)) != 0)
        goto done;
    ret = jit_store_commit(s);

done:
    if (ret != 0) {
        jit_logf(log, LOG_ERR, "sync: state store: %s", jit_store_error(s));
        jit_store_rollback(s); /* nothing if no transaction is open */
    }
    return ret;
}

int
jit_sync_poll(struct jit_store *s, const struct jit_conf *conf,
              const struct jit_log *log, char **etag, unsigned wait_s,
              struct jit_sync_stats *st, const char **api_reason)
{
    struct jit_api_error err;
    struct jit_grant *v = NULL;
    char *new_etag = NULL;
    size_t n = 0;
    int ret;

    memset(st, 0, sizeof(*st));
    *api_reason = NULL;
    switch (jit_api_list_grants(conf, *etag, wait_s, &v, &n, &new_etag,
                                &err)) {
    case JIT_API_OK:
        break;
    case JIT_API_NOT_MODIFIED:
        st->not_modified = 1;
        return 0;
    case JIT_API_WOKEN:
        st->woken = 1; /* no answer: *etag stays for the next poll */
        return 0;
    default:
        *api_reason = err.reason;
        jit_logf(log, LOG_ERR, "sync: API: %s: %s", err.reason, err.detail);
        return -EIO;
    }
    ret = jit_sync_apply(s, conf, log, v, n, (int64_t) time(NULL), st);
    if (ret == 0) {
        /* Only a list applied in full moves the ETag on; it is kept in
         * the store for the next one-shot sync.  (Lost in a crash, it
         * costs one full list, nothing else.)  A list with grants to look
         * at again later keeps no ETag, so the next poll gets it whole. */
        if (st->retry_later) {
            free(new_etag);
            new_etag = NULL;
        }
        if (jit_store_begin(s) != 0
            || jit_store_kv_put(s, JIT_SYNC_ETAG_KEY, new_etag) != 0
            || jit_store_commit(s) != 0)
            jit_store_rollback(s);
        free(*etag);
        *etag = new_etag;
        new_etag = NULL;
    }
    free(new_etag);
    jit_grants_free(v, n);
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
    free(etag);
    return ret;
}
