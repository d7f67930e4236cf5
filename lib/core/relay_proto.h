/* SPDX-License-Identifier: MIT */
/*
 * The login relay (doc/design.md, F8): jitctl daemon asks the API for a
 * login's grant on a connection it keeps, so that the login in sshd's
 * process neither loads a TLS library nor makes a TLS handshake.  A
 * stream socket, state_dir/relay, root's with mode 0600; each side checks
 * that the other is root (SO_PEERCRED).  One request per connection:
 *
 *   "grant USER N\n" then N bytes: the caller's settings (below)
 *
 * and one answer, after "taken\n" once the daemon has checked the request
 * (within a second: a login does not wait on a daemon stopped or stuck):
 *
 *   "answer HTTP LEN\n" then LEN bytes: the API's status and body
 *   "fault REASON DETAIL\n": the API was not reached (REASON as api.h's)
 *   "refused WHY\n": not asked (settings differ, bad request, too busy);
 *                    the login calls the API itself
 *
 * The daemon answers only a caller whose API settings are its own, since
 * pam_jit's arguments may name another API, host or credential.
 */
#ifndef JIT_RELAY_PROTO_H
#define JIT_RELAY_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "core/conf.h"

#pragma GCC visibility push(hidden)

#define JIT_RELAY_SOCKET "relay"
/* The request's header line and settings, at most. */
#define JIT_RELAY_LINE_MAX 512
#define JIT_RELAY_SETTINGS_MAX 16384

/* Every setting that shapes a call of the API (where, as whom, with what
 * bounds), each "key\0value\0", in a fixed order: two configurations make
 * the same call exactly when these bytes are equal.  malloc'd; NULL when
 * out of memory or longer than JIT_RELAY_SETTINGS_MAX. */
char *jit_relay_settings(const struct jit_conf *c, size_t *len);

/* For both ends, on a non-blocking socket: wait until fd is ready for
 * events, or until deadline (jit_mono_ms) passes: 0 or -1. */
int jit_relay_wait(int fd, short events, int64_t deadline);
/* All n bytes of p, by deadline: 0 or -1. */
int jit_relay_send(int fd, const char *p, size_t n, int64_t deadline);

#pragma GCC visibility pop

#endif
