/* SPDX-License-Identifier: MIT */
/*
 * Between pam_jit_login.so and pam_jit_net.so (doc/design.md, F8): the
 * login backend links no TLS, HTTP or Kerberos library, since a login
 * asks the API through jitctl daemon's relay.  When it must call the API
 * itself (no daemon) or check a password at the KDC, it loads
 * pam_jit_net.so from beside itself, checked and loaded as pam_jit.so
 * loads the backend (lib/login/backend.c), and calls it through this
 * table.  Both are of one build: the table's version and sizes say so.
 */
#ifndef JIT_LOGIN_NET_H
#define JIT_LOGIN_NET_H

#include <stddef.h>

#include "core/api.h"
#include "core/conf.h"
#include "core/grant.h"

#pragma GCC visibility push(hidden)

#define JIT_NET_FILE "pam_jit_net.so"
#define JIT_NET_SYMBOL "jit_login_net"

/* version stays the first field for ever. */
struct jit_net {
    const char *version;  /* PACKAGE_VERSION of its build */
    size_t table_size;    /* sizeof(struct jit_net) */
    size_t conf_size;     /* sizeof(struct jit_conf) */
    size_t grant_size;    /* sizeof(struct jit_grant) */
    size_t error_size;    /* sizeof(struct jit_api_error) */
    enum jit_api_status (*get_grant_with)(const struct jit_conf *conf,
                                          struct jit_api *api,
                                          const char *username,
                                          struct jit_grant *g,
                                          struct jit_api_error *err);
    int (*kpass_verify)(const struct jit_conf *c, const char *requester,
                        const char *pw, const char **reason, char *err,
                        size_t errlen);
};

/* Where pam_jit_net.so is: beside the backend at backend_path (its
 * directory), for the rest of the process.  The first call decides. */
void jit_net_locate(const char *backend_path);

/* The path of pam_jit_net.so beside backend_path (malloc'd), or NULL
 * (no directory in it, or out of memory).  For jitctl doctor too. */
char *jit_net_path(const char *backend_path);

/* The table, loading pam_jit_net.so on first need; NULL with why (size
 * bytes) saying what is wrong (the caller denies: backend_error). */
const struct jit_net *jit_net_get(char *why, size_t size);

#pragma GCC visibility pop

/* Defined in pam_jit/net.c, found by dlsym. */
extern __attribute__((visibility("default")))
const struct jit_net jit_login_net;

#endif
