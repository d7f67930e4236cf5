/* SPDX-License-Identifier: MIT */
/* jit-apid policies (see policy.h). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apid.h"
#include "auth.h"
#include "core/grant.h"
#include "core/validate.h"
#include "policy.h"
#include "store.h"

#define DURATION_MIN 60
#define DURATION_MAX (30 * 86400)

static void
strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

static int
strv_has(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return 1;
    return 0;
}

/* Append s to *v, whether or not it is there: lists of 10,000 hosts are
 * made unique once, by strv_unique (a check per append was 50 million
 * comparisons for one host group). */
static int
strv_push(char ***v, size_t *n, const char *s)
{
    char **nv;

    if ((nv = realloc(*v, (*n + 1) * sizeof(*nv))) == NULL)
        return -ENOMEM;
    *v = nv;
    if ((nv[*n] = strdup(s)) == NULL)
        return -ENOMEM;
    (*n)++;
    return 0;
}

struct strv_at {
    char *s;
    size_t at;
};

static int
by_string_then_at(const void *x, const void *y)
{
    const struct strv_at *a = x, *b = y;
    int d = strcmp(a->s, b->s);

    return d != 0 ? d : (a->at > b->at) - (a->at < b->at);
}

/* Drop the repeats of v's strings, keeping each first one where it was:
 * the order of a host group is the order of the hosts of its grants. */
static int
strv_unique(char **v, size_t *n)
{
    struct strv_at *s = calloc(*n + 1, sizeof(*s));
    size_t k = 0;

    if (s == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < *n; i++)
        s[i] = (struct strv_at){ v[i], i };
    qsort(s, *n, sizeof(*s), by_string_then_at);
    /* Each repeat is compared with its run's first, which stays: the
     * repeat before it may be freed already. */
    for (size_t i = 1, first = 0; i < *n; i++)
        if (strcmp(s[i].s, s[first].s) == 0) {
            free(v[s[i].at]);
            v[s[i].at] = NULL;
        } else
            first = i;
    for (size_t i = 0; i < *n; i++)
        if (v[i] != NULL)
            v[k++] = v[i];
    *n = k;
    free(s);
    return 0;
}

static int
by_string(const void *x, const void *y)
{
    return strcmp(*(char *const *) x, *(char *const *) y);
}

/* A JSON array of strings, each passing check (NULL: any non-empty). */
static int
load_strings(json_t *a, const char *where, const char *(*check)(const char *),
             char ***v, size_t *n, char *err, size_t errlen)
{
    size_t i;
    json_t *x;

    if (!json_is_array(a))
        return apid_bad(err, errlen, "%s: must be a list of strings", where);
    json_array_foreach(a, i, x)
    {
        const char *s = json_string_value(x), *why;

        if (s == NULL || s[0] == '\0')
            return apid_bad(err, errlen, "%s[%zu]: must be a non-empty string",
                       where, i);
        if (check != NULL && (why = check(s)) != NULL)
            return apid_bad(err, errlen, "%s[%zu]: %s", where, i, why);
        if (strv_push(v, n, s) != 0)
            return -ENOMEM;
    }
    return strv_unique(*v, n);
}

static const char *
template_problem(const char *t)
{
    const char *p = strstr(t, "{user}");

    if (p == NULL || strstr(p + 6, "{user}") != NULL)
        return "must hold {user} once";
    for (const char *c = t; *c; c++) {
        if (c == p) {
            c += 5;
            continue;
        }
        if (!(islower((unsigned char) *c) || isdigit((unsigned char) *c)
              || *c == '_' || *c == '-'))
            return "only a-z, 0-9, _ and - around {user}";
    }
    return NULL;
}

/* A requesters or approvers entry: a person's name, or "group:NAME" of
 * a directory group; printable, no space (it is compared, and logged). */
