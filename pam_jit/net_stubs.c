/* SPDX-License-Identifier: MIT */
/*
 * In pam_jit_login.so only: the API client's and the KDC check's entry
 * points that the login steps call, forwarded to pam_jit_net.so, loaded
 * on the first call (lib/login/net.h).  jitctl and the tests link the
 * real ones (lib/libjitapi.la) instead.  Glue only.
 */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "core/api.h"
#include "core/kpass.h"
#include "login/net.h"

enum jit_api_status
jit_api_get_grant_with(const struct jit_conf *conf, struct jit_api *api,
                       const char *username, struct jit_grant *g,
                       struct jit_api_error *err)
{
    char why[256];
    const struct jit_net *n = jit_net_get(why, sizeof(why));

    if (n == NULL) {
        memset(g, 0, sizeof(*g));
        return jit_api_fault(err, "backend_error", "%s", why);
    }
    return n->get_grant_with(conf, api, username, g, err);
}

int
jit_kpass_verify(const struct jit_conf *c, const char *requester,
                 const char *pw, const char **reason, char *err,
                 size_t errlen)
{
    const struct jit_net *n = jit_net_get(err, errlen);

    if (n == NULL) {
        *reason = "backend_error";
        return -EIO;
    }
    return n->kpass_verify(c, requester, pw, reason, err, errlen);
}
