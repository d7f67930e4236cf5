/* SPDX-License-Identifier: MIT */
/*
 * jit-apid's people's side: requesting, deciding, revoking and
 * re-enabling grants under the policies, and reading grants, the
 * operations log and alert deliveries.  People authenticate with a
 * bearer token from the people file, or with a Kerberos ticket of the
 * principal it names (kerberos.h).
 */
#include "config.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "core/grant.h"
#include "core/timefmt.h"
#include "core/validate.h"
#include "diraccount.h"
#include "dirpeople.h"
#include "grantview.h"
#include "kerberos.h"
#include "ldap.h"

#define LIST_LIMIT 1000

static json_t *
people_grant_json(const struct apid_grant *g)
{
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o,"
        " s:s, s:s, s:s, s:o, s:o}",
        "id", g->id, "policy", g->policy, "credential", g->credential,
        "requester", g->requester, "username", g->username, "hosts",
        apid_json_string_list(g->hosts, g->n_hosts), "groups",
        apid_json_string_list(g->groups, g->n_groups), "not_before",
        apid_json_time(g->not_before), "expires_at",
        apid_json_time(g->expires_at), "reason", g->reason, "status",
        g->status, "on_logout", g->on_logout, "ssh_keys",
        apid_json_string_list(g->ssh_keys, g->n_ssh_keys), "created",
        apid_json_time(g->created));

    if (o != NULL && g->decided_by != NULL)
        json_object_set_new(o, "decided_by", json_string(g->decided_by));
    if (o != NULL && g->previous != NULL)
        json_object_set_new(o, "previous", json_string(g->previous));
    return o;
}

/* A request's groups or ssh_keys (a JSON array, or NULL) against the
 * hosts' rule for the list; 0, or -1 with a 400 naming the entry. */
static int
request_list_bad(json_t *a, const char *key, enum jit_grant_field f,
                 struct apid_reply *r)
{
    size_t n = json_array_size(a), at;
    char **v = calloc(n + 1, sizeof(char *));
    const char *why = NULL;
    int ret = -1;

    if (v == NULL) {
        apid_reply_error(r, 500, "out_of_memory", "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        /* Borrowed: the strings stay the request's. */
        if ((v[i] = (char *) json_string_value(json_array_get(a, i)))
            == NULL) {
            apid_reply_error(r, 400, "bad_request", "%s[%zu]: not a string",
                             key, i);
            goto done;
        }
    }
    if ((why = jit_grant_list_problem(f, v, n, &at)) != NULL) {
        if (at < n)
            apid_reply_error(r, 400, "bad_request", "%s[%zu]: %s", key, at,
                             why);
        else
            apid_reply_error(r, 400, "bad_request", "%s: %s", key, why);
        goto done;
    }
    ret = 0;

done:
    free(v);
    return ret;
}

/* The account name of a new grant (doc/design.md, "Account names"): a
 * name is one person's for good.  At a re-enable it is the previous
 * grant's, whatever the request says.  Else the policy's template filled
 * with the requester's own name; another name only where the policy
 * allows a choice, and then never one that a template gives another
 * person in the people file, nor one that looks like it (policy.h,
 * look-alike names).  (That no other person holds it or a look-alike
 * already, in any grant, is the store's to say, inside the insert's
 * transaction: two requests at once cannot both pass a check made
 * here.)  Sets g->username, or answers r and returns -1.  Called with
 * a->lock held. */
static int
account_name(struct apid *a, const struct apid_policy *pol,
             const struct apid_grant *prev, const char *requester,
             json_t *uname_j, const char *uname, struct apid_grant *g,
             struct apid_reply *r)
{
    char err[256], skel[APID_SKELETON_MAX], *tmpl = NULL;
    const char *why, *other;

    if (uname_j != NULL && !json_is_null(uname_j) && uname == NULL) {
        apid_reply_error(r, 400, "bad_request", "username: a string");
        return -1;
    }
    if (prev != NULL) {
        if (uname != NULL && strcmp(uname, prev->username) != 0) {
            apid_reply_error(r, 400, "bad_request",
                             "username: kept from grant %s", prev->id);
            return -1;
        }
        if ((g->username = strdup(prev->username)) == NULL) {
            apid_reply_error(r, 500, "out_of_memory", "out of memory");
            return -1;
        }
        return 0;
    }
    tmpl = apid_policy_username(pol, requester, err, sizeof(err));
    if (uname == NULL || (tmpl != NULL && strcmp(uname, tmpl) == 0)) {
        if (tmpl == NULL)
            apid_reply_error(r, 400, "bad_request", "%s%s", err,
                             pol->username_choice ? "; choose one" : "");
        g->username = tmpl;
        return tmpl != NULL ? 0 : -1;
    }
    if (!pol->username_choice) {
        if ((why = jit_name_problem(uname)) != NULL)
            apid_reply_error(r, 400, "bad_request", "username: %s", why);
        else if (tmpl != NULL)
            apid_reply_error(r, 403, "username_not_allowed",
                             "username: policy %s names %s's account %s"
                             " and allows no other", pol->name, requester,
                             tmpl);
        else
            apid_reply_error(r, 403, "username_not_allowed", "%s, and"
                             " allows no choice", err);
        free(tmpl);
        return -1;
    }
    free(tmpl);
    if (apid_policy_name_fits(pol, uname, err, sizeof(err)) != 0) {
        apid_reply_error(r, 400, "bad_request", "%s", err);
        return -1;
    }
    /* Whose it would be stays unsaid: the answer is the same as for a
     * name another person holds (the store's), and so is a look-alike's
     * (which the server's log names, as the store does). */
    if (apid_policy_name_entitled(&a->pol, a->auth.people, a->auth.n_people,
                                  uname, requester, 0) != NULL) {
        apid_reply_error(r, 409, "conflict", "username: %s is taken", uname);
        return -1;
    }
    if ((other = apid_policy_name_entitled(&a->pol, a->auth.people,
                                           a->auth.n_people, uname,
                                           requester, 1)) != NULL) {
        if (apid_name_skeleton(uname, skel, sizeof(skel)) != 0)
            snprintf(skel, sizeof(skel), "?");
        fprintf(stderr, "jit-apid: account name %s: refused to %s (chosen"
                " under policy %s): it looks like a name a template gives"
                " %s\n", uname, requester, pol->name, other);
        apid_reply_error(r, 403, "username_not_allowed", APID_LOOKALIKE_FMT,
                         uname, skel);
        return -1;
    }
    if ((g->username = strdup(uname)) == NULL) {
        apid_reply_error(r, 500, "out_of_memory", "out of memory");
        return -1;
    }
    /* The store checks it against the names held, in the insert's
     * transaction. */
    g->name_chosen = 1;
    return 0;
}

/* Build a new grant from a request (or a re-enable of prev) under the
 * policies; the reply says what is wrong, if anything.  0 or -1. */
/* Whether pol lets who request under it (its requesters list; none:
 * anyone the people file or the directory admits). */
static int
may_request(const struct apid_policy *pol, const struct apid_principal *who,
            const struct apid_dirperson *dp)
{
    return pol->n_requesters == 0
           || apid_dir_listed(pol->requesters, pol->n_requesters, who->name,
                              dp);
}

/* The person's sshPublicKey values from the directory as a grant's keys,
 * each through the hosts' own check; a bad one is left out and logged
 * (one bad key stops none of the others).  0, or -1 with a 400 in r. */
static int
directory_keys(const struct apid_dirperson *dp, const char *who,
               struct apid_grant *g, struct apid_reply *r)
{
    const char *why;
    size_t i;

