/* SPDX-License-Identifier: MIT */
/*
 * jit-apid's storage, behind one small interface: SQLite (embedded, the
 * default) or PostgreSQL (several instances behind a load balancer).  The
 * grant rules are enforced by the database (a unique index over a
 * person's active and pending grants on a credential, and a table of
 * account names keyed by name, each with its one person), not in
 * process memory, so they hold across instances.
 */
#ifndef APID_STORE_H
#define APID_STORE_H

#include <stddef.h>
#include <stdint.h>

struct apid_grant {
    char id[40];
    char *policy, *credential, *requester, *username, *reason;
    char *status;    /* pending, active, revoked, expired, denied */
    char *on_logout; /* keep, delete */
    char **hosts;
    size_t n_hosts;
    char **groups;
    size_t n_groups;
    char **ssh_keys;
    size_t n_ssh_keys;
    int64_t not_before, expires_at, created;
    char *decided_by;   /* who approved, denied or revoked; NULL */
    char *previous;     /* the grant this one re-enables; NULL */
    /* On insert: the requester chose username (a policy's
     * username_choice), so that a look-alike of a name another person
     * holds refuses it (APID_NAME_REFUSED).  A name a template gives is
     * its person's whatever it looks like. */
    int name_chosen;
};

/* An alert delivery an event calls for. */
struct apid_alert_target {
    const char *channel;   /* email, webhook */
    const char *recipient;
};

struct apid_event {
    char *id, *type, *host, *grant, *username, *requester;
    char *detail;       /* JSON text or NULL */
    int64_t time, received;
    /* Read back: the order jit-apid received it in (time is the host's
     * clock, received a second that many events share). */
    int64_t seq;
    /* On insert: the alerts to queue if the event is new. */
    const struct apid_alert_target *alerts;
    size_t n_alerts;
};

/* A later grant of the same person that took a grant's kept account on
 * a host (apid_store_handovers). */
struct apid_handover {
    char *orig;  /* the grant whose account it was */
    char *grant; /* the grant that took it */
    char *host;
    int64_t time; /* the host's event that says so */
};

/* A delivery to make now, with its event. */
struct apid_alert_job {
    int64_t id;
    int attempts;
    char *channel, *recipient;
    struct apid_event ev;
};

/* The record of a delivery. */
struct apid_alert_rec {
    int64_t id, created, delivered;
    int attempts;
    char *event, *type, *channel, *recipient, *status, *last_error;
};

struct apid_op {
    int64_t seq, time;
    char *actor, *action, *grant, *detail;
};

/* Filters for listing grants; NULL/0 fields match anything. */
struct apid_grant_filter {
    const char *requester, *credential, *status, *host, *id;
};

enum apid_store_result {
    APID_OK = 0,
    APID_NOT_FOUND = -1,
    APID_CONFLICT = -2,   /* the one-grant rule, or a state that forbids it */
    APID_FAILED = -3,     /* the database; see apid_store_error */
    APID_NAME_REFUSED = -4, /* a chosen account name looks like another
                               person's (policy.h, look-alike names) */
};

struct apid_store;

/* "sqlite:/path/to/file.db" or "postgresql:<conninfo>".  NULL and *err
 * (malloc'd) on failure. */
struct apid_store *apid_store_open(const char *spec, char **err);
void apid_store_close(struct apid_store *s);
const char *apid_store_error(struct apid_store *s);

/* Insert a new grant (g->id is set here).  Expired grants of the same
 * person and credential are marked expired first, in the same
 * transaction; APID_CONFLICT if the person still holds an active or
 * pending grant on the credential, or if the account name is another
 * person's (any grant of another requester ever named it: a name is
 * bound to the first person whose grant names it, in the same
 * transaction, so that concurrent requests cannot bind it twice);
 * APID_NAME_REFUSED if g->name_chosen and another person holds a name of
 * the same skeleton (checked in the same transaction, one chosen name at
 * a time).  A name refused because another person holds it is logged
 * (stderr) with both people; the error for the requester names neither. */
int apid_store_grant_insert(struct apid_store *s, struct apid_grant *g,
                            const char *actor, const char *op_detail,
                            int64_t now);
