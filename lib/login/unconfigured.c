/* SPDX-License-Identifier: MIT */
/*
 * pam_jit on a host that has the package but no jit.conf yet
 * (doc/design.md, R16): the Debian profile puts the module in every
 * stack at install, before an administrator has configured it, and
 * local users must go on logging in.  Users of other sources are
 * ignored; a name our own snapshot still lists (an earlier
 * configuration's account) is refused, since nothing can check its
 * grant.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "login/login_impl.h"

enum jit_verdict
jit_login_unconfigured(struct jit_login *l, const char *event)
{
    char *pw = NULL;
    uid_t uid = 0;

    switch (jit_login_owner(l, &uid)) {
    case JIT_OWNER_OTHER:
    case JIT_OWNER_NONE:
        l->reason = "not_configured";
        return JIT_IGNORE;
    case JIT_OWNER_OURS:
        /* The auth step (l->ask set) asks its password first, as a
         * configured host does of anyone but the account itself: a
         * refusal with no prompt would tell a stranger at the login
         * prompt which names are JIT accounts (doc/design.md, G4).  The
         * answer is never looked at. */
        if (l->ask != NULL && !(uid == getuid() && uid != 0)
            && l->ask(l->ask_ctx, "Password: ", &pw) == 0 && pw != NULL) {
            explicit_bzero(pw, strlen(pw));
            free(pw);
        }
        jit_login_audit(l, LOG_ERR, event, "deny", "not_configured", NULL);
        return JIT_DENY;
    default:
        jit_login_audit(l, LOG_ERR, event, "deny", "nss_error", NULL);
        return JIT_DENY;
    }
}