    for (size_t k = 0; k < dp->n_keys; k++) {
        if ((why = jit_grant_field_problem(JIT_GRANT_F_SSH_KEY, dp->keys[k]))
            != NULL) {
            fprintf(stderr, "jit-apid: %s: directory sshPublicKey %zu left"
                    " out: %s\n", who, k, why);
            continue;
        }
        if ((g->ssh_keys[g->n_ssh_keys] = strdup(dp->keys[k])) != NULL)
            g->n_ssh_keys++;
    }
    if ((why = jit_grant_list_problem(JIT_GRANT_F_SSH_KEY, g->ssh_keys,
                                      g->n_ssh_keys, &i)) != NULL) {
        apid_reply_error(r, 400, "bad_request", "ssh_keys: the directory's"
                         " key %zu %s; send ssh_keys", i, why);
        return -1;
    }
    return 0;
}

static int
build_grant(struct apid *a, json_t *in, const struct apid_principal *who,
            const struct apid_dirperson *dp, const struct apid_grant *prev,
            struct apid_grant *g, struct apid_reply *r)
{
    const struct apid_policy *refused = NULL;
    const char *cred = prev ? prev->credential
                            : json_string_value(json_object_get(in,
                                                                "credential"));
    const char *host = json_string_value(json_object_get(in, "host"));
    const char *hgname = json_string_value(json_object_get(in, "host_group"));
    const char *reason = json_string_value(json_object_get(in, "reason"));
    const char *polname = json_string_value(json_object_get(in, "policy"));
    json_t *uname_j = json_object_get(in, "username");
    const char *uname = json_string_value(uname_j);
    json_t *dur = json_object_get(in, "duration");
    json_t *groups = json_object_get(in, "groups");
    json_t *keys = json_object_get(in, "ssh_keys");
    const struct apid_host_group *hg = NULL;
    const struct apid_policy *pol = NULL;
    const char *why;
    size_t i;
    json_t *x;
    /* A directory account (diraccount.h): no host named, or the re-enable
     * of a grant that had none. */
    int dir = prev ? prev->n_hosts == 0 : host == NULL && hgname == NULL;

