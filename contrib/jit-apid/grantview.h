/* SPDX-License-Identifier: MIT */
/*
 * The per-host view of a grant's account, from the hosts' events
 * (doc/design.md, S25).
 */
#ifndef APID_GRANTVIEW_H
#define APID_GRANTVIEW_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store.h"

/* Expired or revoked, or active past its end: its accounts are due. */
int apid_grant_ended(const struct apid_grant *g, int64_t now);

/* The "hosts" array of a grant: per host its account's state (pending,
 * reserved, active with sessions, tearing_down, disable_failed with the
 * host's error and retried, deleted with deleted_at, handed_over to a
 * later grant, none), since when, and while the grant is in force when
 * its deletion is due.  v: the grant's events, applied in the order
 * jit-apid received them (their seq; equal seqs in v's order); ho: the
 * grant's handovers (apid_store_handovers; those of other grants are
 * passed over), or NULL and 0.  NULL on allocation failure. */
json_t *apid_grant_hosts_json(const struct apid_grant *g,
                              const struct apid_event *v, size_t n,
                              const struct apid_handover *ho, size_t nho,
                              int64_t now);

#endif
