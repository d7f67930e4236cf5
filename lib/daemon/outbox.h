/* SPDX-License-Identifier: MIT */
/*
 * Delivery of the outbox to the API (POST /v1/hosts/{host}/events), in
 * batches, idempotent by event id: the API keeps one copy of each id, so
 * an event sent again after a lost answer is harmless.  Nothing leaves the
 * outbox until the API has accepted it.
 */
#ifndef JIT_OUTBOX_H
#define JIT_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "core/api.h"
#include "core/audit.h"
#include "core/conf.h"
#include "state/store.h"

#pragma GCC visibility push(hidden)

#define JIT_OUTBOX_BATCH 100
/* Retry after 30 s, doubling per failed attempt, at most an hour. */
#define JIT_OUTBOX_RETRY_MIN 30
#define JIT_OUTBOX_RETRY_MAX 3600

struct jit_outbox_stats {
    size_t delivered;
    size_t failed;      /* events of a batch that failed, now backed off */
    size_t refused;     /* refused on their own (4xx), kept out of the way */
    const char *reason; /* the API's fault, or NULL */
};

/* Send every due event, batch by batch, until none is due or a batch
 * fails.  0 when nothing failed; -EIO after an API fault (reason in
 * st->reason); -errno for the store. */
int jit_outbox_flush(struct jit_store *s, const struct jit_conf *conf,
                     const struct jit_log *log, int64_t now,
                     struct jit_outbox_stats *st);

/* Keep the outbox within outbox_max (see jit.conf(5)): warn from 80%,
 * and beyond the cap drop the oldest login.denied and session events,
 * never account events.  0 or -errno. */
int jit_outbox_bound(struct jit_store *s, const struct jit_conf *conf,
                     const struct jit_log *log);

/* When to send again events that failed after attempts earlier tries:
 * now + JIT_OUTBOX_RETRY_MIN, doubling per attempt, at most
 * JIT_OUTBOX_RETRY_MAX. */
int64_t jit_outbox_retry_at(int64_t now, int attempts);

/* Whether the API refused a batch for what it holds, not for the host or
 * the moment (a 4xx other than 401, 407, 408 and 429): sending it again
 * would be refused again, so each event goes on its own and the one
 * refused steps out of the queue's way.  Anything else is a fault of the
 * moment: the batch waits and is sent again. */
int jit_outbox_refused(const struct jit_api_error *err);

/* The JSON text of a batch ({"events": [...]}), malloc'd, or NULL. */
char *jit_outbox_batch_json(const struct jit_conf *conf,
                            const struct jit_event *v, size_t n);

#pragma GCC visibility pop

#endif
