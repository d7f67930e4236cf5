/* SPDX-License-Identifier: MIT */
/*
 * The outbox: events added in the same transaction as what they report,
 * handed to the deliverer oldest first, settled, backed off, trimmed
 * (doc/design.md, "Events and the outbox").
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "state/store_impl.h"

int
jit_store_add_event(struct jit_store *s, const char *type, const char *grant,
                    const char *username, const char *requester,
                    const char *detail, int64_t now)
{
    unsigned char rnd[16];
    char id[40];
    sqlite3_stmt *st = NULL;
    int ret;

    if ((ret = need_txn(s)) != 0)
        return ret;
    /* Random ids: the API de-duplicates redeliveries by id. */
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t) sizeof(rnd))
        return -EIO;
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(id + 2 * i, 3, "%02x", rnd[i]);
    ret = prepare(s, "INSERT INTO events (id, type, time, grant_id, username,"
                     " requester, detail) VALUES (?,?,?,?,?,?,?)", &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_bind_text(st, 4, grant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, username, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, requester, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, detail, -1, SQLITE_STATIC);
    if ((ret = step_done(s, st)) == 0)
        s->events_added = 1;
    return ret;
}

int
jit_store_due_events(struct jit_store *s, int64_t now, size_t limit,
                     struct jit_event **out, size_t *n)
{
    sqlite3_stmt *st = NULL;
    struct jit_event *v = NULL;
    size_t cnt = 0;
    int rc, ret;

    *out = NULL;
    *n = 0;
    if (limit == 0)
        return 0;
    /* A queue, in the order the events were added (rowid; their times
     * are whole seconds, and the clock can step back): the oldest first,
     * and none before an older one that waits for its retry.  (A new
     * event is due at once, so by its own next_attempt it would overtake
     * the failed ones: an account.deleted delivered before its
     * account.created.) */
    ret = prepare(s, "SELECT id, type, time, grant_id, username, requester,"
                     " detail, attempts FROM events WHERE rowid < coalesce("
                     "(SELECT min(rowid) FROM events WHERE next_attempt > ?1"
                     "  AND refused = 0), 9223372036854775807)"
                     " AND next_attempt <= ?1 ORDER BY rowid LIMIT ?2", &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) limit);
    if ((v = calloc(limit, sizeof(*v))) == NULL) {
        ret = -ENOMEM;
        goto done;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && cnt < limit) {
        struct jit_event *e = &v[cnt++];

        e->id = col_dup(st, 0);
        e->type = col_dup(st, 1);
        e->time = sqlite3_column_int64(st, 2);
        e->grant = sqlite3_column_type(st, 3) == SQLITE_NULL ? NULL
                                                             : col_dup(st, 3);
        e->username = sqlite3_column_type(st, 4) == SQLITE_NULL
                          ? NULL : col_dup(st, 4);
        e->requester = sqlite3_column_type(st, 5) == SQLITE_NULL
                           ? NULL : col_dup(st, 5);
        e->detail = sqlite3_column_type(st, 6) == SQLITE_NULL ? NULL
                                                              : col_dup(st, 6);
        e->attempts = sqlite3_column_int(st, 7);
        if (!e->id || !e->type) {
            ret = -ENOMEM;
            goto done;
        }
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        ret = sql_fail(s, rc, "events");
        goto done;
    }
    *out = v;
    *n = cnt;
    v = NULL;
    cnt = 0;

done:
    finish(s, st);
    jit_events_free(v, cnt);
    return ret;
}

int
jit_store_events_settle(struct jit_store *s, const struct jit_event *v,
                        size_t n, int delivered, int64_t next_attempt)
{
    sqlite3_stmt *st = NULL;
    int ret;

    if ((ret = need_txn(s)) != 0)
        return ret;
    for (size_t i = 0; i < n; i++) {
        ret = prepare(s, delivered ? "DELETE FROM events WHERE id = ?1"
                                   : "UPDATE events SET attempts = attempts"
                                     " + 1, next_attempt = ?2 WHERE id = ?1",
                      &st);
        if (ret != 0)
            return ret;
        sqlite3_bind_text(st, 1, v[i].id, -1, SQLITE_STATIC);
        if (!delivered)
            sqlite3_bind_int64(st, 2, next_attempt);
        if ((ret = step_done(s, st)) != 0)
            return ret;
    }
    return 0;
}

void
jit_events_free(struct jit_event *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].id);
        free(v[i].type);
        free(v[i].grant);
        free(v[i].username);
        free(v[i].requester);
        free(v[i].detail);
    }
    free(v);
}

int
jit_store_events_retry_now(struct jit_store *s)
{
    int ret = need_txn(s);

    return ret ? ret : exec(s, "UPDATE events SET next_attempt = 0");
}

int
jit_store_events_trim(struct jit_store *s, int64_t keep, int64_t *dropped)
{
    sqlite3_stmt *st = NULL;
    int ret;

    *dropped = 0;
    if ((ret = need_txn(s)) != 0)
        return ret;
    /* Only what is about sessions and refusals; account events stay. */
    ret = prepare(s, "DELETE FROM events WHERE rowid IN (SELECT rowid FROM"
                     " events WHERE type IN ('login.denied', 'session.opened',"
                     " 'session.closed') ORDER BY time, rowid LIMIT max(0,"
                     " (SELECT count(*) FROM events) - ?))", &st);
    if (ret != 0)
        return ret;
    sqlite3_bind_int64(st, 1, keep);
    if ((ret = step_done(s, st)) == 0)
        *dropped = sqlite3_changes(s->db);
    return ret;
}

int
jit_store_count_events(struct jit_store *s, int64_t *n)
{
    sqlite3_stmt *st = NULL;
    int rc, ret;

    if ((ret = prepare(s, "SELECT count(*) FROM events", &st)) != 0)
        return ret;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    else
        ret = sql_fail(s, rc, "events");
    finish(s, st);
    return ret;
}

int
jit_store_event_refused(struct jit_store *s, const char *id,
                        int64_t next_attempt)
{
    sqlite3_stmt *st = NULL;
    int ret;

    if ((ret = need_txn(s)) != 0)
        return ret;
    if ((ret = prepare(s, "UPDATE events SET refused = 1, attempts ="
                          " attempts + 1, next_attempt = ? WHERE id = ?",
                       &st)) != 0)
        return ret;
    sqlite3_bind_int64(st, 1, next_attempt);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    return step_done(s, st);
}

int
jit_store_events_backed_off(struct jit_store *s, int64_t now)
{
    sqlite3_stmt *st = NULL;
    int rc, ret;

    if ((ret = prepare(s, "SELECT 1 FROM events WHERE next_attempt > ?"
                          " AND refused = 0 LIMIT 1", &st)) != 0)
        return ret;
    sqlite3_bind_int64(st, 1, now);
    rc = sqlite3_step(st);
    finish(s, st);
    if (rc == SQLITE_ROW)
        return 1;
    return rc == SQLITE_DONE ? 0 : sql_fail(s, rc, "events");
}
