/* SPDX-License-Identifier: MIT */
/*
 * pam_jit_login.so: the login steps of lib/login/ behind the one table
 * pam_jit.so asks for (lib/login/backend.h; doc/design.md, F7).  Loaded
 * only for a user that may be ours, so that the libraries these steps
 * need (SQLite, jansson) are not loaded into every sudo, su and cron of a
 * local user; libcurl and libkrb5 are further off, in pam_jit_net.so,
 * loaded only to ask the API without jitctl daemon or to check a
 * password (lib/login/net.h).  Glue only (doc/design.md, R6).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "login/backend.h"
#include "login/login.h"
#include "login/net.h"
#include "state/store.h"

struct state {
    struct jit_store *store;
    struct jit_login_checked checked;
};

static void *
state_new(void)
{
    /* No API connection kept: the relay keeps the daemon's, and a login
     * asking itself (no daemon) asks once (open_session reuses the
     * answer). */
    return calloc(1, sizeof(struct state));
}

static void
state_free(void *state, int own)
{
    struct state *st = state;

    if (st == NULL)
        return;
    if (own)
        jit_store_close(st->store);
    jit_login_checked_clear(&st->checked);
    free(st);
}

static enum jit_verdict
step(enum jit_step which, struct jit_login *l, void *state)
{
    struct state *st = state;

    l->api = NULL;
    jit_net_locate(l->backend_path);
    l->store_slot = &st->store;
    l->checked = &st->checked;
    switch (which) {
    case JIT_STEP_AUTH:
        return jit_login_authenticate(l);
    case JIT_STEP_SETCRED:
        return jit_login_setcred(l);
    case JIT_STEP_ACCOUNT:
        return jit_login_account(l);
    case JIT_STEP_OPEN_SESSION:
        return jit_login_open_session(l);
    case JIT_STEP_CLOSE_SESSION:
        return jit_login_close_session(l);
    }
    return JIT_DENY;
}

__attribute__((visibility("default")))
const struct jit_backend jit_login_backend = {
    .version = PACKAGE_VERSION,
    .login_size = sizeof(struct jit_login),
    .conf_size = sizeof(struct jit_conf),
    .state_new = state_new,
    .state_free = state_free,
    .step = step,
};
