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

#include "audit.h"
#include "conf.h"
#include "grant.h"
#include "store.h"

#pragma GCC visibility push(hidden)

#define JIT_SYNC_ETAG_KEY "sync.etag"

struct jit_sync_stats {
    size_t grants;    /* in the API's answer */
    size_t reserved;  /* new accounts */
    size_t updated;   /* existing accounts moved to a new grant or expiry */
    size_t unchanged;
    size_t refused;   /* grants that do not fit or cannot be reserved */
    size_t gone;      /* accounts whose grant left the list (for reap) */
    int not_modified; /* the list had not changed (ETag): nothing done */
    int retry_later;  /* a refusal that time may lift: ETag not kept */
    int woken;        /* the poll was ended by the wake fd: no answer */
};

/* One round: fetch, then one transaction for all of it (each grant under
 * its own savepoint, so one bad grant spoils nothing else).  An account
 * whose grant is no longer in the list gets that grant marked expired (if
 * its end has passed) or revoked, for jitctl reap; nothing is torn down
 * here.  An API fault changes nothing, deletes nothing and extends
 * nothing.  0, or -EIO (API; reason in *api_reason) / -errno. */
int jit_sync_once(struct jit_store *s, const struct jit_conf *conf,
                  const struct jit_log *log, struct jit_sync_stats *st,
                  const char **api_reason);

/* The same with If-None-Match *etag and a long poll of wait_s seconds:
 * an unchanged list does nothing (st->not_modified); a changed one is
 * applied and *etag (malloc'd) moves on. */
int jit_sync_poll(struct jit_store *s, const struct jit_conf *conf,
                  const struct jit_log *log, char **etag, unsigned wait_s,
                  struct jit_sync_stats *st, const char **api_reason);
/* Apply a list the API returned, as above. */
int jit_sync_apply(struct jit_store *s, const struct jit_conf *conf,
                   const struct jit_log *log, const struct jit_grant *v,
                   size_t n, int64_t now, struct jit_sync_stats *st);

#pragma GCC visibility pop

#endif
