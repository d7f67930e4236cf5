/* SPDX-License-Identifier: MIT */
/*
 * jit-apid: the reference JIT API server (contrib/openapi.yaml).  The
 * state every request handler shares.
 */
#ifndef APID_H
#define APID_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "alerts.h"
#include "auth.h"
#include "policy.h"
#include "store.h"

struct apid_http;
struct apid_ldap;

struct apid_conf {
    char *listen_addr;  /* IPv4 address */
    unsigned port;
    char *tls_cert, *tls_key, *client_ca;
    char *tls_priority; /* checked by GnuTLS at load (tls.h) */
    char *database, *host_tokens, *people, *policies, *alerts;
    /* The webhook keys an admin may name over the API (doc/design.md,
     * G7); NULL: none may be. */
    char *webhook_key_dir;
    char *krb5_keytab, *krb5_realm;
    size_t max_body;
    unsigned max_connections, max_connections_per_address;
    /* Seconds a connection has to send a request's headers (after its
     * TLS handshake), from its accept or its previous answer. */
    unsigned request_timeout;
    /* The directory (ldap.h; jit-apid(8), "THE DIRECTORY").  ldap_uri is
     * ldaps:// or ldap:// (then always StartTLS); NULL: no directory. */
    char *ldap_uri, *ldap_ca;
    int ldap_bind; /* APID_LDAP_BIND_* */
    char *ldap_bind_dn, *ldap_bind_secret, *ldap_keytab;
    unsigned ldap_timeout; /* seconds, every operation */
    /* People from the directory (dirpeople.h). */
    int people_source; /* APID_PEOPLE_* */
    char *ldap_people_base, *ldap_person_attr, *ldap_person_filter;
    char *ldap_group_base;
    int ldap_group_member; /* APID_LDAP_MEMBER_* */
    unsigned ldap_check_interval; /* seconds */
    /* Directory accounts (diraccount.h): where they are made, of which
     * kind (APID_ACCOUNT_*), their uidNumbers and gidNumber (0: each its
     * uid), a failed teardown's retries (first wait, longest wait). */
    char *ldap_accounts_base;
    int ldap_account_kind;
    uint32_t ldap_uid_min, ldap_uid_max, ldap_account_gid;
    unsigned ldap_retry_min, ldap_retry_max;
};

enum { APID_LDAP_BIND_SIMPLE = 0, APID_LDAP_BIND_GSSAPI = 1 };
enum { APID_PEOPLE_FILE = 0, APID_PEOPLE_LDAP = 1, APID_PEOPLE_BOTH = 2 };
/* How a group's members are read: groupOfNames member (a DN), posixGroup
 * memberUid (a name), the person's own memberOf (Active Directory). */
enum {
    APID_LDAP_MEMBER_DN = 0,
    APID_LDAP_MEMBER_UID = 1,
    APID_LDAP_MEMBER_OF = 2,
};

struct apid {
    struct apid_conf conf;
    struct apid_store *store;
    /* Policies and principals, swapped whole on SIGHUP. */
    pthread_rwlock_t lock;
    struct apid_policies pol;
    struct apid_auth auth;
    struct apid_alerts alerts;
    /* The requests' directory handle (ldap.h); NULL: no directory, or
     * people not from it. */
    struct apid_ldap *ldap;
    /* Long polls wait here for a change made by this instance, or seen
     * by the watcher in another's (within a second). */
    pthread_mutex_t change_mu;
    pthread_cond_t change_cv;
    uint64_t generation;
    /* Set once by the main thread, read by every worker. */
    atomic_int stopping;
    /* The transport's (server.c) wake-up for its suspended long polls,
     * called by apid_changed; set from its start to its free. */
    void (*on_change)(struct apid_http *h);
    struct apid_http *http;
    /* Directory accounts (diraccount.h): the requests' connection (NULL
     * without ldap_accounts_base), and the lock that keeps this
     * instance's enables and teardowns of an account apart. */
    struct apid_ldap *dir_ldap;
    pthread_mutex_t dir_mu;
};

/* err = the formatted message; returns -EINVAL (every loader's error). */
int apid_bad(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parse the configuration file; 0, or -EINVAL with err set. */
int apid_conf_load(const char *path, struct apid_conf *c, char *err,
                   size_t errlen);
void apid_conf_free(struct apid_conf *c);

/* Start serving (threads of its own); NULL and err on failure. */
struct apid_http *apid_http_start(struct apid *a, char *err, size_t errlen);
/* The port it listens on (the one chosen, with port 0). */
unsigned apid_http_port(struct apid_http *h);
/* Stop: long polls answered, then every connection closed (NULL: none). */
void apid_http_stop(struct apid_http *h);
/* Free it, once no thread that may call apid_changed runs. */
void apid_http_free(struct apid_http *h);

/* Sleep a second, or less: a change here or the stop wakes us. */
void apid_nap(struct apid *a);

/* Wake the long polls: a grant changed. */
void apid_changed(struct apid *a);

/* Wakes the long polls when another instance changed a grant: a thread
 * until a->stopping. */
void *apid_watch_worker(void *arg);

/* The alert deliverer: a thread until a->stopping. */
void *apid_alerts_worker(void *arg);

#endif
