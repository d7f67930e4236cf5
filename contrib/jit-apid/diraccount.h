/* SPDX-License-Identifier: MIT */
/*
 * Directory-sourced JIT accounts (doc/design.md, "Directory accounts"):
 * a policy with "target": "directory" gives an account in the directory
 * instead of on hosts.  When its grant becomes active, the account entry
 * is created under ldap_accounts_base (the first time; its name fixed
 * then) or re-enabled, given a fresh random password and added to the
 * grant's groups (names under ldap_group_base); the password is answered
 * once and kept nowhere but as the directory's hash.  When the grant
 * ends (expiry, revocation) a worker takes the account out of those
 * groups, locks it and rotates its password again; a teardown that fails
 * leaves the account disable_failed, raises the account.disable_failed
 * alert and is tried again with a backoff.  Every step is on the grant's
 * operations log.  An account lives no longer than its grant
 * (doc/design.md, R15).
 */
#ifndef APID_DIRACCOUNT_H
#define APID_DIRACCOUNT_H

#include <stddef.h>
#include <stdint.h>

struct apid;
struct apid_conf;
struct apid_grant;
struct apid_policy;

enum { APID_ACCOUNT_POSIX = 0, APID_ACCOUNT_AD = 1 };

/* The longest password made (and its NUL). */
#define APID_DIR_PASSWORD_MAX 64

/* One of the directory-account keys of jit-apid.conf: 0 (taken), 1 (not
 * one of them), or -EINVAL with err saying where (path:lineno). */
int apid_diracct_conf_key(struct apid_conf *c, const char *key,
                          const char *v, const char *path, int lineno,
                          char *err, size_t errlen);
/* The keys together, after the whole file (the defaults of those not
 * given set here): 0, or -EINVAL. */
int apid_diracct_conf_check(struct apid_conf *c, const char *path,
                            char *err, size_t errlen);
void apid_diracct_conf_free(struct apid_conf *c);

/* The results of the operations below, as ldap.h's: APID_LDAP_OK,
 * APID_LDAP_DOWN (the directory cannot be reached: 503), APID_LDAP_ERR
 * (it refused: err has its words). */

/* apid_diracct_enable's answer when the account's previous grant is
 * still being torn down (by this instance or another) after a wait of
 * about ten seconds: nothing was done; ask again. */
#define APID_DIR_BUSY (-10)
/* apid_diracct_password's answer when g does not hold its account
 * enabled (a later grant took it, or it is being or was disabled):
 * nothing was done. */
#define APID_DIR_NOT_HELD (-11)

/* Grant g (active, of a directory policy) gets its account: created or
 * re-enabled, a new password (into pw, which the caller wipes; NULL:
 * made and forgotten, as after an approval by another person), its
 * groups.  The account is recorded as g's before the directory is
 * touched, so that whatever happens the teardown undoes it; each step
 * goes on the operations log with actor. */
int apid_diracct_enable(struct apid *a, const struct apid_grant *g,
                        const char *actor, char *pw, size_t pwlen,
                        char *err, size_t errlen);
/* A new password for g's account (active): into pw. */
int apid_diracct_password(struct apid *a, const struct apid_grant *g,
                          const char *actor, char *pw, size_t pwlen,
                          char *err, size_t errlen);

/* jit-apid --check: the directory answers, ldap_accounts_base and every
 * directory policy's group exist.  APID_LDAP_OK, or err says what. */
int apid_diracct_check(struct apid *a, char *err, size_t errlen);

/* How long a claimed teardown is another instance's to leave alone:
 * every operation of an enable it may wait for and of itself, twice
 * (a reconnect), each at most ldap_timeout, with groups the directory
 * policies' groups all together; and a margin. */
int64_t apid_diracct_lease(unsigned ldap_timeout, size_t groups);

/* The teardown worker: a thread until a->stopping. */
void *apid_diracct_worker(void *arg);

/* A random password of len - 1 characters (letters, digits, '-' and '_',
 * at least one of each of upper, lower and digit) into pw; 0 or -1. */
int apid_diracct_make_password(char *pw, size_t len);

#endif