/* Move a grant from one status to another (pending->active on approval,
 * pending->denied, active|pending->revoked), with an operations-log
 * entry.  APID_NOT_FOUND, or APID_CONFLICT if its status is not `from`
 * (a comma-separated list). */
int apid_store_grant_transition(struct apid_store *s, const char *id,
                                const char *from, const char *to,
                                const char *actor, const char *op_detail,
                                int64_t now);
int apid_store_grant_get(struct apid_store *s, const char *id,
                         struct apid_grant *g, int64_t now);
/* The grants matching f, newest first, at most limit. */
int apid_store_grant_list(struct apid_store *s,
                          const struct apid_grant_filter *f, size_t limit,
                          struct apid_grant **v, size_t *n, int64_t now);
/* Active, unexpired grants naming host (for the host side), only user's
 * account when user is not NULL.  Their hosts lists are left empty. */
int apid_store_host_grants(struct apid_store *s, const char *host,
                           const char *user, int64_t now,
                           struct apid_grant **v, size_t *n);
/* Every active, unexpired grant as apid_store_host_grants gives it
 * (hosts empty), for jit-apid's view of all the hosts' lists
 * (hostview.h).  Not ordered (the view orders). */
int apid_store_live_grants(struct apid_store *s, int64_t now,
                           struct apid_grant **v, size_t *n);
/* Grant id's hosts joined by '\n' (malloc'd; "" if none or no such
 * grant; a host name holds no '\n'): a thousand hosts are one string,
 * not a thousand rows.  A grant's hosts never change once it is stored,
 * so the view reads them once per grant. */
int apid_store_grant_hosts(struct apid_store *s, const char *id,
                           char **hosts);
/* A cache kept with the store by a layer above it (the host view): made
 * by make() on the first call, dropped by drop() when the store closes,
 * so that it lives exactly as long as the data it caches.  NULL if make()
 * failed. */
void *apid_store_cache(struct apid_store *s, void *(*make)(void),
                       void (*drop)(void *));
/* The number of the last grant change (the operations log's last row):
 * cheap, and it moves when any instance changes any grant. */
int apid_store_change_seq(struct apid_store *s, int64_t *seq);
/* The account each of n grants gives on host, for the check that a
 * host's events are its own: names[i] and requesters[i] (malloc'd) are
 * grant ids[i]'s account name on host and its requester, or both NULL
 * if there is no such grant or it does not list host.  One query. */
int apid_store_grant_accounts(struct apid_store *s, const char *host,
                              char *const *ids, size_t n, char **names,
                              char **requesters);
/* Events, idempotent by id: one already stored is left as it is.  All or
 * none. */
int apid_store_events_insert(struct apid_store *s,
                             const struct apid_event *v, size_t n,
                             int64_t now);
/* A grant's events, in the order jit-apid received them (seq). */
int apid_store_events_for_grant(struct apid_store *s, const char *grant,
                                struct apid_event **v, size_t *n);
/* The events of n grants in one query (a page of GET /v1/grants): sorted
 * by grant id (strcmp), each grant's in the order received. */
int apid_store_events_for_grants(struct apid_store *s, char *const *ids,
                                 size_t n, struct apid_event **v,
                                 size_t *nv);
/* For n grants in one query: per grant and host, the earliest later
 * grant of the same person, credential and account name that took the
 * account there (its account.enabled or account.created from that
 * host); sorted by orig (strcmp), at most one per grant and host. */
int apid_store_handovers(struct apid_store *s, char *const *ids, size_t n,
                         struct apid_handover **v, size_t *nv);
void apid_handovers_free(struct apid_handover *v, size_t n);
/* The operations log, newest first; grant NULL for all. */
int apid_store_ops(struct apid_store *s, const char *grant, size_t limit,
                   struct apid_op **v, size_t *n);

/* Claim up to limit deliveries due at now: each is not offered again
 * until lease seconds have passed (several instances share the queue). */
int apid_store_alerts_claim(struct apid_store *s, int64_t now, int64_t lease,
                            size_t limit, struct apid_alert_job **v,
                            size_t *n);
