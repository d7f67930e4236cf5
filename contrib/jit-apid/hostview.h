/* SPDX-License-Identifier: MIT */
/*
 * jit-apid's view of every host's grant list, in memory: what a woken
 * long poll answers from, so that a change seen by 10,000 hosts costs
 * one store read and one rendering of each grant, not 10,000 of each.
 */
#ifndef APID_HOSTVIEW_H
#define APID_HOSTVIEW_H

#include <stddef.h>
#include <stdint.h>

struct apid;
struct apid_hostview;

/* The view of a's store as of now (its own clock, so that tests can move
 * it), built again if a change was signalled (a->generation moved) since
 * it was read, or if now has passed the end of one of its grants.  A
 * reference, given back with apid_hostview_put; NULL and an
 * APID_* error in *ret on failure. */
struct apid_hostview *apid_hostview_get(struct apid *a, int64_t now,
                                        int *ret);
void apid_hostview_put(struct apid_hostview *v);

/* host's list: the text GET /v1/hosts/{host}/grants answers (malloc'd,
 * byte for byte what rendering apid_store_host_grants' grants with
 * apid_host_grant_json gives), its ETag ("\"" 32 hex digits "\""; the
 * same iff the text is), and when the first of its grants ends
 * (INT64_MAX: none).  text NULL: the ETag and end only. */
int apid_hostview_list(const struct apid_hostview *v, const char *host,
                       char **text, char etag[80], int64_t *next_end);

/* The ETag of a host's list as the view computes it, from the list's
 * grants rendered one by one (apid_host_grant_json) for a host named ""
 * (for tests: the reference the view must agree with). */
int apid_hostview_etag(const char *host, char *const *grant_texts, size_t n,
                       char etag[80]);

#endif
