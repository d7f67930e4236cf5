/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "core/teardown.h"
#include "daemon/reap.h"

/* What is due, marked tearing_down in the same transaction: a sync or a
 * login between the query and the mark could otherwise extend or rebind
 * an account that is then torn down all the same.  Once marked, both
 * leave it alone. */
static int
take_due(struct jit_store *s, const struct jit_log *log, int64_t now,
         struct jit_due **due, size_t *nd)
{
    int ret, reset;

    *due = NULL;
    *nd = 0;
    if ((ret = jit_store_begin(s)) != 0)
        return ret;
    if ((ret = reset = jit_store_sessions_this_boot(s, now)) < 0
        || (ret = jit_store_due_accounts(s, now, due, nd)) != 0)
        goto done;
    for (size_t i = 0; i < *nd && ret == 0; i++)
        if (strcmp((*due)[i].cause, "resumed") != 0)
            ret = jit_store_set_state(s, (*due)[i].name,
                                      JIT_ACCOUNT_TEARING_DOWN);
    if (ret == 0)
        ret = jit_store_commit(s);
    if (ret == 0 && reset > 0)
        jit_logf(log, LOG_NOTICE, JIT_STORE_BOOT_RESET_FMT, reset);

done:
    jit_store_rollback(s); /* nothing if committed */
    if (ret != 0) {
        for (size_t i = 0; i < *nd; i++)
            free((*due)[i].name);
        free(*due);
        *due = NULL;
        *nd = 0;
    }
    return ret;
}

int
jit_reap_once(struct jit_store *s, const struct jit_conf *conf,
              const struct jit_log *log, int64_t now, int dry_run,
              struct jit_reap_item **items, size_t *n)
{
    struct jit_due *due = NULL;
    struct jit_reap_item *out = NULL;
    struct jit_teardown_item *td = NULL;
    size_t nd = 0;
    int ret;

    *items = NULL;
    *n = 0;
    if (dry_run) {
        /* What a real run would find, counts of an earlier boot set to 0
         * included, and nothing kept. */
        if ((ret = jit_store_begin(s)) != 0)
            return ret;
        if ((ret = jit_store_sessions_this_boot(s, now)) >= 0)
            ret = jit_store_due_accounts(s, now, &due, &nd);
        jit_store_rollback(s);
        if (ret != 0)
            return ret;
    } else if ((ret = take_due(s, log, now, &due, &nd)) != 0) {
        return ret;
    }
    out = calloc(nd ? nd : 1, sizeof(*out));
    td = calloc(nd ? nd : 1, sizeof(*td));
    if (out == NULL || td == NULL) {
        ret = -ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < nd; i++) {
        out[i].name = due[i].name;
        due[i].name = NULL;
        /* (static strings that outlive due[]; written out here, where
         * tests/integration/audit-names.sh reads the causes) */
        out[i].cause = strcmp(due[i].cause, "resumed") == 0 ? "resumed"
                       : strcmp(due[i].cause, "retry") == 0 ? "retry"
                       : strcmp(due[i].cause, "revoked") == 0 ? "revoked"
                       : strcmp(due[i].cause, "no_sessions") == 0
                           ? "no_sessions"
                           : "expired";
        td[i].name = out[i].name;
        td[i].cause = out[i].cause;
    }
    /* Failures are in each item (and in disable_failed), not in ret. */
    if (!dry_run) {
        jit_teardown_batch(s, conf, td, nd, log, now);
        for (size_t i = 0; i < nd; i++)
        {
            out[i].result = td[i].result;
            out[i].recorded = td[i].recorded;
            memcpy(out[i].error, td[i].error, sizeof(out[i].error));
        }
    }
    *items = out;
    *n = nd;
    out = NULL;

done:
    for (size_t i = 0; i < nd; i++)
        free(due[i].name);
    free(due);
    free(td);
    jit_reap_items_free(out, nd);
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
    return jit_store_next_due(s, now);
}
