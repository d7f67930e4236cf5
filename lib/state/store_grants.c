/* SPDX-License-Identifier: MIT */
/*
 * Grants in the state store as the API last gave them, the grants revoked
 * on this host alone, and the sync's refusals (each logged once, not at
 * every round).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "state/store_impl.h"

int
jit_store_put_grant(struct jit_store *s, const struct jit_grant *g)
{
    sqlite3_stmt *st = NULL;
    int rc, ret;

    if ((ret = need_txn(s)) != 0)
        return ret;
    /* A stored grant whose status or end changes changes whether and
     * until when its account stands in the snapshot. */
    ret = prepare(s, "SELECT 1 FROM grants WHERE id = ?1"
                     " AND (status IS NOT ?2 OR expires_at IS NOT ?3)", &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_text(st, 1, g->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, g->status, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, g->expires_at);
    rc = sqlite3_step(st);
    finish(s, st);
    if (rc == SQLITE_ROW)
        s->nss_dirty = 1;
    else if (rc != SQLITE_DONE)
        return sql_fail(s, rc, "grant");
    ret = prepare(s, "INSERT INTO grants (id, credential, requester,"
                     " username, host, reason, status, on_logout, not_before,"
                     " expires_at, updated)"
                     " VALUES (?,?,?,?,?,?,?,?,?,?,strftime('%s','now'))"
                     " ON CONFLICT (id) DO UPDATE SET"
                     " credential = excluded.credential,"
                     " requester = excluded.requester,"
                     " username = excluded.username, host = excluded.host,"
                     " reason = excluded.reason, status = excluded.status,"
                     " on_logout = excluded.on_logout,"
                     " not_before = excluded.not_before,"
                     " expires_at = excluded.expires_at,"
                     " updated = excluded.updated", &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_text(st, 1, g->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, g->credential, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, g->requester, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, g->username, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, g->host, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, g->reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, g->status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, g->on_logout, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 9, g->not_before);
    sqlite3_bind_int64(st, 10, g->expires_at);
    if ((ret = step_done(s, st)) != 0)
        return ret;
    /* The grant's lists are replaced whole by its latest version. */
    if ((ret = prepare(s, "DELETE FROM grant_groups WHERE grant_id = ?",
                       &st)) != 0)
        return ret;
    sqlite3_bind_text(st, 1, g->id, -1, SQLITE_STATIC);
    if ((ret = step_done(s, st)) != 0)
        return ret;
    if ((ret = prepare(s, "DELETE FROM grant_ssh_keys WHERE grant_id = ?",
                       &st)) != 0)
        return ret;
    sqlite3_bind_text(st, 1, g->id, -1, SQLITE_STATIC);
    if ((ret = step_done(s, st)) != 0)
        return ret;
    for (size_t i = 0; i < g->n_groups; i++) {
        if ((ret = prepare(s, "INSERT OR IGNORE INTO grant_groups VALUES (?,?)",
                           &st)) != 0)
            return ret;
        sqlite3_bind_text(st, 1, g->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, g->groups[i], -1, SQLITE_STATIC);
        if ((ret = step_done(s, st)) != 0)
            return ret;
    }
    for (size_t i = 0; i < g->n_ssh_keys; i++) {
        if ((ret = prepare(s, "INSERT INTO grant_ssh_keys VALUES (?,?,?)",
                           &st)) != 0)
            return ret;
        sqlite3_bind_text(st, 1, g->id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64) i);
        sqlite3_bind_text(st, 3, g->ssh_keys[i], -1, SQLITE_STATIC);
        if ((ret = step_done(s, st)) != 0)
            return ret;
    }
    return 0;
}

int
jit_store_get_grant(struct jit_store *s, const char *id, struct jit_grant *g)
{
    sqlite3_stmt *st = NULL;
    int rc, ret;

    memset(g, 0, sizeof(*g));
    ret = prepare(s, "SELECT id, credential, requester, username, host,"
                     " reason, status, on_logout, not_before, expires_at"
                     " FROM grants WHERE id = ?", &st);
    if (ret != 0)
        goto done;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        ret = -ENOENT;
        goto done;
    }
    if (rc != SQLITE_ROW) {
        ret = sql_fail(s, rc, "grant");
        goto done;
    }
    g->id = col_dup(st, 0);
    g->credential = col_dup(st, 1);
    g->requester = col_dup(st, 2);
    g->username = col_dup(st, 3);
    g->host = col_dup(st, 4);
    g->reason = col_dup(st, 5);
    g->status = col_dup(st, 6);
    g->on_logout = col_dup(st, 7);
    g->not_before = sqlite3_column_int64(st, 8);
    g->expires_at = sqlite3_column_int64(st, 9);
    if (!g->id || !g->credential || !g->requester || !g->username
        || !g->host || !g->reason || !g->status || !g->on_logout) {
        ret = -ENOMEM;
        goto done;
    }
    finish(s, st);
    ret = prepare(s, "SELECT key FROM grant_ssh_keys WHERE grant_id = ?"
                     " ORDER BY pos", &st);
    if (ret != 0)
        goto done;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char **nk = realloc(g->ssh_keys, (g->n_ssh_keys + 1) * sizeof(*nk));

        if (nk == NULL) {
            ret = -ENOMEM;
            goto done;
        }
        g->ssh_keys = nk;
        if ((nk[g->n_ssh_keys] = col_dup(st, 0)) == NULL) {
            ret = -ENOMEM;
            goto done;
        }
        g->n_ssh_keys++;
    }
    if (rc != SQLITE_DONE)
        ret = sql_fail(s, rc, "grant keys");