static const char *
people_entry_problem(const char *s)
{
    const char *name = strncmp(s, "group:", 6) == 0 ? s + 6 : s;

    if (name[0] == '\0' || strlen(s) > 256)
        return "a person's name, or group:NAME (1..250 bytes)";
    for (const char *c = s; *c != '\0'; c++)
        if ((unsigned char) *c <= 0x20 || (unsigned char) *c == 0x7f)
            return "no space or control character";
    return NULL;
}

/* The optional requesters and approvers lists (dirpeople.h). */
static int
load_people_lists(json_t *o, size_t k, struct apid_policy *pol, char *err,
                  size_t errlen)
{
    char where[64];
    int ret;

    snprintf(where, sizeof(where), "policies[%zu].requesters", k);
    if (json_object_get(o, "requesters") != NULL
        && (ret = load_strings(json_object_get(o, "requesters"), where,
                               people_entry_problem, &pol->requesters,
                               &pol->n_requesters, err, errlen)) != 0)
        return ret;
    snprintf(where, sizeof(where), "policies[%zu].approvers", k);
    if (json_object_get(o, "approvers") != NULL
        && (ret = load_strings(json_object_get(o, "approvers"), where,
                               people_entry_problem, &pol->approvers,
                               &pol->n_approvers, err, errlen)) != 0)
        return ret;
    /* An empty list would be read as "no list": say so instead. */
    if ((json_object_get(o, "requesters") != NULL && pol->n_requesters == 0)
        || (json_object_get(o, "approvers") != NULL && pol->n_approvers == 0))
        return apid_bad(err, errlen, "policies[%zu]: an empty requesters or"
                        " approvers list admits no one; leave it out", k);
    return 0;
}

static int
load_policy(json_t *o, size_t k, const struct apid_policies *all,
            struct apid_policy *pol, char *err, size_t errlen)
{
    char where[64];
    const char *name, *cred, *onl, *tmpl, *appr, *why;
    json_t *hg, *choice, *target;
    json_int_t dur;
    size_t i;
    json_t *x;
    int ret;

