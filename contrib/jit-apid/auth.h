/* SPDX-License-Identifier: MIT */
/*
 * Who is asking.  Hosts: a bearer token from the host tokens file, or a
 * client certificate whose subject names the host.  People: a bearer
 * token from the people file, or a Kerberos ticket (kerberos.h) of the
 * principal the people file names, with a role.  Token files are root's,
 * not readable by others (checked), one entry per line:
 *
 *   host tokens:  <host> <token>
 *   people:       <person> <role> <token>    role: requester, approver, admin
 *                 <person> <role> -          Kerberos only
 *
 * A person named by a principal of krb5_realm with one component
 * ("alice@EXAMPLE.COM") also signs on with that principal's ticket, with
 * or without a token; "-" is only for such a name (a person without a
 * token and without a principal could never sign on: an error at load).
 * One name on two lines with two roles is an error too: a ticket would
 * not say which.
 *
 * A token is found by its SHA-256 digest (a binary search whose timing
 * tells nothing of the token) and then compared in constant time; one
 * token for two entries is refused at load.
 */
#ifndef APID_AUTH_H
#define APID_AUTH_H

#include <stddef.h>

enum apid_role { APID_REQUESTER = 1, APID_APPROVER = 2, APID_ADMIN = 3 };

#define APID_TOKEN_DIGEST 32

struct apid_principal {
    char *name;
    char *token; /* NULL: a person who signs on by Kerberos only */
    unsigned char digest[APID_TOKEN_DIGEST]; /* SHA-256 of token */
    enum apid_role role; /* people only */
};

struct apid_auth {
    /* people: those with a token first, sorted by its digest. */
    struct apid_principal *hosts, *people;
    size_t n_hosts, n_people, n_people_tokens;
};

/* Load both files (people may be NULL); on error nothing is loaded.
 * krb5_realm: the realm of the people's principals, NULL when jit-apid
 * takes no Kerberos tickets (then every person needs a token). */
int apid_auth_load(const char *host_tokens, const char *people,
                   const char *krb5_realm, struct apid_auth *out, char *err,
                   size_t errlen);
void apid_auth_free(struct apid_auth *a);

/* The principal whose token the Authorization header value carries
 * ("Bearer <token>"), or NULL. */
const struct apid_principal *apid_auth_host(const struct apid_auth *a,
                                            const char *authorization);
const struct apid_principal *apid_auth_person(const struct apid_auth *a,
                                              const char *authorization);
/* The person the people file names principal (exactly, byte for byte),
 * or NULL. */
const struct apid_principal *apid_auth_person_named(const struct apid_auth *a,
                                                    const char *principal);
/* Whether name is a principal of realm with one component, as MIT
 * unparses it ("alice@EXAMPLE.COM": no '/', no escaped character). */
int apid_auth_one_component(const char *name, const char *realm);

#endif
