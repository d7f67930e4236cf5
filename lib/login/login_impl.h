/* SPDX-License-Identifier: MIT */
/*
 * What the PAM steps in lib/login/ share (login.c's account and session
 * steps, auth.c's authentication): whose user it is, the grant asked of
 * the API live, and the audit line.  Included only by lib/login/.
 */
#ifndef JIT_LOGIN_IMPL_H
#define JIT_LOGIN_IMPL_H

#include <sys/types.h>

#include "login/login.h"

#pragma GCC visibility push(hidden)

/* Whose user is this (doc/design.md, R7): ours (in our snapshot), another
 * source's, nobody's (no source knows the name), or the lookup failed. */
enum jit_owner {
    JIT_OWNER_OURS,
    JIT_OWNER_OTHER,
    JIT_OWNER_NONE,
    JIT_OWNER_ERROR,
};
/* Who owns l->user; *uid (may be NULL) is the uid NSS resolves it to,
 * set when it resolves. */
enum jit_owner jit_login_owner(struct jit_login *l, uid_t *uid);
/* What pam_jit.so answers PAM_IGNORE for before it loads the backend
 * (doc/design.md, F7), as the steps themselves would: another source's
 * user at every step; at close_session (closing) anyone not ours. */
int jit_login_not_ours(struct jit_login *l, int closing);

/* The user's grant, asked of the API now, and whether it fits this user
 * on this host now.  JIT_ALLOW with *g filled (the caller frees it), or
 * JIT_DENY with the denial audited under event (and, for one of our
 * accounts, put in the outbox as login.denied). */
enum jit_verdict jit_login_live_grant(struct jit_login *l, const char *event,
                                      int ours, struct jit_grant *g);

/* Whether an admin revoked this grant on this host (jitctl revoke): 1,
 * 0, or -errno when the store cannot tell. */
int jit_login_revoked_locally(struct jit_login *l, const char *grant_id);

/* One audit line (and l->reason = reason); g may be NULL. */
void jit_login_audit(struct jit_login *l, int prio, const char *event,
                     const char *result, const char *reason,
                     const struct jit_grant *g);

#pragma GCC visibility pop

#endif
