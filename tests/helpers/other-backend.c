/* SPDX-License-Identifier: MIT */
/*
 * A login backend of another build (pam-backend.sh): the table pam_jit.so
 * asks for, with another version, as after a package upgrade half done.
 * pam_jit.so must refuse it before calling anything in it.  The same
 * file stands for a pam_jit_net.so of another build: its table too.
 */
#include "config.h"

#include <stdlib.h>

#include "login/backend.h"
#include "login/net.h"

static void *
state_new(void)
{
    abort();
}

const struct jit_backend jit_login_backend = {
    .version = "0.0.0-another-build",
    .login_size = sizeof(struct jit_login),
    .conf_size = sizeof(struct jit_conf),
    .state_new = state_new,
};

static enum jit_api_status
get_grant_with(const struct jit_conf *conf, struct jit_api *api,
               const char *username, struct jit_grant *g,
               struct jit_api_error *err)
{
    (void) conf;
    (void) api;
    (void) username;
    (void) g;
    (void) err;
    abort();
}

const struct jit_net jit_login_net = {
    .version = "0.0.0-another-build",
    .table_size = sizeof(struct jit_net),
    .get_grant_with = get_grant_with,
};
