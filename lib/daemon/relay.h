/* SPDX-License-Identifier: MIT */
/*
 * jitctl daemon's side of the login relay (core/relay_proto.h): a thread
 * that accepts on state_dir/relay and one thread per request, each on an
 * API connection kept from one request to the next.  The configuration
 * is read under conf_lock, held for reading only to compare a request's
 * settings and copy what the call needs; the daemon holds it for writing
 * while it reloads.
 */
#ifndef JIT_DAEMON_RELAY_H
#define JIT_DAEMON_RELAY_H

#include <pthread.h>
#include <stddef.h>

#include "core/audit.h"
#include "core/conf.h"

#pragma GCC visibility push(hidden)

/* Requests answered at once, at most; one more is refused (its login
 * calls the API itself). */
#define JIT_RELAY_MAX_INFLIGHT 32

struct jit_relay;

/* Listen on JIT_RELAY_SOCKET in dirfd (the state directory; whatever was
 * at that name goes, as with the wake-up FIFO) and start serving.  0 with
 * *out set, or -errno with err set; nothing is left running then. */
int jit_relay_start(int dirfd, const struct jit_conf *conf,
                    pthread_rwlock_t *conf_lock, const struct jit_log *log,
                    struct jit_relay **out, char *err, size_t errlen);

/* The configuration was reloaded: the kept connections go (the next
 * requests make new ones, under the new trust).  Called with conf_lock
 * held for writing.  NULL: nothing. */
void jit_relay_reloaded(struct jit_relay *r);

/* Stop accepting, wait for the requests in progress (each bounded by the
 * API's timeouts and a second for the request; the Kerberos token is
 * libkrb5's to bound), remove the socket and free everything.  NULL:
 * nothing. */
void jit_relay_stop(struct jit_relay *r);

#pragma GCC visibility pop

#endif
