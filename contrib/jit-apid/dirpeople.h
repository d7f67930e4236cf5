/* SPDX-License-Identifier: MIT */
/*
 * People from the directory (people_source ldap or both; jit-apid(8),
 * "PEOPLE FROM THE DIRECTORY"): a person's entry, found by the name they
 * signed on with; its display name, mail, groups and sshPublicKey
 * values, and whether the directory says it is disabled.  A disabled or
 * missing person neither requests nor approves, and a periodic check
 * revokes their grants (doc/design.md, R14; threats S13, S14).
 */
#ifndef APID_DIRPEOPLE_H
#define APID_DIRPEOPLE_H

#include <stddef.h>

struct apid;
struct apid_conf;
struct apid_ldap;

struct apid_dirperson {
    int found;
    /* Why the directory disables it ("nsAccountLock",
     * "pwdAccountLockedTime", "userAccountControl"), or NULL. */
    const char *disabled;
    char *dn, *uid, *display_name, *mail;
    char **groups; /* the groups' names (their cn), sorted */
    size_t n_groups;
    char **keys; /* sshPublicKey values as the directory has them */
    size_t n_keys;
};

/* The value a person's name is looked up by in ldap_person_attr: the
 * name itself for a principal attribute (userPrincipalName,
 * krbPrincipalName); else a principal of krb5_realm with one component
 * gives that component, a name without '@' itself, and any other name
 * (another realm's principal) none: NULL. */
char *apid_dir_lookup_value(const struct apid_conf *c, const char *person);

/* Look person up.  APID_LDAP_OK (found or not: out->found), or
 * APID_LDAP_DOWN / APID_LDAP_ERR with err set (two entries for one
 * name is an error: fail closed).  out is zeroed first. */
int apid_dir_person(struct apid_ldap *l, const struct apid_conf *c,
                    const char *person, struct apid_dirperson *out,
                    char *err, size_t errlen);
void apid_dirperson_free(struct apid_dirperson *p);

/* Whether a policy's requesters or approvers list (n names) admits
 * person: the person's own name, or "group:NAME" of a group that p (may
 * be NULL: no directory) is a member of. */
int apid_dir_listed(char *const *list, size_t n, const char *person,
                    const struct apid_dirperson *p);

/* The mail addresses of group's enabled members, one a line (a new
 * string; "" when none), for alerts (alerts.h); NULL with err set. */
char *apid_dir_group_mail(struct apid_ldap *l, const struct apid_conf *c,
                          const char *group, char *err, size_t errlen);

/* Bind and read the people base (jit-apid --check): APID_LDAP_*. */
int apid_dir_ping(struct apid_ldap *l, const struct apid_conf *c, char *err,
                  size_t errlen);

/* The periodic check: every ldap_check_interval seconds, the requesters
 * of active and pending grants looked up; a missing or disabled one's
 * grants are revoked (actor "directory-check").  A thread until
 * a->stopping. */
void *apid_dir_check_worker(void *arg);

/* Rounds in a row the directory may answer a person's lookup with an
 * error (two entries for one name, a refusal) before the check takes it
 * as a "no" and revokes their grants (doc/design.md, S23): an error is
 * not "fine", and a bound of this many intervals is kept. */
#define APID_DIR_CHECK_ERRORS 3

/* What the check keeps from round to round: the people whose lookups
 * failed, and in how many rounds in a row. */
struct apid_dircheck {
    struct apid_dircheck_err {
        char *person;
        unsigned rounds;
    } *v;
    size_t n;
};
void apid_dircheck_free(struct apid_dircheck *st);

/* One round of that check now, st carried between rounds (zeroed at
 * first); the number of grants revoked, or -1 when the directory could
 * not be asked (why in err; st then as it was). */
int apid_dir_check_once(struct apid *a, struct apid_ldap *l,
                        struct apid_dircheck *st, char *err, size_t errlen);

#endif
