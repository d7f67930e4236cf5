/* SPDX-License-Identifier: MIT */
/*
 * Reaping: the accounts whose time is up are torn down by the same
 * function pam_jit's last logout uses (lib/core/teardown.c).  An account is
 * due when its end has passed, when its stored grant is revoked or
 * expired, when a teardown was interrupted (tearing_down), or when one
 * failed (disable_failed, retried).
 */
#ifndef JIT_REAP_H
#define JIT_REAP_H

#include <stddef.h>
#include <stdint.h>

#include "core/audit.h"
#include "core/conf.h"
#include "state/store.h"

#pragma GCC visibility push(hidden)

struct jit_reap_item {
    char *name;
    const char *cause;  /* expired, revoked, resumed, retry, no_sessions */
    int result;         /* as jit_teardown_batch's; unset in a dry run */
    char error[512];    /* what stopped it, when result != 0 */
    int recorded;       /* the failure is in the store: disable_failed */
};

/* Find what is due at `now` and, unless dry_run, tear it down.  *items
 * (malloc'd, free with jit_reap_items_free) lists each account and what
 * happened.  0, or -errno if the store could not be read. */
int jit_reap_once(struct jit_store *s, const struct jit_conf *conf,
                  const struct jit_log *log, int64_t now, int dry_run,
                  struct jit_reap_item **items, size_t *n);
void jit_reap_items_free(struct jit_reap_item *v, size_t n);

/* When the next account falls due (its expires), or 0 if none: the
 * daemon sleeps until then. */
int64_t jit_reap_next_due(struct jit_store *s, int64_t now);

#pragma GCC visibility pop

#endif
