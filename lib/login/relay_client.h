/* SPDX-License-Identifier: MIT */
/*
 * The login's side of the relay (core/relay_proto.h): the grant asked of
 * jitctl daemon, with no TLS in this process.
 */
#ifndef JIT_RELAY_CLIENT_H
#define JIT_RELAY_CLIENT_H

#include <stddef.h>

#include "core/api.h"
#include "core/conf.h"
#include "core/grant.h"

#pragma GCC visibility push(hidden)

/* 0 when the daemon answered for the API: *st is what jit_api_get_grant
 * would have returned, with *g or *err as it fills them (the API's answer
 * read by the same code, so the verdict is the same).  -1 when there was
 * no answer to take (no daemon, another configuration, the daemon busy,
 * stopping or silent past the API's timeout): the caller asks the API
 * itself; why says why, for the debug log. */
int jit_relay_get_grant(const struct jit_conf *conf, const char *user,
                        struct jit_grant *g, struct jit_api_error *err,
                        enum jit_api_status *st, char *why, size_t whylen);

#pragma GCC visibility pop

#endif