    memset(g, 0, sizeof(*g));
    /* Every field by the hosts' own rules (lib/core/grant.c), in their words:
     * a grant stored is a grant every host accepts. */
    if (cred == NULL) {
        apid_reply_error(r, 400, "bad_request", "credential: required, a"
                         " string");
        return -1;
    }
    if ((why = jit_grant_field_problem(JIT_GRANT_F_CREDENTIAL, cred))
        != NULL) {
        apid_reply_error(r, 400, "bad_request", "credential: %s", why);
        return -1;
    }
    if (reason == NULL) {
        apid_reply_error(r, 400, "bad_request", "reason: required, a string");
        return -1;
    }
    if ((why = jit_grant_field_problem(JIT_GRANT_F_REASON, reason)) != NULL) {
        apid_reply_error(r, 400, "bad_request", "reason: %s", why);
        return -1;
    }
    if ((groups != NULL && !json_is_array(groups))
        || (keys != NULL && !json_is_array(keys))) {
        apid_reply_error(r, 400, "bad_request", "%s: a list of strings",
                         groups != NULL && !json_is_array(groups)
                             ? "groups" : "ssh_keys");
        return -1;
    }
    if (request_list_bad(groups, "groups", JIT_GRANT_F_GROUP, r) != 0
        || request_list_bad(keys, "ssh_keys", JIT_GRANT_F_SSH_KEY, r) != 0)
        return -1;
    /* A re-enable without keys keeps the old grant's, which an older
     * jit-apid may have taken under looser rules: the requester is told,
     * not the log (it is not drift). */
    if (prev != NULL && keys == NULL
        && (why = jit_grant_list_problem(JIT_GRANT_F_SSH_KEY, prev->ssh_keys,
                                         prev->n_ssh_keys, &i)) != NULL) {
        apid_reply_error(r, 400, "bad_request", "ssh_keys: grant %s's key"
                         " %zu %s; send ssh_keys", prev->id, i, why);
        return -1;
    }
    if (!json_is_integer(dur) || json_integer_value(dur) <= 0) {
        apid_reply_error(r, 400, "bad_request", "duration: seconds, a positive"
                    " integer");
        return -1;
    }
    if (prev != NULL) {
        host = NULL;
        hgname = NULL;
    } else if (host != NULL && hgname != NULL) {
        apid_reply_error(r, 400, "bad_request", "host or host_group: one of"
                    " them (or neither, for a directory account)");
        return -1;
    }
    if (hgname != NULL && (hg = apid_host_group(&a->pol, hgname)) == NULL) {
        apid_reply_error(r, 400, "bad_request", "host_group: no such group");
        return -1;
    }
    /* An empty group would make a grant on no host, which is what a
     * directory account is: a hosts policy must never give one. */
    if (hg != NULL && hg->n_hosts == 0) {
        apid_reply_error(r, 400, "bad_request", "host_group: %s has no"
                         " hosts", hgname);
        return -1;
    }
    if (host != NULL
        && (why = jit_grant_field_problem(JIT_GRANT_F_HOST, host)) != NULL) {
        apid_reply_error(r, 400, "bad_request", "host: %s", why);
        return -1;
    }
    /* The policy: the one named, or the first for the credential that
     * covers every host asked for. */
    for (size_t k = 0; k < a->pol.n && pol == NULL; k++) {
        const struct apid_policy *p = &a->pol.v[k];
        int covers = strcmp(p->credential, cred) == 0;

        if (polname != NULL && strcmp(p->name, polname) != 0)
            continue;
        if (p->target_directory != dir)
            continue;
        if (host != NULL)
            covers = covers && apid_policy_has_host(p, host);
        for (size_t h = 0; hg != NULL && h < hg->n_hosts; h++)
            covers = covers && apid_policy_has_host(p, hg->hosts[h]);
        for (size_t h = 0; prev != NULL && h < prev->n_hosts; h++)
            covers = covers && apid_policy_has_host(p, prev->hosts[h]);
        /* A policy that does not list the person is passed over: another
         * for the same hosts may. */
        if (covers && !may_request(p, who, dp))
            refused = p;
        else if (covers)
            pol = p;
    }
    if (pol == NULL && refused != NULL) {
        apid_reply_error(r, 403, "not_a_requester", "policy %s: %s is not"
                         " among its requesters (a person or a directory"
                         " group it names)", refused->name, who->name);
        return -1;
    }
    if (pol == NULL) {
        if (dir)
            apid_reply_error(r, 403, "no_policy", "no policy grants %s as"
                             " a directory account (name host or"
                             " host_group for an account on hosts)", cred);
        else
            apid_reply_error(r, 403, "no_policy", "no policy grants %s on %s",
                             cred,
                             host     ? host
                             : hgname ? hgname
                                      : "these hosts");
        return -1;
    }
    if (json_integer_value(dur) > pol->max_duration) {
        apid_reply_error(r, 400, "bad_request",
                         "duration: at most %lld s under"
                         " policy %s",
                         (long long)pol->max_duration, pol->name);
        return -1;
    }
    g->policy = strdup(pol->name);
    g->credential = strdup(cred);
    g->requester = strdup(prev ? prev->requester : who->name);
    g->reason = strdup(reason);
    g->status = strdup(pol->auto_approve ? "active" : "pending");
    g->on_logout = strdup(pol->on_logout);
    if (account_name(a, pol, prev, prev ? prev->requester : who->name,
                     uname_j, uname, g, r) != 0)
        goto fail;
    /* Hosts. */
    if (dir) {
        g->hosts = calloc(1, sizeof(char *));
    } else if (host != NULL) {
        g->hosts = calloc(1, sizeof(char *));
        if (g->hosts && (g->hosts[0] = strdup(host)))
            g->n_hosts = 1;
    } else {
        char *const *src = hg ? hg->hosts : prev->hosts;
        size_t ns = hg ? hg->n_hosts : prev->n_hosts;

        g->hosts = calloc(ns + 1, sizeof(char *));
        for (size_t h = 0; g->hosts && h < ns; h++)
            if ((g->hosts[h] = strdup(src[h])) != NULL)
                g->n_hosts++;
    }
    /* Groups: those asked for, each allowed by the policy; default all. */
    g->groups = calloc(pol->n_groups + json_array_size(groups) + 1,
                       sizeof(char *));
    if (groups == NULL && g->groups != NULL) {
        for (size_t k = 0; k < pol->n_groups; k++)
            if ((g->groups[g->n_groups] = strdup(pol->groups[k])) != NULL)
                g->n_groups++;
    }
    json_array_foreach(groups, i, x)
    {
        const char *gr = json_string_value(x);

        if (!apid_policy_has_group(pol, gr)) {
            apid_reply_error(r, 403, "group_not_allowed", "groups[%zu]: not"
                        " allowed by policy %s", i, pol->name);
            goto fail;
        }
        if (g->groups && (g->groups[g->n_groups] = strdup(gr)) != NULL)
            g->n_groups++;
    }
    /* SSH keys: the request's, or the previous grant's. */
    g->ssh_keys = calloc((prev ? prev->n_ssh_keys : 0)
                             + json_array_size(keys) + 1,
                         sizeof(char *));
    json_array_foreach(keys, i, x)
    {
        const char *k = json_string_value(x);

        if (g->ssh_keys && (g->ssh_keys[g->n_ssh_keys] = strdup(k)) != NULL)
            g->n_ssh_keys++;
    }
    for (size_t k = 0; keys == NULL && prev && g->ssh_keys
                       && k < prev->n_ssh_keys; k++)
        if ((g->ssh_keys[g->n_ssh_keys] = strdup(prev->ssh_keys[k])) != NULL)
            g->n_ssh_keys++;
    /* A new request with no keys: the person's in the directory. */
    if (keys == NULL && prev == NULL && dp != NULL && dp->n_keys > 0) {
        char **kv = realloc(g->ssh_keys, (dp->n_keys + 1) * sizeof(char *));

        if (kv == NULL) {
            apid_reply_error(r, 500, "out_of_memory", "out of memory");
            goto fail;
        }
        g->ssh_keys = kv;
        if (directory_keys(dp, who->name, g, r) != 0)
            goto fail;
    }
    g->not_before = apid_now();
    g->expires_at = g->not_before + json_integer_value(dur);
    if (prev != NULL)
        g->previous = strdup(prev->id);
    if (!g->policy || !g->credential || !g->requester || !g->reason
        || !g->status || !g->on_logout || !g->hosts || !g->groups
        || !g->ssh_keys || (prev && !g->previous)) {
        apid_reply_error(r, 500, "out_of_memory", "out of memory");
        goto fail;
    }
    return 0;

fail:
    apid_grant_free(g);
    return -1;
}

static void dir_account_reply(struct apid *a,
                              const struct apid_principal *who,
                              const char *id, unsigned status,
                              int password_only, int with_password,
                              struct apid_reply *r);

/* A directory grant's account as the grant's answer shows it. */
static void
dir_account_json(struct apid *a, json_t *o, const char *grant)
{
    struct apid_diracct d;
    json_t *x;

    if (o == NULL || apid_store_diracct_get(a->store, grant, &d) != APID_OK)
        return;
    x = json_pack("{s:s, s:s, s:i}", "username", d.username, "state",
                  d.state, "attempts", d.attempts);

    if (x != NULL && d.last_error != NULL)
        json_object_set_new(x, "last_error", json_string(d.last_error));
    if (x != NULL && d.next_try != 0 && strcmp(d.state, "disable_failed") == 0)
        json_object_set_new(x, "next_try", apid_json_time(d.next_try));
    json_object_set_new(o, "directory_account", x);
    free(d.username);
    free(d.grant);
    free(d.state);
    free(d.last_error);
    free(d.entry_uuid);
}

/* Grant id (active, a directory account's) gets its account, or a new
 * password (password_only); the answer is the grant, with the password
 * when with_password: the only place it is ever given.  A directory
 * that cannot make the account leaves nothing half-done: the grant is
 * revoked at once, and the teardown undoes whatever step was made. */
static void
dir_enable_reply(struct apid *a, const struct apid_principal *who,
                 const struct apid_grant *g, unsigned status,
                 struct apid_reply *r)
{
    /* The password is the requester's alone: an admin re-enabling
     * another person's account does not learn it (the requester asks
     * for it with POST /v1/grants/{id}/password). */
    dir_account_reply(a, who, g->id, status, 0,
                      strcmp(g->requester, who->name) == 0, r);
}

static void
dir_account_reply(struct apid *a, const struct apid_principal *who,
                  const char *id, unsigned status, int password_only,
                  int with_password, struct apid_reply *r)
{
    char pw[APID_DIR_PASSWORD_MAX], err[512] = "", detail[600];
    struct apid_grant g;
    json_t *o;
    int rc, ret;

    if ((ret = apid_store_grant_get(a->store, id, &g, apid_now())) != APID_OK) {
        apid_reply_store_error(r, a, ret);
        return;
    }
    rc = password_only
             ? apid_diracct_password(a, &g, who->name, pw, sizeof(pw), err,
                                     sizeof(err))
             : apid_diracct_enable(a, &g, who->name,
                                   with_password ? pw : NULL, sizeof(pw),
                                   err, sizeof(err));
    if (rc != APID_LDAP_OK) {
        explicit_bzero(pw, sizeof(pw));
        fprintf(stderr, "jit-apid: directory: grant %s (%s): %s\n", id,
                g.username, err);
        if (!password_only) {
            snprintf(detail, sizeof(detail), "the directory could not enable"
                     " account %s: %s", g.username, err);
            if (apid_store_grant_transition(a->store, id, "active", "revoked",
                                            "jit-apid", detail, apid_now())
                != APID_OK)
                fprintf(stderr, "jit-apid: directory: grant %s: %s\n", id,
                        apid_store_error(a->store));
            apid_changed(a);
        }
        if (rc == APID_DIR_BUSY)
            apid_reply_error(r, 409, "conflict", "%s; the grant is revoked,"
                             " ask again in a moment", err);
        else if (rc == APID_DIR_NOT_HELD)
            apid_reply_error(r, 409, "conflict", "%s", err);
        else if (rc == APID_LDAP_DOWN)
            apid_reply_error(r, 503, "directory_unavailable", "the directory"
                             " cannot be reached: %s%s", err,
                             password_only ? "" : "; the grant is revoked,"
                             " ask again later");
        else
            apid_reply_error(r, 502, "directory_refused", "the directory"
                             " refused account %s: %s%s", g.username, err,
                             password_only ? "" : "; the grant is revoked");
        apid_grant_free(&g);
        return;
    }
    apid_grant_free(&g);
    if ((ret = apid_store_grant_get(a->store, id, &g, apid_now())) != APID_OK) {
        explicit_bzero(pw, sizeof(pw));
        apid_reply_store_error(r, a, ret);
        return;
    }
    o = people_grant_json(&g);
    dir_account_json(a, o, id);
    if (o != NULL && with_password)
        json_object_set_new(o, "password", json_string(pw));
    explicit_bzero(pw, sizeof(pw));
    /* jansson's copy wiped after the answer is made, the answer once
     * sent (server.c); what json_dumps's growing buffer left behind in
     * freed memory is not reached. */
    json_incref(o);
    apid_reply_json(r, status, o);
    r->secret = with_password;
    if (o != NULL && with_password) {
        json_t *p = json_object_get(o, "password");

        if (p != NULL)
            explicit_bzero((char *) json_string_value(p),
                           json_string_length(p));
    }
    json_decref(o);
    apid_grant_free(&g);
}

static void
post_grant(struct apid *a, const struct apid_principal *who,
           const struct apid_dirperson *dp, const struct apid_req *q,
           const struct apid_grant *prev, struct apid_reply *r)
{
    json_t *in = apid_body_object(q, r);
    struct apid_grant g;
    char why[512];
    int ret;

    if (in == NULL)
        goto done;
    pthread_rwlock_rdlock(&a->lock);
    ret = build_grant(a, in, who, dp, prev, &g, r);
    pthread_rwlock_unlock(&a->lock);
    if (ret != 0)
        goto done;
    /* Belt and braces: the hosts' own parser on what they will see (a
     * directory account's grant no host sees). */
    if (g.n_hosts > 0 && apid_grant_host_check(&g, why, sizeof(why)) != 0) {
        fprintf(stderr, "jit-apid: grant for %s on credential %s not stored:"
                " a host would refuse it (%s); the request checks and"
                " lib/core/grant.c have drifted\n", who->name, g.credential, why);
        apid_reply_error(r, 500, "contract_drift", "the grant would be"
                         " refused by its hosts; nothing stored");
        apid_grant_free(&g);
        goto done;
    }
    ret = apid_store_grant_insert(a->store, &g, who->name, g.reason,
                                  apid_now());
    if (ret == APID_OK && g.n_hosts == 0 && strcmp(g.status, "active") == 0) {
        /* A directory account, approved at once: made now, its password
         * in this answer and nowhere else. */
        apid_changed(a);
        dir_enable_reply(a, who, &g, 201, r);
    } else if (ret == APID_OK) {
        struct apid_grant stored;

        apid_changed(a);
        if (apid_store_grant_get(a->store, g.id, &stored, apid_now())
            == APID_OK) {
            apid_reply_json(r, 201, people_grant_json(&stored));
            apid_grant_free(&stored);
        } else {
            apid_reply_json(r, 201, people_grant_json(&g));
        }
    } else {
        apid_reply_store_error(r, a, ret);
    }
    apid_grant_free(&g);

done:
    json_decref(in);
}

/* approve, deny, revoke, enable on grant id. */
/* Whether who decides g: an approver other than the requester; where
 * g's policy lists approvers, one of them (whatever the role).  NULL, or
 * the words of the refusal. */
static const char *
decide_problem(struct apid *a, const struct apid_principal *who,
               const struct apid_dirperson *dp, const struct apid_grant *g,
               int approving)
{
    const struct apid_policy *pol;
    const char *why = NULL;
    int self = strcasecmp(g->requester, who->name) == 0;

    /* With people in the directory, one person has several names (a
     * token's "alice", a ticket's "alice@REALM", another case of either:
     * the directory matches them alike), so "the requester" is the
     * requester's entry, compared by DN.  The requester is looked up
     * again, too: one the directory disables or lost is not approved
     * (a denial still is made). */
    if (a->ldap != NULL && a->conf.people_source != APID_PEOPLE_FILE) {
        struct apid_dirperson rdp;
        char err[512];
        char *rv = apid_dir_lookup_value(&a->conf, g->requester);
        char *wv = apid_dir_lookup_value(&a->conf, who->name);

        if (rv != NULL && wv != NULL && strcasecmp(rv, wv) == 0)
            self = 1;
        free(rv);
        free(wv);
        if (apid_dir_person(a->ldap, &a->conf, g->requester, &rdp, err,
                            sizeof(err))
            != APID_LDAP_OK) {
            fprintf(stderr, "jit-apid: directory: requester %s: %s\n",
                    g->requester, err);
            why = "the directory cannot be asked about the requester now;"
                  " try again later";
        } else if (approving && rdp.found && rdp.disabled != NULL) {
            why = "the requester is disabled in the directory";
        } else if (approving && !rdp.found
                   && a->conf.people_source == APID_PEOPLE_LDAP) {
            why = "the requester has no entry in the directory";
        } else if (rdp.found && dp != NULL && dp->found && rdp.dn != NULL
                   && dp->dn != NULL && strcasecmp(rdp.dn, dp->dn) == 0) {
            self = 1;
        }
        apid_dirperson_free(&rdp);
        if (why != NULL)
            return why;
    }
    pthread_rwlock_rdlock(&a->lock);
    pol = g->policy ? apid_policy_find(&a->pol, g->policy) : NULL;
    if (pol != NULL && pol->n_approvers > 0) {
        if (self
            || !apid_dir_listed(pol->approvers, pol->n_approvers, who->name,
                                dp))
            why = "an approver the grant's policy lists, other than the"
                  " requester, decides";
    } else if (who->role < APID_APPROVER || self) {
        why = "an approver other than the requester decides";
    }
    pthread_rwlock_unlock(&a->lock);
    return why;
}

static void
grant_action(struct apid *a, const struct apid_principal *who,
             const struct apid_dirperson *dp, const char *id,
             const char *action, const struct apid_req *q,
             struct apid_reply *r)
{
    struct apid_grant g;
    json_t *in = NULL;
    const char *reason = NULL, *why;
    int own, ret;

