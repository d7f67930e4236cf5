/* SPDX-License-Identifier: MIT */
/*
 * The state store: grants, accounts, uid history and the event outbox, in
 * SQLite under state_dir, written by root code only
 * (doc/design.md, R2).
 *
 * Every change is one transaction between jit_store_begin and
 * jit_store_commit.  begin takes the store's lock file and SQLite's write
 * lock; commit re-derives the NSS snapshot from the rows about to be
 * committed, stages it (temp file, fsync), commits, then renames it into
 * place, all before the lock is let go.  A crash
 * leaves the previous snapshot or the next one; a crash between commit
 * and rename leaves the previous one, which the next jit_store_open
 * notices (its generation is behind) and re-derives.
 */
#ifndef JIT_STORE_H
#define JIT_STORE_H

#include <stdint.h>
#include <sys/types.h>

#include "core/conf.h"
#include "core/grant.h"

#pragma GCC visibility push(hidden)

#define JIT_STORE_DB "state.db"
#define JIT_STORE_SNAPSHOT "nss.db"
#define JIT_STORE_LOCK "lock"
/* How long a writer waits for another one before giving up. */
#define JIT_STORE_LOCK_WAIT_MS 10000

enum jit_account_state {
    JIT_ACCOUNT_RESERVED,
    JIT_ACCOUNT_ACTIVE,
    JIT_ACCOUNT_TEARING_DOWN,
    JIT_ACCOUNT_DISABLE_FAILED,
};

const char *jit_account_state_name(int state);
int jit_account_state_parse(const char *s);

/* An event of the outbox (doc/design.md, "Events and the outbox"); the
 * host is added when it is sent. */
struct jit_event {
    char *id, *type, *grant, *username, *requester;
    char *detail; /* JSON object text, or NULL */
    int64_t time;
    int attempts;
};

/* An account due for teardown and why: resumed (a teardown was cut
 * short), retry (one failed and its backoff is over), expired, revoked,
 * no_sessions (delete on logout, and its sessions ended with a boot). */
struct jit_due {
    char *name;
    char cause[16];
};

struct jit_account {
    char *name, *gecos, *home, *shell;
    char *grant_id, *requester, *credential;
    uint32_t uid, gid;
    int state;
    int64_t created, expires;
    uint32_t sessions;
    int rebound;     /* bound to a later grant: next open is "enabled" */
    int announced;   /* its account.created/enabled is queued (reserved
                      * before that was done at reservation: 0) */
    int failures;    /* teardowns that failed so far */
    int64_t retry_at; /* a disable_failed account is tried again then */
    char **groups;   /* supplementary group names */
    uint32_t *gids;  /* and their gids, resolved at reservation */
    size_t n_groups;
};

/*
 * What the store asks the rest of the host.  The defaults ask NSS
 * (getpwnam_r and friends) whether a name or id belongs to another source,
 * and getgrnam_r for the gid of an allow-listed group; tests replace them.
 */
struct jit_store_host {
    int (*name_taken)(const char *name, void *ctx);  /* 1 taken, 0 free, <0 */
    int (*id_taken)(uint32_t id, void *ctx);
    int (*group_gid)(const char *group, uint32_t *gid, void *ctx); /* 0/-errno */
    void *ctx;
    /* This boot's id (out NUL-terminated, at most size - 1 bytes): 0, or
     * -errno when it cannot be known.  NULL: never known (session counts
     * are then never reset, see jit_store_sessions_this_boot). */
    int (*boot_id)(char *out, size_t size, void *ctx);
};

struct jit_store;

/* Open (creating state_dir, the database and the lock file if needed) and
 * migrate.  A handle is used by one thread at a time (each PAM handle,
 * each thread of a test, the daemon: their own); it keeps its prepared
 * statements, unlocked.  Refuses a state_dir that is a symlink, not owned by the
 * caller, or group/world-writable.  On failure *errmsg (if given) says
 * why; free it.  Returns 0 or -errno. */
int jit_store_open(const struct jit_conf *conf,
                   const struct jit_store_host *host, struct jit_store **out,
                   char **errmsg);
void jit_store_close(struct jit_store *s);
/* The last SQLite or system error, for messages. */
const char *jit_store_error(const struct jit_store *s);

int jit_store_begin(struct jit_store *s);
/* 0, or -errno: then nothing was committed, except for -ESTALE, which
 * says that the transaction was committed but its snapshot could not be
 * published (NSS shows the previous one until a later commit or open
 * re-derives it). */
int jit_store_commit(struct jit_store *s);
void jit_store_rollback(struct jit_store *s);
/* A read-only transaction: what is read between these is one consistent
 * state of the store, without the writers' lock (a login that finds
 * nothing to change writes nothing).  No write may run in it;
 * end it before jit_store_begin. */
