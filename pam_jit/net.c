/* SPDX-License-Identifier: MIT */
/*
 * pam_jit_net.so: the API client and the password check at the KDC, with
 * libcurl, OpenSSL and libkrb5, behind the one table pam_jit_login.so
 * asks for (lib/login/net.h).  Glue only.
 */
#include "config.h"

#include "core/api.h"
#include "core/kpass.h"
#include "login/net.h"

__attribute__((visibility("default")))
const struct jit_net jit_login_net = {
    .version = PACKAGE_VERSION,
    .table_size = sizeof(struct jit_net),
    .conf_size = sizeof(struct jit_conf),
    .grant_size = sizeof(struct jit_grant),
    .error_size = sizeof(struct jit_api_error),
    .get_grant_with = jit_api_get_grant_with,
    .kpass_verify = jit_kpass_verify,
};