    if ((ret = apid_store_grant_get(a->store, id, &g, apid_now()))
        != APID_OK) {
        apid_reply_store_error(r, a, ret);
        return;
    }
    own = strcmp(g.requester, who->name) == 0;
    if (q->len > 0) {
        if ((in = apid_body_object(q, r)) == NULL)
            goto done;
        reason = json_string_value(json_object_get(in, "reason"));
        if (reason != NULL
            && (why = jit_grant_field_problem(JIT_GRANT_F_REASON, reason))
                   != NULL) {
            apid_reply_error(r, 400, "bad_request", "reason: %s", why);
            goto done;
        }
    }
    if (strcmp(action, "enable") == 0) {
        if (!own && who->role != APID_ADMIN) {
            apid_reply_error(r, 403, "forbidden", "only the grant's requester"
                        " may re-enable it");
            goto done;
        }
        if (strcmp(g.status, "expired") != 0
            && strcmp(g.status, "revoked") != 0) {
            apid_reply_error(r, 409, "conflict", "grant %s is %s; only an"
                        " expired or revoked grant is re-enabled", id,
                        g.status);
            goto done;
        }
        post_grant(a, who, dp, q, &g, r);
        goto done;
    }
    if (strcmp(action, "password") == 0) {
        /* A directory account's new password, for its requester alone:
         * after an approval (whose answer went to the approver, and held
         * none), or when the one given is lost. */
        if (!own) {
            apid_reply_error(r, 403, "forbidden", "only the grant's requester"
                             " gets its account's password");
            goto done;
        }
        if (g.n_hosts != 0 || strcmp(g.status, "active") != 0) {
            apid_reply_error(r, 409, "conflict", "grant %s is %s%s; a"
                             " password is given for an active directory"
                             " account", id, g.status,
                             g.n_hosts != 0 ? " on hosts" : "");
            goto done;
        }
        dir_account_reply(a, who, id, 200, 1, 1, r);
        goto done;
    }
    if (strcmp(action, "revoke") == 0) {
        if (!own && who->role < APID_APPROVER) {
            apid_reply_error(r, 403, "forbidden", "only the requester or an"
                        " approver may revoke a grant");
            goto done;
        }
        ret = apid_store_grant_transition(a->store, id, "active,pending",
                                          "revoked", who->name, reason,
                                          apid_now());
    } else {
        if ((why = decide_problem(a, who, dp, &g,
                                  strcmp(action, "approve") == 0)) != NULL) {
            apid_reply_error(r, 403, "forbidden", "%s", why);
            goto done;
        }
        ret = apid_store_grant_transition(
            a->store, id, "pending",
            strcmp(action, "approve") == 0 ? "active" : "denied", who->name,
            reason, apid_now());
    }
    if (ret != APID_OK) {
        apid_reply_store_error(r, a, ret);
        goto done;
    }
    apid_changed(a);
    if (strcmp(action, "approve") == 0 && g.n_hosts == 0) {
        /* A directory account approved: made now, with a password no
         * one is told (the approver must not learn it); its requester
         * asks for one (POST .../password). */
        dir_account_reply(a, who, id, 200, 0, 0, r);
        goto done;
    }
    apid_grant_free(&g); /* zeroed: safe to free again below */
    if ((ret = apid_store_grant_get(a->store, id, &g, apid_now()))
        != APID_OK) {
        apid_reply_store_error(r, a, ret);
        goto done;
    }
    apid_reply_json(r, 200, people_grant_json(&g));

done:
    apid_grant_free(&g);
    json_decref(in);
}

/* Whether the grant's view shows an account some host still owes a
 * teardown of: only then can a later grant have taken it over. */
static int
owes_teardown(json_t *arr)
{
    size_t i;
    json_t *h;

    json_array_foreach(arr, i, h) {
        const char *st = json_string_value(json_object_get(h, "state"));

        if (st != NULL && (strcmp(st, "tearing_down") == 0
                           || strcmp(st, "disable_failed") == 0))
            return 1;
    }
    return 0;
}

/* The grant's "hosts": what each host did with its account (doc/design.md,
 * S25), from the grant's events v (its caller's, read once).  A kept
 * account outlives its grant when a later grant of the same person takes
 * it over: those are looked up (one query) only for an ended grant that
 * still shows an account a host has not deleted. */
static json_t *
hosts_json(struct apid *a, const struct apid_grant *g,
           const struct apid_event *v, size_t n, int64_t now)
{
    struct apid_handover *ho = NULL;
    size_t nho = 0;
    char *id = (char *) g->id;
    json_t *arr = apid_grant_hosts_json(g, v, n, NULL, 0, now);

    if (arr == NULL || !owes_teardown(arr))
        return arr;
    /* Unread, the view shows the teardowns owed without the handovers:
     * said here, for the store's error is no one else's to see. */
    if (apid_store_handovers(a->store, &id, 1, &ho, &nho) != APID_OK)
        fprintf(stderr, "jit-apid: handovers: grant %s: %s\n", g->id,
                apid_store_error(a->store));
    else if (nho > 0) {
        json_decref(arr);
        arr = apid_grant_hosts_json(g, v, n, ho, nho, now);
    }
    apid_handovers_free(ho, nho);
    return arr;
}

/* The first of v's n events of grant id (v sorted by grant: store.h),
 * and how many: *first n if none. */
static size_t
events_of(const struct apid_event *v, size_t n, const char *id,
          size_t *first)
{
    size_t lo = 0, hi = n, k;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (strcmp(v[mid].grant ? v[mid].grant : "", id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (k = lo; k < n && v[k].grant && strcmp(v[k].grant, id) == 0; k++)
        ;
    *first = lo;
    return k - lo;
}

/* The same for handovers (sorted by orig). */
static size_t
handovers_of(const struct apid_handover *v, size_t n, const char *id,
             size_t *first)
{
    size_t lo = 0, hi = n, k;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (strcmp(v[mid].orig, id) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (k = lo; k < n && strcmp(v[k].orig, id) == 0; k++)
        ;
    *first = lo;
    return k - lo;
}

/*
 * A page of grants costs two queries for their hosts' views, however
 * many grants and hosts it holds: every grant's events in one, and the
 * handovers of the ended grants that still show an account owed a
 * teardown in another (it took one query per grant and a few per ended
 * grant: up to 1000 and more for a page).  Views built before the
 * handovers are known are built again for those grants.  A store that
 * fails leaves the view out (as it did per grant).
 */
static void
page_hosts(struct apid *a, struct apid_grant *v, size_t n, json_t *arr,
           int64_t now)
{
    struct apid_event *ev = NULL;
    struct apid_handover *ho = NULL;
    size_t nev = 0, nho = 0, k = 0, owe = 0, first, cnt;
    char **ids = calloc(n ? n : 1, sizeof(*ids));
    char **owing = calloc(n ? n : 1, sizeof(*owing));
    json_t **views = calloc(n ? n : 1, sizeof(*views));

    if (ids == NULL || owing == NULL || views == NULL)
        goto done;
    for (size_t i = 0; i < n; i++)
        if (v[i].n_hosts > 0)
            ids[k++] = v[i].id;
    if (k == 0)
        goto done;
    if (apid_store_events_for_grants(a->store, ids, k, &ev, &nev)
        != APID_OK) {
        fprintf(stderr, "jit-apid: grants' events: %s\n",
                apid_store_error(a->store));
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i].n_hosts == 0)
            continue;
        cnt = events_of(ev, nev, v[i].id, &first);
        /* (No events at all: ev is NULL, and NULL + 0 is undefined.) */
        views[i] = apid_grant_hosts_json(&v[i], cnt ? ev + first : NULL, cnt,
                                         NULL, 0,
                                         now);
        if (views[i] != NULL && owes_teardown(views[i]))
            owing[owe++] = v[i].id;
    }
    /* Unread, the views show the teardowns owed without the handovers:
     * said here, for the store's error is no one else's to see. */
    if (owe > 0
        && apid_store_handovers(a->store, owing, owe, &ho, &nho) != APID_OK)
        fprintf(stderr, "jit-apid: handovers: %zu grants: %s\n", owe,
                apid_store_error(a->store));
    else if (owe > 0)
        for (size_t i = 0; i < n; i++) {
            json_t *again;

            if (views[i] == NULL
                || handovers_of(ho, nho, v[i].id, &first) == 0)
                continue;
            cnt = events_of(ev, nev, v[i].id, &k);
            again = apid_grant_hosts_json(&v[i], cnt ? ev + k : NULL, cnt,
                                          ho + first,
                                          handovers_of(ho, nho, v[i].id,
                                                       &first),
                                          now);
            if (again != NULL) {
                json_decref(views[i]);
                views[i] = again;
            }
        }
    for (size_t i = 0; i < n; i++) {
        /* Taken by the grant's object (or dropped, if that failed). */
        if (views[i] != NULL)
            json_object_set_new(json_array_get(arr, i), "host_accounts",
                                views[i]);
        views[i] = NULL;
    }

done:
    for (size_t i = 0; views != NULL && i < n; i++)
        json_decref(views[i]);
    apid_events_free(ev, nev);
    apid_handovers_free(ho, nho);
    free(ids);
    free(owing);
    free(views);
}

static void
get_grants(struct apid *a, const struct apid_req *q,
           const struct apid_principal *who, struct apid_reply *r)
{
    struct apid_grant_filter f = {
        .requester = q->arg(q, "requester"),
        .credential = q->arg(q, "credential"),
        .status = q->arg(q, "status"),
        .host = q->arg(q, "host"),
    };
    struct apid_grant *v = NULL;
    json_t *arr;
    size_t n = 0;
    int ret;

    /* A requester sees their own grants. */
    if (who->role == APID_REQUESTER)
        f.requester = who->name;
    if ((ret = apid_store_grant_list(a->store, &f, LIST_LIMIT, &v, &n,
                                     apid_now())) != APID_OK) {
        apid_reply_store_error(r, a, ret);
        return;
    }
    arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, people_grant_json(&v[i])) != 0) {
            /* One grant's answer lost would shift the views onto the
             * wrong grants. */
            json_decref(arr);
            arr = NULL;
        }
    if (arr != NULL)
        page_hosts(a, v, n, arr, apid_now());
    apid_grants_free(v, n);
    apid_reply_json(r, 200, json_pack("{s:o}", "grants", arr));
}