    snprintf(where, sizeof(where), "policies[%zu]", k);
    if (!json_is_object(o))
        return apid_bad(err, errlen, "%s: must be an object", where);
    name = json_string_value(json_object_get(o, "name"));
    cred = json_string_value(json_object_get(o, "credential"));
    onl = json_string_value(json_object_get(o, "on_logout"));
    tmpl = json_string_value(json_object_get(o, "username_template"));
    appr = json_string_value(json_object_get(o, "approval"));
    if (name == NULL || name[0] == '\0' || strlen(name) > 64)
        return apid_bad(err, errlen, "%s.name: a string of 1..64 bytes", where);
    if (cred == NULL)
        return apid_bad(err, errlen, "%s.credential: a string", where);
    /* A policy whose grants every host would refuse is refused now, not
     * at each request (the hosts' rule, lib/core/grant.c). */
    if ((why = jit_grant_field_problem(JIT_GRANT_F_CREDENTIAL, cred)) != NULL)
        return apid_bad(err, errlen, "%s.credential: %s", where, why);
    if (onl == NULL)
        onl = "keep";
    if (strcmp(onl, "keep") != 0 && strcmp(onl, "delete") != 0)
        return apid_bad(err, errlen, "%s.on_logout: keep or delete", where);
    if (tmpl == NULL)
        tmpl = "{user}";
    if ((why = template_problem(tmpl)) != NULL)
        return apid_bad(err, errlen, "%s.username_template: %s", where, why);
    if (appr == NULL)
        appr = "approver";
    if (strcmp(appr, "auto") != 0 && strcmp(appr, "approver") != 0)
        return apid_bad(err, errlen, "%s.approval: auto or approver", where);
    if (!json_is_integer(json_object_get(o, "max_duration")))
        return apid_bad(err, errlen, "%s.max_duration: seconds, an integer",
                   where);
    dur = json_integer_value(json_object_get(o, "max_duration"));
    if (dur < DURATION_MIN || dur > DURATION_MAX)
        return apid_bad(err, errlen, "%s.max_duration: must be %d..%d", where,
                   DURATION_MIN, DURATION_MAX);
    /* A choice of names is the policy's to give, in so many words: a
     * string "false" is an error, not a yes. */
    choice = json_object_get(o, "username_choice");
    if (choice != NULL && !json_is_boolean(choice))
        return apid_bad(err, errlen, "%s.username_choice: true or false",
                        where);
    target = json_object_get(o, "target");
    if (target != NULL && (!json_is_string(target)
                           || (strcmp(json_string_value(target), "hosts") != 0
                               && strcmp(json_string_value(target),
                                         "directory") != 0)))
        return apid_bad(err, errlen, "%s.target: hosts or directory", where);
    pol->target_directory = target != NULL
                            && strcmp(json_string_value(target),
                                      "directory") == 0;
    pol->max_duration = dur;
    pol->auto_approve = strcmp(appr, "auto") == 0;
    pol->username_choice = json_is_true(choice);
    if ((pol->name = strdup(name)) == NULL
        || (pol->credential = strdup(cred)) == NULL
        || (pol->on_logout = strdup(onl)) == NULL
        || (pol->prefix = strndup(tmpl, (size_t) (strstr(tmpl, "{user}")
                                                  - tmpl))) == NULL
        || (pol->suffix = strdup(strstr(tmpl, "{user}") + 6)) == NULL)
        return -ENOMEM;
    snprintf(where, sizeof(where), "policies[%zu].hosts", k);
    if (json_object_get(o, "hosts") != NULL
        && (ret = load_strings(json_object_get(o, "hosts"), where,
                               jit_host_problem, &pol->hosts, &pol->n_hosts,
                               err, errlen)) != 0)
        return ret;
    hg = json_object_get(o, "host_groups");
    if (hg != NULL && !json_is_array(hg))
        return apid_bad(err, errlen, "policies[%zu].host_groups: a list", k);
    json_array_foreach(hg, i, x)
    {
        const struct apid_host_group *g =
            apid_host_group(all, json_string_value(x) ? json_string_value(x)
                                                      : "");

        if (g == NULL)
            return apid_bad(err, errlen, "policies[%zu].host_groups[%zu]: no such"
                       " host group", k, i);
        for (size_t h = 0; h < g->n_hosts; h++)
            if (strv_push(&pol->hosts, &pol->n_hosts, g->hosts[h]) != 0)
                return -ENOMEM;
    }
    if (pol->target_directory && pol->username_choice)
        return apid_bad(err, errlen, "policies[%zu].username_choice: not"
                        " for a directory account (its name is its"
                        " person's template name)", k);
    if (pol->target_directory && pol->n_hosts != 0)
        return apid_bad(err, errlen, "policies[%zu]: target directory: no"
                        " hosts nor host_groups (the account is the"
                        " directory's)", k);
    if (pol->n_hosts == 0 && !pol->target_directory)
        return apid_bad(err, errlen, "policies[%zu]: no hosts", k);
    /* Sorted, for apid_policy_has_host's binary search: a request for a
     * host group of 10,000 asks 10,000 times. */
    if (pol->n_hosts > 0) { /* a directory policy's are none */
        qsort(pol->hosts, pol->n_hosts, sizeof(*pol->hosts), by_string);
        if (strv_unique(pol->hosts, &pol->n_hosts) != 0)
            return -ENOMEM;
    }
    snprintf(where, sizeof(where), "policies[%zu].groups", k);
    if (json_object_get(o, "groups") != NULL
        && (ret = load_strings(json_object_get(o, "groups"), where,
                               jit_group_problem, &pol->groups,
                               &pol->n_groups, err, errlen)) != 0)
        return ret;
    /* Its groups are a grant's by default: the hosts' bound on them. */
    if ((why = jit_grant_list_problem(JIT_GRANT_F_GROUP, pol->groups,
                                      pol->n_groups, &i)) != NULL)
        return apid_bad(err, errlen, "%s: %s", where, why);
    return load_people_lists(o, k, pol, err, errlen);
}

