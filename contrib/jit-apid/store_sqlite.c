/* SPDX-License-Identifier: MIT */
/* jit-apid storage on SQLite (see store.h). */
#include "config.h"

#include <errno.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "store_impl.h"

struct apid_conn {
    sqlite3 *db;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS grants ("
    " id TEXT PRIMARY KEY, policy TEXT NOT NULL, credential TEXT NOT NULL,"
    " requester TEXT NOT NULL, username TEXT NOT NULL, reason TEXT NOT NULL,"
    " status TEXT NOT NULL, on_logout TEXT NOT NULL, groups TEXT NOT NULL,"
    " ssh_keys TEXT NOT NULL, not_before INTEGER NOT NULL,"
    " expires_at INTEGER NOT NULL, created INTEGER NOT NULL,"
    " decided_by TEXT, previous TEXT, seq INTEGER);"
    /* The one-grant rule, in the database. */
    "CREATE UNIQUE INDEX IF NOT EXISTS grants_one_per_person"
    " ON grants (requester, credential) WHERE status IN ('active', 'pending');"
    "CREATE INDEX IF NOT EXISTS grants_live ON grants (status, expires_at);"
    /* A grant's hosts are fixed when it is stored: nothing here changes
     * when the grant ends (a revocation of a grant on 10,000 hosts
     * writes one row, not 10,000).  Whether a host's row counts is the
     * grant's status.  Keyed by grant first, in the key's order (no
     * rowid): a grant's 10,000 hosts go into a hundred adjacent pages;
     * keyed by host, each went into a page of its own (10,000 pages, 40
     * MB of log, 0.8 s under the store's lock for each fleet-wide
     * grant).  A host's grants are found from the grants' side (by
     * account name, or among the live ones). */
    "CREATE TABLE IF NOT EXISTS grant_hosts ("
    " grant_id TEXT NOT NULL REFERENCES grants (id), host TEXT NOT NULL,"
    " username TEXT NOT NULL,"
    " PRIMARY KEY (grant_id, host)) WITHOUT ROWID;"
    /* A name's live grants, for the check that one host never gets two
     * of them (see name_free). */
    "CREATE INDEX IF NOT EXISTS grants_username ON grants (username);"
    /* An account name is one person's for good (doc/design.md, "Account
     * names"): the first grant that names it binds it to its requester,
     * whatever becomes of that grant.  A store from before this table
     * gets it filled from its grants, the earliest grant of a name
     * deciding (the subquery is read before the first row goes in). */
    "CREATE TABLE IF NOT EXISTS account_names ("
    " username TEXT PRIMARY KEY, requester TEXT NOT NULL,"
    " created INTEGER NOT NULL);"
    "INSERT OR IGNORE INTO account_names (username, requester, created)"
    " SELECT username, requester, created FROM grants"
    " WHERE NOT EXISTS (SELECT 1 FROM account_names)"
    " ORDER BY created, id;"
    "CREATE TABLE IF NOT EXISTS events ("
    " id TEXT PRIMARY KEY, host TEXT NOT NULL, type TEXT NOT NULL,"
    " time INTEGER NOT NULL, grant_id TEXT, username TEXT, requester TEXT,"
    " detail TEXT, received INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS events_grant ON events (grant_id, time);"
    "CREATE TABLE IF NOT EXISTS operations ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL,"
    " actor TEXT NOT NULL, action TEXT NOT NULL, grant_id TEXT,"
    " detail TEXT);"
    "CREATE INDEX IF NOT EXISTS operations_grant ON operations (grant_id);"
    "CREATE TABLE IF NOT EXISTS alerts ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL,"
    " channel TEXT NOT NULL, recipient TEXT NOT NULL, status TEXT NOT NULL,"
    " attempts INTEGER NOT NULL, next_try INTEGER NOT NULL, last_error TEXT,"
    " created INTEGER NOT NULL, delivered INTEGER,"
    " UNIQUE (event_id, channel, recipient));"
    "CREATE INDEX IF NOT EXISTS alerts_due ON alerts (status, next_try);"
    /* Directory accounts (store.h): one row per account, naming the
     * grant that holds it now. */
    "CREATE TABLE IF NOT EXISTS dir_accounts ("
    " username TEXT PRIMARY KEY, grant_id TEXT NOT NULL,"
    " state TEXT NOT NULL, attempts INTEGER NOT NULL,"
    " next_try INTEGER NOT NULL, last_error TEXT, updated INTEGER NOT NULL,"
    " claimed_until INTEGER NOT NULL DEFAULT 0, entry_uuid TEXT);"
    "CREATE INDEX IF NOT EXISTS dir_accounts_grant"
    " ON dir_accounts (grant_id);"
    /* Alert settings (alerts.h): one row, absent until seeded or first
     * changed (then every type is off). */
    "CREATE TABLE IF NOT EXISTS alert_settings ("
    " id INTEGER PRIMARY KEY CHECK (id = 1), settings TEXT NOT NULL,"
    " version INTEGER NOT NULL);";

#define STATUS_NOW APID_STATUS_NOW("?1")
#define GRANT_COLS                                                          \
    APID_GRANT_BASE_COLS("?1")                                             \
    " (SELECT json_group_array(host) FROM (SELECT host FROM grant_hosts"    \
    "  WHERE grant_id = g.id ORDER BY host))"
#define HOST_GRANT_COLS APID_HOST_GRANT_COLS("?1")

/* A full vector of *cap elements of size bytes, doubled: the new one, or
 * NULL (out of memory) with v and *cap untouched. */
static void *
grow(void *v, size_t *cap, size_t size)
{
    size_t ncap = *cap ? *cap * 2 : 16;
    void *nv = realloc(v, ncap * size);

    if (nv != NULL)
        *cap = ncap;
    return nv;
}

static int
db_fail(struct apid_conn *s, const char *what)
{
    return apid_store_fail("%s: %s", what, sqlite3_errmsg(s->db));
}

/*
 * A store from before has grant_hosts keyed by host, with a `live` column
 * and indices on (grant_id, host) and on live names: it is copied into
 * the table of today's schema, once.  0, or -1 with the database's
 * error.
 */
static int
migrate(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int rc, old;

    if (sqlite3_prepare_v2(db,
                           "SELECT 1 FROM sqlite_master WHERE type = 'table'"
                           " AND name = 'grant_hosts'"
                           " AND sql NOT LIKE '%WITHOUT ROWID%'",
                           -1, &st, NULL) != SQLITE_OK)
        return -1;
    rc = sqlite3_step(st);
    old = rc == SQLITE_ROW;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return -1;
    if (!old)
        return 0;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE;"
                         " CREATE TABLE grant_hosts_by_grant ("
                         "  grant_id TEXT NOT NULL REFERENCES grants (id),"
                         "  host TEXT NOT NULL, username TEXT NOT NULL,"
                         "  PRIMARY KEY (grant_id, host)) WITHOUT ROWID;"
                         " INSERT INTO grant_hosts_by_grant"
                         "  SELECT grant_id, host, username FROM grant_hosts;"
                         " DROP TABLE grant_hosts;"
                         " ALTER TABLE grant_hosts_by_grant"
                         "  RENAME TO grant_hosts;"
                         " COMMIT;",
                     NULL, NULL, NULL) == SQLITE_OK)
        return 0;
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* A column added to a table after stores existed: under the writer lock
 * (two instances starting on one file add it once), if has_sql finds no
 * row the column is missing and add_sql adds it (and fills it); then
 * after_sql, if any, runs whether or not it was added.  0, or -1 with the
 * database's error. */
static int
migrate_column(sqlite3 *db, const char *has_sql, const char *add_sql,
               const char *after_sql)
{
    sqlite3_stmt *st = NULL;
    int rc, has;

    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    if (sqlite3_prepare_v2(db, has_sql, -1, &st, NULL) != SQLITE_OK)
        goto rollback;
    rc = sqlite3_step(st);
    has = rc == SQLITE_ROW;
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        goto rollback;
    if ((has || sqlite3_exec(db, add_sql, NULL, NULL, NULL) == SQLITE_OK)
        && (after_sql == NULL
            || sqlite3_exec(db, after_sql, NULL, NULL, NULL) == SQLITE_OK)
        && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK)
        return 0;

rollback:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* A dir_accounts table from before the entry's uuid was recorded gets
 * the column (NULL: the account is known by its mark alone until its
 * next enable). */
static int
migrate_dir_uuid(sqlite3 *db)
{
    return migrate_column(db,
                          "SELECT 1 FROM pragma_table_info('dir_accounts')"
                          " WHERE name = 'entry_uuid'",
                          "ALTER TABLE dir_accounts ADD COLUMN entry_uuid TEXT",
                          NULL);
}

/* A grants table from before grants.seq (store_impl.h,
 * APID_HANDOVERS_SQL) gets the column, filled from each grant's first
 * entry in the operations log (NULL for a grant with none), and then the
 * index the handover search walks. */
static int
migrate_grant_seq(sqlite3 *db)
{
    return migrate_column(db,
                          "SELECT 1 FROM pragma_table_info('grants')"
                          " WHERE name = 'seq'",
                          "ALTER TABLE grants ADD COLUMN seq INTEGER;"
                          " UPDATE grants SET seq = (SELECT min(p.seq)"
                          "  FROM operations p"
                          "  WHERE p.grant_id = grants.id);",
                          "CREATE INDEX IF NOT EXISTS grants_person_seq"
                          " ON grants (username, requester, credential, seq)");
}

static struct apid_conn *
sq_open(const char *path, char **err)
{
    struct apid_conn *s = NULL;

    *err = NULL;
    if ((s = calloc(1, sizeof(*s))) == NULL)
        return NULL;
    if (sqlite3_open_v2(path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                            | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW,
                        NULL) != SQLITE_OK
        || sqlite3_busy_timeout(s->db, 5000) != SQLITE_OK
        || sqlite3_exec(s->db, "PRAGMA journal_mode = WAL;"
                               " PRAGMA synchronous = FULL;"
                               " PRAGMA foreign_keys = ON;",
                        NULL, NULL, NULL) != SQLITE_OK
        || sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK
        || migrate(s->db) != 0 || migrate_dir_uuid(s->db) != 0
        || migrate_grant_seq(s->db) != 0) {
        if (asprintf(err, "database %s: %s", path,
                     s->db ? sqlite3_errmsg(s->db) : "out of memory") < 0)
            *err = NULL;
        sqlite3_close_v2(s->db);
        free(s);
        return NULL;
    }
    return s;
}

static void
sq_close(struct apid_conn *s)
{
    sqlite3_close_v2(s->db);
    free(s);
}

static char *
col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    return t ? strdup((const char *) t) : NULL;
}

/* A JSON array of strings into a vector; 0 or -1. */
static int
row_grant(sqlite3_stmt *st, struct apid_grant *g)
{
    memset(g, 0, sizeof(*g));
    snprintf(g->id, sizeof(g->id), "%s",
             (const char *) sqlite3_column_text(st, 0));
    g->policy = col_dup(st, 1);
    g->credential = col_dup(st, 2);
    g->requester = col_dup(st, 3);
    g->username = col_dup(st, 4);
    g->reason = col_dup(st, 5);
    g->status = col_dup(st, 6);
    g->on_logout = col_dup(st, 7);
    g->not_before = sqlite3_column_int64(st, 10);
    g->expires_at = sqlite3_column_int64(st, 11);
    g->created = sqlite3_column_int64(st, 12);
    g->decided_by = col_dup(st, 13);
    g->previous = col_dup(st, 14);
    if (!g->policy || !g->credential || !g->requester || !g->username
        || !g->reason || !g->status || !g->on_logout
        || apid_json_strings((const char *) sqlite3_column_text(st, 8), &g->groups,
                        &g->n_groups) != 0
        || apid_json_strings((const char *) sqlite3_column_text(st, 9),
                        &g->ssh_keys, &g->n_ssh_keys) != 0
        || apid_json_strings((const char *) sqlite3_column_text(st, 15), &g->hosts,
                        &g->n_hosts) != 0) {
        apid_grant_free(g);
        return -1;
    }
    return 0;
}

/* Collect the grants a prepared statement yields. */
static int
collect_grants(struct apid_conn *s, sqlite3_stmt *st, struct apid_grant **out,
               size_t *n)
{
    struct apid_grant *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            void *nv = grow(v, &cap, sizeof(*v));

            if (nv == NULL)
                break;
            v = nv;
        }
        if (row_grant(st, &v[cnt]) != 0)
            break;
        cnt++;
    }
    if (rc != SQLITE_DONE) {
        apid_grants_free(v, cnt);
        return rc == SQLITE_ROW ? apid_store_fail("out of memory")
                                : db_fail(s, "grants");
    }
    *out = v;
    *n = cnt;
    return APID_OK;
}

