/* SPDX-License-Identifier: MIT */
/*
 * Between store.c (the interface in store.h: locking, errors, shared
 * helpers) and the backends (store_sqlite.c, store_pg.c).  Each backend
 * defines struct apid_conn for itself.
 */
#ifndef APID_STORE_IMPL_H
#define APID_STORE_IMPL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct apid_conn;

struct apid_backend {
    const char *prefix; /* of the database spec, e.g. "sqlite:" */
    struct apid_conn *(*open)(const char *arg, char **err);
    void (*close)(struct apid_conn *c);
    int (*grant_insert)(struct apid_conn *c, struct apid_grant *g,
                        const char *actor, const char *op_detail,
                        int64_t now);
    int (*grant_transition)(struct apid_conn *c, const char *id,
                            const char *from, const char *to,
                            const char *actor, const char *op_detail,
                            int64_t now);
    int (*grant_list)(struct apid_conn *c, const struct apid_grant_filter *f,
                      size_t limit, struct apid_grant **v, size_t *n,
                      int64_t now);
    int (*host_grants)(struct apid_conn *c, const char *host,
                       const char *user, int64_t now, struct apid_grant **v,
                       size_t *n);
    int (*live_grants)(struct apid_conn *c, int64_t now,
                       struct apid_grant **v, size_t *n);
    int (*grant_hosts)(struct apid_conn *c, const char *id, char **hosts);
    int (*change_seq)(struct apid_conn *c, int64_t *seq);
    int (*grant_accounts)(struct apid_conn *c, const char *host,
                          const char *ids_json, char *const *ids, size_t n,
                          char **names, char **requesters);
    int (*events_insert)(struct apid_conn *c, const struct apid_event *v,
                         size_t n, int64_t now);
    int (*events_for_grant)(struct apid_conn *c, const char *grant,
                            struct apid_event **v, size_t *n);
    int (*events_for_grants)(struct apid_conn *c, const char *ids_json,
                             struct apid_event **v, size_t *n);
    int (*handovers)(struct apid_conn *c, const char *ids_json,
                     struct apid_handover **v, size_t *n);
    int (*ops)(struct apid_conn *c, const char *grant, size_t limit,
               struct apid_op **v, size_t *n);
    int (*alerts_claim)(struct apid_conn *c, int64_t now, int64_t lease,
                        size_t limit, struct apid_alert_job **v, size_t *n);
    int (*alert_settle)(struct apid_conn *c, int64_t id, int sent,
                        const char *error, int64_t next_try, int64_t now);
    int (*alerts_list)(struct apid_conn *c, size_t limit,
                       struct apid_alert_rec **v, size_t *n);
    int (*op_add)(struct apid_conn *c, const char *actor, const char *action,
                  const char *grant, const char *detail, int64_t now);
    int (*diracct_hold)(struct apid_conn *c, const char *username,
                        const char *grant, const char *actor,
                        const char *action, const char *detail, int64_t now);
    int (*diracct_get)(struct apid_conn *c, const char *grant,
                       struct apid_diracct *out);
    int (*diracct_claim)(struct apid_conn *c, int64_t now, int64_t lease,
                         size_t limit, struct apid_diracct **v, size_t *n);
    int (*diracct_set_uuid)(struct apid_conn *c, const char *username,
                            const char *grant, const char *uuid);
    int (*diracct_settle)(struct apid_conn *c, const char *username,
                          const char *grant, int ok, const char *error,
                          int64_t next_try, const char *actor,
                          const char *action, const char *detail,
                          int64_t now);
    int (*alert_settings_get)(struct apid_conn *c, char **json,
                              int64_t *version);
    int (*alert_settings_put)(struct apid_conn *c, const char *json,
                              int64_t version, const char *actor,
                              const char *action, const char *detail,
                              int64_t now);
};

extern const struct apid_backend apid_sqlite_backend;
extern const struct apid_backend apid_pg_backend;