static json_t *
events_array(const struct apid_event *v, size_t n)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr && i < n; i++) {
        json_t *e = json_pack("{s:s, s:s, s:s, s:o, s:o}", "id", v[i].id,
                              "host", v[i].host, "type", v[i].type, "time",
                              apid_json_time(v[i].time), "received",
                              apid_json_time(v[i].received));

        if (e != NULL && v[i].username)
            json_object_set_new(e, "username", json_string(v[i].username));
        if (e != NULL && v[i].requester)
            json_object_set_new(e, "requester", json_string(v[i].requester));
        if (e != NULL && v[i].detail)
            json_object_set_new(e, "detail", json_loads(v[i].detail, 0,
                                                        NULL));
        json_array_append_new(arr, e);
    }
    return arr;
}

static json_t *
events_json(struct apid *a, const char *grant)
{
    struct apid_event *v = NULL;
    size_t n = 0;
    json_t *arr;

    if (apid_store_events_for_grant(a->store, grant, &v, &n) != APID_OK)
        return json_array();
    arr = events_array(v, n);
    apid_events_free(v, n);
    return arr;
}

static void
get_grant(struct apid *a, const struct apid_principal *who, const char *id,
          struct apid_reply *r)
{
    struct apid_grant g;
    struct apid_event *ev = NULL;
    size_t nev = 0;
    json_t *o;
    int ret, have;