done:
    finish(s, st);
    if (ret != 0)
        jit_grant_free(g);
    return ret;
}

int
jit_store_set_grant_status(struct jit_store *s, const char *id,
                           const char *status)
{
    sqlite3_stmt *st = NULL;
    int ret;

    if ((ret = need_txn(s)) != 0)
        return ret;
    /* Whether an account is live in the snapshot follows its grant's
     * status (store_snapshot.c). */
    s->nss_dirty = 1;
    ret = prepare(s, "UPDATE grants SET status = ?, updated ="
                     " strftime('%s','now') WHERE id = ?", &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    if ((ret = step_done(s, st)) == 0 && sqlite3_changes(s->db) == 0) {
        set_err(s, "no such grant");
        ret = -ENOENT;
    }
    return ret;
}

int
jit_store_revoke_locally(struct jit_store *s, const char *grant_id,
                         const char *reason, int64_t now)
{
    sqlite3_stmt *st = NULL;
    int ret;

    if ((ret = need_txn(s)) != 0)
        return ret;
    ret = prepare(s, "INSERT OR REPLACE INTO local_revocations VALUES (?,?,?)",
                  &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_text(st, 1, grant_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    if ((ret = step_done(s, st)) != 0)
        return ret;
    ret = jit_store_set_grant_status(s, grant_id, "revoked");
    return ret == -ENOENT ? 0 : ret;
}

int
jit_store_revoked_locally(struct jit_store *s, const char *grant_id)
{
    sqlite3_stmt *st = NULL;
    int rc, ret;

    if ((ret = prepare(s, "SELECT 1 FROM local_revocations WHERE grant_id = ?",
                       &st)) != 0)
        return ret;
    sqlite3_bind_text(st, 1, grant_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    ret = rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : sql_fail(s, rc, "revocations");
    finish(s, st);
    return ret;
}

int
jit_store_refusals_round(struct jit_store *s)
{
    int ret = need_txn(s);

    return ret ? ret : exec(s, "UPDATE refusals SET seen = 0");
}

int
jit_store_refusal_note(struct jit_store *s, const char *key,
                       const char *reason, const char *detail, int64_t now,
                       int64_t *since)
{
    sqlite3_stmt *st = NULL;
    int ret, rc, known = 0, seen = 0;
    int64_t first = now;

    if (detail == NULL)
        detail = "";
    if ((ret = need_txn(s)) != 0)
        return ret;
    ret = prepare(s, "SELECT reason = ?2 AND detail = ?3, since, seen"
                     " FROM refusals WHERE grant_key = ?1", &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, detail, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        known = sqlite3_column_int(st, 0);
        first = sqlite3_column_int64(st, 1);
        seen = sqlite3_column_int(st, 2);
    }
    finish(s, st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sql_fail(s, rc, "refusals");
    /* Two entries of one key in a round (one id listed twice): the first
     * one's refusal stands, or they would re-log each other forever. */
    if (seen) {
        *since = first;
        return 0;
    }
    if (!known)
        first = now;
    ret = prepare(s, "INSERT INTO refusals (grant_key, reason, detail, since,"
                     " seen) VALUES (?1, ?2, ?3, ?4, 1)"
                     " ON CONFLICT (grant_key) DO UPDATE SET seen = 1,"
                     " since = ?4, reason = ?2, detail = ?3", &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, detail, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, first);
    if ((ret = step_done(s, st)) != 0)
        return ret;
    *since = first;
    return known ? 0 : 1;
}

int
jit_store_refusal_forget(struct jit_store *s, const char *key)
{
    sqlite3_stmt *st = NULL;
    int ret;

    if ((ret = need_txn(s)) != 0)
        return ret;
    if ((ret = prepare(s, "DELETE FROM refusals WHERE grant_key = ?", &st))
        != 0)
        return ret;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    return step_done(s, st);
}

int
jit_store_refusals_end_round(struct jit_store *s)
{
    int ret = need_txn(s);

    return ret ? ret : exec(s, "DELETE FROM refusals WHERE seen = 0");
}
