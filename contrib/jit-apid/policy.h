/* SPDX-License-Identifier: MIT */
/*
 * Policies: which credential may be granted on which hosts, for how long,
 * with which groups, how the account is named, and whether a request is
 * approved at once or waits for an approver.  Loaded from a JSON file:
 *
 *   {"host_groups": {"web": ["web01.example.com", "web02.example.com"]},
 *    "policies": [{"name": "db-admin-web", "credential": "db-admin",
 *                  "hosts": ["web01.example.com"], "host_groups": ["web"],
 *                  "max_duration": 3600, "groups": ["sudo"],
 *                  "on_logout": "delete", "username_template": "{user}-dba",
 *                  "username_choice": false, "approval": "auto"}]}
 *
 * An account name is its person's (doc/design.md, "Account names"): the
 * template filled with the requester's own name, or, only where a policy
 * sets username_choice, a name of the requester's choosing that no other
 * person holds (the store's account_names) or would get from a template,
 * nor one that looks like such a name (below).
 */
#ifndef APID_POLICY_H
#define APID_POLICY_H

#include <stddef.h>
#include <stdint.h>

struct apid_policy {
    char *name, *credential, *on_logout, *prefix, *suffix;
    char **hosts;        /* named hosts and the hosts of its groups */
    size_t n_hosts;
    char **groups;
    size_t n_groups;
    int64_t max_duration;
    int auto_approve;
    int username_choice; /* a request may name another account */
    /* "target": "directory": an account in the directory (diraccount.h),
     * no hosts; its groups are directory groups' names. */
    int target_directory;
    /* Who may request and who may approve under it (people by name,
     * directory groups as "group:NAME"; dirpeople.h); none: the roles
     * of the people file decide, as without them. */
    char **requesters, **approvers;
    size_t n_requesters, n_approvers;
};

struct apid_host_group {
    char *name;
    char **hosts;
    size_t n_hosts;
};

struct apid_policies {
    struct apid_policy *v;
    size_t n;
    struct apid_host_group *hg;
    size_t n_hg;
};

/* Load and check the whole file; on any error nothing is loaded and err
 * says where ("policies[2].max_duration: must be 60..2592000"). */
int apid_policies_load(const char *path, struct apid_policies *out, char *err,
                       size_t errlen);
void apid_policies_free(struct apid_policies *p);

const struct apid_policy *apid_policy_find(const struct apid_policies *p,
                                           const char *name);
/* Hosts a request names: one host, or a host group's hosts.  NULL if the
 * group is unknown. */
const struct apid_host_group *apid_host_group(const struct apid_policies *p,
                                              const char *name);
int apid_policy_has_host(const struct apid_policy *pol, const char *host);
int apid_policy_has_group(const struct apid_policy *pol, const char *group);
/* The account name the template gives a requester ("alice@EXAMPLE.COM"
 * -> prefix + "alice" + suffix).  NULL and why in err if none can be
 * made. */
char *apid_policy_username(const struct apid_policy *pol,
                           const char *requester, char *err, size_t errlen);
/* A name a requester chooses under pol (which allows a choice): a valid
 * account name of the template's shape, prefix + something + suffix.
 * 0, or -1 and why in err. */
int apid_policy_name_fits(const struct apid_policy *pol, const char *name,
                          char *err, size_t errlen);
/* Which of the n people, other than the one named except, a template of
 * any policy gives name (their name, from people[]), or NULL.  With
 * by_skeleton, a name of the same skeleton (apid_name_skeleton) counts
 * as name. */
struct apid_principal;
const char *apid_policy_name_entitled(const struct apid_policies *p,
                                      const struct apid_principal *people,
                                      size_t n, const char *name,
                                      const char *except, int by_skeleton);

/*
 * Look-alike names.  An auditor reading "b0b" or "bob." in a log takes it
 * for bob, so a chosen name may not look like another person's.  The
 * skeleton of a name is what is left for a reader who does not tell
 * look-alikes apart, kept small enough to say in one sentence
 * (jit-apid(8), ACCOUNT NAMES): lower-cased; '.', '-' and '_' dropped;
 * the digits 0 1 3 5 read as the letters o l e s; then, from the left,
 * "rn" read as "m".  Two names of one skeleton look alike.
 */
#define APID_SKELETON_MAX 64
/* name's skeleton into out; 0, or -1 if it does not fit (no account
 * name is that long). */
int apid_name_skeleton(const char *name, char *out, size_t outlen);
/* The words of a refusal of a look-alike (403 username_not_allowed),
 * where it is found (the request's check against the templates, the
 * store's against the names held): a name and its skeleton.  It says
 * that the name is another person's, never whose. */
#define APID_LOOKALIKE_FMT                                                  \
    "username: %s looks like an account name another person holds or is"  \
    " entitled to (both read %s: see jit-apid(8), ACCOUNT NAMES)"

/* The store found g's account name held by another person, holder: the
 * name itself (held is g->username) or, for a chosen name, a look-alike
 * (held).  The server's line, naming both people, goes to stderr (but
 * not for a chosen name that is simply taken: a race for a free name is
 * no news); the words for the requester, naming neither, go into msg.
 * A person's own name (a template's, or kept at a re-enable) held by
 * another is said plainly: an administrator resolves it.  Returns the
 * store's answer, APID_NAME_REFUSED (a look-alike) or APID_CONFLICT. */
struct apid_grant;
int apid_name_held(const struct apid_grant *g, const char *holder,
                   const char *held, char *msg, size_t msglen);

#endif
