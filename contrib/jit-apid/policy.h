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
 *                  "approval": "auto"}]}
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
 * -> prefix + "alice" + suffix), or checks a requested one against it.
 * NULL and why in err if none can be made. */
char *apid_policy_username(const struct apid_policy *pol,
                           const char *requester, const char *wanted,
                           char *err, size_t errlen);

#endif
