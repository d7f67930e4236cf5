/* SPDX-License-Identifier: MIT */
/*
 * pam_jit's auth step, for sudo and consoles (doc/design.md, "Proving who
 * asks: pam_jit's auth step"): a JIT account's grant is asked of the API
 * live, so that a revocation refuses the next sudo even in a shell opened
 * before it; then, with auth_proof = password, the person behind the
 * grant proves who they are with their domain password, checked at the
 * KDC for the grant's requester and verified against the host keytab
 * (lib/core/kpass.c).  A user another source owns is not ours: ignored.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "core/kpass.h"
#include "core/validate.h"
#include "login/login.h"
#include "login/login_impl.h"

/* The person's answer to prompt in *pw (wiped and freed by the caller
 * with drop_password), or the audit reason why there is none. */
static const char *
ask_password(struct jit_login *l, const char *prompt, char **pw)
{
    *pw = NULL;
    if (l->ask == NULL || l->ask(l->ask_ctx, prompt, pw) != 0 || *pw == NULL)
        return "no_password";
    return NULL;
}

static void
drop_password(char **pw)
{
    if (*pw == NULL)
        return;
    explicit_bzero(*pw, strlen(*pw));
    free(*pw);
    *pw = NULL;
}

/* A denial of the auth step, audited; about the password: quiet. */
static enum jit_verdict
refuse(struct jit_login *l, const char *reason, const struct jit_grant *g,
       int quiet)
{
    jit_login_audit(l, LOG_NOTICE, "auth", "deny", reason, g);
    l->quiet = quiet;
    return JIT_DENY;
}

enum jit_verdict
jit_login_authenticate(struct jit_login *l)
{
    struct jit_grant g = { 0 };
    enum jit_verdict v = JIT_DENY;
    const char *why;
    char *pw = NULL, *prompt = NULL;
    char err[512];
    uid_t uid = 0;
    int ours, holder;

    l->quiet = 0;
    switch (jit_login_owner(l, &uid)) {
    case JIT_OWNER_OTHER:
        l->reason = "other_source";
        return JIT_IGNORE;
    case JIT_OWNER_ERROR:
        return refuse(l, "nss_error", NULL, 0);
    case JIT_OWNER_OURS:
        ours = 1;
        break;
    default:
        ours = 0;
    }
    /* Whoever is not the account already (a console's login; a name no
     * source knows, which may be a JIT account not created yet) is asked
     * a password before anything else, as pam_unix asks one of any name:
     * what the prompt says, or that there is one, would otherwise tell
     * a stranger which names are JIT accounts, whether their grants
     * stand and whose they are (doc/design.md, threat G4). */
    /* The account itself: sudo (setuid) run from one of its sessions,
     * where the real uid is the account's; a console's login, or any
     * caller running as root, is not. */
    holder = ours && uid == getuid() && uid != 0;
    if (!holder && (why = ask_password(l, "Password: ", &pw)) != NULL) {
        v = refuse(l, why, NULL, 1);
        goto done;
    }
    if (geteuid() != 0) {
        v = refuse(l, "not_root", NULL, 0);
        goto done;
    }
    if (jit_name_problem(l->user) != NULL) {
        v = refuse(l, "bad_name", NULL, 0);
        goto done;
    }
    /* Live, never from the store: a grant revoked a second ago refuses
     * this sudo, whatever the daemon has seen. */
    if ((v = jit_login_live_grant(l, "auth", ours, &g)) != JIT_ALLOW)
        goto done;
    /* jitctl revoke is for good, whatever the API says (as in the account
     * step). */
    switch (jit_login_revoked_locally(l, g.id)) {
    case 0:
        break;
    case 1:
        v = refuse(l, "revoked_locally", &g, 0);
        goto done;
    default:
        v = refuse(l, "store_error", &g, 0);
        goto done;
    }
    /* The live grant alone proves nothing of who is at a console: it is
     * enough only for the account itself (sudo in one of its sessions,
     * which its key or ticket opened). */
    if (l->conf->auth_proof == JIT_AUTH_GRANT) {
        if (!holder) {
            v = refuse(l, "grant_needs_session", &g, 1);
            goto done;
        }
        jit_login_audit(l, LOG_NOTICE, "auth", "allow", "grant", &g);
        v = JIT_ALLOW;
        goto done;
    }
    if (pw == NULL) {
        /* Whose password: the person's, not the account's (which has
         * none).  The requester passed jit_text_problem: no control
         * character reaches the terminal. */
        if (asprintf(&prompt, "Password for %s: ", g.requester) < 0) {
            prompt = NULL;
            v = refuse(l, "out_of_memory", &g, 0);
            goto done;
        }
        if ((why = ask_password(l, prompt, &pw)) != NULL) {
            v = refuse(l, why, &g, 1);
            goto done;
        }
    }
    /* Before any Kerberos work, so a megabyte costs nothing
     * (doc/design.md, threat A7). */
    if ((why = jit_password_problem(pw)) != NULL) {
        v = refuse(l, why, &g, 1);
        goto done;
    }
    if (jit_kpass_verify(l->conf, g.requester, pw, &why, err,
                         sizeof(err)) != 0) {
        jit_logf(&l->log, LOG_NOTICE, "auth of %s as %s: %s", l->user,
                 g.requester, err);
        v = refuse(l, why, &g, 1);
        goto done;
    }
    jit_login_audit(l, LOG_NOTICE, "auth", "allow", "password", &g);
    v = JIT_ALLOW;

done:
    drop_password(&pw);
    free(prompt);
    jit_grant_free(&g);
    return v;
}

enum jit_verdict
jit_login_setcred(struct jit_login *l)
{
    enum jit_owner o = jit_login_owner(l, NULL);

    if (o == JIT_OWNER_OTHER) {
        l->reason = "other_source";
        return JIT_IGNORE;
    }
    return o == JIT_OWNER_ERROR ? JIT_DENY : JIT_ALLOW;
}