int jit_store_read_begin(struct jit_store *s);
void jit_store_read_end(struct jit_store *s);
/* Inside a transaction: mark a point, and later keep what followed it or
 * undo just that (one item of a batch that must not spoil the rest). */
int jit_store_savepoint(struct jit_store *s);
void jit_store_savepoint_end(struct jit_store *s, int keep);

/* Writes; each must run between begin and commit. */
int jit_store_put_grant(struct jit_store *s, const struct jit_grant *g);
/* Reserve an account for the grant: name = grant username, uid allocated
 * from the range (not used, not quarantined, not owned by another
 * source), home under home_base, default shell, groups resolved from the
 * grant's list, each of which must be on allowed_groups.  Returns 0,
 * -EEXIST (name ours already or another source's), -EPERM (a group not
 * allowed), -ENOSPC (no free id), -EINVAL (bad name), -EDOM (a row the
 * NSS snapshot would refuse, e.g. a ':' in the credential), or another
 * -errno. */
int jit_store_reserve(struct jit_store *s, const struct jit_grant *g,
                      int64_t now, struct jit_account *out);
int jit_store_set_state(struct jit_store *s, const char *name, int state);
/* Remove the account and put its uid into the history (quarantine). */
int jit_store_delete_account(struct jit_store *s, const char *name,
                             int64_t now);
/* Point the kept account `name` of the same requester and credential at
 * a grant: its grant id, expiry and groups (validated as in reserve).  A
 * different grant makes it `reserved` again (and re-enabled) until its
 * next session opens; the same grant only updates expiry and groups.
 * -ENOENT if no such account of that requester and credential. */
int jit_store_rebind(struct jit_store *s, const char *name,
                     const struct jit_grant *g);
/* Add delta (+1/-1) to the account's session count, never below 0; the
 * new count in *after.  -ENOENT if there is no such account. */
int jit_store_add_sessions(struct jit_store *s, const char *name, int delta,
                           uint32_t *after);
/* Set a stored grant's status (active, expired, revoked): what sync
 * learns when a grant leaves the API's list.  -ENOENT if unknown. */
int jit_store_set_grant_status(struct jit_store *s, const char *id,
                               const char *status);
/* An admin's revocation on this host (jitctl revoke): the grant is
 * revoked here for good, whatever the API says later.  revoked_locally
 * returns 1, 0 or -errno. */
int jit_store_revoke_locally(struct jit_store *s, const char *grant_id,
                             const char *reason, int64_t now);
int jit_store_revoked_locally(struct jit_store *s, const char *grant_id);
/* A teardown failed: disable_failed, one more failure, next try at
 * retry_at. */
int jit_store_teardown_failed(struct jit_store *s, const char *name,
                              int64_t retry_at);
/* Queue an event for the API in the outbox; detail is a JSON object
 * text or NULL. */
int jit_store_add_event(struct jit_store *s, const char *type,
                        const char *grant, const char *username,
                        const char *requester, const char *detail,
                        int64_t now);

/* The outbox, a queue: up to limit events in the order they were added,
 * from the oldest up to (not including) the first that is not due
 * (next_attempt > now): nothing overtakes an event that waits for its
 * retry.  Then, in a transaction, settle them: delivered (deleted) or not
 * (attempts + 1, next try at next_attempt).  A commit that added events
 * wakes jitctl daemon (wake.h). */
int jit_store_due_events(struct jit_store *s, int64_t now, size_t limit,
                         struct jit_event **out, size_t *n);
int jit_store_events_settle(struct jit_store *s, const struct jit_event *v,
                            size_t n, int delivered, int64_t next_attempt);
void jit_events_free(struct jit_event *v, size_t n);
/* Drop the oldest login.denied and session.* events until at most keep
 * events remain (or none of those kinds is left); *dropped says how many. */
int jit_store_events_trim(struct jit_store *s, int64_t keep,
                          int64_t *dropped);
/* What reap must tear down at `now` (one indexed query), and when the
 * next account falls due after `now` (0: none). */
int jit_store_due_accounts(struct jit_store *s, int64_t now,
                           struct jit_due **out, size_t *n);
int64_t jit_store_next_due(struct jit_store *s, int64_t now);
/* Inside a transaction, before a session is counted in or out, and
 * before the reaper looks for what is due: if the store last counted
 * sessions in another boot of the host, no session it counted is left
 * (none logged out through PAM), so every count goes to zero, each such
 * account with one session.closed event (detail reason "reboot" and how
 * many) at `now`, and an active one of a delete-on-logout grant becomes
 * due (cause no_sessions) until a session is counted in.  The boot is
 * recorded (kv "boot_id") when none is; a boot that cannot be known
 * forgets the one recorded, so that counts made meanwhile are never
 * taken for an earlier boot's.  (Other readers of the counts, sync and
 * the account step, may see an earlier boot's until then.)  The number
 * of accounts whose count was set to 0, or -errno. */
