/* SPDX-License-Identifier: MIT */
/*
 * jit-apid storage on PostgreSQL (see store.h), for sites that run several
 * jit-apid instances behind a load balancer: the grant rules are unique
 * indexes, so they hold across instances; a transaction that loses a
 * deadlock or a serialization race is run again.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "store_impl.h"

#define RETRIES 5

struct apid_conn {
    PGconn *pg;
};

static const char schema[] =
    "SELECT pg_advisory_xact_lock(7461001);" /* one instance at a time */
    "CREATE TABLE IF NOT EXISTS grants ("
    " id TEXT PRIMARY KEY, policy TEXT NOT NULL, credential TEXT NOT NULL,"
    " requester TEXT NOT NULL, username TEXT NOT NULL, reason TEXT NOT NULL,"
    " status TEXT NOT NULL, on_logout TEXT NOT NULL, groups TEXT NOT NULL,"
    " ssh_keys TEXT NOT NULL, not_before BIGINT NOT NULL,"
    " expires_at BIGINT NOT NULL, created BIGINT NOT NULL,"
    " decided_by TEXT, previous TEXT, seq BIGINT);"
    "CREATE UNIQUE INDEX IF NOT EXISTS grants_one_per_person"
    " ON grants (requester, credential) WHERE status IN ('active', 'pending');"
    "CREATE INDEX IF NOT EXISTS grants_live ON grants (status, expires_at);"
    "CREATE TABLE IF NOT EXISTS grant_hosts ("
    " grant_id TEXT NOT NULL REFERENCES grants (id), host TEXT NOT NULL,"
    " username TEXT NOT NULL,"
    " PRIMARY KEY (host, grant_id));"
    "CREATE INDEX IF NOT EXISTS grant_hosts_grant ON grant_hosts (grant_id, host);"
    "CREATE INDEX IF NOT EXISTS grants_username ON grants (username);"
    /* A grants table from before grants.seq (store_impl.h,
     * APID_HANDOVERS_SQL) gets the column, filled from each grant's first
     * entry in the operations log, once (operations exists by then only
     * in such a store); then the index the handover search walks. */
    "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM information_schema.columns"
    " WHERE table_schema = current_schema() AND table_name = 'grants'"
    " AND column_name = 'seq') THEN"
    " ALTER TABLE grants ADD COLUMN seq BIGINT;"
    " UPDATE grants SET seq = (SELECT min(p.seq) FROM operations p"
    "  WHERE p.grant_id = grants.id); END IF;"
    " END $$;"
    "CREATE INDEX IF NOT EXISTS grants_person_seq"
    " ON grants (username, requester, credential, seq);"
    /* A grant's hosts no longer change when it ends (store_sqlite.c): a
     * store from before loses the column that did, and its index; the
     * check keeps a running instance's table unlocked when there is
     * nothing to drop. */
    "DO $$ BEGIN IF EXISTS (SELECT 1 FROM information_schema.columns"
    " WHERE table_schema = current_schema() AND table_name = 'grant_hosts'"
    " AND column_name = 'live') THEN"
    " DROP INDEX IF EXISTS grant_hosts_one_name;"
    " ALTER TABLE grant_hosts DROP COLUMN IF EXISTS live; END IF;"
    " END $$;"
    /* An account name is one person's for good (store_sqlite.c); a store
     * from before the table gets it filled, the earliest grant of each
     * name deciding. */
    "CREATE TABLE IF NOT EXISTS account_names ("
    " username TEXT PRIMARY KEY, requester TEXT NOT NULL,"
    " created BIGINT NOT NULL);"
    "INSERT INTO account_names (username, requester, created)"
    " SELECT DISTINCT ON (username) username, requester, created"
    " FROM grants WHERE NOT EXISTS (SELECT 1 FROM account_names)"
    " ORDER BY username, created, id ON CONFLICT DO NOTHING;"
    "CREATE TABLE IF NOT EXISTS events ("
    " seq BIGSERIAL, id TEXT PRIMARY KEY, host TEXT NOT NULL,"
    " type TEXT NOT NULL, time BIGINT NOT NULL, grant_id TEXT,"
    " username TEXT, requester TEXT, detail TEXT, received BIGINT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS events_grant ON events (grant_id, time);"
    "CREATE TABLE IF NOT EXISTS operations ("
    " seq BIGSERIAL PRIMARY KEY, time BIGINT NOT NULL, actor TEXT NOT NULL,"
    " action TEXT NOT NULL, grant_id TEXT, detail TEXT);"
    "CREATE INDEX IF NOT EXISTS operations_grant ON operations (grant_id);"
    "CREATE TABLE IF NOT EXISTS alerts ("
    " id BIGSERIAL PRIMARY KEY, event_id TEXT NOT NULL,"
    " channel TEXT NOT NULL, recipient TEXT NOT NULL, status TEXT NOT NULL,"
    " attempts INTEGER NOT NULL, next_try BIGINT NOT NULL, last_error TEXT,"
    " created BIGINT NOT NULL, delivered BIGINT,"
    " UNIQUE (event_id, channel, recipient));"
    "CREATE INDEX IF NOT EXISTS alerts_due ON alerts (status, next_try);"
    /* Directory accounts (store.h). */
    "CREATE TABLE IF NOT EXISTS dir_accounts ("
    " username TEXT PRIMARY KEY, grant_id TEXT NOT NULL,"
    " state TEXT NOT NULL, attempts INTEGER NOT NULL,"
    " next_try BIGINT NOT NULL, last_error TEXT, updated BIGINT NOT NULL,"
    " claimed_until BIGINT NOT NULL DEFAULT 0, entry_uuid TEXT);"
    /* A table of a jit-apid before the entry's uuid was recorded. */
    "ALTER TABLE dir_accounts ADD COLUMN IF NOT EXISTS entry_uuid TEXT;"
    "CREATE INDEX IF NOT EXISTS dir_accounts_grant"
    " ON dir_accounts (grant_id);"
    /* Alert settings (alerts.h): one row, absent until seeded or first
     * changed (then every type is off). */
    "CREATE TABLE IF NOT EXISTS alert_settings ("
    " id INTEGER PRIMARY KEY CHECK (id = 1), settings TEXT NOT NULL,"
    " version BIGINT NOT NULL);";

#define STATUS_NOW APID_STATUS_NOW("$1")
#define GRANT_COLS                                                          \
    APID_GRANT_BASE_COLS("$1")                                             \
    " (SELECT coalesce(json_agg(h.host ORDER BY h.host), '[]')::text"       \
    "  FROM grant_hosts h WHERE h.grant_id = g.id)"
