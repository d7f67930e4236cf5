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

#include <syslog.h>

#include "login/login_impl.h"

enum jit_verdict
jit_login_unconfigured(struct jit_login *l, const char *event)
{
    switch (jit_login_owner(l, NULL)) {
    case JIT_OWNER_OTHER:
    case JIT_OWNER_NONE:
        l->reason = "not_configured";
        return JIT_IGNORE;
    case JIT_OWNER_OURS:
        jit_login_audit(l, LOG_ERR, event, "deny", "not_configured", NULL);
        return JIT_DENY;
    default:
        jit_login_audit(l, LOG_ERR, event, "deny", "nss_error", NULL);
        return JIT_DENY;
    }
}