int jit_store_sessions_this_boot(struct jit_store *s, int64_t now);
/* The line to log once such a reset of N accounts commits (printf format,
 * one %d). */
#define JIT_STORE_BOOT_RESET_FMT                                             \
    "the host booted again since the last session was counted: the "       \
    "session counts of %d accounts set to 0"
/* Small text state by key (NULL value deletes); get gives -ENOENT for an
 * unknown key. */
int jit_store_kv_put(struct jit_store *s, const char *key, const char *value);
int jit_store_kv_get(struct jit_store *s, const char *key, char **value);
/* Make this transaction's commit re-derive the snapshot even if nothing
 * NSS shows changed. */
void jit_store_touch_snapshot(struct jit_store *s);
/* The API answers again: every waiting event is due now. */
int jit_store_events_retry_now(struct jit_store *s);
/* The API refused event id for what it holds (a 4xx on its own): it
 * waits until next_attempt without holding back the events behind it. */
int jit_store_event_refused(struct jit_store *s, const char *id,
                            int64_t next_attempt);
/* Whether some event waits for a retry after a failed delivery (by this
 * process or another one, e.g. jitctl flush): 1, 0 or -errno. */
int jit_store_events_backed_off(struct jit_store *s, int64_t now);

/* The audit reason for an error of reserve or rebind. */
const char *jit_store_reason(int ret);

/* Grants the host refuses as they stand, remembered so that each is
 * logged once.  In one sync: refusals_round, then refusal_note for each
 * refused grant (1: new or changed, log it; 0: as before, or a second
 * entry of one key in this round; <0 error; *since: since when it has
 * been refused as it is), then refusals_end_round forgets those not
 * noted again. */
int jit_store_refusals_round(struct jit_store *s);
int jit_store_refusal_note(struct jit_store *s, const char *key,
                           const char *reason, const char *detail,
                           int64_t now, int64_t *since);
/* When a grant cannot be applied in full (its new groups cannot all be
 * resolved now), what it takes away still goes: the account keeps only
 * the groups both it and g have, and the earlier of the two ends.  No
 * lookup is needed for that. */
int jit_store_narrow(struct jit_store *s, const struct jit_account *a,
                     const struct jit_grant *g);
int jit_store_refusals_end_round(struct jit_store *s);
/* Not logged after all (over a round's cap): new again next time. */
int jit_store_refusal_forget(struct jit_store *s, const char *key);

/* Reads (no transaction needed). */
int jit_store_get_account(struct jit_store *s, const char *name,
                          struct jit_account *out);
/* The account that requester holds for credential, or -ENOENT. */
int jit_store_find_account(struct jit_store *s, const char *requester,
                           const char *credential, struct jit_account *out);
/* A stored grant (without its groups; with its ssh_keys), or -ENOENT. */
int jit_store_get_grant(struct jit_store *s, const char *id,
                        struct jit_grant *g);
int jit_store_list_accounts(struct jit_store *s, struct jit_account **out,
                            size_t *n);
int jit_store_count_events(struct jit_store *s, int64_t *n);

/* The claim on a teardown (doc/design.md, F9): one process at a time
 * tears an account down, the one that holds the claim on its uid.  An
 * open file description lock on byte uid of the lock file, held by this
 * connection (so by the process and thread using it) until released or
 * closed, and dropped by the kernel if the process dies, so that a
 * teardown cut short is taken up again.  Claiming again what this
 * connection holds succeeds.  0, -EALREADY (another connection holds it),
 * or -errno. */
int jit_store_claim_uid(struct jit_store *s, uint32_t uid);
void jit_store_release_uid(struct jit_store *s, uint32_t uid);

/* For jitctl daemon: its wake-up FIFO in the store's own directory (the
 * one the pokes of jit_store_commit go to), as jit_wake_listen. */
int jit_store_wake_listen(struct jit_store *s, char *err, size_t errlen);

/* The state directory's fd (the store's): for jitctl daemon's relay
 * socket.  Valid while s is open. */
int jit_store_dirfd(const struct jit_store *s);
uint64_t jit_store_generation(struct jit_store *s);

/* Whether the account has exactly the grant's groups. */
int jit_account_same_groups(const struct jit_account *a,
                            const struct jit_grant *g);

void jit_account_free(struct jit_account *a);
void jit_accounts_free(struct jit_account *a, size_t n);

#pragma GCC visibility pop

#endif