int
apid_policies_load(const char *path, struct apid_policies *out, char *err,
                   size_t errlen)
{
    struct apid_policies p = { NULL, 0, NULL, 0 };
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je), *o;
    json_t *groups, *pols;
    const char *key;
    size_t i;
    int ret = 0;

    memset(out, 0, sizeof(*out));
    if (root == NULL)
        return apid_bad(err, errlen, "%s: line %d: %s", path, je.line, je.text);
    if (!json_is_object(root)) {
        ret = apid_bad(err, errlen, "%s: must be a JSON object", path);
        goto done;
    }
    groups = json_object_get(root, "host_groups");
    if (groups != NULL && !json_is_object(groups)) {
        ret = apid_bad(err, errlen, "host_groups: must be an object");
        goto done;
    }
    if ((p.hg = calloc(json_object_size(groups) + 1, sizeof(*p.hg))) == NULL) {
        ret = -ENOMEM;
        goto done;
    }
    json_object_foreach(groups, key, o)
    {
        char where[96];

        snprintf(where, sizeof(where), "host_groups.%.64s", key);
        if ((p.hg[p.n_hg].name = strdup(key)) == NULL) {
            ret = -ENOMEM;
            goto done;
        }
        p.n_hg++;
        if ((ret = load_strings(o, where, jit_host_problem,
                                &p.hg[p.n_hg - 1].hosts,
                                &p.hg[p.n_hg - 1].n_hosts, err, errlen))
            != 0)
            goto done;
    }
    pols = json_object_get(root, "policies");
    if (!json_is_array(pols) || json_array_size(pols) == 0) {
        ret = apid_bad(err, errlen, "policies: must be a non-empty list");
        goto done;
    }
    if ((p.v = calloc(json_array_size(pols), sizeof(*p.v))) == NULL) {
        ret = -ENOMEM;
        goto done;
    }
    json_array_foreach(pols, i, o)
    {
        p.n++;
        if ((ret = load_policy(o, i, &p, &p.v[i], err, errlen)) != 0)
            goto done;
        if (apid_policy_find(&p, p.v[i].name) != &p.v[i]) {
            ret = apid_bad(err, errlen, "policies[%zu].name: %s twice", i,
                      p.v[i].name);
            goto done;
        }
        /* A directory account is one grant's at a time (diraccount.h):
         * the one-grant rule holds per person and credential, so two
         * credentials must not give one person the same account. */
        for (size_t k = 0; p.v[i].target_directory && k < i; k++)
            if (p.v[k].target_directory
                && strcmp(p.v[k].credential, p.v[i].credential) != 0
                && strcmp(p.v[k].prefix, p.v[i].prefix) == 0
                && strcmp(p.v[k].suffix, p.v[i].suffix) == 0) {
                ret = apid_bad(err, errlen, "policies[%zu].username_template:"
                               " policy %s, of another credential, gives"
                               " the same directory accounts", i,
                               p.v[k].name);
                goto done;
            }
    }
    *out = p;
    memset(&p, 0, sizeof(p));

done:
    if (ret == -ENOMEM)
        apid_bad(err, errlen, "%s: out of memory", path);
    apid_policies_free(&p);
    json_decref(root);
    return ret;
}