    if ((ret = apid_store_grant_get(a->store, id, &g, apid_now()))
        != APID_OK) {
        apid_reply_store_error(r, a, ret);
        return;
    }
    if (who->role == APID_REQUESTER && strcmp(g.requester, who->name) != 0) {
        apid_grant_free(&g);
        apid_reply_error(r, 404, "not_found", "no grant %s", id);
        return;
    }
    /* One read of the events for both the record and the hosts' view. */
    have = apid_store_events_for_grant(a->store, id, &ev, &nev) == APID_OK;
    o = people_grant_json(&g);
    if (o != NULL)
        json_object_set_new(o, "events",
                            have ? events_array(ev, nev) : json_array());
    if (o != NULL && g.n_hosts > 0 && have)
        json_object_set_new(o, "host_accounts",
                            hosts_json(a, &g, ev, nev, apid_now()));
    if (g.n_hosts == 0)
        dir_account_json(a, o, id);
    apid_events_free(ev, nev);
    apid_grant_free(&g);
    apid_reply_json(r, 200, o);
}

/* An operation whose detail names alert recipients: every alerts.*
 * change but a type's enable or disable. */
static int
recipients_named(const char *action)
{
    return strncmp(action, "alerts.", 7) == 0
           && strcmp(action, "alerts.enable") != 0
           && strcmp(action, "alerts.disable") != 0;
}

