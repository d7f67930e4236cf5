/* SPDX-License-Identifier: MIT */
/*
 * The JIT API client (doc/design.md, "The contract between hosts and
 * jit-apid"): libcurl and jansson, TLS always verified, every call bounded
 * by the configured timeouts and body size.
 *
 * Every failure is one of a few stable reasons, which the audit trail
 * records as they are (reason=...); the detail is for the debug log.
 */
#ifndef JIT_API_H
#define JIT_API_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "core/conf.h"
#include "core/grant.h"

#pragma GCC visibility push(hidden)

enum jit_api_status {
    JIT_API_OK = 0,
    JIT_API_NOT_FOUND,   /* 404: no active grant */
    JIT_API_NOT_MODIFIED, /* 304 to a conditional list request */
    JIT_API_FAULT,       /* anything else: see reason */
    JIT_API_WOKEN,       /* a long poll ended by the wake fd: no answer,
                            and no fault either */
};

struct jit_api_error {
    const char *reason; /* stable: config_error, token_error, key_error,
                           krb5_error,
                           unreachable,
                           timeout, tls_error, http_error, too_large,
                           busy (the list: 429 or 503),
                           malformed, internal_error; in pam_jit_login.so
                           also backend_error (pam_jit_net.so not
                           loadable, lib/login/net.h) */
    char detail[256];
    long http; /* with http_error: the status the server answered */
};

/* What the HTTP status of an answer means, before its body is read:
 * JIT_API_OK for 200 (the body decides), JIT_API_NOT_FOUND for a 404 to
 * a grant by name (no active grant: the login is refused),
 * JIT_API_NOT_MODIFIED for a 304 to a list, "busy" for a 429 or 503 to a
 * list (the daemon pauses and asks again; nothing on the host changes),
 * and "http_error" for anything else; err->http is the status with
 * every fault. */
enum jit_api_call {
    JIT_API_CALL_GRANT,  /* GET grants/{username} */
    JIT_API_CALL_LIST,   /* GET grants */
    JIT_API_CALL_EVENTS, /* POST events */
};
enum jit_api_status jit_api_answer(enum jit_api_call call, long http,
                                   struct jit_api_error *err);

/* A fault: err->reason (one of the stable strings above, a literal),
 * err->detail formatted.  Returns JIT_API_FAULT. */
enum jit_api_status jit_api_fault(struct jit_api_error *err,
                                  const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The answer to GET grants/{username} (status http, body of len bytes,
 * NULL for none): JIT_API_OK with *g a grant that passed jit_grant_parse,
 * JIT_API_NOT_FOUND, or a fault (http_error, malformed).  The one place
 * that reads it, whoever made the call (api_answer.c: no libcurl). */
enum jit_api_status jit_api_grant_answer(long http, const char *body,
                                         size_t len, struct jit_grant *g,
                                         struct jit_api_error *err);

/* s as one of the stable reasons (the static string), or NULL when it is
 * none of them. */
const char *jit_api_reason(const char *s);

/* GET /v1/hosts/{host}/grants/{username}.  On JIT_API_OK *g holds a grant
 * that passed jit_grant_parse (the caller still checks that it fits). */
enum jit_api_status jit_api_get_grant(const struct jit_conf *conf,
                                      const char *username,
                                      struct jit_grant *g,
                                      struct jit_api_error *err);

/* GET grants/{username}, the transport alone: JIT_API_OK when the API
 * answered, with *http its status and *body (malloc'd, NUL-terminated,
 * NULL when empty) of *len bytes; a fault otherwise.  For jitctl daemon,
 * which asks on behalf of a login (lib/daemon/relay.c). */
struct jit_api;
enum jit_api_status jit_api_fetch_grant(const struct jit_conf *conf,
                                        struct jit_api *api,
                                        const char *username, long *http,
                                        char **body, size_t *len,
                                        struct jit_api_error *err);

/* A connection kept between calls (pam_jit's account and session steps
 * in one PAM handle): the second call skips the TCP and TLS handshakes.
 * Not to be shared between threads. */
struct jit_api;
struct jit_api *jit_api_new(void);
void jit_api_free(struct jit_api *api);
enum jit_api_status jit_api_get_grant_with(const struct jit_conf *conf,
                                           struct jit_api *api,
                                           const char *username,
                                           struct jit_grant *g,
                                           struct jit_api_error *err);

/* GET /v1/hosts/{host}/grants[?wait=S], with If-None-Match when etag_in
 * is set.  On JIT_API_OK the list (its entries that passed and those
 * that did not; see jit_grant_list_parse) and the new ETag (malloc'd, may
 * be NULL) are the caller's.  Only a broken envelope is "malformed".
 * With S > 0 and a wake fd set, JIT_API_WOKEN when that fd turned
 * readable first. */
enum jit_api_status jit_api_list_grants(const struct jit_conf *conf,
                                        const char *etag_in,
                                        unsigned wait_s,
                                        struct jit_grant_list *l,
                                        char **etag_out,
                                        struct jit_api_error *err);

/* POST /v1/hosts/{host}/events with body ({"events": [...]}); on
 * JIT_API_OK *accepted is the server's count. */
enum jit_api_status jit_api_post_events(const struct jit_conf *conf,
                                        const char *body, size_t len,
                                        long *accepted,
                                        struct jit_api_error *err);

/* GET /v1/hosts/{host}/grants once, for jitctl doctor: JIT_API_OK when
 * the server answered at all, with *http its status (whatever it was)
 * and *date its Date header (-1: none); a fault otherwise. */
enum jit_api_status jit_api_probe(const struct jit_conf *conf, long *http,
                                  int64_t *date, struct jit_api_error *err);

/* libcurl's global set-up, once per process (every call makes it too):
 * for a program about to start threads, since it may touch the
 * environment (SSLKEYLOGFILE, see api.c). */
void jit_api_init(void);

/* A flag (raised by a signal handler) that cancels a transfer in
 * progress, with reason "cancelled"; NULL for none.  For jitctl daemon's
 * own calls, which pass no kept connection: a call with one (api !=
 * NULL, the relay's threads) is never cancelled, since the flag is the
 * main thread's.  Set while the daemon has one thread. */
void jit_api_set_cancel(volatile sig_atomic_t *flag);

/* An fd whose turning readable ends a long poll in progress (with
 * JIT_API_WOKEN) once it has run grace_ms; -1 for none.  For jitctl
 * daemon (its wake-up FIFO). */
void jit_api_set_wake(int fd, unsigned grace_ms);

#pragma GCC visibility pop

#endif
