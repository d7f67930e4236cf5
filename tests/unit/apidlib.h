/* SPDX-License-Identifier: MIT */
/* A jit-apid without its transport, for the unit test and the fuzz
 * target: an SQLite store in a directory of its own, the policies, hosts
 * and people below, and requests handed to apid_route as server.c would
 * hand them. */
#ifndef JIT_APIDLIB_H
#define JIT_APIDLIB_H

#include <stddef.h>

#include "contrib/jit-apid/api.h"

#define TA_HOST1 "Bearer host-token-web01-xxxxxxxx"
#define TA_HOST2 "Bearer host-token-web02-xxxxxxxx"
#define TA_ALICE "Bearer alice-token-xxxxxxxxxx"
#define TA_BOSS "Bearer boss-token-xxxxxxxxxxx"
#define TA_ROOT "Bearer root-token-xxxxxxxxxxx"

/* Policies: "wide" (db-admin on web01.test and web02.test, auto, the
 * groups of ta_groups), "pend" (root-ish on web01.test, by an approver,
 * {user}-adm).  0 or -1 with err. */
int ta_open(struct apid *a, const char *dir, char *err, size_t errlen);
void ta_close(struct apid *a);

/* The groups "wide" allows, edge cases of the group rule included. */
extern const char *const ta_groups[];
extern const size_t ta_n_groups;

/* One request; the reply in r (r->body freed by the caller). */
void ta_call(struct apid *a, const char *method, const char *url,
             const char *authz, const char *inm, const char *body,
             size_t len, struct apid_reply *r);

/* The number of grants stored. */
size_t ta_count(struct apid *a);

#endif