/* A delivery's outcome: sent, or failed with error and tried again at
 * next_try (0: given up). */
int apid_store_alert_settle(struct apid_store *s, int64_t id, int sent,
                            const char *error, int64_t next_try, int64_t now);
int apid_store_alerts_list(struct apid_store *s, size_t limit,
                           struct apid_alert_rec **v, size_t *n);

/*
 * Directory accounts (doc/design.md, "Directory accounts"): one row per
 * account name, naming the grant that holds it now.  An account is
 * enabled while its grant lives; once the grant is no longer active
 * (expired, revoked), the teardown worker claims the row, takes the
 * account out of its groups, locks it and rotates its password, and
 * settles the row disabled, or disable_failed to be tried again at
 * next_try.
 */
struct apid_diracct {
    char *username, *grant, *state, *last_error;
    /* The entry's entryUUID (Active Directory: objectGUID, hex) as read
     * when the account was created or first enabled, or NULL (a row of
     * an older jit-apid): what identifies the entry when its ownership
     * mark is gone (doc/design.md, S19). */
    char *entry_uuid;
    int attempts;
    int64_t next_try, updated;
};

/* One entry on the operations log, in a transaction of its own. */
int apid_store_op_add(struct apid_store *s, const char *actor,
                      const char *action, const char *grant,
                      const char *detail, int64_t now);
/* username's account is now grant's, enabled (created if new), with
 * an operations-log entry (action, detail); APID_CONFLICT while a
 * teardown of it is claimed and not settled (its lease not run out):
 * an enable after it would be undone by it. */
int apid_store_diracct_hold(struct apid_store *s, const char *username,
                            const char *grant, const char *actor,
                            const char *action, const char *detail,
                            int64_t now);
/* The account row whose grant is grant; APID_NOT_FOUND if none. */
int apid_store_diracct_get(struct apid_store *s, const char *grant,
                           struct apid_diracct *out);
/* Claim up to limit accounts due for teardown at now (enabled or
 * disable_failed, next_try reached, their grant no longer active): each
 * is not offered again until lease seconds have passed (instances share
 * the work). */
int apid_store_diracct_claim(struct apid_store *s, int64_t now,
                             int64_t lease, size_t limit,
                             struct apid_diracct **v, size_t *n);
/* A teardown's outcome for username's account held by grant: disabled,
 * or disable_failed (error) to be tried again at next_try, with an
 * operations-log entry (actor, action, detail).  APID_CONFLICT if the
 * account has moved to another grant meanwhile (a re-enable). */
int apid_store_diracct_settle(struct apid_store *s, const char *username,
                              const char *grant, int ok, const char *error,
                              int64_t next_try, const char *actor,
                              const char *action, const char *detail,
                              int64_t now);
/* Record uuid as the entry of username's account while grant holds it
 * (after a create, or the first enable of a row without one). */
int apid_store_diracct_set_uuid(struct apid_store *s, const char *username,
                                const char *grant, const char *uuid);
void apid_diraccts_free(struct apid_diracct *v, size_t n);

/* The alert settings (alerts.h, apid_alerts_apply): their JSON text
 * (malloc'd) and version; APID_NOT_FOUND if none were ever stored (every
 * alert type off). */
int apid_store_alert_settings_get(struct apid_store *s, char **json,
                                  int64_t *version);
/* Store json as the settings, version + 1, if the stored ones are still
 * version (0: none stored yet: a seed, or the first change), with an
 * operations-log entry (actor, action, detail; no grant) in the same
 * transaction; APID_CONFLICT if another change came first. */
int apid_store_alert_settings_put(struct apid_store *s, const char *json,
                                  int64_t version, const char *actor,
                                  const char *action, const char *detail,
                                  int64_t now);

void apid_alert_jobs_free(struct apid_alert_job *v, size_t n);
void apid_alert_recs_free(struct apid_alert_rec *v, size_t n);
void apid_grant_free(struct apid_grant *g);
void apid_grants_free(struct apid_grant *v, size_t n);
void apid_events_free(struct apid_event *v, size_t n);
void apid_ops_free(struct apid_op *v, size_t n);

#endif