void
apid_policies_free(struct apid_policies *p)
{
    for (size_t i = 0; p->v && i < p->n; i++) {
        free(p->v[i].name);
        free(p->v[i].credential);
        free(p->v[i].on_logout);
        free(p->v[i].prefix);
        free(p->v[i].suffix);
        strv_free(p->v[i].hosts, p->v[i].n_hosts);
        strv_free(p->v[i].groups, p->v[i].n_groups);
        strv_free(p->v[i].requesters, p->v[i].n_requesters);
        strv_free(p->v[i].approvers, p->v[i].n_approvers);
    }
    free(p->v);
    for (size_t i = 0; p->hg && i < p->n_hg; i++) {
        free(p->hg[i].name);
        strv_free(p->hg[i].hosts, p->hg[i].n_hosts);
    }
    free(p->hg);
    memset(p, 0, sizeof(*p));
}

const struct apid_policy *
apid_policy_find(const struct apid_policies *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->v[i].name != NULL && strcmp(p->v[i].name, name) == 0)
            return &p->v[i];
    return NULL;
}

const struct apid_host_group *
apid_host_group(const struct apid_policies *p, const char *name)
{
    for (size_t i = 0; i < p->n_hg; i++)
        if (strcmp(p->hg[i].name, name) == 0)
            return &p->hg[i];
    return NULL;
}

int
apid_policy_has_host(const struct apid_policy *pol, const char *host)
{
    return pol->n_hosts > 0
           && bsearch(&host, pol->hosts, pol->n_hosts, sizeof(*pol->hosts),
                      by_string) != NULL;
}

int
apid_policy_has_group(const struct apid_policy *pol, const char *group)
{
    return strv_has(pol->groups, pol->n_groups, group);
}

char *
apid_policy_username(const struct apid_policy *pol, const char *requester,
                     char *err, size_t errlen)
{
    char user[64], *name = NULL;
    const char *why;
    size_t k = 0;

    /* The requester's local part, lower-cased; anything but a-z, 0-9, _
     * and - refuses (no silent mangling into someone else's name). */
    for (const char *c = requester; *c && *c != '@'; c++) {
        char ch = (char) tolower((unsigned char) *c);

        if (k + 1 >= sizeof(user)
            || !(islower((unsigned char) ch) || isdigit((unsigned char) ch)
                 || ch == '_' || ch == '-')) {
            apid_bad(err, errlen, "username: %s gives no account name under"
                     " policy %s", requester, pol->name);
            return NULL;
        }
        user[k++] = ch;
    }
    user[k] = '\0';
    if (k == 0
        || asprintf(&name, "%s%s%s", pol->prefix, user, pol->suffix) < 0) {
        apid_bad(err, errlen, "username: %s gives no account name under"
                 " policy %s", requester, pol->name);
        return NULL;
    }
    if ((why = jit_name_problem(name)) != NULL) {
        apid_bad(err, errlen, "username: %s (the template's name for %s): %s",
                 name, requester, why);
        free(name);
        return NULL;
    }
    return name;
}

int
apid_policy_name_fits(const struct apid_policy *pol, const char *name,
                      char *err, size_t errlen)
{
    size_t lp = strlen(pol->prefix), ls = strlen(pol->suffix);
    size_t lw = strlen(name);
    const char *why;

    if ((why = jit_name_problem(name)) != NULL) {
        apid_bad(err, errlen, "username: %s", why);
        return -1;
    }
    if (lw <= lp + ls || strncmp(name, pol->prefix, lp) != 0
        || strcmp(name + lw - ls, pol->suffix) != 0) {
        apid_bad(err, errlen, "username: must be %s<name>%s under policy %s",
                 pol->prefix, pol->suffix, pol->name);
        return -1;
    }
    return 0;
}

int
apid_name_skeleton(const char *name, char *out, size_t outlen)
{
    size_t k = 0;

    for (const char *p = name; *p; p++) {
        char c = (char) tolower((unsigned char) *p);

        if (c == '.' || c == '-' || c == '_')
            continue;
        c = c == '0' ? 'o' : c == '1' ? 'l' : c == '3' ? 'e'
            : c == '5' ? 's' : c;
        if (c == 'n' && k > 0 && out[k - 1] == 'r') {
            out[k - 1] = 'm';
            continue;
        }
        if (k + 1 >= outlen)
            return -1;
        out[k++] = c;
    }
    if (outlen == 0)
        return -1;
    out[k] = '\0';
    return 0;
}

