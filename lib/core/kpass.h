/* SPDX-License-Identifier: MIT */
/*
 * A person's domain password checked at the KDC, for pam_jit's auth step
 * (doc/design.md, "Proving who asks: pam_jit's auth step").
 *
 * Initial credentials are asked for the grant's requester with the
 * password, then verified against the host's own keytab
 * (krb5_verify_init_creds, failure on any missing key): a KDC that
 * knows the password but not the host key (a spoofed one) authenticates
 * nobody (doc/design.md, threat A6).  The Kerberos context is a secure
 * one: nothing is taken from the environment of a setuid caller.
 */
#ifndef JIT_KPASS_H
#define JIT_KPASS_H

#include <stddef.h>

#include "core/conf.h"

#pragma GCC visibility push(hidden)

/* The longest password accepted, in bytes: Linux-PAM's
 * PAM_MAX_RESP_SIZE, the bound pam_unix keeps too.  A longer one is
 * refused before any Kerberos work (doc/design.md, threat A7). */
#define JIT_PASSWORD_MAX 512

/* NULL if a password of this many bytes may be tried, else the audit
 * reason: "password_empty" or "password_too_long".  Reads at most
 * JIT_PASSWORD_MAX + 1 bytes of pw, which is NUL-terminated. */
const char *jit_password_problem(const char *pw);

/* Check pw for requester (a principal that must carry a realm,
 * "alice@EXAMPLE.COM") at its KDC and verify the ticket against the
 * host keytab (krb5_keytab) for the host principal (krb5_principal, else
 * host/<host>).  Returns 0 when verified; otherwise -EACCES (the person's
 * doing or the KDC's answer) or another -errno (the host's), with
 * *reason a stable audit reason: no_realm, no_keytab, keytab_error,
 * password_wrong, principal_unknown, password_expired,
 * principal_locked, kdc_unreachable, verify_failed, krb5_error (and, in
 * pam_jit_login.so, backend_error: pam_jit_net.so not loadable); err says
 * what in Kerberos' words (never the password). */
int jit_kpass_verify(const struct jit_conf *c, const char *requester,
                     const char *pw, const char **reason, char *err,
                     size_t errlen);

#pragma GCC visibility pop

#endif