static void
get_operations(struct apid *a, const struct apid_req *q,
               const struct apid_principal *who, struct apid_reply *r)
{
    const char *grant = q->arg(q, "grant");
    struct apid_op *v = NULL;
    json_t *arr;
    size_t n = 0;
    int ret;

    if (who->role == APID_REQUESTER) {
        struct apid_grant g;

        if (grant == NULL
            || apid_store_grant_get(a->store, grant, &g, apid_now())
                   != APID_OK) {
            apid_reply_error(r, 403, "forbidden",
                             "a requester reads the log of"
                             " one of their grants (?grant=ID)");
            return;
        }
        ret = strcmp(g.requester, who->name) == 0;
        apid_grant_free(&g);
        if (!ret) {
            apid_reply_error(r, 403, "forbidden", "not your grant");
            return;
        }
    }
    if ((ret = apid_store_ops(a->store, grant, LIST_LIMIT, &v, &n))
        != APID_OK) {
        apid_reply_store_error(r, a, ret);
        return;
    }
    arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *o = json_pack("{s:I, s:o, s:s, s:s}", "seq",
                              (json_int_t) v[i].seq, "time",
                              apid_json_time(v[i].time), "actor", v[i].actor,
                              "action", v[i].action);
        int oldest = v[i].grant != NULL;

        /* A grant's host events once, under its oldest operation listed
         * (newest first: the last one of the grant here), which is the
         * request or re-enable that made it unless the limit cut it. */
        for (size_t k = i + 1; oldest && k < n; k++)
            oldest = v[k].grant == NULL || strcmp(v[k].grant, v[i].grant) != 0;
        if (o != NULL && v[i].grant)
            json_object_set_new(o, "grant", json_string(v[i].grant));
        if (o != NULL && oldest)
            json_object_set_new(o, "host_events", events_json(a, v[i].grant));
        /* A change of who is alerted names them: the alert settings'
         * to show, admins' alone (doc/design.md, S30); others see who
         * changed them, and when. */
        if (o != NULL && v[i].detail
            && (who->role == APID_ADMIN || !recipients_named(v[i].action)))
            json_object_set_new(o, "detail", json_string(v[i].detail));
        json_array_append_new(arr, o);
    }
    apid_ops_free(v, n);
    apid_reply_json(r, 200, json_pack("{s:o}", "operations", arr));
}

static void
get_alerts(struct apid *a, const struct apid_principal *who,
           struct apid_reply *r)
{
    struct apid_alert_rec *v = NULL;
    json_t *arr;
    size_t n = 0;
    int ret;

    if (who->role < APID_APPROVER) {
        apid_reply_error(r, 403, "forbidden", "approvers and admins read the"
                    " alert deliveries");
        return;
    }
    if ((ret = apid_store_alerts_list(a->store, LIST_LIMIT, &v, &n))
        != APID_OK) {
        apid_reply_store_error(r, a, ret);
        return;
    }
    arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:i, s:o}", "id",
                              (json_int_t) v[i].id, "event", v[i].event,
                              "type", v[i].type, "status", v[i].status,
                              "attempts", v[i].attempts, "created",
                              apid_json_time(v[i].created));

        if (o != NULL && v[i].delivered)
            json_object_set_new(o, "delivered",
                                apid_json_time(v[i].delivered));
        /* Who is told, and how (an address, a webhook's URL, and the
         * errors that name them), is the alert settings' to show, and
         * those are admins' alone (doc/design.md, S30): an approver sees
         * that an alert went out, and when, not to whom. */
        if (o != NULL && who->role == APID_ADMIN) {
            json_object_set_new(o, "channel", json_string(v[i].channel));
            json_object_set_new(o, "recipient",
                                json_string(v[i].recipient));
            if (v[i].last_error)
                json_object_set_new(o, "last_error",
                                    json_string(v[i].last_error));
        }
        json_array_append_new(arr, o);
    }
    apid_alert_recs_free(v, n);
    apid_reply_json(r, 200, json_pack("{s:o}", "alerts", arr));
}

/* ---- routing ---- */

static const char *const role_names[] = { "", "requester", "approver",
                                           "admin" };

/* GET /v1/whoami: who the API takes the caller for, and by what. */
static void
get_whoami(const struct apid_principal *who, const char *via,
           const struct apid_dirperson *dp,
           struct apid_reply *r)
{
    json_t *o = json_pack("{s:s, s:s, s:s}", "person", who->name, "role",
                          role_names[who->role], "authenticated_by", via);

    /* What the directory says of them, where it was asked. */
    if (o != NULL && dp != NULL && dp->found) {
        json_t *d = json_pack("{s:s, s:s?, s:s?, s:o, s:i}", "dn", dp->dn,
                              "display_name", dp->display_name, "mail",
                              dp->mail, "groups",
                              apid_json_string_list(dp->groups, dp->n_groups),
                              "ssh_keys", (int) dp->n_keys);

        if (d != NULL)
            json_object_set_new(o, "directory", d);
    }
    apid_reply_json(r, 200, o);
}