static int
exec_simple(struct apid_conn *s, const char *sql)
{
    return sqlite3_exec(s->db, sql, NULL, NULL, NULL) == SQLITE_OK
               ? APID_OK
               : db_fail(s, sql);
}

static int
add_op(struct apid_conn *s, int64_t now, const char *actor,
       const char *action, const char *grant, const char *detail)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO operations (time, actor, action,"
                           " grant_id, detail) VALUES (?, ?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "operations");
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_text(st, 2, actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, grant, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, detail, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? APID_OK : db_fail(s, "operations");
}

/* Grants past their end stop counting for the one-grant rule and for
 * account names. */
static int
sweep_expired(struct apid_conn *s, int64_t now)
{
    sqlite3_stmt *st = NULL;
    int rc = SQLITE_OK;

    if (sqlite3_prepare_v2(s->db,
                           "UPDATE grants SET status = 'expired' WHERE"
                           " status IN ('active', 'pending')"
                           " AND expires_at <= ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "sweep");
    sqlite3_bind_int64(st, 1, now);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? APID_OK : db_fail(s, "sweep");
}

/* A chosen name against the names other people hold: APID_OK, or the
 * refusal of the first whose skeleton is the same.  Every other
 * person's name is read: a look-alike may differ anywhere, and a chosen
 * name is rare enough for that.  In the insert's transaction (BEGIN
 * IMMEDIATE: one writer at a time). */
static int
lookalike_held(struct apid_conn *s, const struct apid_grant *g)
{
    char want[APID_SKELETON_MAX], skel[APID_SKELETON_MAX];
    sqlite3_stmt *st = NULL;
    int rc, ret = APID_OK;

    if (apid_name_skeleton(g->username, want, sizeof(want)) != 0)
        return apid_store_fail("username: too long");
    if (sqlite3_prepare_v2(s->db,
                           "SELECT username, requester FROM account_names"
                           " WHERE requester <> ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "account names");
    sqlite3_bind_text(st, 1, g->requester, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *) sqlite3_column_text(st, 0);
        const char *holder = (const char *) sqlite3_column_text(st, 1);

        if (name != NULL && holder != NULL
            && apid_name_skeleton(name, skel, sizeof(skel)) == 0
            && strcmp(skel, want) == 0) {
            ret = apid_store_name_refused(g, holder, name);
            break;
        }
    }
    if (ret == APID_OK && rc != SQLITE_DONE)
        ret = db_fail(s, "account names");
    sqlite3_finalize(st);
    return ret;
}

/* The grant's account name for its requester, in the insert's
 * transaction (BEGIN IMMEDIATE: one writer at a time, so two requests
 * cannot both find the name free).  The update is a no-op that happens
 * only when the name is already the same person's: no row changed means
 * another person holds it.  Who, only the server's log says. */
static int
claim_name(struct apid_conn *s, const struct apid_grant *g, int64_t now)
{
    sqlite3_stmt *st = NULL;
    char *holder = NULL;
    int rc, ret;

    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO account_names (username, requester,"
                           " created) VALUES (?1, ?2, ?3)"
                           " ON CONFLICT (username) DO UPDATE"
                           " SET requester = excluded.requester"
                           " WHERE account_names.requester"
                           " = excluded.requester",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "account name");
    sqlite3_bind_text(st, 1, g->username, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, g->requester, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    st = NULL;
    if (rc != SQLITE_DONE)
        return db_fail(s, "account name");
    if (sqlite3_changes(s->db) != 0)
        return g->name_chosen ? lookalike_held(s, g) : APID_OK;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT requester FROM account_names"
                           " WHERE username = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "account name");
    sqlite3_bind_text(st, 1, g->username, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
        holder = strdup((const char *) sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    ret = apid_store_name_refused(g, holder != NULL ? holder : "?", g->username);
    free(holder);
    return ret;
}

/* That no other live grant of g's account name (its requester's, by
 * claim_name) lists one of g's hosts, g's own rows being in: one host
 * never gets two grants of one account (two credentials whose templates
 * give the person one name).  Run after the hosts go in, inside the
 * insert's transaction. */
static int
name_free(struct apid_conn *s, const struct apid_grant *g, int64_t now)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "SELECT h.host FROM grants o"
                           " JOIN grant_hosts h ON h.grant_id = o.id"
                           " WHERE o.username = ?1 AND o.id <> ?2"
                           " AND o.status IN ('active', 'pending')"
                           " AND o.expires_at > ?3 AND h.host IN"
                           " (SELECT host FROM grant_hosts"
                           "  WHERE grant_id = ?2) LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "grant hosts");
    sqlite3_bind_text(st, 1, g->username, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, g->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        apid_store_fail("the account name %s is taken on %s by another grant",
                        g->username, (const char *) sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE  ? APID_OK
           : rc == SQLITE_ROW ? APID_CONFLICT
                              : db_fail(s, "grant hosts");
}

static int
sq_grant_insert(struct apid_conn *s, struct apid_grant *g,
                        const char *actor, const char *op_detail, int64_t now)
{
    sqlite3_stmt *st = NULL;
    char *groups = NULL, *keys = NULL;
    int ret, rc;

    apid_new_id(g->id);
    groups = apid_strings_json(g->groups, g->n_groups);
    keys = apid_strings_json(g->ssh_keys, g->n_ssh_keys);
    if (groups == NULL || keys == NULL) {
        ret = apid_store_fail("out of memory");
        goto done;
    }
    if ((ret = exec_simple(s, "BEGIN IMMEDIATE")) != APID_OK)
        goto done;
    if ((ret = sweep_expired(s, now)) != APID_OK)
        goto rollback;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO grants (id, policy, credential,"
                           " requester, username, reason, status, on_logout,"
                           " groups, ssh_keys, not_before, expires_at,"
                           " created, decided_by, previous) VALUES"
                           " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK) {
        ret = db_fail(s, "grant");
        goto rollback;
    }
    sqlite3_bind_text(st, 1, g->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, g->policy, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, g->credential, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, g->requester, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, g->username, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, g->reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, g->status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, g->on_logout, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, groups, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, keys, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 11, g->not_before);
    sqlite3_bind_int64(st, 12, g->expires_at);
    sqlite3_bind_int64(st, 13, now);
    sqlite3_bind_text(st, 14, g->decided_by, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 15, g->previous, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    st = NULL;
    if (rc == SQLITE_CONSTRAINT) {
        ret = apid_store_fail("%s already holds an active or pending grant on %s",
                   g->requester, g->credential);
        ret = APID_CONFLICT;
        goto rollback;
    }
    if (rc != SQLITE_DONE) {
        ret = db_fail(s, "grant");
        goto rollback;
    }
    if ((ret = claim_name(s, g, now)) != APID_OK)
        goto rollback;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO grant_hosts (grant_id, host,"
                           " username) VALUES (?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK) {
        ret = db_fail(s, "grant hosts");
        goto rollback;
    }
    for (size_t i = 0; i < g->n_hosts; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, g->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, g->hosts[i], -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, g->username, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE) {
            ret = db_fail(s, "grant hosts");
            goto rollback;
        }
    }
    sqlite3_finalize(st);
    st = NULL;
    if ((ret = name_free(s, g, now)) != APID_OK)
        goto rollback;
    if ((ret = add_op(s, now, actor, g->previous ? "enable" : "request",
                      g->id, op_detail)) != APID_OK)
        goto rollback;
    /* The grant's place in the order it was stored: its first entry's
     * (store_impl.h, APID_HANDOVERS_SQL). */
    if (sqlite3_prepare_v2(s->db,
                           "UPDATE grants SET seq = last_insert_rowid()"
                           " WHERE id = ?",
                           -1, &st, NULL) != SQLITE_OK) {
        ret = db_fail(s, "grant order");
        goto rollback;
    }
    sqlite3_bind_text(st, 1, g->id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    st = NULL;
    if (rc != SQLITE_DONE) {
        ret = db_fail(s, "grant order");
        goto rollback;
    }
    if (strcmp(g->status, "active") == 0
        && (ret = add_op(s, now, "policy", "approve", g->id,
                         "auto-approved by policy")) != APID_OK)
        goto rollback;
    if ((ret = exec_simple(s, "COMMIT")) == APID_OK)
        goto done;

rollback:
    sqlite3_finalize(st);
    st = NULL;
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);

done:
    free(groups);
    free(keys);
    return ret;
}

static int
sq_grant_transition(struct apid_conn *s, const char *id,
                            const char *from, const char *to,
                            const char *actor, const char *op_detail,
                            int64_t now)
{
    sqlite3_stmt *st = NULL;
    const char *status;
    char action[32];
    int ret, rc, allowed = 0;

    if ((ret = exec_simple(s, "BEGIN IMMEDIATE")) != APID_OK)
        return ret;
    if ((ret = sweep_expired(s, now)) != APID_OK)
        goto rollback;
    if (sqlite3_prepare_v2(s->db, "SELECT status FROM grants WHERE id = ?",
                           -1, &st, NULL) != SQLITE_OK) {
        ret = db_fail(s, "grant");
        goto rollback;
    }
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
        ret = rc == SQLITE_DONE ? APID_NOT_FOUND : db_fail(s, "grant");
        if (ret == APID_NOT_FOUND)
            apid_store_fail("no grant %s", id);
        goto rollback;
    }
    status = (const char *) sqlite3_column_text(st, 0);
    for (const char *p = from; *p;) {
        size_t len = strcspn(p, ",");

        if (strlen(status) == len && strncmp(p, status, len) == 0)
            allowed = 1;
        p += len + (p[len] == ',');
    }
    if (!allowed) {
        apid_store_fail("grant %s is %s", id, status);
        ret = APID_CONFLICT;
        goto rollback;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "UPDATE grants SET status = ?, decided_by = ?"
                           " WHERE id = ?",
                           -1, &st, NULL) != SQLITE_OK) {
        ret = db_fail(s, "grant");
        goto rollback;
    }
    sqlite3_bind_text(st, 1, to, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    st = NULL;
    if (rc != SQLITE_DONE) {
        ret = db_fail(s, "grant");
        goto rollback;
    }
    snprintf(action, sizeof(action), "%s",
             strcmp(to, "active") == 0    ? "approve"
             : strcmp(to, "denied") == 0  ? "deny"
             : strcmp(to, "revoked") == 0 ? "revoke"
                                          : to);
    if ((ret = add_op(s, now, actor, action, id, op_detail)) != APID_OK)
        goto rollback;
    if ((ret = exec_simple(s, "COMMIT")) == APID_OK)
        return APID_OK;

rollback:
    sqlite3_finalize(st);
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return ret;
}

static int
sq_grant_list(struct apid_conn *s, const struct apid_grant_filter *f,
                      size_t limit, struct apid_grant **v, size_t *n,
                      int64_t now)
{
    sqlite3_stmt *st = NULL;
    int ret;

    *v = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(
            s->db,
            "SELECT " GRANT_COLS " FROM grants g"
            " WHERE (?2 IS NULL OR g.requester = ?2)"
            " AND (?3 IS NULL OR g.credential = ?3)"
            " AND (?4 IS NULL OR " STATUS_NOW " = ?4)"
            " AND (?5 IS NULL OR EXISTS (SELECT 1 FROM grant_hosts h"
            "      WHERE h.grant_id = g.id AND h.host = ?5))"
            " AND (?6 IS NULL OR g.id = ?6)"
            " ORDER BY g.created DESC, g.id LIMIT ?7",
            -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "grants");
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_text(st, 2, f->requester, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, f->credential, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, f->status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, f->host, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, f->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 7, (sqlite3_int64) limit);
    ret = collect_grants(s, st, v, n);
    sqlite3_finalize(st);
    return ret;
}

static int
sq_host_grants(struct apid_conn *s, const char *host, const char *user,
               int64_t now, struct apid_grant **v, size_t *n)
{
    sqlite3_stmt *st = NULL;
    int ret;

    *v = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT " HOST_GRANT_COLS " FROM grants g"
                           " JOIN grant_hosts h ON h.grant_id = g.id"
                           " AND h.host = ?2"
                           " WHERE (?3 IS NULL OR g.username = ?3)"
                           " AND g.status = 'active' AND g.expires_at > ?1"
                           " ORDER BY g.id",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "host grants");
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_text(st, 2, host, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, user, -1, SQLITE_STATIC);
    ret = collect_grants(s, st, v, n);
    sqlite3_finalize(st);
    return ret;
}

static int
sq_live_grants(struct apid_conn *s, int64_t now, struct apid_grant **v,
               size_t *n)
{
    sqlite3_stmt *st = NULL;
    int ret;

    *v = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT " HOST_GRANT_COLS " FROM grants g"
                           " WHERE g.status = 'active' AND g.expires_at > ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "live grants");
    sqlite3_bind_int64(st, 1, now);
    ret = collect_grants(s, st, v, n);
    sqlite3_finalize(st);
    return ret;
}

static int
sq_grant_hosts(struct apid_conn *s, const char *id, char **hosts)
{
    sqlite3_stmt *st = NULL;
    const unsigned char *t;
    int rc;

    *hosts = NULL;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT group_concat(host, char(10))"
                           " FROM grant_hosts WHERE grant_id = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "grant hosts");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        t = sqlite3_column_text(st, 0);
        *hosts = strdup(t ? (const char *) t : "");
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return db_fail(s, "grant hosts");
    return *hosts ? APID_OK : apid_store_fail("out of memory");
}

/* Each row (a grant id listing host, its account there, its requester)
 * to the ids that name it. */
static int
sq_grant_accounts(struct apid_conn *s, const char *host,
                  const char *ids_json, char *const *ids, size_t n,
                  char **names, char **requesters)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "SELECT h.grant_id, h.username, g.requester"
                           " FROM grant_hosts h JOIN grants g"
                           " ON g.id = h.grant_id WHERE h.host = ?1"
                           " AND h.grant_id IN"
                           " (SELECT value FROM json_each(?2))",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "grant accounts");
    sqlite3_bind_text(st, 1, host, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ids_json, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *id = (const char *) sqlite3_column_text(st, 0);

        for (size_t i = 0; id != NULL && i < n; i++) {
            if (names[i] != NULL || strcmp(ids[i], id) != 0)
                continue;
            names[i] = col_dup(st, 1);
            requesters[i] = col_dup(st, 2);
            if (names[i] == NULL || requesters[i] == NULL) {
                sqlite3_finalize(st);
                return apid_store_fail("out of memory");
            }
        }
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? APID_OK : db_fail(s, "grant accounts");
}

static int
queue_alerts(struct apid_conn *s, const struct apid_event *e, int64_t now)
{
    sqlite3_stmt *st = NULL;
    int rc = SQLITE_DONE;

    if (sqlite3_prepare_v2(s->db,
                           "INSERT OR IGNORE INTO alerts (event_id, channel,"
                           " recipient, status, attempts, next_try, created)"
                           " VALUES (?, ?, ?, 'pending', 0, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "alerts");
    for (size_t k = 0; k < e->n_alerts && rc == SQLITE_DONE; k++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, e->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, e->alerts[k].channel, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, e->alerts[k].recipient, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now);
        sqlite3_bind_int64(st, 5, now);
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? APID_OK : db_fail(s, "alerts");
}

/* An event id already stored: whether by this host (a redelivery, 1) or
 * by another (0; ids are the hosts' own, so one host's use of an id must
 * not make another's real event look delivered), -1 on error. */
static int
stored_by(struct apid_conn *s, const char *id, const char *host)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM events WHERE id = ?"
                           " AND host = ?", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, host, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int
sq_events_insert(struct apid_conn *s, const struct apid_event *v,
                         size_t n, int64_t now)
{
    sqlite3_stmt *st = NULL;
    int ret;

    if ((ret = exec_simple(s, "BEGIN IMMEDIATE")) != APID_OK)
        return ret;
    if (sqlite3_prepare_v2(s->db,
                           "INSERT OR IGNORE INTO events (id, host, type,"
                           " time, grant_id, username, requester, detail,"
                           " received) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           -1, &st, NULL) != SQLITE_OK) {
        ret = db_fail(s, "events");
        goto rollback;
    }
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, v[i].id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, v[i].host, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, v[i].type, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, v[i].time);
        sqlite3_bind_text(st, 5, v[i].grant, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 6, v[i].username, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, v[i].requester, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 8, v[i].detail, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 9, now);
        if (sqlite3_step(st) != SQLITE_DONE) {
            ret = db_fail(s, "events");
            goto rollback;
        }
        if (sqlite3_changes(s->db) == 0) {
            int own = stored_by(s, v[i].id, v[i].host);

            if (own < 0) {
                ret = db_fail(s, "events");
                goto rollback;
            }
            if (own == 0) {
                ret = apid_store_fail("events[%zu].id: %s is taken by"
                                      " another host's event", i, v[i].id);
                ret = APID_CONFLICT;
                goto rollback;
            }
            continue;
        }
        /* Alerts only for an event stored now, not for a redelivery. */
        if (v[i].n_alerts > 0
            && (ret = queue_alerts(s, &v[i], now)) != APID_OK)
            goto rollback;
    }
    sqlite3_finalize(st);
    st = NULL;
    if ((ret = exec_simple(s, "COMMIT")) == APID_OK)
        return APID_OK;

rollback:
    sqlite3_finalize(st);
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return ret;
}

/* The rows of st (an events query of EVENT_COLS) into *out. */
#define EVENT_COLS                                                          \
    "id, host, type, time, grant_id, username, requester, detail,"          \
    " received, rowid"
static int
read_events(struct apid_conn *s, sqlite3_stmt *st, struct apid_event **out,
            size_t *n)
{
    struct apid_event *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct apid_event *e;

        if (cnt == cap) {
            void *nv = grow(v, &cap, sizeof(*v));

            if (nv == NULL)
                break;
            v = nv;
        }
        e = &v[cnt++];
        memset(e, 0, sizeof(*e));
        e->id = col_dup(st, 0);
        e->host = col_dup(st, 1);
        e->type = col_dup(st, 2);
        e->time = sqlite3_column_int64(st, 3);
        e->grant = col_dup(st, 4);
        e->username = col_dup(st, 5);
        e->requester = col_dup(st, 6);
        e->detail = col_dup(st, 7);
        e->received = sqlite3_column_int64(st, 8);
        e->seq = sqlite3_column_int64(st, 9);
        /* NOT NULL columns: NULL here is a copy that failed, and every
         * reader compares them. */
        if (e->id == NULL || e->host == NULL || e->type == NULL)
            break;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        apid_events_free(v, cnt);
        return rc == SQLITE_ROW ? apid_store_fail("out of memory")
                                : db_fail(s, "events");
    }
    *out = v;
    *n = cnt;
    return APID_OK;
}

/* In the order jit-apid received them (rowid), not by the hosts' clocks:
 * a host whose clock is wrong cannot reorder its own record
 * (doc/design.md, S25). */
static int
sq_events_for_grant(struct apid_conn *s, const char *grant,
                    struct apid_event **out, size_t *n)
{
    sqlite3_stmt *st = NULL;

    *out = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT " EVENT_COLS " FROM events"
                           " WHERE grant_id = ? ORDER BY rowid",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "events");
    sqlite3_bind_text(st, 1, grant, -1, SQLITE_STATIC);
    return read_events(s, st, out, n);
}

static int
sq_events_for_grants(struct apid_conn *s, const char *ids_json,
                     struct apid_event **out, size_t *n)
{
    sqlite3_stmt *st = NULL;

    *out = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT " EVENT_COLS " FROM events"
                           " WHERE grant_id IN"
                           " (SELECT value FROM json_each(?1))"
                           " ORDER BY grant_id, rowid",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "events");
    sqlite3_bind_text(st, 1, ids_json, -1, SQLITE_STATIC);
    return read_events(s, st, out, n);
}

static int
sq_handovers(struct apid_conn *s, const char *ids_json,
             struct apid_handover **out, size_t *n)
{
    sqlite3_stmt *st = NULL;
    struct apid_handover *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(s->db, APID_HANDOVERS_SQL(
                                      "SELECT value FROM json_each(?1)",
                                      "rowid"),
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "handovers");
    sqlite3_bind_text(st, 1, ids_json, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct apid_handover *h;

        if (cnt == cap) {
            void *nv = grow(v, &cap, sizeof(*v));

            if (nv == NULL)
                break;
            v = nv;
        }
        h = &v[cnt++];
        h->orig = col_dup(st, 0);
        h->grant = col_dup(st, 1);
        h->host = col_dup(st, 2);
        h->time = sqlite3_column_int64(st, 3);
        if (h->orig == NULL || h->grant == NULL || h->host == NULL)
            break;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        apid_handovers_free(v, cnt);
        return rc == SQLITE_ROW ? apid_store_fail("out of memory")
                                : db_fail(s, "handovers");
    }
    *out = v;
    *n = cnt;
    return APID_OK;
}

static int
sq_ops(struct apid_conn *s, const char *grant, size_t limit,
               struct apid_op **out, size_t *n)
{
    sqlite3_stmt *st = NULL;
    struct apid_op *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if (sqlite3_prepare_v2(s->db,
                           "SELECT seq, time, actor, action, grant_id, detail"
                           " FROM operations WHERE ?1 IS NULL"
                           " OR grant_id = ?1 ORDER BY seq DESC LIMIT ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "operations");
    sqlite3_bind_text(st, 1, grant, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct apid_op *o;

        if (cnt == cap) {
            void *nv = grow(v, &cap, sizeof(*v));

            if (nv == NULL)
                break;
            v = nv;
        }
        o = &v[cnt++];
        o->seq = sqlite3_column_int64(st, 0);
        o->time = sqlite3_column_int64(st, 1);
        o->actor = col_dup(st, 2);
        o->action = col_dup(st, 3);
        o->grant = col_dup(st, 4);
        o->detail = col_dup(st, 5);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        apid_ops_free(v, cnt);
        return rc == SQLITE_ROW ? apid_store_fail("out of memory")
                                : db_fail(s, "operations");
    }
    *out = v;
    *n = cnt;
    return APID_OK;
}

static int
sq_alerts_claim(struct apid_conn *s, int64_t now, int64_t lease, size_t limit,
                struct apid_alert_job **out, size_t *n)
{
    sqlite3_stmt *st = NULL, *up = NULL;
    struct apid_alert_job *v = NULL;
    size_t cnt = 0;
    int ret, rc;

    *out = NULL;
    *n = 0;
    if ((v = calloc(limit + 1, sizeof(*v))) == NULL)
        return apid_store_fail("out of memory");
    if ((ret = exec_simple(s, "BEGIN IMMEDIATE")) != APID_OK) {
        free(v);
        return ret;
    }
    if (sqlite3_prepare_v2(s->db,
                           "SELECT a.id, a.attempts, a.channel, a.recipient,"
                           " e.id, e.type, e.host, e.time, e.grant_id,"
                           " e.username, e.requester, e.detail"
                           " FROM alerts a JOIN events e ON e.id = a.event_id"
                           " WHERE a.status = 'pending' AND a.next_try <= ?"
                           " ORDER BY a.id LIMIT ?",
                           -1, &st, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(s->db,
                              "UPDATE alerts SET next_try = ? WHERE id = ?",
                              -1, &up, NULL) != SQLITE_OK) {
        ret = db_fail(s, "alerts");
        goto rollback;
    }
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, (sqlite3_int64) limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && cnt < limit) {
        struct apid_alert_job *j = &v[cnt++];

        j->id = sqlite3_column_int64(st, 0);
        j->attempts = sqlite3_column_int(st, 1);
        j->channel = col_dup(st, 2);
        j->recipient = col_dup(st, 3);
        j->ev.id = col_dup(st, 4);
        j->ev.type = col_dup(st, 5);
        j->ev.host = col_dup(st, 6);
        j->ev.time = sqlite3_column_int64(st, 7);
        j->ev.grant = col_dup(st, 8);
        j->ev.username = col_dup(st, 9);
        j->ev.requester = col_dup(st, 10);
        j->ev.detail = col_dup(st, 11);
        sqlite3_reset(up);
        sqlite3_bind_int64(up, 1, now + lease);
        sqlite3_bind_int64(up, 2, j->id);
        if (sqlite3_step(up) != SQLITE_DONE) {
            ret = db_fail(s, "alerts");
            goto rollback;
        }
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        ret = db_fail(s, "alerts");
        goto rollback;
    }
    sqlite3_finalize(st);
    sqlite3_finalize(up);
    st = up = NULL;
    if ((ret = exec_simple(s, "COMMIT")) != APID_OK)
        goto rollback;
    *out = v;
    *n = cnt;
    return APID_OK;

rollback:
    sqlite3_finalize(st);
    sqlite3_finalize(up);
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    apid_alert_jobs_free(v, cnt);
    return ret;
}

static int
sq_alert_settle(struct apid_conn *s, int64_t id, int sent, const char *error,
                int64_t next_try, int64_t now)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(s->db,
                           "UPDATE alerts SET attempts = attempts + 1,"
                           " status = ?, last_error = ?, next_try = ?,"
                           " delivered = ? WHERE id = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "alerts");
    sqlite3_bind_text(st, 1, sent ? "sent" : next_try ? "pending" : "failed",
                      -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, error, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, next_try);
    if (sent)
        sqlite3_bind_int64(st, 4, now);
    else
        sqlite3_bind_null(st, 4);
    sqlite3_bind_int64(st, 5, id);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? APID_OK : db_fail(s, "alerts");
}

static int
sq_alerts_list(struct apid_conn *s, size_t limit, struct apid_alert_rec **out,
               size_t *n)
{
    sqlite3_stmt *st = NULL;
    struct apid_alert_rec *v = NULL;
    size_t cnt = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if ((v = calloc(limit + 1, sizeof(*v))) == NULL)
        return apid_store_fail("out of memory");
    if (sqlite3_prepare_v2(s->db,
                           "SELECT a.id, a.created, a.delivered, a.attempts,"
                           " a.event_id, e.type, a.channel, a.recipient,"
                           " a.status, a.last_error FROM alerts a"
                           " JOIN events e ON e.id = a.event_id"
                           " ORDER BY a.id DESC LIMIT ?",
                           -1, &st, NULL) != SQLITE_OK) {
        free(v);
        return db_fail(s, "alerts");
    }
    sqlite3_bind_int64(st, 1, (sqlite3_int64) limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && cnt < limit) {
        struct apid_alert_rec *a = &v[cnt++];

        a->id = sqlite3_column_int64(st, 0);
        a->created = sqlite3_column_int64(st, 1);
        a->delivered = sqlite3_column_int64(st, 2);
        a->attempts = sqlite3_column_int(st, 3);
        a->event = col_dup(st, 4);
        a->type = col_dup(st, 5);
        a->channel = col_dup(st, 6);
        a->recipient = col_dup(st, 7);
        a->status = col_dup(st, 8);
        a->last_error = col_dup(st, 9);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        apid_alert_recs_free(v, cnt);
        return db_fail(s, "alerts");
    }
    *out = v;
    *n = cnt;
    return APID_OK;
}

static int
sq_change_seq(struct apid_conn *s, int64_t *seq)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(s->db, "SELECT coalesce(max(seq), 0) FROM operations",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "operations");
    if ((rc = sqlite3_step(st)) == SQLITE_ROW)
        *seq = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? APID_OK : db_fail(s, "operations");
}

static int
sq_op_add(struct apid_conn *s, const char *actor, const char *action,
          const char *grant, const char *detail, int64_t now)
{
    return add_op(s, now, actor, action, grant, detail);
}

static int
sq_diracct_hold(struct apid_conn *s, const char *username, const char *grant,
                const char *actor, const char *action, const char *detail,
                int64_t now)
{
    sqlite3_stmt *st = NULL;
    int ret, rc;

    if ((ret = exec_simple(s, "BEGIN IMMEDIATE")) != APID_OK)
        return ret;
    /* A teardown under way (claimed, not settled) is let finish. */
    if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM dir_accounts WHERE"
                           " username = ?1 AND claimed_until > ?2",
                           -1, &st, NULL) != SQLITE_OK) {
        ret = db_fail(s, "directory accounts");
        goto rollback;
    }
    sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, now);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    st = NULL;
    if (rc == SQLITE_ROW) {
        apid_store_fail("account %s is being disabled (its previous"
                        " grant's teardown)", username);
        ret = APID_CONFLICT;
        goto rollback;
    }
    if (rc != SQLITE_DONE) {
        ret = db_fail(s, "directory accounts");
        goto rollback;
    }
    if (sqlite3_prepare_v2(s->db,
                           "INSERT INTO dir_accounts (username, grant_id,"
                           " state, attempts, next_try, last_error, updated)"
                           " VALUES (?1, ?2, 'enabled', 0, 0, NULL, ?3)"
                           " ON CONFLICT (username) DO UPDATE SET"
                           " grant_id = ?2, state = 'enabled', attempts = 0,"
                           " next_try = 0, last_error = NULL, updated = ?3",
                           -1, &st, NULL) != SQLITE_OK) {
        ret = db_fail(s, "directory accounts");
        goto rollback;
    }
    sqlite3_bind_text(st, 1, username, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, grant, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    st = NULL;
    if (rc != SQLITE_DONE) {
        ret = db_fail(s, "directory accounts");
        goto rollback;
    }
    if ((ret = add_op(s, now, actor, action, grant, detail)) != APID_OK)
        goto rollback;
    if ((ret = exec_simple(s, "COMMIT")) == APID_OK)
        return APID_OK;

rollback:
    sqlite3_finalize(st);
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return ret;
}

#define DIRACCT_COLS                                                        \
    "d.username, d.grant_id, d.state, d.attempts, d.next_try,"              \
    " d.last_error, d.updated, d.entry_uuid"

static int
row_diracct(sqlite3_stmt *st, struct apid_diracct *d)
{
    memset(d, 0, sizeof(*d));
    d->username = col_dup(st, 0);
    d->grant = col_dup(st, 1);
    d->state = col_dup(st, 2);
    d->attempts = sqlite3_column_int(st, 3);
    d->next_try = sqlite3_column_int64(st, 4);
    d->last_error = col_dup(st, 5);
    d->updated = sqlite3_column_int64(st, 6);
    d->entry_uuid = col_dup(st, 7);
    if (d->username == NULL || d->grant == NULL || d->state == NULL) {
        free(d->username);
        free(d->grant);
        free(d->state);
        free(d->last_error);
        free(d->entry_uuid);
        return -1;
    }
    return 0;
}

static int
sq_diracct_get(struct apid_conn *s, const char *grant,
               struct apid_diracct *out)
{
    sqlite3_stmt *st = NULL;
    int rc, ret;

    memset(out, 0, sizeof(*out));
    if (sqlite3_prepare_v2(s->db, "SELECT " DIRACCT_COLS
                           " FROM dir_accounts d WHERE d.grant_id = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "directory accounts");
    sqlite3_bind_text(st, 1, grant, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        ret = row_diracct(st, out) == 0 ? APID_OK
                                        : apid_store_fail("out of memory");
    else if (rc == SQLITE_DONE)
        ret = APID_NOT_FOUND;
    else
        ret = db_fail(s, "directory accounts");
    sqlite3_finalize(st);
    return ret;
}

static int
sq_diracct_claim(struct apid_conn *s, int64_t now, int64_t lease,
                 size_t limit, struct apid_diracct **out, size_t *n)
{
    sqlite3_stmt *st = NULL, *up = NULL;
    struct apid_diracct *v = NULL;
    size_t cnt = 0, cap = 0;
    int ret, rc;

    *out = NULL;
    *n = 0;
    if ((ret = exec_simple(s, "BEGIN IMMEDIATE")) != APID_OK)
        return ret;
    /* A grant no longer live: whatever its row says, one past its end
     * (the sweep is lazy). */
    if (sqlite3_prepare_v2(s->db, "SELECT " DIRACCT_COLS
                           " FROM dir_accounts d JOIN grants g"
                           " ON g.id = d.grant_id"
                           " WHERE d.state IN ('enabled', 'disable_failed')"
                           " AND d.next_try <= ?1"
                           " AND NOT (g.status = 'active'"
                           " AND g.expires_at > ?1)"
                           " ORDER BY d.next_try LIMIT ?2",
                           -1, &st, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(s->db, "UPDATE dir_accounts SET next_try = ?1,"
                              " claimed_until = ?1 WHERE username = ?2", -1, &up, NULL)
               != SQLITE_OK) {
        ret = db_fail(s, "directory accounts");
        goto rollback;
    }
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, (int64_t) limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            struct apid_diracct *nv = grow(v, &cap, sizeof(*v));

            if (nv == NULL) {
                ret = apid_store_fail("out of memory");
                goto rollback;
            }
            v = nv;
        }
        if (row_diracct(st, &v[cnt]) != 0) {
            ret = apid_store_fail("out of memory");
            goto rollback;
        }
        cnt++;
        sqlite3_reset(up);
        sqlite3_bind_int64(up, 1, now + lease);
        sqlite3_bind_text(up, 2, v[cnt - 1].username, -1, SQLITE_STATIC);
        if (sqlite3_step(up) != SQLITE_DONE) {
            ret = db_fail(s, "directory accounts");
            goto rollback;
        }
    }
    if (rc != SQLITE_DONE) {
        ret = db_fail(s, "directory accounts");
        goto rollback;
    }
    sqlite3_finalize(st);
    sqlite3_finalize(up);
    st = up = NULL;
    if ((ret = exec_simple(s, "COMMIT")) != APID_OK)
        goto rollback;
    *out = v;
    *n = cnt;
    return APID_OK;

rollback:
    sqlite3_finalize(st);
    sqlite3_finalize(up);
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    apid_diraccts_free(v, cnt);
    return ret;
}

static int
sq_diracct_settle(struct apid_conn *s, const char *username,
                  const char *grant, int ok, const char *error,
                  int64_t next_try, const char *actor, const char *action,
                  const char *detail, int64_t now)
{
    sqlite3_stmt *st = NULL;
    int ret, rc;

    if ((ret = exec_simple(s, "BEGIN IMMEDIATE")) != APID_OK)
        return ret;
    if (sqlite3_prepare_v2(s->db,
                           "UPDATE dir_accounts SET state = ?1,"
                           " attempts = CASE WHEN ?2 THEN 0"
                           " ELSE attempts + 1 END,"
                           " last_error = ?3, next_try = ?4, updated = ?5,"
                           " claimed_until = 0"
                           " WHERE username = ?6 AND grant_id = ?7"
                           " AND state IN ('enabled', 'disable_failed')",
                           -1, &st, NULL) != SQLITE_OK) {
        ret = db_fail(s, "directory accounts");
        goto rollback;
    }
    sqlite3_bind_text(st, 1, ok ? "disabled" : "disable_failed", -1,
                      SQLITE_STATIC);
    sqlite3_bind_int(st, 2, ok != 0);
    sqlite3_bind_text(st, 3, ok ? NULL : error, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, ok ? 0 : next_try);
    sqlite3_bind_int64(st, 5, now);
    sqlite3_bind_text(st, 6, username, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, grant, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    st = NULL;
    if (rc != SQLITE_DONE) {
        ret = db_fail(s, "directory accounts");
        goto rollback;
    }
    if (sqlite3_changes(s->db) == 0) {
        apid_store_fail("account %s is no longer grant %s's", username,
                        grant);
        ret = APID_CONFLICT;
        goto rollback;
    }
    if ((ret = add_op(s, now, actor, action, grant, detail)) != APID_OK)
        goto rollback;
    if ((ret = exec_simple(s, "COMMIT")) == APID_OK)
        return APID_OK;

rollback:
    sqlite3_finalize(st);
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return ret;
}

static int
sq_diracct_set_uuid(struct apid_conn *s, const char *username,
                    const char *grant, const char *uuid)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(s->db, "UPDATE dir_accounts SET entry_uuid = ?1"
                           " WHERE username = ?2 AND grant_id = ?3",
                           -1, &st, NULL) != SQLITE_OK)
        return db_fail(s, "directory accounts");
    sqlite3_bind_text(st, 1, uuid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, username, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, grant, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? APID_OK : db_fail(s, "directory accounts");
}

static int
sq_alert_settings_get(struct apid_conn *s, char **json, int64_t *version)
{
    sqlite3_stmt *st = NULL;
    int rc, ret;

    *json = NULL;
    *version = 0;
    if (sqlite3_prepare_v2(s->db, "SELECT settings, version FROM"
                           " alert_settings WHERE id = 1", -1, &st, NULL)
        != SQLITE_OK)
        return db_fail(s, "alert settings");
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *json = strdup((const char *) sqlite3_column_text(st, 0));
        *version = sqlite3_column_int64(st, 1);
        ret = *json ? APID_OK : apid_store_fail("out of memory");
    } else {
        ret = rc == SQLITE_DONE ? APID_NOT_FOUND
                                : db_fail(s, "alert settings");
    }
    sqlite3_finalize(st);
    return ret;
}

static int
sq_alert_settings_put(struct apid_conn *s, const char *json, int64_t version,
                      const char *actor, const char *action,
                      const char *detail, int64_t now)
{
    sqlite3_stmt *st = NULL;
    int ret, rc;

    if ((ret = exec_simple(s, "BEGIN IMMEDIATE")) != APID_OK)
        return ret;
    /* Compare and set: a change made from settings another change has
     * replaced meanwhile would undo it. */
    if (sqlite3_prepare_v2(s->db, version == 0
                               ? "INSERT INTO alert_settings (id, settings,"
                                 " version) VALUES (1, ?1, 1)"
                                 " ON CONFLICT (id) DO NOTHING"
                               : "UPDATE alert_settings SET settings = ?1,"
                                 " version = version + 1"
                                 " WHERE id = 1 AND version = ?2",
                           -1, &st, NULL) != SQLITE_OK) {
        ret = db_fail(s, "alert settings");
        goto rollback;
    }
    sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
    if (version != 0)
        sqlite3_bind_int64(st, 2, version);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        ret = db_fail(s, "alert settings");
        goto rollback;
    }
    if (sqlite3_changes(s->db) == 0) {
        ret = APID_CONFLICT;
        apid_store_fail("the alert settings were changed meanwhile");
        goto rollback;
    }
    if ((ret = add_op(s, now, actor, action, NULL, detail)) != APID_OK)
        goto rollback;
    if ((ret = exec_simple(s, "COMMIT")) == APID_OK)
        return APID_OK;

rollback:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return ret;
}

const struct apid_backend apid_sqlite_backend = {
    .prefix = "sqlite:",
    .open = sq_open,
    .close = sq_close,
    .grant_insert = sq_grant_insert,
    .grant_transition = sq_grant_transition,
    .grant_list = sq_grant_list,
    .host_grants = sq_host_grants,
    .live_grants = sq_live_grants,
    .grant_hosts = sq_grant_hosts,
    .change_seq = sq_change_seq,
    .grant_accounts = sq_grant_accounts,
    .events_insert = sq_events_insert,
    .events_for_grant = sq_events_for_grant,
    .events_for_grants = sq_events_for_grants,
    .handovers = sq_handovers,
    .ops = sq_ops,
    .alerts_claim = sq_alerts_claim,
    .alert_settle = sq_alert_settle,
    .alerts_list = sq_alerts_list,
    .op_add = sq_op_add,
    .diracct_hold = sq_diracct_hold,
    .diracct_get = sq_diracct_get,
    .diracct_claim = sq_diracct_claim,
    .diracct_set_uuid = sq_diracct_set_uuid,
    .diracct_settle = sq_diracct_settle,
    .alert_settings_get = sq_alert_settings_get,
    .alert_settings_put = sq_alert_settings_put,
};
