/* SPDX-License-Identifier: MIT */
/*
 * jit-apid's connection to the directory (libldap): TLS always (ldaps://
 * or StartTLS), the server's certificate verified against ldap_ca, a
 * bind by SASL GSSAPI or by a simple bind with a root-only secret file,
 * every operation bounded by ldap_timeout, one reconnect after a lost
 * connection (doc/design.md, R13).  Filters and DNs built from a
 * person's words go through the escapes below (doc/design.md, R14).
 */
#ifndef APID_LDAP_H
#define APID_LDAP_H

#include <stddef.h>
#include <sys/time.h> /* <ldap.h> needs struct timeval and does not say so */

#include <ldap.h>

struct apid_conf;
struct apid_ldap;

/* The results of apid_ldap_run. */
enum {
    APID_LDAP_OK = 0,
    /* The directory cannot be reached or bound: refused, timed out, a
     * certificate for another name or another CA, StartTLS refused, the
     * bind refused.  Callers answer 503 and retry later. */
    APID_LDAP_DOWN = -1,
    /* Connected and bound, but the operation failed; err has the
     * server's words. */
    APID_LDAP_ERR = -2,
};

/* The process must block or ignore SIGPIPE (jit-apid's main does): a
 * server that closes mid-write is an error, not a signal.
 *
 * A handle on the configuration's directory (its ldap_* keys); NULL
 * with err set when they are unusable (e.g. no ldap_uri).  Connects on
 * its first apid_ldap_run, not here.  One connection per handle,
 * serialised by the handle's own mutex: callers that must not wait
 * behind each other open their own handle. */
struct apid_ldap *apid_ldap_open(const struct apid_conf *c, char *err,
                                 size_t errlen);
void apid_ldap_close(struct apid_ldap *l);

/* Run fn on a connected, TLS-verified, bound LDAP*.  fn returns
 * APID_LDAP_OK, APID_LDAP_ERR (err set) or APID_LDAP_DOWN (err set; a
 * lost connection: LDAP_SERVER_DOWN, LDAP_TIMEOUT, LDAP_CONNECT_ERROR
 * seen by fn).  On DOWN from fn the connection is dropped and fn is run
 * once more on a fresh one; fn must therefore be safe to repeat.
 * Returns what fn returned last, or APID_LDAP_DOWN when no connection
 * could be made (err says why). */
typedef int (*apid_ldap_fn)(LDAP *ld, void *arg, char *err, size_t errlen);
int apid_ldap_run(struct apid_ldap *l, apid_ldap_fn fn, void *arg, char *err,
                  size_t errlen);

/* The result class of a libldap return code for an fn: APID_LDAP_OK for
 * LDAP_SUCCESS, APID_LDAP_DOWN for a lost connection or a timeout,
 * APID_LDAP_ERR otherwise; err gets what (a short phrase of the
 * caller's) and the server's words (ld's diagnostic message). */
int apid_ldap_result(LDAP *ld, int rc, const char *what, char *err,
                     size_t errlen);

/* One entry of a search, for apid_ldap_search's callback; ld and entry
 * are valid only during the call.  Returning nonzero stops the search
 * with that value (an APID_LDAP_* code, err set by the callback). */
typedef int (*apid_ldap_entry_fn)(LDAP *ld, LDAPMessage *entry, void *arg,
                                  char *err, size_t errlen);

/* A search under base (scope LDAP_SCOPE_*), paged (RFC 2696, pages of
 * 500) so that no server size limit truncates it, every page bounded by
 * ldap_timeout; each entry to fn.  attrs: NULL-terminated, NULL for all.
 * For use inside an apid_ldap_run fn.  Returns APID_LDAP_OK,
 * APID_LDAP_ERR or APID_LDAP_DOWN (err set), or what fn returned. */
int apid_ldap_search(LDAP *ld, const char *base, int scope,
                     const char *filter, char *const *attrs,
                     apid_ldap_entry_fn fn, void *arg, char *err,
                     size_t errlen);

/* The first value of attr in entry as a new NUL-terminated string, or
 * NULL (none, a value with a NUL in it, or no memory). */
char *apid_ldap_first_value(LDAP *ld, LDAPMessage *entry, const char *attr);

/* The timeout an fn should give its own synchronous calls
 * (ldap_modify_ext_s and the like take no timeout of their own: the
 * handle's LDAP_OPT_TIMEOUT bounds them; searches take this one). */
struct timeval apid_ldap_timeout(LDAP *ld);

/* Whether the DN dn lies strictly under the DN base, both parsed
 * (RFC 4514) and compared RDN by RDN from the root: attribute types and
 * values case-insensitively (the caseIgnore matching of cn, ou and dc),
 * so that an escaped ',' inside a value (cn=x,ou=evil\,ou=groups,...)
 * or a longer root (...,dc=com,dc=evil) is not taken for the base.  1
 * or 0; 0 too when either does not parse (doc/design.md, S20). */
int apid_ldap_dn_under(const char *dn, const char *base);
/* The same, or dn is base itself. */
int apid_ldap_dn_within(const char *dn, const char *base);

/* RFC 4515: the value v (n bytes, may hold NUL) escaped for a filter's
 * assertion value: '*', '(', ')', '\\', NUL and every byte outside
 * printable ASCII as \XX.  A new string, or NULL (no memory). */
char *apid_ldap_filter_escape(const char *v, size_t n);

/* RFC 4514: the value v (n bytes) escaped for an attribute value in a
 * DN: ',', '+', '"', '\\', '<', '>', ';', '=', a leading '#' or space, a
 * trailing space and NUL (as \00) and control bytes as \XX.  A new
 * string, or NULL (no memory). */
char *apid_ldap_dn_escape(const char *v, size_t n);

#endif
