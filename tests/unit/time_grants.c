/* SPDX-License-Identifier: MIT */
/*
 * The cost of GET /v1/grants on a full page: a store of 1000 grants
 * (100 people with 10 grants each on one credential, each grant on
 * HOSTS hosts, the kept account handed from each grant to the next, the
 * last one active) and the page read as an approver, ROUNDS times; then
 * the same 1000 grants as one person's on one host (the handover search
 * per person grew with the square of that person's grants).  Prints a
 * table; asserts nothing about time (a shared machine's timing is no
 * test).  Not built by make check: make tests/unit/time_grants.
 *
 *   time_grants [HOSTS...]   (default 1 3 10, then one person on 1)
 *
 * TIME_GRANTS_KEEP=1 keeps each store (its path on stderr), for the
 * query plans.  TIME_GRANTS_PG=CONNINFO: the same on that PostgreSQL
 * database instead (emptied of jit-apid's tables first), where each
 * query is a round trip.
 */
#include "config.h"

#include <ftw.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "apidlib.h"
#include "contrib/jit-apid/apid.h"

#define ROUNDS 5

/* The store's shape: PEOPLE people with SERIES grants each. */
static int PEOPLE = 100, SERIES = 10;

/* The same store on PostgreSQL, by set: the tables jit-apid made (the
 * store is open on it), emptied, then filled. */
static int
fill_pg(const char *conninfo, int hosts)
{
    char sql[8192];
    PGconn *c = PQconnectdb(conninfo);
    PGresult *r;
    int ok;

    snprintf(sql, sizeof(sql),
             "BEGIN;"
             " TRUNCATE grants, grant_hosts, operations, events, account_names;"
             " INSERT INTO grants (id, policy, credential, requester,"
             "  username, reason, status, on_logout, groups, ssh_keys,"
             "  not_before, expires_at, created, decided_by, previous)"
             "  SELECT"
             "  'g-' || lpad(p::text, 8, '0') || lpad(k::text, 16, '0'),"
             "  'wide', 'db-admin', 'p' || p || '@EXAMPLE.COM', 'p' || p,"
             "  'bench', CASE WHEN k = %d THEN 'active' ELSE 'revoked' END,"
             "  'keep', '[]', '[]', 1900000000 + k * 100000 + p,"
             "  CASE WHEN k = %d THEN 4000000000"
             "   ELSE 1900000000 + k * 100000 + p + 50 END,"
             "  1900000000 + k * 100000 + p, NULL, NULL"
             "  FROM generate_series(0, %d) p, generate_series(0, %d) k;"
             " INSERT INTO operations (time, actor, action, grant_id)"
             "  SELECT created, requester, 'request', id FROM grants"
             "  ORDER BY created;"
             " UPDATE grants SET seq = (SELECT min(p.seq) FROM operations p"
             "  WHERE p.grant_id = grants.id);"
             " INSERT INTO grant_hosts SELECT g.id,"
             "  'web' || lpad(x::text, 2, '0') || '.test', g.username"
             "  FROM grants g, generate_series(1, %d) x;"
             " INSERT INTO events (id, host, type, time, grant_id, username,"
             "  received) SELECT 'e-' || h.grant_id || h.host || y, h.host,"
             "  CASE WHEN y = 0 AND g.id LIKE '%%0000000000000000'"
             "   THEN 'account.created' WHEN y = 0 THEN 'account.enabled'"
             "   WHEN y = 1 THEN 'session.opened' ELSE 'session.closed' END,"
             "  g.created + y, g.id, g.username, g.created + y"
             "  FROM grant_hosts h JOIN grants g ON g.id = h.grant_id,"
             "  generate_series(0, 2) y ORDER BY g.created, h.host, y;"
             " COMMIT; ANALYZE;",
             SERIES - 1, SERIES - 1, PEOPLE - 1, SERIES - 1, hosts);
    r = PQexec(c, sql);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "time_grants: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    return ok ? 0 : -1;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void) st;
    (void) flag;
    (void) f;
    return remove(path);
}