const char *
apid_policy_name_entitled(const struct apid_policies *p,
                          const struct apid_principal *people, size_t n,
                          const char *name, const char *except,
                          int by_skeleton)
{
    char err[8], want[APID_SKELETON_MAX], skel[APID_SKELETON_MAX];

    if (by_skeleton && apid_name_skeleton(name, want, sizeof(want)) != 0)
        return NULL; /* longer than any name a template gives */
    /* Names only: a person whose name gives no account is entitled to
     * none.  For the name itself, a policy's prefix and suffix must
     * match before a person's name can, so most pairs end at a strncmp;
     * a look-alike may differ anywhere, so every pair is made. */
    for (size_t k = 0; k < p->n; k++) {
        const struct apid_policy *pol = &p->v[k];
        size_t lp = strlen(pol->prefix), ls = strlen(pol->suffix);
        size_t lw = strlen(name);

        if (!by_skeleton
            && (lw <= lp + ls || strncmp(name, pol->prefix, lp) != 0
                || strcmp(name + lw - ls, pol->suffix) != 0))
            continue;
        for (size_t i = 0; i < n; i++) {
            char *theirs;
            int same;

            if (strcmp(people[i].name, except) == 0)
                continue;
            if ((theirs = apid_policy_username(pol, people[i].name, err,
                                               sizeof(err))) == NULL)
                continue;
            if (by_skeleton)
                same = apid_name_skeleton(theirs, skel, sizeof(skel)) == 0
                       && strcmp(skel, want) == 0;
            else
                same = strcmp(theirs, name) == 0;
            free(theirs);
            if (same)
                return people[i].name;
        }
    }
    return NULL;
}

int
apid_name_held(const struct apid_grant *g, const char *holder,
               const char *held, char *msg, size_t msglen)
{
    char skel[APID_SKELETON_MAX];

    if (strcmp(held, g->username) != 0) {
        if (apid_name_skeleton(held, skel, sizeof(skel)) != 0)
            snprintf(skel, sizeof(skel), "?");
        fprintf(stderr, "jit-apid: account name %s: refused to %s (chosen"
                " under policy %s): it looks like %s, held by %s\n",
                g->username, g->requester, g->policy, held, holder);
        snprintf(msg, msglen, APID_LOOKALIKE_FMT, g->username, skel);
        return APID_NAME_REFUSED;
    }
    if (g->name_chosen) {
        snprintf(msg, msglen, "username: %s is taken", g->username);
        return APID_CONFLICT;
    }
    /* The person's own name: a template gave it to someone else first
     * (a name chosen before its person was in the people file, or two
     * principals with one local part).  Not theirs to settle. */
    if (g->previous != NULL) {
        fprintf(stderr, "jit-apid: account name %s: refused to %s (kept"
                " from grant %s): held by %s; an administrator resolves"
                " this (jit-apid(8), ACCOUNT NAMES)\n", g->username,
                g->requester, g->previous, holder);
        snprintf(msg, msglen, "username: %s, kept from grant %s, is held"
                 " by another person; an administrator must resolve this"
                 " (jit-apid(8), ACCOUNT NAMES)", g->username, g->previous);
    } else {
        fprintf(stderr, "jit-apid: account name %s: refused to %s (policy"
                " %s's template gives it to them): held by %s; an"
                " administrator resolves this (jit-apid(8), ACCOUNT"
                " NAMES)\n", g->username, g->requester, g->policy, holder);
        snprintf(msg, msglen, "username: %s, your account name under"
                 " policy %s, is held by another person; an administrator"
                 " must resolve this (jit-apid(8), ACCOUNT NAMES)",
                 g->username, g->policy);
    }
    return APID_CONFLICT;
}
