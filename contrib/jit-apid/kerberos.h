/* SPDX-License-Identifier: MIT */
/*
 * Hosts and people authenticated by Kerberos: "Authorization: Negotiate
 * <token>" (RFC 4559; SPNEGO or a bare Kerberos token), checked against
 * the keys of the service principals in krb5_keytab.  A host is the
 * client principal host/<host>@<krb5_realm>; no other principal names a
 * host.  A person is a principal of krb5_realm with one component
 * (alice@<krb5_realm>), whom the people file must name (auth.h).  One round
 * only: the client sends its token with the request (TLS has already
 * authenticated the server, so no mutual authentication is asked for).
 */
#ifndef APID_KERBEROS_H
#define APID_KERBEROS_H

#include <stddef.h>

/* The host that authorization authenticates, in a new string, or NULL
 * with why set (not Negotiate, bad base64, a token the keytab's keys do
 * not open, a replay, a client that is not host/...@realm). */
char *apid_krb5_host(const char *keytab, const char *realm,
                     const char *authorization, char *why, size_t whylen);

/* The person's principal that authorization authenticates ("alice@REALM",
 * as MIT unparses it), in a new string, or NULL with why set: as for a
 * host, and a principal of another realm or of more than one component
 * (host/..., HTTP/..., alice/admin). */
char *apid_krb5_person(const char *keytab, const char *realm,
                       const char *authorization, char *why, size_t whylen);

/* Whether the keytab can be used as an acceptor at all (--check). */
int apid_krb5_check(const char *keytab, char *err, size_t errlen);

#endif
