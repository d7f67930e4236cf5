/* SPDX-License-Identifier: MIT */
/*
 * A login backend of another build (pam-backend.sh): the table pam_jit.so
 * asks for, with another version, as after a package upgrade half done.
 * pam_jit.so must refuse it before calling anything in it.
 */
#include "config.h"

#include <stdlib.h>

#include "login/backend.h"

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