#define HOST_GRANT_COLS APID_HOST_GRANT_COLS("$1")

/* Run sql with text parameters; the result, or NULL with the error set
 * and *state the SQLSTATE ("" if none). */
static PGresult *
run(struct apid_conn *c, const char *sql, int n, const char *const *p,
    char state[6])
{
    PGresult *r;
    ExecStatusType st;

    state[0] = '\0';
    if (PQstatus(c->pg) != CONNECTION_OK)
        PQreset(c->pg); /* the server restarted, or the network hiccupped */
    r = PQexecParams(c->pg, sql, n, NULL, p, NULL, NULL, 0);
    st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    if (r != NULL && PQresultErrorField(r, PG_DIAG_SQLSTATE) != NULL)
        snprintf(state, 6, "%s", PQresultErrorField(r, PG_DIAG_SQLSTATE));
    apid_store_fail("postgresql: %s", r ? PQresultErrorMessage(r)
                                : PQerrorMessage(c->pg));
    PQclear(r);
    return NULL;
}

static int
simple(struct apid_conn *c, const char *sql, int n, const char *const *p,
       char state[6])
{
    PGresult *r = run(c, sql, n, p, state);

    PQclear(r);
    return r ? APID_OK : APID_FAILED;
}

static void
rollback(struct apid_conn *c)
{
    PQclear(PQexec(c->pg, "ROLLBACK"));
}

/* A deadlock or serialization failure: run the transaction again. */
static int
retryable(const char *state)
{
    return strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0;
}

static struct apid_conn *
pg_open(const char *conninfo, char **err)
{
    struct apid_conn *c = calloc(1, sizeof(*c));
    PGresult *r;

    *err = NULL;
    if (c == NULL)
        return NULL;
    c->pg = PQconnectdb(conninfo);
    if (c->pg == NULL || PQstatus(c->pg) != CONNECTION_OK) {
        if (asprintf(err, "postgresql: %s",
                     c->pg ? PQerrorMessage(c->pg) : "out of memory") < 0)
            *err = NULL;
        PQfinish(c->pg);
        free(c);
        return NULL;
    }
    r = PQexec(c->pg, "BEGIN");
    PQclear(r);
    r = PQexec(c->pg, schema);
    if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
        if (asprintf(err, "postgresql: schema: %s",
                     r ? PQresultErrorMessage(r) : PQerrorMessage(c->pg)) < 0)
            *err = NULL;
        PQclear(r);
        PQfinish(c->pg);
        free(c);
        return NULL;
    }
    PQclear(r);
    PQclear(PQexec(c->pg, "COMMIT"));
    return c;
}

static void
pg_close(struct apid_conn *c)
{
    PQfinish(c->pg);
    free(c);
}