/* The person in the directory (people_source ldap or both), into *dp.
 * Refused (403, r set) if the directory disables them, or has no entry
 * for them and they need one (ldap; both: not in the people file).  A
 * directory that cannot be asked: 503, except for a people file
 * person's reading in both.  0 to go on, -1 with r set. */
static int
directory_person(struct apid *a, const struct apid_principal *who,
                 int in_file, int post, struct apid_dirperson *dp,
                 struct apid_reply *r)
{
    char err[512];
    int ret = apid_dir_person(a->ldap, &a->conf, who->name, dp, err,
                              sizeof(err));

    if (ret != APID_LDAP_OK) {
        fprintf(stderr, "jit-apid: directory: %s: %s\n", who->name, err);
        if (!post && in_file && a->conf.people_source == APID_PEOPLE_BOTH)
            return 0;
        apid_reply_error(r, 503, "directory_unavailable", "the directory"
                         " cannot be asked now (%s); try again later",
                         ret == APID_LDAP_DOWN ? "unreachable"
                                               : "it answered an error");
        return -1;
    }
    if (dp->found && dp->disabled != NULL) {
        apid_reply_error(r, 403, "person_disabled", "%s is disabled in the"
                         " directory (%s)", who->name, dp->disabled);
        return -1;
    }
    if (!dp->found
        && (a->conf.people_source == APID_PEOPLE_LDAP || !in_file)) {
        apid_reply_error(r, 403, "not_in_directory", "%s has no entry in the"
                         " directory", who->name);
        return -1;
    }
    return 0;
}

/* The person asking, copied into *copy (the tables may be swapped by a
 * reload meanwhile) with how they signed on in *via; or NULL, the reason
 * in jit-apid's log for a ticket refused.  A ticket is the principal's
 * own, checked by the KDC's key: the person is the people file's line
 * of that name, never one a header or a body names. */
static const struct apid_principal *
person(struct apid *a, const struct apid_req *q,
       struct apid_principal *copy, char *name, size_t namelen,
       const char **via, int *in_file)
{
    const struct apid_principal *who = NULL;
    char why[512] = "", *principal = NULL;

    if (q->authz != NULL && strncasecmp(q->authz, "Negotiate ", 10) == 0) {
        *via = "kerberos";
        if (a->conf.krb5_keytab == NULL)
            snprintf(why, sizeof(why), "Negotiate: krb5_keytab is not set");
        else
            principal = apid_krb5_person(a->conf.krb5_keytab,
                                         a->conf.krb5_realm, q->authz, why,
                                         sizeof(why));
        if (principal == NULL) {
            fprintf(stderr, "jit-apid: person refused: %s\n", why);
            return NULL;
        }
    } else {
        *via = "token";
    }
    pthread_rwlock_rdlock(&a->lock);
    who = principal != NULL ? apid_auth_person_named(&a->auth, principal)
                            : apid_auth_person(&a->auth, q->authz);
    *in_file = who != NULL;
    if (who != NULL) {
        snprintf(name, namelen, "%s", who->name);
        copy->name = name;
        copy->role = who->role;
        who = copy;
    } else if (principal != NULL && a->conf.people_source != APID_PEOPLE_FILE
               && strlen(principal) < namelen) {
        /* Not in the file: the directory decides (apid_people_api), as a
         * requester; a policy's approvers list may let them decide. */
        snprintf(name, namelen, "%s", principal);
        copy->name = name;
        copy->role = APID_REQUESTER;
        who = copy;
    }
    pthread_rwlock_unlock(&a->lock);
    if (who == NULL && principal != NULL)
        /* Printable: apid_krb5_person took one component of our realm,
         * which may still hold any byte but '/', '@' and '\\'. */
        fprintf(stderr, "jit-apid: person refused: Negotiate: %s is not in"
                " the people file\n",
                apid_plain_text(principal, 300) ? principal : "a principal");
    free(principal);
    return who;
}

void
apid_people_api(struct apid *a, const struct apid_req *q, char **s, int n,
                struct apid_reply *r)
{
    int get = strcmp(q->method, "GET") == 0;
    int post = strcmp(q->method, "POST") == 0;
    const struct apid_principal *who;
    struct apid_principal copy = { .name = NULL };
    struct apid_dirperson dp = { .found = 0 }, *dpp = NULL;
    const char *via = NULL;
    char name[300];
    int in_file = 0;

    if ((who = person(a, q, &copy, name, sizeof(name), &via, &in_file))
        == NULL) {
        apid_reply_error(r, 401, "unauthorized", "%s",
                         strcmp(via, "kerberos") == 0
                             ? "Kerberos authentication failed"
                             : "a person's bearer token or Kerberos ticket"
                               " is required");
        return;
    }
    if (a->ldap != NULL && a->conf.people_source != APID_PEOPLE_FILE) {
        if (directory_person(a, who, in_file, post, &dp, r) != 0)
            goto done;
        dpp = &dp;
    }
    if (strcmp(s[1], "whoami") == 0 && n == 2 && get) {
        get_whoami(who, via, dpp, r);
        goto done;
    }
    if (strcmp(s[1], "grants") == 0) {
        if (n == 2 && post)
            post_grant(a, who, dpp, q, NULL, r);
        else if (n == 2 && get)
            get_grants(a, q, who, r);
        else if (n == 3 && get)
            get_grant(a, who, s[2], r);
        else if (n == 4 && post
                 && (strcmp(s[3], "approve") == 0
                     || strcmp(s[3], "deny") == 0
                     || strcmp(s[3], "revoke") == 0
                     || strcmp(s[3], "enable") == 0
                     || strcmp(s[3], "password") == 0))
            grant_action(a, who, dpp, s[2], s[3], q, r);
        else
            apid_reply_error(r, 404, "not_found", "no such resource");
    } else if (strcmp(s[1], "alerts") == 0 && n == 2 && get) {
        get_alerts(a, who, r);
    } else if (strcmp(s[1], "alerts") == 0 && n > 2) {
        apid_alerts_api(a, who, q, s, n, r);
    } else if (strcmp(s[1], "operations") == 0 && n == 2 && get) {
        if (who->role == APID_REQUESTER && q->arg(q, "grant") == NULL)
            apid_reply_error(r, 403, "forbidden", "a requester reads the"
                             " log of one of their grants (?grant=ID)");
        else
            get_operations(a, q, who, r);
    } else {
        apid_reply_error(r, 404, "not_found", "no such resource");
    }

done:
    apid_dirperson_free(&dp);
}