static double
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The store ta_open made, filled in one transaction. */
static int
fill(const char *dir, int hosts)
{
    char path[4200], *err = NULL;
    sqlite3 *db = NULL;
    sqlite3_stmt *g = NULL, *h = NULL, *o = NULL, *e = NULL;
    long t0 = 1900000000, seq = 0;
    int ret = -1;

    snprintf(path, sizeof(path), "%s/apid.db", dir);
    if (sqlite3_open(path, &db) != SQLITE_OK
        || sqlite3_exec(db, "BEGIN", NULL, NULL, &err) != SQLITE_OK
        || sqlite3_prepare_v2(db, "INSERT INTO grants (id, policy,"
                              " credential, requester, username, reason,"
                              " status, on_logout, groups, ssh_keys,"
                              " not_before, expires_at, created, decided_by,"
                              " previous) VALUES (?1, 'wide', 'db-admin',"
                              " ?2, ?3, 'bench', ?4, 'keep', '[]', '[]', ?5,"
                              " ?6, ?5, NULL, NULL)",
                              -1, &g, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(db, "INSERT INTO grant_hosts VALUES (?, ?, ?)",
                              -1, &h, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(db, "INSERT INTO operations (time, actor,"
                              " action, grant_id) VALUES (?, ?, 'request', ?)",
                              -1, &o, NULL) != SQLITE_OK
        || sqlite3_prepare_v2(db, "INSERT INTO events (id, host, type, time,"
                              " grant_id, username, received)"
                              " VALUES (?, ?, ?, ?, ?, ?, ?)",
                              -1, &e, NULL) != SQLITE_OK)
        goto done;
    for (int p = 0; p < PEOPLE; p++)
        for (int k = 0; k < SERIES; k++) {
            char id[40], who[40], user[40];
            long t = t0 + (long) k * 100000 + p;

            snprintf(id, sizeof(id), "g-%08d%016d", p, k);
            snprintf(who, sizeof(who), "p%d@EXAMPLE.COM", p);
            snprintf(user, sizeof(user), "p%d", p);
            sqlite3_reset(g);
            sqlite3_bind_text(g, 1, id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(g, 2, who, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(g, 3, user, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(g, 4, k == SERIES - 1 ? "active" : "revoked",
                              -1, SQLITE_STATIC);
            sqlite3_bind_int64(g, 5, t);
            sqlite3_bind_int64(g, 6, k == SERIES - 1 ? 4000000000 : t + 50);
            sqlite3_reset(o);
            sqlite3_bind_int64(o, 1, t);
            sqlite3_bind_text(o, 2, who, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(o, 3, id, -1, SQLITE_TRANSIENT);
            if (sqlite3_step(g) != SQLITE_DONE || sqlite3_step(o) != SQLITE_DONE)
                goto done;
            for (int x = 0; x < hosts; x++) {
                static const char *const ty[] = { "account.enabled",
                                                  "session.opened",
                                                  "session.closed" };
                char host[40];

                snprintf(host, sizeof(host), "web%02d.test", x + 1);
                sqlite3_reset(h);
                sqlite3_bind_text(h, 1, id, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(h, 2, host, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(h, 3, user, -1, SQLITE_TRANSIENT);
                if (sqlite3_step(h) != SQLITE_DONE)
                    goto done;
                for (int y = 0; y < 3; y++) {
                    char eid[80];

                    snprintf(eid, sizeof(eid), "e-%ld", ++seq);
                    sqlite3_reset(e);
                    sqlite3_bind_text(e, 1, eid, -1, SQLITE_TRANSIENT);
                    sqlite3_bind_text(e, 2, host, -1, SQLITE_TRANSIENT);
                    sqlite3_bind_text(e, 3, k == 0 && y == 0
                                      ? "account.created" : ty[y],
                                      -1, SQLITE_STATIC);
                    sqlite3_bind_int64(e, 4, t + y);
                    sqlite3_bind_text(e, 5, id, -1, SQLITE_TRANSIENT);
                    sqlite3_bind_text(e, 6, user, -1, SQLITE_TRANSIENT);
                    sqlite3_bind_int64(e, 7, t + y);
                    if (sqlite3_step(e) != SQLITE_DONE)
                        goto done;
                }
            }
        }
    /* Each grant's place in the order stored, as jit-apid sets it. */
    if (sqlite3_exec(db, "UPDATE grants SET seq = (SELECT min(p.seq)"
                         " FROM operations p WHERE p.grant_id = grants.id);"
                         " COMMIT", NULL, NULL, &err) == SQLITE_OK)
        ret = 0;

done:
    if (ret != 0)
        fprintf(stderr, "time_grants: %s\n", err ? err : sqlite3_errmsg(db));
    sqlite3_free(err);
    sqlite3_finalize(g);
    sqlite3_finalize(h);
    sqlite3_finalize(o);
    sqlite3_finalize(e);
    sqlite3_close(db);
    return ret;
}

int
main(int argc, char **argv)
{
    static const int def[] = { 1, 3, 10, 1 };
    int n = argc > 1 ? argc - 1 : 4;

    printf("%6s %6s %7s %10s %10s %10s %9s\n", "people", "hosts", "grants",
           "min_ms", "median_ms", "max_ms", "bytes");
    for (int i = 0; i < n; i++) {
        int hosts = argc > 1 ? atoi(argv[i + 1]) : def[i];
        char dir[] = "/tmp/time_grants.XXXXXX", err[256];
        double t[ROUNDS];
        size_t bytes = 0;
        struct apid a;

        if (argc <= 1 && i == 3) {
            PEOPLE = 1; /* one person's 1000 grants of one account */
            SERIES = 1000;
        }
        if (hosts < 1 || hosts > 99 || mkdtemp(dir) == NULL
            || ta_open(&a, dir, err, sizeof(err)) != 0) {
            fprintf(stderr, "time_grants: %d hosts: setup failed\n", hosts);
            return 1;
        }
        if (getenv("TIME_GRANTS_PG") != NULL) {
            char spec[1024], *serr = NULL;

            snprintf(spec, sizeof(spec), "postgresql:%s",
                     getenv("TIME_GRANTS_PG"));
            apid_store_close(a.store);
            if ((a.store = apid_store_open(spec, &serr)) == NULL
                || fill_pg(getenv("TIME_GRANTS_PG"), hosts) != 0) {
                fprintf(stderr, "time_grants: %s\n", serr ? serr : "fill");
                return 1;
            }
        } else if (fill(dir, hosts) != 0)
            return 1;
        for (int r = 0; r < ROUNDS; r++) {
            struct apid_reply rep;
            double t0 = now_ms();

            memset(&rep, 0, sizeof(rep));
            ta_call(&a, "GET", "/v1/grants", TA_BOSS, NULL, NULL, 0, &rep);
            t[r] = now_ms() - t0;
            if (rep.status != 200 || rep.body == NULL) {
                fprintf(stderr, "time_grants: status %u\n", rep.status);
                return 1;
            }
            bytes = strlen(rep.body);
            free(rep.body);
        }
        for (int x = 0; x < ROUNDS; x++)
            for (int y = x + 1; y < ROUNDS; y++)
                if (t[y] < t[x]) {
                    double s = t[x];

                    t[x] = t[y];
                    t[y] = s;
                }
        printf("%6d %6d %7d %10.1f %10.1f %10.1f %9zu\n", PEOPLE, hosts,
               PEOPLE * SERIES,
               t[0], t[ROUNDS / 2], t[ROUNDS - 1], bytes);
        ta_close(&a);
        if (getenv("TIME_GRANTS_KEEP") != NULL)
            fprintf(stderr, "time_grants: kept %s/apid.db\n", dir);
        else
            (void) nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    }
    return 0;
}
