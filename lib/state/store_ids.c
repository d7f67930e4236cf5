/* SPDX-License-Identifier: MIT */
/*
 * Which uid a new account gets (the lowest free one of the range, out of
 * quarantine, that no other source owns) and which gids its groups are
 * (allow-listed, resolvable, not forbidden).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/validate.h"
#include "nss/nssdb_format.h"
#include "state/store_impl.h"

/* The lowest id >= from that no account holds and that is not in
 * quarantine: one indexed query, whatever the number of ids in use (the
 * candidates are `from` and the id after each one in use). */
static int
next_unused_id(struct jit_store *s, uint32_t from, int64_t since,
               uint32_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc, ret;

    ret = prepare(s,
                  "WITH cand(c) AS (SELECT ?1 UNION ALL"
                  "  SELECT uid + 1 FROM accounts WHERE uid >= ?1 UNION ALL"
                  "  SELECT uid + 1 FROM uid_history"
                  "   WHERE uid >= ?1 AND released > ?2)"
                  " SELECT min(c) FROM cand WHERE c <= ?3"
                  "  AND NOT EXISTS (SELECT 1 FROM accounts WHERE uid = c)"
                  "  AND NOT EXISTS (SELECT 1 FROM uid_history"
                  "   WHERE uid = c AND released > ?2)", &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, since);
    sqlite3_bind_int64(st, 3, s->conf->uid_max);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW)
        ret = sql_fail(s, rc, "uid lookup");
    else if (sqlite3_column_type(st, 0) == SQLITE_NULL)
        ret = -ENOSPC;
    else
        *out = (uint32_t) sqlite3_column_int64(st, 0);
    finish(s, st);
    return ret;
}

/* The lowest id of the range that no account holds, that is out of
 * quarantine, and that no other source on the host owns.  Within one
 * transaction ids only grow, so a batch (sync) starts after the last. */
int
jit_store_allocate_id(struct jit_store *s, int64_t now, uint32_t *out)
{
    const struct jit_conf *c = s->conf;
    int64_t since = now - (int64_t) c->uid_quarantine;
    uint32_t id = s->alloc_hint > c->uid_min ? s->alloc_hint : c->uid_min;
    int ret;

    while (id <= c->uid_max) {
        if ((ret = next_unused_id(s, id, since, &id)) == -ENOSPC)
            break;
        if (ret != 0)
            return ret;
        if (jit_id_check(id, c->uid_min, c->uid_max) == 0) {
            ret = s->host.id_taken(id, s->host.ctx);
            if (ret < 0) {
                set_err(s, "uid %u: cannot tell whether it is free: %s",
                        (unsigned) id, strerror(-ret));
                return ret;
            }
            if (ret == 0) {
                *out = id;
                s->alloc_hint = id + 1;
                return 0;
            }
        }
        if (id == UINT32_MAX)
            break;
        id++;
    }
    set_err(s, "no free uid in %u..%u", (unsigned) c->uid_min,
            (unsigned) c->uid_max);
    return -ENOSPC;
}

static int
on_list(const struct jit_list *l, const char *item)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i], item) == 0)
            return 1;
    return 0;
}

/* The gids of the grant's groups, each of which must be allow-listed and
 * resolvable on this host to an id we may hand out. */
int
jit_store_resolve_groups(struct jit_store *s, const struct jit_grant *g,
                         uint32_t **out)
{
    uint32_t *gids = calloc(g->n_groups ? g->n_groups : 1, sizeof(*gids));
    int ret = 0;

    *out = NULL;
    if (gids == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < g->n_groups; i++) {
        if (!on_list(&s->conf->allowed_groups, g->groups[i])) {
            set_err(s, "group %s is not in allowed_groups", g->groups[i]);
            ret = -EPERM;
            goto done;
        }
        ret = s->host.group_gid(g->groups[i], &gids[i], s->host.ctx);
        if (ret != 0 || jit_nssdb_id_forbidden(gids[i])) {
            set_err(s, "group %s: %s", g->groups[i],
                    ret ? "not found on this host" : "has a forbidden gid");
            ret = ret ? ret : -EPERM;
            goto done;
        }
    }
    *out = gids;
    gids = NULL;

done:
    free(gids);
    return ret;
}
