#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reap.h"
#include "teardown.h"

/* Why the account must go now, or NULL. */
static const char *
due_cause(struct jit_store *s, const struct jit_account *a, int64_t now)
{
    struct jit_grant g;
    const char *cause = NULL;

    if (a->state == JIT_ACCOUNT_TEARING_DOWN)
        return "resumed";
    if (a->state == JIT_ACCOUNT_DISABLE_FAILED)
        return now >= a->retry_at ? "retry" : NULL;
    if (now >= a->expires)
        return "expired";
    if (jit_store_get_grant(s, a->grant_id, &g) == 0) {
        if (strcmp(g.status, "revoked") == 0)
            cause = "revoked";
        else if (strcmp(g.status, "active") != 0 || now >= g.expires_at)
            cause = "expired";
        jit_grant_free(&g);
    }
    return cause;
}

int
jit_reap_once(struct jit_store *s, const struct jit_conf *conf,
              const struct jit_log *log, int64_t now, int dry_run,
              struct jit_reap_item **items, size_t *n)
{
    struct jit_account *v = NULL;
    struct jit_reap_item *out = NULL;
    size_t nv = 0, k = 0;
    int ret;

    *items = NULL;
    *n = 0;
    if ((ret = jit_store_list_accounts(s, &v, &nv)) != 0)
        return ret;
    if ((out = calloc(nv ? nv : 1, sizeof(*out))) == NULL) {
        ret = -ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < nv; i++) {
        const char *cause = due_cause(s, &v[i], now);

        if (cause == NULL)
            continue;
        if ((out[k].name = strdup(v[i].name)) == NULL) {
            ret = -ENOMEM;
            goto done;
        }
        out[k].cause = cause;
        if (!dry_run)
            out[k].result = jit_teardown(s, conf, v[i].name, cause, log, now);
        k++;
    }
    *items = out;
    *n = k;
    out = NULL;
    k = 0;

done:
    jit_reap_items_free(out, k);
    jit_accounts_free(v, nv);
    return ret;
}

void
jit_reap_items_free(struct jit_reap_item *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i].name);
    free(v);
}

int64_t
jit_reap_next_due(struct jit_store *s, int64_t now)
{
    struct jit_account *v = NULL;
    size_t n = 0;
    int64_t next = 0;

    if (jit_store_list_accounts(s, &v, &n) != 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        int64_t t = v[i].state == JIT_ACCOUNT_DISABLE_FAILED ? v[i].retry_at
                                                             : v[i].expires;

        if (t > now && (next == 0 || t < next))
            next = t;
    }
    jit_accounts_free(v, n);
    return next;
}