static char *
dup_col(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

static int64_t
int_col(PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static int
row_grant(PGresult *r, int i, struct apid_grant *g)
{
    memset(g, 0, sizeof(*g));
    snprintf(g->id, sizeof(g->id), "%s", PQgetvalue(r, i, 0));
    g->policy = dup_col(r, i, 1);
    g->credential = dup_col(r, i, 2);
    g->requester = dup_col(r, i, 3);
    g->username = dup_col(r, i, 4);
    g->reason = dup_col(r, i, 5);
    g->status = dup_col(r, i, 6);
    g->on_logout = dup_col(r, i, 7);
    g->not_before = int_col(r, i, 10);
    g->expires_at = int_col(r, i, 11);
    g->created = int_col(r, i, 12);
    g->decided_by = dup_col(r, i, 13);
    g->previous = dup_col(r, i, 14);
    if (!g->policy || !g->credential || !g->requester || !g->username
        || !g->reason || !g->status || !g->on_logout
        || apid_json_strings(PQgetvalue(r, i, 8), &g->groups, &g->n_groups)
               != 0
        || apid_json_strings(PQgetvalue(r, i, 9), &g->ssh_keys,
                             &g->n_ssh_keys) != 0
        || apid_json_strings(PQgetvalue(r, i, 15), &g->hosts, &g->n_hosts)
               != 0) {
        apid_grant_free(g);
        return -1;
    }
    return 0;
}

static int
collect_grants(PGresult *r, struct apid_grant **out, size_t *n)
{
    int rows = PQntuples(r);
    struct apid_grant *v = calloc((size_t) rows + 1, sizeof(*v));

    if (v == NULL)
        return apid_store_fail("out of memory");
    for (int i = 0; i < rows; i++)
        if (row_grant(r, i, &v[i]) != 0) {
            apid_grants_free(v, (size_t) i);
            return apid_store_fail("out of memory");
        }
    *out = v;
    *n = (size_t) rows;
    return APID_OK;
}

static void
fmt_i64(char *buf, size_t len, int64_t v)
{
    snprintf(buf, len, "%" PRId64, v);
}

static int
add_op(struct apid_conn *c, int64_t now, const char *actor,
       const char *action, const char *grant, const char *detail,
       char state[6])
{
    char t[24];
    const char *p[5];

    fmt_i64(t, sizeof(t), now);
    p[0] = t;
    p[1] = actor;
    p[2] = action;
    p[3] = grant;
    p[4] = detail;
    return simple(c, "INSERT INTO operations (time, actor, action, grant_id,"
                     " detail) VALUES ($1, $2, $3, $4, $5)",
                  5, p, state);
}

static int
sweep_expired(struct apid_conn *c, int64_t now, char state[6])
{
    char t[24];
    const char *p[1] = { t };

    fmt_i64(t, sizeof(t), now);
    return simple(c, "UPDATE grants SET status = 'expired' WHERE"
                     " status IN ('active', 'pending') AND expires_at <= $1",
                  1, p, state);
}

/* A chosen name against the names other people hold: APID_OK, or the
 * refusal of the first whose skeleton is the same.  Every other
 * person's name is read: a look-alike may differ anywhere, and a chosen
 * name is rare enough for that.  Chosen names are claimed one at a time
 * (an advisory lock to the transaction's end, taken before the claim):
 * under READ COMMITTED each statement sees what committed before it, so
 * a look-alike claimed at once by another instance is seen here. */
static int
lookalike_held(struct apid_conn *c, const struct apid_grant *g,
               char state[6])
{
    char want[APID_SKELETON_MAX], skel[APID_SKELETON_MAX];
    const char *p[1] = { g->requester };
    PGresult *r;
    int ret = APID_OK;

    if (apid_name_skeleton(g->username, want, sizeof(want)) != 0)
        return apid_store_fail("username: too long");
    if ((r = run(c, "SELECT username, requester FROM account_names"
                    " WHERE requester <> $1", 1, p, state)) == NULL)
        return APID_FAILED;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *name = PQgetvalue(r, i, 0);

        if (apid_name_skeleton(name, skel, sizeof(skel)) == 0
            && strcmp(skel, want) == 0) {
            ret = apid_store_name_refused(g, PQgetvalue(r, i, 1), name);
            break;
        }
    }
    PQclear(r);
    return ret;
}

/* The grant's account name for its requester, in the insert's
 * transaction.  Under concurrent inserts of one name the second waits
 * for the first's commit, then finds its row; the no-op update happens
 * only when that row is the same person's, so no row back means another
 * person holds the name (whom, only the server's log says). */
static int
claim_name(struct apid_conn *c, const struct apid_grant *g,
           const char *created, char state[6])
{
    const char *p[3] = { g->username, g->requester, created };
    PGresult *r;
    int rows, ret;

    if (g->name_chosen
        && simple(c, "SELECT pg_advisory_xact_lock(7461002)", 0, NULL,
                  state) != APID_OK)
        return APID_FAILED;
    r = run(c, "INSERT INTO account_names (username, requester,"
               " created) VALUES ($1, $2, $3)"
               " ON CONFLICT (username) DO UPDATE"
               " SET requester = EXCLUDED.requester"
               " WHERE account_names.requester"
               " = EXCLUDED.requester RETURNING 1",
            3, p, state);
    if (r == NULL)
        return APID_FAILED;
    rows = PQntuples(r);
    PQclear(r);
    if (rows != 0)
        return g->name_chosen ? lookalike_held(c, g, state) : APID_OK;
    if ((r = run(c, "SELECT requester FROM account_names WHERE username = $1",
                 1, p, state)) == NULL)
        return APID_FAILED;
    ret = apid_store_name_refused(g, PQntuples(r) == 1 ? PQgetvalue(r, 0, 0) : "?",
                      g->username);
    PQclear(r);
    return ret;
}

static int
insert_once(struct apid_conn *c, struct apid_grant *g, const char *actor,
            const char *op_detail, int64_t now, const char *groups,
            const char *keys, const char *hosts, char state[6])
{
    char nb[24], ex[24], cr[24];
    const char *p[15], *hp[3];
    PGresult *r;
    int ret;

    if (simple(c, "BEGIN", 0, NULL, state) != APID_OK)
        return APID_FAILED;
    if (sweep_expired(c, now, state) != APID_OK)
        goto rollback;
    fmt_i64(nb, sizeof(nb), g->not_before);
    fmt_i64(ex, sizeof(ex), g->expires_at);
    fmt_i64(cr, sizeof(cr), now);
    p[0] = g->id;
    p[1] = g->policy;
    p[2] = g->credential;
    p[3] = g->requester;
    p[4] = g->username;
    p[5] = g->reason;
    p[6] = g->status;
    p[7] = g->on_logout;
    p[8] = groups;
    p[9] = keys;
    p[10] = nb;
    p[11] = ex;
    p[12] = cr;
    p[13] = g->decided_by;
    p[14] = g->previous;
    if (simple(c, "INSERT INTO grants (id, policy, credential, requester,"
                  " username, reason, status, on_logout, groups, ssh_keys,"
                  " not_before, expires_at, created, decided_by, previous)"
                  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,"
                  " $12, $13, $14, $15)",
               15, p, state) != APID_OK) {
        if (strcmp(state, "23505") == 0)
            apid_store_fail("%s already holds an active or pending grant on %s",
                 g->requester, g->credential);
        goto rollback;
    }
    if ((ret = claim_name(c, g, cr, state)) == APID_CONFLICT
        || ret == APID_NAME_REFUSED) {
        rollback(c);
        return ret;
    }
    if (ret != APID_OK)
        goto rollback;
    /* One statement for all the hosts (a host group of 10,000 was
     * 10,000 round trips). */
    hp[0] = g->id;
    hp[1] = hosts;
    hp[2] = g->username;
    if (simple(c, "INSERT INTO grant_hosts (grant_id, host, username)"
                  " SELECT $1, json_array_elements_text($2::json), $3",
               3, hp, state) != APID_OK)
        goto rollback;
    /* claim_name's row lock orders inserts of one name: this sees any
     * other's committed hosts (store_sqlite.c, name_free). */
    hp[2] = cr;
    if ((r = run(c, "SELECT h.host FROM grants o"
                    " JOIN grant_hosts h ON h.grant_id = o.id"
                    " WHERE o.username = (SELECT username FROM grants"
                    "  WHERE id = $1) AND o.id <> $1"
                    " AND o.status IN ('active', 'pending')"
                    " AND o.expires_at > $3::bigint AND h.host IN"
                    " (SELECT json_array_elements_text($2::json)) LIMIT 1",
                 3, hp, state)) == NULL)
        goto rollback;
    if (PQntuples(r) > 0) {
        apid_store_fail("the account name %s is taken on %s by another grant",
                        g->username, PQgetvalue(r, 0, 0));
        PQclear(r);
        rollback(c);
        return APID_CONFLICT;
    }
    PQclear(r);
    if (add_op(c, now, actor, g->previous ? "enable" : "request", g->id,
               op_detail, state) != APID_OK)
        goto rollback;
    /* The grant's place in the order it was stored: its first entry's
     * (store_impl.h, APID_HANDOVERS_SQL). */
    hp[0] = g->id;
    if (simple(c, "UPDATE grants SET seq = (SELECT min(p.seq)"
                  " FROM operations p WHERE p.grant_id = $1) WHERE id = $1",
               1, hp, state) != APID_OK)
        goto rollback;
    if (strcmp(g->status, "active") == 0
        && add_op(c, now, "policy", "approve", g->id,
                  "auto-approved by policy", state) != APID_OK)
        goto rollback;
    if (simple(c, "COMMIT", 0, NULL, state) == APID_OK)
        return APID_OK;

rollback:
    rollback(c);
    return strcmp(state, "23505") == 0 ? APID_CONFLICT : APID_FAILED;
}

static int
pg_grant_insert(struct apid_conn *c, struct apid_grant *g, const char *actor,
                const char *op_detail, int64_t now)
{
    char *groups = apid_strings_json(g->groups, g->n_groups);
    char *keys = apid_strings_json(g->ssh_keys, g->n_ssh_keys);
    char *hosts = apid_strings_json(g->hosts, g->n_hosts);
    char state[6] = "";
    int ret = APID_FAILED;

    apid_new_id(g->id);
    if (groups == NULL || keys == NULL || hosts == NULL)
        ret = apid_store_fail("out of memory");
    else
        for (int t = 0; t < RETRIES; t++) {
            ret = insert_once(c, g, actor, op_detail, now, groups, keys,
                              hosts, state);
            if (ret != APID_FAILED || !retryable(state))
                break;
        }
    free(groups);
    free(keys);
    free(hosts);
    return ret;
}

static int
transition_once(struct apid_conn *c, const char *id, const char *from,
                const char *to, const char *actor, const char *op_detail,
                int64_t now, char state[6])
{
    const char *p[3];
    const char *status;
    PGresult *r = NULL;
    char action[32];
    int ret = APID_FAILED, allowed = 0;

    if (simple(c, "BEGIN", 0, NULL, state) != APID_OK)
        return APID_FAILED;
    if (sweep_expired(c, now, state) != APID_OK)
        goto rollback;
    p[0] = id;
    if ((r = run(c, "SELECT status FROM grants WHERE id = $1 FOR UPDATE", 1,
                 p, state)) == NULL)
        goto rollback;
    if (PQntuples(r) == 0) {
        apid_store_fail("no grant %s", id);
        ret = APID_NOT_FOUND;
        goto rollback;
    }
    status = PQgetvalue(r, 0, 0);
    for (const char *q = from; *q;) {
        size_t len = strcspn(q, ",");

        if (strlen(status) == len && strncmp(q, status, len) == 0)
            allowed = 1;
        q += len + (q[len] == ',');
    }
    if (!allowed) {
        apid_store_fail("grant %s is %s", id, status);
        ret = APID_CONFLICT;
        goto rollback;
    }
    p[0] = to;
    p[1] = actor;
    p[2] = id;
    if (simple(c, "UPDATE grants SET status = $1, decided_by = $2"
                  " WHERE id = $3", 3, p, state) != APID_OK)
        goto rollback;
    snprintf(action, sizeof(action), "%s",
             strcmp(to, "active") == 0    ? "approve"
             : strcmp(to, "denied") == 0  ? "deny"
             : strcmp(to, "revoked") == 0 ? "revoke"
                                          : to);
    if (add_op(c, now, actor, action, id, op_detail, state) != APID_OK)
        goto rollback;
    if (simple(c, "COMMIT", 0, NULL, state) == APID_OK) {
        PQclear(r);
        return APID_OK;
    }

rollback:
    PQclear(r);
    rollback(c);
    return ret;
}

static int
pg_grant_transition(struct apid_conn *c, const char *id, const char *from,
                    const char *to, const char *actor, const char *op_detail,
                    int64_t now)
{
    char state[6] = "";
    int ret = APID_FAILED;

    for (int t = 0; t < RETRIES; t++) {
        ret = transition_once(c, id, from, to, actor, op_detail, now, state);
        if (ret != APID_FAILED || !retryable(state))
            break;
    }
    return ret;
}

static int
pg_grant_list(struct apid_conn *c, const struct apid_grant_filter *f,
              size_t limit, struct apid_grant **v, size_t *n, int64_t now)
{
    char t[24], lim[24], state[6];
    const char *p[7];
    PGresult *r;
    int ret;

    *v = NULL;
    *n = 0;
    fmt_i64(t, sizeof(t), now);
    fmt_i64(lim, sizeof(lim), (int64_t) limit);
    p[0] = t;
    p[1] = f->requester;
    p[2] = f->credential;
    p[3] = f->status;
    p[4] = f->host;
    p[5] = f->id;
    p[6] = lim;
    r = run(c,
            "SELECT " GRANT_COLS " FROM grants g"
            " WHERE ($2::text IS NULL OR g.requester = $2)"
            " AND ($3::text IS NULL OR g.credential = $3)"
            " AND ($4::text IS NULL OR " STATUS_NOW " = $4)"
            " AND ($5::text IS NULL OR g.id IN (SELECT grant_id FROM"
            "      grant_hosts WHERE host = $5))"
            " AND ($6::text IS NULL OR g.id = $6)"
            " ORDER BY g.created DESC, g.id LIMIT $7::bigint",
            7, p, state);
    if (r == NULL)
        return APID_FAILED;
    ret = collect_grants(r, v, n);
    PQclear(r);
    return ret;
}

static int
pg_host_grants(struct apid_conn *c, const char *host, const char *user,
               int64_t now, struct apid_grant **v, size_t *n)
{
    char t[24], state[6];
    const char *p[3] = { t, host, user };
    PGresult *r;
    int ret;

    *v = NULL;
    *n = 0;
    fmt_i64(t, sizeof(t), now);
    r = run(c,
            "SELECT " HOST_GRANT_COLS " FROM grant_hosts h2"
            " JOIN grants g ON g.id = h2.grant_id"
            " WHERE h2.host = $2 AND g.status = 'active'"
            " AND ($3::text IS NULL OR h2.username = $3)"
            " AND g.expires_at > $1 ORDER BY g.id",
            3, p, state);
    if (r == NULL)
        return APID_FAILED;
    ret = collect_grants(r, v, n);
    PQclear(r);
    return ret;
}

static int
pg_live_grants(struct apid_conn *c, int64_t now, struct apid_grant **v,
               size_t *n)
{
    char t[24], state[6];
    const char *p[1] = { t };
    PGresult *r;
    int ret;

    *v = NULL;
    *n = 0;
    fmt_i64(t, sizeof(t), now);
    r = run(c,
            "SELECT " HOST_GRANT_COLS " FROM grants g"
            " WHERE g.status = 'active' AND g.expires_at > $1",
            1, p, state);
    if (r == NULL)
        return APID_FAILED;
    ret = collect_grants(r, v, n);
    PQclear(r);
    return ret;
}

static int
pg_grant_hosts(struct apid_conn *c, const char *id, char **hosts)
{
    const char *p[1] = { id };
    char state[6];
    PGresult *r;

    *hosts = NULL;
    r = run(c, "SELECT coalesce(string_agg(host, E'\\n'), '')"
               " FROM grant_hosts WHERE grant_id = $1",
            1, p, state);
    if (r == NULL)
        return APID_FAILED;
    *hosts = PQntuples(r) == 1 ? strdup(PQgetvalue(r, 0, 0)) : strdup("");
    PQclear(r);
    return *hosts ? APID_OK : apid_store_fail("out of memory");
}

static int
pg_grant_accounts(struct apid_conn *c, const char *host, const char *ids_json,
                  char *const *ids, size_t n, char **names, char **requesters)
{
    const char *p[2] = { host, ids_json };
    char state[6];
    PGresult *r;

    r = run(c, "SELECT h.grant_id, h.username, g.requester"
               " FROM grant_hosts h JOIN grants g ON g.id = h.grant_id"
               " WHERE h.host = $1 AND h.grant_id IN"
               " (SELECT json_array_elements_text($2::json))",
            2, p, state);
    if (r == NULL)
        return APID_FAILED;
    for (int row = 0; row < PQntuples(r); row++) {
        const char *id = PQgetvalue(r, row, 0);

        for (size_t i = 0; i < n; i++) {
            if (names[i] != NULL || strcmp(ids[i], id) != 0)
                continue;
            names[i] = dup_col(r, row, 1);
            requesters[i] = dup_col(r, row, 2);
            if (names[i] == NULL || requesters[i] == NULL) {
                PQclear(r);
                return apid_store_fail("out of memory");
            }
        }
    }
    PQclear(r);
    return APID_OK;
}

static int
pg_events_insert(struct apid_conn *c, const struct apid_event *v, size_t n,
                 int64_t now)
{
    char t[24], rc[24], state[6] = "";
    int taken = 0;

    fmt_i64(rc, sizeof(rc), now);
    for (int attempt = 0; attempt < RETRIES; attempt++) {
        int ok = simple(c, "BEGIN", 0, NULL, state) == APID_OK;

        for (size_t i = 0; ok && i < n; i++) {
            const char *p[9] = { v[i].id, v[i].host, v[i].type, t,
                                 v[i].grant, v[i].username, v[i].requester,
                                 v[i].detail, rc };

            PGresult *r;

            fmt_i64(t, sizeof(t), v[i].time);
            r = run(c, "INSERT INTO events (id, host, type, time,"
                       " grant_id, username, requester, detail,"
                       " received) VALUES ($1, $2, $3, $4, $5, $6, $7,"
                       " $8, $9) ON CONFLICT (id) DO NOTHING RETURNING id",
                    9, p, state);
            ok = r != NULL;
            /* Alerts only for an event stored now, not a redelivery. */
            for (size_t k = 0; ok && PQntuples(r) == 1 && k < v[i].n_alerts;
                 k++) {
                const char *ap[3] = { v[i].id, v[i].alerts[k].channel,
                                      v[i].alerts[k].recipient };

                ok = simple(c, "INSERT INTO alerts (event_id, channel,"
                               " recipient, status, attempts, next_try,"
                               " created) VALUES ($1, $2, $3, 'pending', 0,"
                               " $4, $4) ON CONFLICT DO NOTHING",
                            4, (const char *const[]) { ap[0], ap[1], ap[2],
                                                       rc },
                            state) == APID_OK;
            }
            /* An id stored already: a redelivery if by this host; by
             * another, this host's real event must not be taken for
             * one (ids are the hosts' own). */
            if (ok && PQntuples(r) == 0) {
                PGresult *h = run(c, "SELECT 1 FROM events WHERE id = $1"
                                     " AND host = $2", 2, p, state);

                ok = h != NULL && PQntuples(h) == 1;
                if (h != NULL && !ok) {
                    apid_store_fail("events[%zu].id: %s is taken by another"
                                    " host's event", i, v[i].id);
                    taken = 1;
                }
                PQclear(h);
            }
            PQclear(r);
        }
        if (ok && simple(c, "COMMIT", 0, NULL, state) == APID_OK)
            return APID_OK;
        rollback(c);
        if (taken)
            return APID_CONFLICT;
        if (!retryable(state))
            break;
    }
    return APID_FAILED;
}

#define EVENT_COLS                                                          \
    "id, host, type, time, grant_id, username, requester, detail,"          \
    " received, seq"
/* The rows of r (an events query of EVENT_COLS) into *out; r cleared. */
static int
read_events(PGresult *r, struct apid_event **out, size_t *n)
{
    struct apid_event *v;
    int rows;

    if (r == NULL)
        return APID_FAILED;
    rows = PQntuples(r);
    if ((v = calloc((size_t) rows + 1, sizeof(*v))) == NULL) {
        PQclear(r);
        return apid_store_fail("out of memory");
    }
    for (int i = 0; i < rows; i++) {
        v[i].id = dup_col(r, i, 0);
        v[i].host = dup_col(r, i, 1);
        v[i].type = dup_col(r, i, 2);
        v[i].time = int_col(r, i, 3);
        v[i].grant = dup_col(r, i, 4);
        v[i].username = dup_col(r, i, 5);
        v[i].requester = dup_col(r, i, 6);
        v[i].detail = dup_col(r, i, 7);
        v[i].received = int_col(r, i, 8);
        v[i].seq = int_col(r, i, 9);
        /* NOT NULL columns: NULL here is a copy that failed, and every
         * reader compares them. */
        if (v[i].id == NULL || v[i].host == NULL || v[i].type == NULL) {
            PQclear(r);
            apid_events_free(v, (size_t) i + 1);
            return apid_store_fail("out of memory");
        }
    }
    PQclear(r);
    *out = v;
    *n = (size_t) rows;
    return APID_OK;
}

/* In the order jit-apid received them (seq), not by the hosts' clocks
 * (store_sqlite.c). */
static int
pg_events_for_grant(struct apid_conn *c, const char *grant,
                    struct apid_event **out, size_t *n)
{
    const char *p[1] = { grant };
    char state[6];

    *out = NULL;
    *n = 0;
    return read_events(run(c, "SELECT " EVENT_COLS " FROM events"
                              " WHERE grant_id = $1 ORDER BY seq",
                           1, p, state),
                       out, n);
}

static int
pg_events_for_grants(struct apid_conn *c, const char *ids_json,
                     struct apid_event **out, size_t *n)
{
    const char *p[1] = { ids_json };
    char state[6];

    *out = NULL;
    *n = 0;
    return read_events(run(c, "SELECT " EVENT_COLS " FROM events"
                              " WHERE grant_id IN"
                              " (SELECT json_array_elements_text($1::json))"
                              " ORDER BY grant_id, seq",
                           1, p, state),
                       out, n);
}

static int
pg_handovers(struct apid_conn *c, const char *ids_json,
             struct apid_handover **out, size_t *n)
{
    const char *p[1] = { ids_json };
    struct apid_handover *v;
    char state[6];
    PGresult *r;
    int rows;

    *out = NULL;
    *n = 0;
    /* Without JIT compilation: the planner's estimate of a page's
     * correlated lookups (thousands, each a few microseconds) is past
     * jit_above_cost, and compiling took 0.8 s of a 1.3 s query. */
    if (simple(c, "BEGIN", 0, NULL, state) != APID_OK)
        return APID_FAILED;
    if (simple(c, "SET LOCAL jit = off", 0, NULL, state) != APID_OK) {
        rollback(c);
        return APID_FAILED;
    }
    r = run(c, APID_HANDOVERS_SQL(
                   "SELECT json_array_elements_text($1::json)", "seq"),
            1, p, state);
    if (r == NULL) {
        rollback(c);
        return APID_FAILED;
    }
    if (simple(c, "COMMIT", 0, NULL, state) != APID_OK) {
        PQclear(r);
        return APID_FAILED;
    }
    rows = PQntuples(r);
    if ((v = calloc((size_t) rows + 1, sizeof(*v))) == NULL) {
        PQclear(r);
        return apid_store_fail("out of memory");
    }
    for (int i = 0; i < rows; i++) {
        v[i].orig = dup_col(r, i, 0);
        v[i].grant = dup_col(r, i, 1);
        v[i].host = dup_col(r, i, 2);
        v[i].time = int_col(r, i, 3);
        if (v[i].orig == NULL || v[i].grant == NULL || v[i].host == NULL) {
            PQclear(r);
            apid_handovers_free(v, (size_t) i + 1);
            return apid_store_fail("out of memory");
        }
    }
    PQclear(r);
    *out = v;
    *n = (size_t) rows;
    return APID_OK;
}

static int
pg_ops(struct apid_conn *c, const char *grant, size_t limit,
       struct apid_op **out, size_t *n)
{
    char lim[24], state[6];
    const char *p[2] = { grant, lim };
    struct apid_op *v;
    PGresult *r;
    int rows;

    *out = NULL;
    *n = 0;
    fmt_i64(lim, sizeof(lim), (int64_t) limit);
    r = run(c, "SELECT seq, time, actor, action, grant_id, detail"
               " FROM operations WHERE $1::text IS NULL OR grant_id = $1"
               " ORDER BY seq DESC LIMIT $2::bigint",
            2, p, state);
    if (r == NULL)
        return APID_FAILED;
    rows = PQntuples(r);
    if ((v = calloc((size_t) rows + 1, sizeof(*v))) == NULL) {
        PQclear(r);
        return apid_store_fail("out of memory");
    }
    for (int i = 0; i < rows; i++) {
        v[i].seq = int_col(r, i, 0);
        v[i].time = int_col(r, i, 1);
        v[i].actor = dup_col(r, i, 2);
        v[i].action = dup_col(r, i, 3);
        v[i].grant = dup_col(r, i, 4);
        v[i].detail = dup_col(r, i, 5);
    }
    PQclear(r);
    *out = v;
    *n = (size_t) rows;
    return APID_OK;
}

static int
pg_alerts_claim(struct apid_conn *c, int64_t now, int64_t lease, size_t limit,
                struct apid_alert_job **out, size_t *n)
{
    char t[24], until[24], lim[24], state[6];
    const char *p[3] = { t, until, lim };
    struct apid_alert_job *v;
    PGresult *r;
    int rows;

    *out = NULL;
    *n = 0;
    fmt_i64(t, sizeof(t), now);
    fmt_i64(until, sizeof(until), now + lease);
    fmt_i64(lim, sizeof(lim), (int64_t) limit);
    /* SKIP LOCKED: instances sharing the queue take different rows. */
    r = run(c,
            "WITH due AS (SELECT id FROM alerts WHERE status = 'pending'"
            " AND next_try <= $1::bigint ORDER BY id LIMIT $3::bigint"
            " FOR UPDATE SKIP LOCKED),"
            " claimed AS (UPDATE alerts a SET next_try = $2::bigint FROM due"
            " WHERE a.id = due.id RETURNING a.id, a.attempts, a.channel,"
            " a.recipient, a.event_id)"
            " SELECT cl.id, cl.attempts, cl.channel, cl.recipient, e.id,"
            " e.type, e.host, e.time, e.grant_id, e.username, e.requester,"
            " e.detail FROM claimed cl JOIN events e ON e.id = cl.event_id"
            " ORDER BY cl.id",
            3, p, state);
    if (r == NULL)
        return APID_FAILED;
    rows = PQntuples(r);
    if ((v = calloc((size_t) rows + 1, sizeof(*v))) == NULL) {
        PQclear(r);
        return apid_store_fail("out of memory");
    }
    for (int i = 0; i < rows; i++) {
        v[i].id = int_col(r, i, 0);
        v[i].attempts = (int) int_col(r, i, 1);
        v[i].channel = dup_col(r, i, 2);
        v[i].recipient = dup_col(r, i, 3);
        v[i].ev.id = dup_col(r, i, 4);
        v[i].ev.type = dup_col(r, i, 5);
        v[i].ev.host = dup_col(r, i, 6);
        v[i].ev.time = int_col(r, i, 7);
        v[i].ev.grant = dup_col(r, i, 8);
        v[i].ev.username = dup_col(r, i, 9);
        v[i].ev.requester = dup_col(r, i, 10);
        v[i].ev.detail = dup_col(r, i, 11);
    }
    PQclear(r);
    *out = v;
    *n = (size_t) rows;
    return APID_OK;
}

static int
pg_alert_settle(struct apid_conn *c, int64_t id, int sent, const char *error,
                int64_t next_try, int64_t now)
{
    char i[24], nt[24], t[24], state[6];
    const char *p[5] = { sent ? "sent" : next_try ? "pending" : "failed",
                         error, nt, sent ? t : NULL, i };

    fmt_i64(i, sizeof(i), id);
    fmt_i64(nt, sizeof(nt), next_try);
    fmt_i64(t, sizeof(t), now);
    return simple(c, "UPDATE alerts SET attempts = attempts + 1,"
                     " status = $1, last_error = $2, next_try = $3::bigint,"
                     " delivered = $4::bigint WHERE id = $5::bigint",
                  5, p, state);
}

static int
pg_alerts_list(struct apid_conn *c, size_t limit, struct apid_alert_rec **out,
               size_t *n)
{
    char lim[24], state[6];
    const char *p[1] = { lim };
    struct apid_alert_rec *v;
    PGresult *r;
    int rows;

    *out = NULL;
    *n = 0;
    fmt_i64(lim, sizeof(lim), (int64_t) limit);
    r = run(c, "SELECT a.id, a.created, coalesce(a.delivered, 0), a.attempts,"
               " a.event_id, e.type, a.channel, a.recipient, a.status,"
               " a.last_error FROM alerts a JOIN events e ON e.id ="
               " a.event_id ORDER BY a.id DESC LIMIT $1::bigint",
            1, p, state);
    if (r == NULL)
        return APID_FAILED;
    rows = PQntuples(r);
    if ((v = calloc((size_t) rows + 1, sizeof(*v))) == NULL) {
        PQclear(r);
        return apid_store_fail("out of memory");
    }
    for (int i = 0; i < rows; i++) {
        v[i].id = int_col(r, i, 0);
        v[i].created = int_col(r, i, 1);
        v[i].delivered = int_col(r, i, 2);
        v[i].attempts = (int) int_col(r, i, 3);
        v[i].event = dup_col(r, i, 4);
        v[i].type = dup_col(r, i, 5);
        v[i].channel = dup_col(r, i, 6);
        v[i].recipient = dup_col(r, i, 7);
        v[i].status = dup_col(r, i, 8);
        v[i].last_error = dup_col(r, i, 9);
    }
    PQclear(r);
    *out = v;
    *n = (size_t) rows;
    return APID_OK;
}

static int
pg_change_seq(struct apid_conn *c, int64_t *seq)
{
    char state[6];
    PGresult *r = run(c, "SELECT coalesce(max(seq), 0) FROM operations", 0,
                      NULL, state);

    if (r == NULL)
        return APID_FAILED;
    *seq = int_col(r, 0, 0);
    PQclear(r);
    return APID_OK;
}

static int
pg_op_add(struct apid_conn *c, const char *actor, const char *action,
          const char *grant, const char *detail, int64_t now)
{
    char state[6];

    return add_op(c, now, actor, action, grant, detail, state);
}

static int
hold_once(struct apid_conn *c, const char *username, const char *grant,
          const char *actor, const char *action, const char *detail,
          int64_t now, char state[6])
{
    char t[24];
    const char *p[3] = { username, grant, t };
    PGresult *r;
    int busy;

    fmt_i64(t, sizeof(t), now);
    if (simple(c, "BEGIN", 0, NULL, state) != APID_OK)
        return APID_FAILED;
    /* A teardown under way (claimed, not settled, perhaps by another
     * instance) is let finish: the update's own condition, so that no
     * claim slips in between a check and the write. */
    if ((r = run(c, "INSERT INTO dir_accounts (username, grant_id, state,"
                    " attempts, next_try, last_error, updated)"
                    " VALUES ($1, $2, 'enabled', 0, 0, NULL, $3::bigint)"
                    " ON CONFLICT (username) DO UPDATE SET grant_id = $2,"
                    " state = 'enabled', attempts = 0, next_try = 0,"
                    " last_error = NULL, updated = $3::bigint"
                    " WHERE dir_accounts.claimed_until <= $3::bigint",
                 3, p, state)) == NULL) {
        rollback(c);
        return APID_FAILED;
    }
    busy = strcmp(PQcmdTuples(r), "0") == 0;
    PQclear(r);
    if (busy) {
        rollback(c);
        apid_store_fail("account %s is being disabled (its previous"
                        " grant's teardown)", username);
        return APID_CONFLICT;
    }
    if (add_op(c, now, actor, action, grant, detail, state) != APID_OK
        || simple(c, "COMMIT", 0, NULL, state) != APID_OK) {
        rollback(c);
        return APID_FAILED;
    }
    return APID_OK;
}

static int
pg_diracct_hold(struct apid_conn *c, const char *username, const char *grant,
                const char *actor, const char *action, const char *detail,
                int64_t now)
{
    char state[6] = "";
    int ret = APID_FAILED;

    for (int t = 0; t < RETRIES; t++) {
        ret = hold_once(c, username, grant, actor, action, detail, now,
                        state);
        if (ret != APID_FAILED || !retryable(state))
            break;
    }
    return ret;
}

#define DIRACCT_COLS                                                        \
    "d.username, d.grant_id, d.state, d.attempts, d.next_try,"              \
    " d.last_error, d.updated, d.entry_uuid"

static int
row_diracct(PGresult *r, int i, struct apid_diracct *d)
{
    memset(d, 0, sizeof(*d));
    d->username = dup_col(r, i, 0);
    d->grant = dup_col(r, i, 1);
    d->state = dup_col(r, i, 2);
    d->attempts = (int) int_col(r, i, 3);
    d->next_try = int_col(r, i, 4);
    d->last_error = dup_col(r, i, 5);
    d->updated = int_col(r, i, 6);
    d->entry_uuid = dup_col(r, i, 7);
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
pg_diracct_get(struct apid_conn *c, const char *grant,
               struct apid_diracct *out)
{
    const char *p[1] = { grant };
    char state[6];
    PGresult *r;
    int ret;

    memset(out, 0, sizeof(*out));
    if ((r = run(c, "SELECT " DIRACCT_COLS " FROM dir_accounts d"
                    " WHERE d.grant_id = $1", 1, p, state)) == NULL)
        return APID_FAILED;
    if (PQntuples(r) == 0)
        ret = APID_NOT_FOUND;
    else
        ret = row_diracct(r, 0, out) == 0 ? APID_OK
                                          : apid_store_fail("out of memory");
    PQclear(r);
    return ret;
}

static int
pg_diracct_claim(struct apid_conn *c, int64_t now, int64_t lease,
                 size_t limit, struct apid_diracct **out, size_t *n)
{
    char t[24], until[24], lim[24], state[6];
    const char *p[3] = { t, until, lim };
    struct apid_diracct *v;
    PGresult *r;
    int rows;

    *out = NULL;
    *n = 0;
    fmt_i64(t, sizeof(t), now);
    fmt_i64(until, sizeof(until), now + lease);
    fmt_i64(lim, sizeof(lim), (int64_t) limit);
    /* SKIP LOCKED: instances sharing the work take different rows.  A
     * grant past its end counts as ended whatever its row says (the
     * sweep is lazy). */
    r = run(c,
            "WITH due AS (SELECT d.username FROM dir_accounts d"
            " JOIN grants g ON g.id = d.grant_id"
            " WHERE d.state IN ('enabled', 'disable_failed')"
            " AND d.next_try <= $1::bigint"
            " AND NOT (g.status = 'active' AND g.expires_at > $1::bigint)"
            " ORDER BY d.next_try LIMIT $3::bigint"
            " FOR UPDATE OF d SKIP LOCKED)"
            " UPDATE dir_accounts d SET next_try = $2::bigint,"
            " claimed_until = $2::bigint FROM due"
            " WHERE d.username = due.username RETURNING " DIRACCT_COLS,
            3, p, state);
    if (r == NULL)
        return APID_FAILED;
    rows = PQntuples(r);
    if ((v = calloc((size_t) rows + 1, sizeof(*v))) == NULL) {
        PQclear(r);
        return apid_store_fail("out of memory");
    }
    for (int i = 0; i < rows; i++)
        if (row_diracct(r, i, &v[i]) != 0) {
            apid_diraccts_free(v, (size_t) i);
            PQclear(r);
            return apid_store_fail("out of memory");
        }
    PQclear(r);
    *out = v;
    *n = (size_t) rows;
    return APID_OK;
}

static int
settle_once(struct apid_conn *c, const char *username, const char *grant,
            int ok, const char *error, int64_t next_try, const char *actor,
            const char *action, const char *detail, int64_t now,
            char state[6])
{
    char nt[24], t[24];
    const char *p[6] = { ok ? "disabled" : "disable_failed",
                         ok ? NULL : error, nt, t, username, grant };
    PGresult *r;
    int moved;

    fmt_i64(nt, sizeof(nt), ok ? 0 : next_try);
    fmt_i64(t, sizeof(t), now);
    if (simple(c, "BEGIN", 0, NULL, state) != APID_OK)
        return APID_FAILED;
    if ((r = run(c, "UPDATE dir_accounts SET state = $1,"
                    " attempts = CASE WHEN $1 = 'disabled' THEN 0"
                    " ELSE attempts + 1 END, last_error = $2,"
                    " next_try = $3::bigint, updated = $4::bigint,"
                    " claimed_until = 0"
                    " WHERE username = $5 AND grant_id = $6"
                    " AND state IN ('enabled', 'disable_failed')",
                 6, p, state)) == NULL) {
        rollback(c);
        return APID_FAILED;
    }
    moved = strcmp(PQcmdTuples(r), "0") == 0;
    PQclear(r);
    if (moved) {
        rollback(c);
        apid_store_fail("account %s is no longer grant %s's", username,
                        grant);
        return APID_CONFLICT;
    }
    if (add_op(c, now, actor, action, grant, detail, state) != APID_OK
        || simple(c, "COMMIT", 0, NULL, state) != APID_OK) {
        rollback(c);
        return APID_FAILED;
    }
    return APID_OK;
}

static int
pg_diracct_settle(struct apid_conn *c, const char *username,
                  const char *grant, int ok, const char *error,
                  int64_t next_try, const char *actor, const char *action,
                  const char *detail, int64_t now)
{
    char state[6] = "";
    int ret = APID_FAILED;

    for (int t = 0; t < RETRIES; t++) {
        ret = settle_once(c, username, grant, ok, error, next_try, actor,
                          action, detail, now, state);
        if (ret != APID_FAILED || !retryable(state))
            break;
    }
    return ret;
}

static int
pg_diracct_set_uuid(struct apid_conn *c, const char *username,
                    const char *grant, const char *uuid)
{
    const char *p[3] = { uuid, username, grant };
    char state[6];

    return simple(c, "UPDATE dir_accounts SET entry_uuid = $1"
                     " WHERE username = $2 AND grant_id = $3",
                  3, p, state);
}

static int
pg_alert_settings_get(struct apid_conn *c, char **json, int64_t *version)
{
    char state[6];
    PGresult *r;
    int ret = APID_OK;

    *json = NULL;
    *version = 0;
    if ((r = run(c, "SELECT settings, version FROM alert_settings"
                    " WHERE id = 1", 0, NULL, state)) == NULL)
        return APID_FAILED;
    if (PQntuples(r) == 0) {
        ret = APID_NOT_FOUND;
    } else {
        *json = dup_col(r, 0, 0);
        *version = int_col(r, 0, 1);
        if (*json == NULL)
            ret = apid_store_fail("out of memory");
    }
    PQclear(r);
    return ret;
}

static int
pg_alert_settings_put(struct apid_conn *c, const char *json, int64_t version,
                      const char *actor, const char *action,
                      const char *detail, int64_t now)
{
    char state[6], v[24];
    const char *p[2] = { json, v };
    PGresult *r;
    int none;

    fmt_i64(v, sizeof(v), version);
    if (simple(c, "BEGIN", 0, NULL, state) != APID_OK)
        return APID_FAILED;
    /* Compare and set: a change made from settings another change (of
     * any instance) has replaced meanwhile would undo it. */
    if ((r = run(c, version == 0
                        ? "INSERT INTO alert_settings (id, settings, version)"
                          " VALUES (1, $1, 1) ON CONFLICT (id) DO NOTHING"
                        : "UPDATE alert_settings SET settings = $1,"
                          " version = version + 1"
                          " WHERE id = 1 AND version = $2::bigint",
                 version == 0 ? 1 : 2, p, state)) == NULL) {
        rollback(c);
        return APID_FAILED;
    }
    none = strcmp(PQcmdTuples(r), "0") == 0;
    PQclear(r);
    if (none) {
        rollback(c);
        apid_store_fail("the alert settings were changed meanwhile");
        return APID_CONFLICT;
    }
    if (add_op(c, now, actor, action, NULL, detail, state) != APID_OK
        || simple(c, "COMMIT", 0, NULL, state) != APID_OK) {
        rollback(c);
        return APID_FAILED;
    }
    return APID_OK;
}

const struct apid_backend apid_pg_backend = {
    .prefix = "postgresql:",
    .open = pg_open,
    .close = pg_close,
    .grant_insert = pg_grant_insert,
    .grant_transition = pg_grant_transition,
    .grant_list = pg_grant_list,
    .host_grants = pg_host_grants,
    .live_grants = pg_live_grants,
    .grant_hosts = pg_grant_hosts,
    .change_seq = pg_change_seq,
    .grant_accounts = pg_grant_accounts,
    .events_insert = pg_events_insert,
    .events_for_grant = pg_events_for_grant,
    .events_for_grants = pg_events_for_grants,
    .handovers = pg_handovers,
    .ops = pg_ops,
    .alerts_claim = pg_alerts_claim,
    .alert_settle = pg_alert_settle,
    .alerts_list = pg_alerts_list,
    .op_add = pg_op_add,
    .diracct_hold = pg_diracct_hold,
    .diracct_get = pg_diracct_get,
    .diracct_claim = pg_diracct_claim,
    .diracct_set_uuid = pg_diracct_set_uuid,
    .diracct_settle = pg_diracct_settle,
    .alert_settings_get = pg_alert_settings_get,
    .alert_settings_put = pg_alert_settings_put,
};
