/*
 * Who is asking.  Hosts: a bearer token from the host tokens file, or a
 * client certificate whose subject names the host.  People: a bearer
 * token from the people file, with a role.  Token files are root's, not
 * readable by others (checked), one entry per line:
 *
 *   host tokens:  <host> <token>
 *   people:       <person> <role> <token>    role: requester, approver, admin
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
    char *token;
    unsigned char digest[APID_TOKEN_DIGEST]; /* SHA-256 of token */
    enum apid_role role; /* people only */
};

struct apid_auth {
    struct apid_principal *hosts, *people;
    size_t n_hosts, n_people;
};

/* Load both files (people may be NULL); on error nothing is loaded. */
int apid_auth_load(const char *host_tokens, const char *people,
                   struct apid_auth *out, char *err, size_t errlen);
void apid_auth_free(struct apid_auth *a);

/* The principal whose token the Authorization header value carries
 * ("Bearer <token>"), or NULL. */
const struct apid_principal *apid_auth_host(const struct apid_auth *a,
                                            const char *authorization);
const struct apid_principal *apid_auth_person(const struct apid_auth *a,
                                              const char *authorization);

#endif
