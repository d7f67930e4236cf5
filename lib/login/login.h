/* SPDX-License-Identifier: MIT */
/*
 * What pam_jit decides at each PAM step, independent of libpam: the glue
 * fills a jit_login from the PAM items and maps the verdict to a PAM code.
 */
#ifndef JIT_LOGIN_H
#define JIT_LOGIN_H

#include <stdint.h>

#include "core/api.h"
#include "core/audit.h"
#include "core/conf.h"
#include "core/grant.h"
#include "state/store.h"

#pragma GCC visibility push(hidden)

enum jit_verdict {
    JIT_ALLOW,
    JIT_DENY,
    JIT_IGNORE, /* not our user (doc/design.md, R7) */
};

/* The grant acct_mgmt allowed, kept by the caller for open_session of
 * the same handle: it is not asked of the API again if the session
 * opens within JIT_LOGIN_REUSE_S of that answer.  A revocation made in
 * between is the daemon's to enforce (pam_jit(8), open_session). */
#define JIT_LOGIN_REUSE_S 5

struct jit_login_checked {
    int valid;
    char *user;
    int64_t at;     /* CLOCK_MONOTONIC seconds */
    struct jit_grant g;
};

/* Forget what acct_mgmt kept (for the caller's cleanup). */
void jit_login_checked_clear(struct jit_login_checked *c);

struct jit_login {
    const struct jit_conf *conf;
    const char *user, *service, *rhost, *tty;
    struct jit_log log;
    /* A connection to reuse between steps, or NULL for a new one. */
    struct jit_api *api;
    /* pam_jit.so's: where the backend was loaded from (pam_jit_net.so is
     * beside it, lib/login/net.h); NULL elsewhere. */
    const char *backend_path;
    /* Where the caller keeps the store between steps (opened here on
     * first need, never closed here; it refers to conf, which must live
     * as long), or NULL to open and close it in each step. */
    struct jit_store **store_slot;
    /* Where the caller keeps acct_mgmt's answer for open_session, or
     * NULL: each step asks the API. */
    struct jit_login_checked *checked;
    /* NULL: ask NSS (tests replace it, see store.h). */
    const struct jit_store_host *host;
    /* Out: the audit reason of the last decision (static string). */
    const char *reason;
    /* close_session: this process is in another mount namespace than
     * when the session opened (pam_namespace's, after pam_jit): the
     * shared directories the teardown scrubs are not visible here, so a
     * last logout leaves the teardown to the reaper. */
    int foreign_mount_ns;
    /* auth: ask the person for a password with this prompt, echo off.
     * 0 with *answer a malloc'd NUL-terminated string, which the caller
     * wipes and frees; -errno when there is none. */
    int (*ask)(void *ctx, const char *prompt, char **answer);
    void *ask_ctx;
    /* Out, auth: the denial is about the password; the application's own
     * words ("Sorry, try again.") say it, not JIT_DENIED_MESSAGE. */
    int quiet;
};

enum jit_verdict jit_login_account(struct jit_login *l);
enum jit_verdict jit_login_open_session(struct jit_login *l);
enum jit_verdict jit_login_close_session(struct jit_login *l);
/* auth (lib/login/auth.c): the live grant, then the proof auth_proof
 * asks for; JIT_IGNORE for a user another source owns. */
enum jit_verdict jit_login_authenticate(struct jit_login *l);
/* setcred: nothing to set (no ticket is stored); JIT_IGNORE for a user
 * another source owns, JIT_ALLOW for ours. */
enum jit_verdict jit_login_setcred(struct jit_login *l);

/* No configuration file (doc/design.md, R16): JIT_IGNORE for a user that
 * is not in our snapshot, JIT_DENY (audited under event) for one that is.
 * l->conf holds the built-in defaults. */
enum jit_verdict jit_login_unconfigured(struct jit_login *l, const char *event);

/* The one message a denied user sees: the same for "no grant" and
 * "no such user", so that it tells nobody which names exist. */
#define JIT_DENIED_MESSAGE "Access denied: no active access grant for this account."

#pragma GCC visibility pop

#endif
