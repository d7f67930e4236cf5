/* SPDX-License-Identifier: MIT */
/*
 * Kerberos host authentication to the JIT API: an HTTP "Negotiate"
 * (RFC 4559, SPNEGO) token per request, made from the host's own key.
 *
 * The host's principal is krb5_principal (default host/<host>), its key
 * comes from krb5_keytab, and the tickets obtained with it are kept in
 * krb5_ccache (default FILE:<state_dir>/krb5cc_host, root's), so that a
 * login costs no round trip to the KDC while the ticket lasts.  Nothing is
 * taken from the environment that a setuid caller's user could set:
 * credentials are named explicitly (gss_acquire_cred_from), never by
 * KRB5CCNAME or KRB5_CLIENT_KTNAME, and libkrb5 itself ignores
 * KRB5_CONFIG in a setuid process.
 */
#ifndef JIT_NEGOTIATE_H
#define JIT_NEGOTIATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/conf.h"

#pragma GCC visibility push(hidden)

/* "Negotiate <base64 token>" for the service krb5_service@server (server:
 * the API URL's host name), in a new string; NULL with err set on any
 * failure (no keytab, no key for the principal, KDC unreachable, no
 * service principal...). */
char *jit_negotiate_header(const struct jit_conf *c, const char *server,
                           char *err, size_t errlen);

/* The same for a person: from the caller's own ticket cache (KRB5CCNAME,
 * else the default; after kinit), never a keytab.  service: "HTTP@host".
 * For jit(1), an ordinary user's program, not a setuid one. */
char *jit_negotiate_user_header(const char *service, char *err,
                                size_t errlen);

/* err = "what: " and the GSS-API's words for a failure: the mechanism's
 * (Kerberos') message when there is one, else the generic one. */
void jit_gss_why(const char *what, uint32_t major, uint32_t minor, char *err,
                 size_t errlen);

/* Standard base64 of len bytes, in a new string (NULL: out of memory). */
char *jit_base64(const unsigned char *data, size_t len);

#pragma GCC visibility pop

#endif
