/* SPDX-License-Identifier: MIT */
/*
 * jit-apid's TLS rules, apart from the server that applies them: the
 * protocol versions and suites it negotiates (tls_priority), and which
 * client certificate authenticates a host (jit-apid(8), "CLIENT
 * CERTIFICATES").
 */
#ifndef APID_TLS_H
#define APID_TLS_H

#include <stddef.h>

/* TLS 1.3, and TLS 1.2 with an ephemeral key exchange and an AEAD
 * cipher only: no TLS 1.0/1.1, no static RSA (no forward secrecy), no
 * CBC (its padding oracles), no CCM (a client with nothing better is not
 * one of ours). */
#define APID_TLS_PRIORITY_DEFAULT                                             \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"                              \
    ":-KX-ALL:+ECDHE-RSA:+ECDHE-ECDSA"                                       \
    ":-CIPHER-ALL:+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-GCM"               \
    ":-MAC-ALL:+AEAD"

/* 0 if GnuTLS takes s as a priority string; else -EINVAL, and err says
 * where it stopped reading. */
int apid_tls_priority_check(const char *s, char *err, size_t errlen);

/* Whether the client certificate of session (a gnutls_session_t whose
 * credentials trust client_ca) authenticates host: 0 if it does;
 * -ENOENT if the client sent none; -EACCES with why set if it is
 * refused. */
int apid_tls_client_host(void *session, const char *host, char *why,
                         size_t whylen);

#endif