/* The calling thread's error (apid_store_error); returns APID_FAILED. */
int apid_store_vfail(const char *fmt, va_list ap);
int apid_store_fail(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/*
 * A grant's columns, in the order both backends' row readers take them,
 * but the last (its hosts as a JSON array), which each backend writes in
 * its own dialect.  now: the placeholder of the current time ("?1",
 * "$1").  Status as of now: an active or pending grant past its end is
 * expired, whatever the row says until the next sweep.
 */
#define APID_STATUS_NOW(now)                                                \
    "CASE WHEN g.status IN ('active', 'pending') AND g.expires_at <= " now  \
    " THEN 'expired' ELSE g.status END"
#define APID_GRANT_BASE_COLS(now)                                           \
    "g.id, g.policy, g.credential, g.requester, g.username, g.reason, "     \
    APID_STATUS_NOW(now) ", g.on_logout, g.groups, g.ssh_keys,"             \
    " g.not_before, g.expires_at, g.created, g.decided_by, g.previous,"
/* The host side answers for one host: the grant's other hosts are none of
 * its business, and not read. */
#define APID_HOST_GRANT_COLS(now) APID_GRANT_BASE_COLS(now) " '[]'"
/*
 * apid_store_handovers in one query: for each grant of ids (a subquery
 * giving them), per host that reported on it, the earliest later grant
 * of the same person, credential and account name whose events show
 * that host taking the account (account.enabled, or account.created),
 * and that event's time: rows (orig, grant, host, time).  Later by the
 * order jit-apid stored the grants (grants.seq: each one's first entry
 * in the operations log, written with it), not by a clock; a grant with
 * no entry (seq NULL) is placed by its creation time, after the ordered
 * ones.  seq: the events' column of arrival.
 *
 * Each (grant, host) takes its one answer by a correlated subquery
 * walking the index grants_person_seq in order and stopping at the first
 * grant with such an event (then that grant's first such event there):
 * a window over every pair of a person's grants grew with the square of
 * their count, under the store's lock (one person's 1000 re-enabled
 * grants: 6 to 17 s for one GET /v1/grants).  The three subqueries are the order, NULLs last said
 * rather than left to the backend (SQLite sorts NULL first, PostgreSQL
 * last): the later ordered grants; for a grant with no seq, the ordered
 * ones created after it; then the unordered ones created after it (by
 * creation time, then id).  The CTEs are MATERIALIZED (SQLite 3.35,
 * PostgreSQL 12): each pair is looked up once.
 */
#define APID_TAKES_HOST(g, host)                                            \
    "EXISTS (SELECT 1 FROM events e WHERE e.grant_id = " g                  \
    "  AND e.host = " host                                                  \
    "  AND e.type IN ('account.enabled', 'account.created'))"
#define APID_HANDOVER_GRANT(cond, order)                                    \
    "(SELECT s.id FROM grants s"                                            \
    "  WHERE s.username = p.username AND s.requester = p.requester"         \
    "  AND s.credential = p.credential AND " cond " AND "                   \
    APID_TAKES_HOST("s.id", "p.host") " ORDER BY " order " LIMIT 1)"
#define APID_HANDOVERS_SQL(ids, seq)                                        \
    "WITH p AS MATERIALIZED (SELECT DISTINCT o.id AS orig, o.seq AS gseq,"  \
    "  o.created AS gcreated, o.username, o.requester, o.credential,"       \
    "  h.host FROM grants o JOIN events h ON h.grant_id = o.id"            \
    "  WHERE o.id IN (" ids ")),"                                          \
    " q AS MATERIALIZED (SELECT p.orig, p.host, coalesce("                  \
    APID_HANDOVER_GRANT("s.seq > p.gseq", "s.seq") ","                      \
    APID_HANDOVER_GRANT("p.gseq IS NULL AND s.seq IS NOT NULL"              \
                        " AND s.created > p.gcreated", "s.seq") ","         \
    APID_HANDOVER_GRANT("s.seq IS NULL AND s.created > p.gcreated",         \
                        "s.created, s.id") ") AS succ FROM p)"              \
    " SELECT q.orig, q.succ, q.host, (SELECT e.time FROM events e"          \
    "  WHERE e.grant_id = q.succ AND e.host = q.host"                       \
    "  AND e.type IN ('account.enabled', 'account.created')"                \
    "  ORDER BY e." seq " LIMIT 1) FROM q WHERE q.succ IS NOT NULL"

/* g's account name refused because of holder's name held (policy.h,
 * apid_name_held): the server's line, and the requester's words as the
 * calling thread's error; returns the store's answer. */
int apid_store_name_refused(const struct apid_grant *g, const char *holder,
                            const char *held);
/* A JSON array of strings to a vector (0 or -1), and back (malloc'd). */
int apid_json_strings(const char *text, char ***out, size_t *n);
char *apid_strings_json(char *const *v, size_t n);
/* "g-" and 24 random hex digits. */
void apid_new_id(char out[40]);

#endif
