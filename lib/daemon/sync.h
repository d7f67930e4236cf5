/* SPDX-License-Identifier: MIT */
/*
 * Sync: learn this host's active grants from the API and reserve their
 * accounts, so that sshd (which looks the user up before PAM runs) can
 * resolve them before the first login.  One shot here; `jitctl daemon`
 * makes it a long poll.
 */
#ifndef JIT_SYNC_H
#define JIT_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "core/audit.h"
#include "core/conf.h"
#include "core/grant.h"
#include "state/store.h"

#pragma GCC visibility push(hidden)

#define JIT_SYNC_ETAG_KEY "sync.etag"
#define JIT_SYNC_RETRY_KEY "sync.retry_at"
/* A digest of the configuration the last round ran under. */
#define JIT_SYNC_CONF_KEY "sync.conf"

struct jit_sync_stats {
    size_t grants;    /* in the API's answer, refused entries included */
    size_t reserved;  /* new accounts */
    size_t updated;   /* accounts moved to a new grant, expiry or groups */
    size_t unchanged;
    size_t refused;   /* grants that do not fit or cannot be reserved */
    size_t gone;      /* accounts whose grant left the list (for reap) */
    int not_modified; /* the list had not changed (ETag): nothing done */
    int woken;        /* the poll was ended by the wake fd: no answer */
    int held;         /* the API was asked to hold the poll (a wait) */
    /* When a grant refused for now (not valid yet, a name or account in
     * the way) is worth another look: the next poll then asks for the
     * whole list at that time, not before.  0: none. */
    int64_t retry_at;
    /* With an API fault: what the API said (the fault's detail). */
    char api_detail[256];
};

/* One round: fetch, then one transaction for all of it.  Each entry of
 * the list stands alone: one that does not parse, or does not fit, is
 * refused on its own (one audit line naming the field and why, the first
 * time only), and every other is applied under its own savepoint.  An
 * account whose grant is no longer in the list, or is listed but refused
 * for good, gets that grant marked expired (if its end has passed) or
 * revoked, for jitctl reap; nothing is torn down here, but processes that
 * carry a group the account is no longer granted are ended.  A broken
 * list (not JSON, no grants array) and an API fault change nothing,
 * delete nothing and extend nothing.  Audit lines come after the commit,
 * and only if it succeeded.  0, or -EIO (API; reason in *api_reason) /
 * -errno.  An API fault is logged at LOG_ERR, but "busy" (the API is up
 * and asks to be asked later: not this host's error) at LOG_WARNING. */
int jit_sync_once(struct jit_store *s, const struct jit_conf *conf,
                  const struct jit_log *log, struct jit_sync_stats *st,
                  const char **api_reason);

/* The same with If-None-Match *etag and a long poll of wait_s seconds:
 * an unchanged list does nothing (st->not_modified); a changed one is
 * applied and *etag (malloc'd) moves on.  Once the stored retry time has
 * come, the whole list is asked for without waiting.  A "busy" answer is
 * not logged here but left to the caller (the daemon says it once per
 * spell, not once per round), with st->api_detail. */
int jit_sync_poll(struct jit_store *s, const struct jit_conf *conf,
                  const struct jit_log *log, char **etag, unsigned wait_s,
                  struct jit_sync_stats *st, const char **api_reason);
/* Apply a list the API returned, as above. */
int jit_sync_apply(struct jit_store *s, const struct jit_conf *conf,
                   const struct jit_log *log, const struct jit_grant_list *l,
                   int64_t now, struct jit_sync_stats *st);
/* Forget what the rounds so far decided under one configuration: the
 * refusals on record, the list's ETag and the retry time, so that the
 * next round asks for the whole list and examines every grant again
 * (each refusal logged again, once).  jit_sync_poll does it by itself
 * when the configuration's digest differs from the last round's (a
 * SIGHUP's reload, a file edited between two jitctl sync runs);
 * jitctl sync --full asks for it.  0 or -errno. */
int jit_sync_forget(struct jit_store *s);

/* The stored retry time (0: none); retry_soon brings a pending one
 * forward to now (an account in the way was just torn down). */
int64_t jit_sync_retry_at(struct jit_store *s);
void jit_sync_retry_soon(struct jit_store *s, int64_t now);

#pragma GCC visibility pop

#endif
