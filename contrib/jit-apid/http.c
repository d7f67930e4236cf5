/*
 * jit-apid's HTTP side: routing, authentication, JSON in and out.  One
 * thread per connection (libmicrohttpd), so a long poll simply waits in
 * its thread.
 */
#include "config.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "apid.h"
#include "kerberos.h"
#include "timefmt.h"
#include "validate.h"

#define LIST_LIMIT 1000
#define EVENTS_MAX 1000
#define REASON_MAX 1024
#define SSH_KEYS_MAX 32
#define SSH_KEY_MAX 8192
#define WAIT_MAX 60

static const char *const event_types[] = {
    "account.created", "account.enabled", "account.deleted",
    "account.disable_failed", "account.revoked", "login.denied",
    "session.opened", "session.closed",
};

/* Per request: the body as it arrives. */
struct req {
    char *body;
    size_t len;
    int too_big;
};

struct reply {
    unsigned status;
    char *body; /* JSON text, malloc'd */
    char etag[80];
};

static int64_t
now_s(void)
{
    return (int64_t) time(NULL);
}

static void
reply_json(struct reply *r, unsigned status, json_t *o)
{
    r->status = status;
    r->body = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
}

__attribute__((format(printf, 4, 5))) static void
reply_error(struct reply *r, unsigned status, const char *code,
            const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    reply_json(r, status, json_pack("{s:s, s:s}", "error", code, "message",
                                    msg));
}

static json_t *
strings(char *const *v, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *
time_json(int64_t t)
{
    char buf[JIT_TIME_LEN];

    jit_time_format(t, buf);
    return json_string(buf);
}

/* A grant as a host sees it (DESIGN: "A grant"), for host. */
static json_t *
host_grant_json(const struct apid_grant *g, const char *host)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:s,"
                     " s:s, s:o}",
                     "id", g->id, "credential", g->credential, "requester",
                     g->requester, "username", g->username, "host", host,
                     "groups", strings(g->groups, g->n_groups), "not_before",
                     time_json(g->not_before), "expires_at",
                     time_json(g->expires_at), "reason", g->reason, "status",
                     g->status, "on_logout", g->on_logout, "ssh_keys",
                     strings(g->ssh_keys, g->n_ssh_keys));
}

/* A grant as people see it: every host, its policy and history. */
static json_t *
people_grant_json(const struct apid_grant *g)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o,"
                          " s:s, s:s, s:s, s:o, s:o}",
                          "id", g->id, "policy", g->policy, "credential",
                          g->credential, "requester", g->requester,
                          "username", g->username, "hosts",
                          strings(g->hosts, g->n_hosts), "groups",
                          strings(g->groups, g->n_groups), "not_before",
                          time_json(g->not_before), "expires_at",
                          time_json(g->expires_at), "reason", g->reason,
                          "status", g->status, "on_logout", g->on_logout,
                          "ssh_keys", strings(g->ssh_keys, g->n_ssh_keys),
                          "created", time_json(g->created));

    if (o != NULL && g->decided_by != NULL)
        json_object_set_new(o, "decided_by", json_string(g->decided_by));
    if (o != NULL && g->previous != NULL)
        json_object_set_new(o, "previous", json_string(g->previous));
    return o;
}

/* Plain text: no control characters (a reason ends up in logs). */
static int
plain_text(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

/* The store's result as an HTTP reply. */
static void
reply_store_error(struct reply *r, struct apid *a, int ret)
{
    if (ret == APID_NOT_FOUND)
        reply_error(r, 404, "not_found", "%s", apid_store_error(a->store));
    else if (ret == APID_CONFLICT)
        reply_error(r, 409, "conflict", "%s", apid_store_error(a->store));
    else {
        fprintf(stderr, "jit-apid: store: %s\n", apid_store_error(a->store));
        reply_error(r, 500, "store_error", "the grant store failed");
    }
}

/* ---- host side ---- */

/* Host authentication: a host token, a Kerberos ticket of host/<host>, or
 * a client certificate that the client CA signed and that names host.  The path's host must be the
 * caller's: a host sees only its own grants. */
static int
host_allowed(struct apid *a, struct MHD_Connection *c, const char *host)
{
    const char *authz = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                    "Authorization");
    const struct apid_principal *p;
    const union MHD_ConnectionInfo *ci;
    int ok = 0;

    if (authz != NULL && strncasecmp(authz, "Negotiate ", 10) == 0) {
        char why[256] = "", *who;

        if (a->conf.krb5_keytab == NULL)
            return 0;
        who = apid_krb5_host(a->conf.krb5_keytab, a->conf.krb5_realm, authz,
                             why, sizeof(why));
        if (who == NULL)
            fprintf(stderr, "jit-apid: host %s: %s\n", host, why);
        ok = who != NULL && strcmp(who, host) == 0;
        free(who);
        return ok;
    }
    if (authz != NULL) {
        pthread_rwlock_rdlock(&a->lock);
        p = apid_auth_host(&a->auth, authz);
        ok = p != NULL && strcmp(p->name, host) == 0;
        pthread_rwlock_unlock(&a->lock);
        return ok;
    }
    if (a->conf.client_ca == NULL)
        return 0;
    ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (ci != NULL && ci->tls_session != NULL) {
        gnutls_session_t s = ci->tls_session;
        unsigned status = 1, n = 0;
        const gnutls_datum_t *chain;
        gnutls_x509_crt_t crt;

        if (gnutls_certificate_verify_peers2(s, &status) == 0 && status == 0
            && (chain = gnutls_certificate_get_peers(s, &n)) != NULL && n > 0
            && gnutls_x509_crt_init(&crt) == 0) {
            if (gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER)
                    == 0
                && gnutls_x509_crt_check_hostname(crt, host) != 0)
                ok = 1;
            gnutls_x509_crt_deinit(crt);
        }
    }
    return ok;
}

/* The host's list and its ETag (a hash of the list's text), and when the
 * first of its grants ends (the list changes then with no write). */
static int
host_list(struct apid *a, const char *host, char **text, char etag[80],
          int64_t *next_end)
{
    struct apid_grant *v = NULL;
    json_t *arr = json_array(), *o;
    size_t n = 0;
    int ret;

    *text = NULL;
    *next_end = INT64_MAX;
    if ((ret = apid_store_host_grants(a->store, host, NULL, now_s(), &v, &n))
        != APID_OK) {
        json_decref(arr);
        return ret;
    }
    for (size_t i = 0; arr && i < n; i++) {
        json_array_append_new(arr, host_grant_json(&v[i], host));
        if (v[i].expires_at < *next_end)
            *next_end = v[i].expires_at;
    }
    apid_grants_free(v, n);
    o = json_pack("{s:o}", "grants", arr);
    *text = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (*text == NULL)
        return APID_FAILED;
    {
        gnutls_datum_t d = { (unsigned char *) *text,
                             (unsigned) strlen(*text) };
        unsigned char h[32];
        size_t hl = sizeof(h);

        if (gnutls_fingerprint(GNUTLS_DIG_SHA256, &d, h, &hl) != 0)
            return APID_FAILED;
        etag[0] = '"';
        for (size_t i = 0; i < 16; i++)
            snprintf(etag + 1 + 2 * i, 3, "%02x", h[i]);
        strcpy(etag + 33, "\"");
    }
    return APID_OK;
}

static void
get_host_list(struct apid *a, struct MHD_Connection *c, const char *host,
              struct reply *r)
{
    const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                  "If-None-Match");
    const char *w = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
                                                "wait");
    uint32_t wait = 0;
    int64_t deadline;
    char *text = NULL;
    int ret;

    if (w != NULL && jit_parse_u32(w, 0, 3600, &wait) != 0) {
        reply_error(r, 400, "bad_request", "wait: seconds, 0..3600");
        return;
    }
    if (wait > WAIT_MAX)
        wait = WAIT_MAX;
    deadline = now_s() + wait;
    for (;;) {
        uint64_t gen;
        int64_t next_end, wake;

        pthread_mutex_lock(&a->change_mu);
        gen = a->generation;
        pthread_mutex_unlock(&a->change_mu);
        if ((ret = host_list(a, host, &text, r->etag, &next_end)) != APID_OK) {
            reply_store_error(r, a, ret);
            return;
        }
        if (inm == NULL || strcmp(inm, r->etag) != 0)
            break;
        free(text);
        text = NULL;
        if (now_s() >= deadline || a->stopping) {
            r->status = 304;
            return;
        }
        /* Asleep until a change (made here, or seen by the watcher in
         * another instance's operations), the end of one of the listed
         * grants, or the deadline: an idle long poll costs no query. */
        wake = next_end < deadline ? next_end : deadline;
        pthread_mutex_lock(&a->change_mu);
        while (a->generation == gen && !a->stopping && now_s() < wake) {
            struct timespec ts = { (time_t) wake, 0 };

            pthread_cond_timedwait(&a->change_cv, &a->change_mu, &ts);
        }
        pthread_mutex_unlock(&a->change_mu);
    }
    r->status = 200;
    r->body = text;
}

static void
get_host_grant(struct apid *a, const char *host, const char *user,
               struct reply *r)
{
    struct apid_grant *v = NULL;
    size_t n = 0;
    int ret;

    if (jit_name_problem(user) != NULL) {
        reply_error(r, 404, "not_found", "no grant");
        return;
    }
    if ((ret = apid_store_host_grants(a->store, host, user, now_s(), &v, &n))
        != APID_OK) {
        reply_store_error(r, a, ret);
        return;
    }
    if (n > 0)
        reply_json(r, 200, host_grant_json(&v[0], host));
    else
        reply_error(r, 404, "not_found", "no grant");
    apid_grants_free(v, n);
}

static int
event_type_ok(const char *t)
{
    for (size_t i = 0; i < sizeof(event_types) / sizeof(event_types[0]); i++)
        if (strcmp(t, event_types[i]) == 0)
            return 1;
    return 0;
}

static int
event_id_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'
              || s[i] == '.'))
            return 0;
    return 1;
}

/* An optional string field: absent or null gives NULL; else plain text
 * of at most max bytes. */
static int
opt_text(json_t *o, const char *key, size_t max, const char **out)
{
    json_t *x = json_object_get(o, key);

    *out = NULL;
    if (x == NULL || json_is_null(x))
        return 0;
    if (!json_is_string(x) || !plain_text(json_string_value(x), max))
        return -1;
    *out = json_string_value(x);
    return 0;
}

static void
post_events(struct apid *a, const char *host, const struct req *q,
            struct reply *r)
{
    json_error_t je;
    json_t *root = json_loadb(q->body ? q->body : "", q->len,
                              JSON_REJECT_DUPLICATES, &je);
    json_t *list = json_object_get(root, "events"), *e;
    struct apid_event *v = NULL;
    size_t i, n;
    int ret;

    if (!json_is_array(list)) {
        reply_error(r, 400, "bad_request", "want {\"events\": [...]}");
        goto done;
    }
    n = json_array_size(list);
    if (n > EVENTS_MAX) {
        reply_error(r, 413, "too_large", "at most %d events per batch",
                    EVENTS_MAX);
        goto done;
    }
    if ((v = calloc(n ? n : 1, sizeof(*v))) == NULL) {
        reply_error(r, 500, "out_of_memory", "out of memory");
        goto done;
    }
    json_array_foreach(list, i, e)
    {
        const char *id = json_string_value(json_object_get(e, "id"));
        const char *type = json_string_value(json_object_get(e, "type"));
        const char *tm = json_string_value(json_object_get(e, "time"));
        const char *h = json_string_value(json_object_get(e, "host"));
        json_t *detail = json_object_get(e, "detail");
        const char *grant, *user, *reqr;

        if (!json_is_object(e) || id == NULL || !event_id_ok(id)
            || type == NULL || !event_type_ok(type) || tm == NULL
            || jit_time_parse(tm, &v[i].time) != 0 || h == NULL
            || strcmp(h, host) != 0 || opt_text(e, "grant", 128, &grant) != 0
            || opt_text(e, "username", 32, &user) != 0
            || opt_text(e, "requester", 256, &reqr) != 0
            || (detail != NULL && !json_is_object(detail)
                && !json_is_null(detail))) {
            reply_error(r, 400, "bad_request",
                        "events[%zu]: id, type, time and this host's name"
                        " required; grant, username, requester plain text;"
                        " detail an object", i);
            goto done;
        }
        v[i].id = (char *) id;
        v[i].type = (char *) type;
        v[i].host = (char *) host;
        v[i].grant = (char *) grant;
        v[i].username = (char *) user;
        v[i].requester = (char *) reqr;
        v[i].detail = json_is_object(detail)
                          ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS)
                          : NULL;
        if (v[i].detail != NULL && strlen(v[i].detail) > 4096) {
            reply_error(r, 400, "bad_request", "events[%zu].detail: too"
                        " large", i);
            goto done;
        }
    }
    /* The alerts each event calls for, queued with it if it is new. */
    pthread_rwlock_rdlock(&a->lock);
    for (size_t k = 0; k < n; k++)
        v[k].alerts = apid_alerts_plan(&a->alerts, v[k].type, &v[k].n_alerts);
    ret = apid_store_events_insert(a->store, v, n, now_s());
    pthread_rwlock_unlock(&a->lock);
    if (ret != APID_OK) {
        reply_store_error(r, a, ret);
        goto done;
    }
    reply_json(r, 200, json_pack("{s:I}", "accepted", (json_int_t) n));

done:
    for (size_t k = 0; v && k < n; k++) {
        free(v[k].detail);
        free((void *) v[k].alerts);
    }
    free(v);
    json_decref(root);
}

/* ---- people side ---- */

static const struct apid_principal *
person(struct apid *a, struct MHD_Connection *c)
{
    return apid_auth_person(&a->auth,
                            MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                        "Authorization"));
}

/* Build a new grant from a request (or a re-enable of prev) under the
 * policies; the reply says what is wrong, if anything.  0 or -1. */
static int
build_grant(struct apid *a, json_t *in, const struct apid_principal *who,
            const struct apid_grant *prev, struct apid_grant *g,
            struct reply *r)
{
    const char *cred = prev ? prev->credential
                            : json_string_value(json_object_get(in,
                                                                "credential"));
    const char *host = json_string_value(json_object_get(in, "host"));
    const char *hgname = json_string_value(json_object_get(in, "host_group"));
    const char *reason = json_string_value(json_object_get(in, "reason"));
    const char *polname = json_string_value(json_object_get(in, "policy"));
    const char *uname = json_string_value(json_object_get(in, "username"));
    json_t *dur = json_object_get(in, "duration");
    json_t *groups = json_object_get(in, "groups");
    json_t *keys = json_object_get(in, "ssh_keys");
    const struct apid_host_group *hg = NULL;
    const struct apid_policy *pol = NULL;
    char err[256];
    size_t i;
    json_t *x;

    memset(g, 0, sizeof(*g));
    if (cred == NULL || !plain_text(cred, 128)) {
        reply_error(r, 400, "bad_request", "credential: required");
        return -1;
    }
    if (reason == NULL || !plain_text(reason, REASON_MAX)) {
        reply_error(r, 400, "bad_request", "reason: required, plain text"
                    " of 1..%d bytes without control characters",
                    REASON_MAX);
        return -1;
    }
    if (!json_is_integer(dur) || json_integer_value(dur) <= 0) {
        reply_error(r, 400, "bad_request", "duration: seconds, a positive"
                    " integer");
        return -1;
    }
    if (prev != NULL) {
        host = NULL;
        hgname = NULL;
    } else if ((host == NULL) == (hgname == NULL)) {
        reply_error(r, 400, "bad_request", "host or host_group: one of"
                    " them");
        return -1;
    }
    if (hgname != NULL && (hg = apid_host_group(&a->pol, hgname)) == NULL) {
        reply_error(r, 400, "bad_request", "host_group: no such group");
        return -1;
    }
    if (host != NULL && jit_host_problem(host) != NULL) {
        reply_error(r, 400, "bad_request", "host: not a host name");
        return -1;
    }
    /* The policy: the one named, or the first for the credential that
     * covers every host asked for. */
    for (size_t k = 0; k < a->pol.n && pol == NULL; k++) {
        const struct apid_policy *p = &a->pol.v[k];
        int covers = strcmp(p->credential, cred) == 0;

        if (polname != NULL && strcmp(p->name, polname) != 0)
            continue;
        if (host != NULL)
            covers = covers && apid_policy_has_host(p, host);
        for (size_t h = 0; hg != NULL && h < hg->n_hosts; h++)
            covers = covers && apid_policy_has_host(p, hg->hosts[h]);
        for (size_t h = 0; prev != NULL && h < prev->n_hosts; h++)
            covers = covers && apid_policy_has_host(p, prev->hosts[h]);
        if (covers)
            pol = p;
    }
    if (pol == NULL) {
        reply_error(r, 403, "no_policy", "no policy grants %s on %s", cred,
                    host ? host : hgname ? hgname : "these hosts");
        return -1;
    }
    if (json_integer_value(dur) > pol->max_duration) {
        reply_error(r, 400, "bad_request", "duration: at most %lld s under"
                    " policy %s", (long long) pol->max_duration, pol->name);
        return -1;
    }
    g->policy = strdup(pol->name);
    g->credential = strdup(cred);
    g->requester = strdup(prev ? prev->requester : who->name);
    g->reason = strdup(reason);
    g->status = strdup(pol->auto_approve ? "active" : "pending");
    g->on_logout = strdup(pol->on_logout);
    if (prev != NULL) {
        if (uname != NULL)
            g->username = strdup(uname);
        else
            g->username = strdup(prev->username);
    }
    if (g->username == NULL || uname != NULL) {
        free(g->username);
        g->username = apid_policy_username(pol, g->requester, uname, err,
                                           sizeof(err));
        if (g->username == NULL) {
            reply_error(r, 400, "bad_request", "%s", err);
            goto fail;
        }
    }
    /* Hosts. */
    if (host != NULL) {
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
    if (groups != NULL && !json_is_array(groups)) {
        reply_error(r, 400, "bad_request", "groups: a list");
        goto fail;
    }
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

        if (gr == NULL || !apid_policy_has_group(pol, gr)) {
            reply_error(r, 403, "group_not_allowed", "groups[%zu]: not"
                        " allowed by policy %s", i, pol->name);
            goto fail;
        }
        if (g->groups && (g->groups[g->n_groups] = strdup(gr)) != NULL)
            g->n_groups++;
    }
    /* SSH keys: the request's, or the previous grant's. */
    if (keys != NULL && (!json_is_array(keys)
                         || json_array_size(keys) > SSH_KEYS_MAX)) {
        reply_error(r, 400, "bad_request", "ssh_keys: a list of at most %d",
                    SSH_KEYS_MAX);
        goto fail;
    }
    g->ssh_keys = calloc((prev ? prev->n_ssh_keys : 0)
                             + json_array_size(keys) + 1,
                         sizeof(char *));
    json_array_foreach(keys, i, x)
    {
        const char *k = json_string_value(x);

        if (k == NULL || !plain_text(k, SSH_KEY_MAX)) {
            reply_error(r, 400, "bad_request", "ssh_keys[%zu]: one line of"
                        " at most %d bytes", i, SSH_KEY_MAX);
            goto fail;
        }
        if (g->ssh_keys && (g->ssh_keys[g->n_ssh_keys] = strdup(k)) != NULL)
            g->n_ssh_keys++;
    }
    for (size_t k = 0; keys == NULL && prev && g->ssh_keys
                       && k < prev->n_ssh_keys; k++)
        if ((g->ssh_keys[g->n_ssh_keys] = strdup(prev->ssh_keys[k])) != NULL)
            g->n_ssh_keys++;
    g->not_before = now_s();
    g->expires_at = g->not_before + json_integer_value(dur);
    if (prev != NULL)
        g->previous = strdup(prev->id);
    if (!g->policy || !g->credential || !g->requester || !g->reason
        || !g->status || !g->on_logout || !g->hosts || !g->groups
        || !g->ssh_keys || (prev && !g->previous)) {
        reply_error(r, 500, "out_of_memory", "out of memory");
        goto fail;
    }
    return 0;

fail:
    apid_grant_free(g);
    return -1;
}

static void
post_grant(struct apid *a, const struct apid_principal *who,
           const struct req *q, const struct apid_grant *prev,
           struct reply *r)
{
    json_error_t je;
    json_t *in = json_loadb(q->body ? q->body : "", q->len,
                            JSON_REJECT_DUPLICATES, &je);
    struct apid_grant g;
    int ret;

    if (!json_is_object(in)) {
        reply_error(r, 400, "bad_request", "want a JSON object");
        goto done;
    }
    pthread_rwlock_rdlock(&a->lock);
    ret = build_grant(a, in, who, prev, &g, r);
    pthread_rwlock_unlock(&a->lock);
    if (ret != 0)
        goto done;
    ret = apid_store_grant_insert(a->store, &g, who->name, g.reason,
                                  now_s());
    if (ret == APID_OK) {
        struct apid_grant stored;

        apid_changed(a);
        if (apid_store_grant_get(a->store, g.id, &stored, now_s())
            == APID_OK) {
            reply_json(r, 201, people_grant_json(&stored));
            apid_grant_free(&stored);
        } else {
            reply_json(r, 201, people_grant_json(&g));
        }
    } else {
        reply_store_error(r, a, ret);
    }
    apid_grant_free(&g);

done:
    json_decref(in);
}

/* approve, deny, revoke, enable on grant id. */
static void
grant_action(struct apid *a, const struct apid_principal *who,
             const char *id, const char *action, const struct req *q,
             struct reply *r)
{
    struct apid_grant g;
    json_error_t je;
    json_t *in = NULL;
    const char *reason = NULL;
    int own, ret;

    if ((ret = apid_store_grant_get(a->store, id, &g, now_s())) != APID_OK) {
        reply_store_error(r, a, ret);
        return;
    }
    own = strcmp(g.requester, who->name) == 0;
    if (q->len > 0) {
        in = json_loadb(q->body, q->len, JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(in)) {
            reply_error(r, 400, "bad_request", "want a JSON object");
            goto done;
        }
        reason = json_string_value(json_object_get(in, "reason"));
        if (reason != NULL && !plain_text(reason, REASON_MAX)) {
            reply_error(r, 400, "bad_request", "reason: plain text of"
                        " 1..%d bytes", REASON_MAX);
            goto done;
        }
    }
    if (strcmp(action, "enable") == 0) {
        if (!own && who->role != APID_ADMIN) {
            reply_error(r, 403, "forbidden", "only the grant's requester"
                        " may re-enable it");
            goto done;
        }
        if (strcmp(g.status, "expired") != 0
            && strcmp(g.status, "revoked") != 0) {
            reply_error(r, 409, "conflict", "grant %s is %s; only an"
                        " expired or revoked grant is re-enabled", id,
                        g.status);
            goto done;
        }
        post_grant(a, who, q, &g, r);
        goto done;
    }
    if (strcmp(action, "revoke") == 0) {
        if (!own && who->role < APID_APPROVER) {
            reply_error(r, 403, "forbidden", "only the requester or an"
                        " approver may revoke a grant");
            goto done;
        }
        ret = apid_store_grant_transition(a->store, id, "active,pending",
                                          "revoked", who->name, reason,
                                          now_s());
    } else {
        if (who->role < APID_APPROVER || own) {
            reply_error(r, 403, "forbidden", "an approver other than the"
                        " requester decides");
            goto done;
        }
        ret = apid_store_grant_transition(
            a->store, id, "pending",
            strcmp(action, "approve") == 0 ? "active" : "denied", who->name,
            reason, now_s());
    }
    if (ret != APID_OK) {
        reply_store_error(r, a, ret);
        goto done;
    }
    apid_changed(a);
    apid_grant_free(&g); /* zeroed: safe to free again below */
    if ((ret = apid_store_grant_get(a->store, id, &g, now_s())) != APID_OK) {
        reply_store_error(r, a, ret);
        goto done;
    }
    reply_json(r, 200, people_grant_json(&g));

done:
    apid_grant_free(&g);
    json_decref(in);
}

static void
get_grants(struct apid *a, struct MHD_Connection *c,
           const struct apid_principal *who, struct reply *r)
{
    struct apid_grant_filter f = {
        .requester = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
                                                 "requester"),
        .credential = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
                                                  "credential"),
        .status = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
                                              "status"),
        .host = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
                                            "host"),
    };
    struct apid_grant *v = NULL;
    json_t *arr;
    size_t n = 0;
    int ret;

    /* A requester sees their own grants. */
    if (who->role == APID_REQUESTER)
        f.requester = who->name;
    if ((ret = apid_store_grant_list(a->store, &f, LIST_LIMIT, &v, &n,
                                     now_s())) != APID_OK) {
        reply_store_error(r, a, ret);
        return;
    }
    arr = json_array();
    for (size_t i = 0; arr && i < n; i++)
        json_array_append_new(arr, people_grant_json(&v[i]));
    apid_grants_free(v, n);
    reply_json(r, 200, json_pack("{s:o}", "grants", arr));
}

static json_t *
events_json(struct apid *a, const char *grant)
{
    struct apid_event *v = NULL;
    json_t *arr = json_array();
    size_t n = 0;

    if (apid_store_events_for_grant(a->store, grant, &v, &n) != APID_OK)
        return arr;
    for (size_t i = 0; arr && i < n; i++) {
        json_t *e = json_pack("{s:s, s:s, s:s, s:o, s:o}", "id", v[i].id,
                              "host", v[i].host, "type", v[i].type, "time",
                              time_json(v[i].time), "received",
                              time_json(v[i].received));

        if (e != NULL && v[i].username)
            json_object_set_new(e, "username", json_string(v[i].username));
        if (e != NULL && v[i].detail)
            json_object_set_new(e, "detail", json_loads(v[i].detail, 0,
                                                        NULL));
        json_array_append_new(arr, e);
    }
    apid_events_free(v, n);
    return arr;
}

static void
get_grant(struct apid *a, const struct apid_principal *who, const char *id,
          struct reply *r)
{
    struct apid_grant g;
    json_t *o;
    int ret;

    if ((ret = apid_store_grant_get(a->store, id, &g, now_s())) != APID_OK) {
        reply_store_error(r, a, ret);
        return;
    }
    if (who->role == APID_REQUESTER && strcmp(g.requester, who->name) != 0) {
        apid_grant_free(&g);
        reply_error(r, 404, "not_found", "no grant %s", id);
        return;
    }
    o = people_grant_json(&g);
    if (o != NULL)
        json_object_set_new(o, "events", events_json(a, id));
    apid_grant_free(&g);
    reply_json(r, 200, o);
}

static void
get_operations(struct apid *a, struct MHD_Connection *c,
               const struct apid_principal *who, struct reply *r)
{
    const char *grant = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND,
                                                    "grant");
    struct apid_op *v = NULL;
    json_t *arr;
    size_t n = 0;
    int ret;

    if (who->role == APID_REQUESTER) {
        struct apid_grant g;

        if (grant == NULL
            || apid_store_grant_get(a->store, grant, &g, now_s()) != APID_OK) {
            reply_error(r, 403, "forbidden", "a requester reads the log of"
                        " one of their grants (?grant=ID)");
            return;
        }
        ret = strcmp(g.requester, who->name) == 0;
        apid_grant_free(&g);
        if (!ret) {
            reply_error(r, 403, "forbidden", "not your grant");
            return;
        }
    }
    if ((ret = apid_store_ops(a->store, grant, LIST_LIMIT, &v, &n))
        != APID_OK) {
        reply_store_error(r, a, ret);
        return;
    }
    arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *o = json_pack("{s:I, s:o, s:s, s:s}", "seq",
                              (json_int_t) v[i].seq, "time",
                              time_json(v[i].time), "actor", v[i].actor,
                              "action", v[i].action);

        if (o != NULL && v[i].grant) {
            json_object_set_new(o, "grant", json_string(v[i].grant));
            json_object_set_new(o, "host_events", events_json(a, v[i].grant));
        }
        if (o != NULL && v[i].detail)
            json_object_set_new(o, "detail", json_string(v[i].detail));
        json_array_append_new(arr, o);
    }
    apid_ops_free(v, n);
    reply_json(r, 200, json_pack("{s:o}", "operations", arr));
}

static void
get_alerts(struct apid *a, const struct apid_principal *who, struct reply *r)
{
    struct apid_alert_rec *v = NULL;
    json_t *arr;
    size_t n = 0;
    int ret;

    if (who->role < APID_APPROVER) {
        reply_error(r, 403, "forbidden", "approvers and admins read the"
                    " alert deliveries");
        return;
    }
    if ((ret = apid_store_alerts_list(a->store, LIST_LIMIT, &v, &n))
        != APID_OK) {
        reply_store_error(r, a, ret);
        return;
    }
    arr = json_array();
    for (size_t i = 0; arr && i < n; i++) {
        json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s, s:i, s:o}",
                              "id", (json_int_t) v[i].id, "event",
                              v[i].event, "type", v[i].type, "channel",
                              v[i].channel, "recipient", v[i].recipient,
                              "status", v[i].status, "attempts",
                              v[i].attempts, "created",
                              time_json(v[i].created));

        if (o != NULL && v[i].delivered)
            json_object_set_new(o, "delivered", time_json(v[i].delivered));
        if (o != NULL && v[i].last_error)
            json_object_set_new(o, "last_error",
                                json_string(v[i].last_error));
        json_array_append_new(arr, o);
    }
    apid_alert_recs_free(v, n);
    reply_json(r, 200, json_pack("{s:o}", "alerts", arr));
}

/* ---- routing ---- */

/* Split url into at most max segments (in buf); the count, or -1. */
static int
split(const char *url, char *buf, size_t buflen, char **seg, int max)
{
    int n = 0;
    char *save = NULL, *p;

    if (snprintf(buf, buflen, "%s", url) >= (int) buflen)
        return -1;
    for (p = strtok_r(buf, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
        if (n == max)
            return -1;
        seg[n++] = p;
    }
    return n;
}

static void
route(struct apid *a, struct MHD_Connection *c, const char *url,
      const char *method, const struct req *q, struct reply *r)
{
    int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    const struct apid_principal *who;
    struct apid_principal copy = { NULL, NULL, 0 };
    char buf[1024], *s[8], name[300];
    int n = split(url, buf, sizeof(buf), s, 8);

    if (n < 2 || strcmp(s[0], "v1") != 0) {
        reply_error(r, 404, "not_found", "no such resource");
        return;
    }
    if (strcmp(s[1], "hosts") == 0 && n >= 4) {
        if (jit_host_problem(s[2]) != NULL || !host_allowed(a, c, s[2])) {
            reply_error(r, 401, "unauthorized", "host authentication"
                        " failed for %s", jit_host_problem(s[2]) ? "?" : s[2]);
            return;
        }
        if (n == 4 && get && strcmp(s[3], "grants") == 0)
            get_host_list(a, c, s[2], r);
        else if (n == 5 && get && strcmp(s[3], "grants") == 0)
            get_host_grant(a, s[2], s[4], r);
        else if (n == 4 && post && strcmp(s[3], "events") == 0)
            post_events(a, s[2], q, r);
        else
            reply_error(r, 404, "not_found", "no such resource");
        return;
    }
    pthread_rwlock_rdlock(&a->lock);
    /* A copy: the tables may be swapped by a reload meanwhile. */
    if ((who = person(a, c)) != NULL) {
        snprintf(name, sizeof(name), "%s", who->name);
        copy.name = name;
        copy.role = who->role;
        who = &copy;
    }
    pthread_rwlock_unlock(&a->lock);
    if (who == NULL) {
        reply_error(r, 401, "unauthorized", "a person's bearer token is"
                    " required");
        return;
    }
    if (strcmp(s[1], "grants") == 0) {
        if (n == 2 && post)
            post_grant(a, who, q, NULL, r);
        else if (n == 2 && get)
            get_grants(a, c, who, r);
        else if (n == 3 && get)
            get_grant(a, who, s[2], r);
        else if (n == 4 && post
                 && (strcmp(s[3], "approve") == 0
                     || strcmp(s[3], "deny") == 0
                     || strcmp(s[3], "revoke") == 0
                     || strcmp(s[3], "enable") == 0))
            grant_action(a, who, s[2], s[3], q, r);
        else
            reply_error(r, 404, "not_found", "no such resource");
    } else if (strcmp(s[1], "alerts") == 0 && n == 2 && get) {
        get_alerts(a, who, r);
    } else if (strcmp(s[1], "operations") == 0 && n == 2 && get) {
        if (who->role == APID_REQUESTER
            && MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "grant")
                   == NULL)
            reply_error(r, 403, "forbidden", "a requester reads the log of"
                        " one of their grants (?grant=ID)");
        else
            get_operations(a, c, who, r);
    } else {
        reply_error(r, 404, "not_found", "no such resource");
    }
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
        const char *method, const char *version, const char *upload,
        size_t *upload_size, void **con_cls)
{
    struct apid *a = cls;
    struct req *q = *con_cls;
    struct reply r = { 0, NULL, "" };
    struct MHD_Response *resp;
    enum MHD_Result ret;

    (void) version;
    if (q == NULL) {
        if ((q = calloc(1, sizeof(*q))) == NULL)
            return MHD_NO;
        *con_cls = q;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        /* Bodies are capped; beyond the cap the rest is read and
         * dropped, and the request refused. */
        if (!q->too_big && q->len + *upload_size <= a->conf.max_body) {
            char *nb = realloc(q->body, q->len + *upload_size + 1);

            if (nb == NULL)
                q->too_big = 1;
            else {
                q->body = nb;
                memcpy(q->body + q->len, upload, *upload_size);
                q->len += *upload_size;
                q->body[q->len] = '\0';
            }
        } else {
            q->too_big = 1;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (q->too_big)
        reply_error(&r, 413, "too_large", "the body is larger than %zu"
                    " bytes", a->conf.max_body);
    else if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
        reply_error(&r, 405, "method_not_allowed", "GET or POST");
    else
        route(a, c, url, method, q, &r);
    resp = MHD_create_response_from_buffer(r.body ? strlen(r.body) : 0,
                                           r.body ? r.body : (char *) "",
                                           MHD_RESPMEM_MUST_COPY);
    free(r.body);
    if (resp == NULL)
        return MHD_NO;
    if (r.status != 304)
        MHD_add_response_header(resp, "Content-Type", "application/json");
    if (r.etag[0])
        MHD_add_response_header(resp, "ETag", r.etag);
    ret = MHD_queue_response(c, r.status ? r.status : 500, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
          enum MHD_RequestTerminationCode toe)
{
    struct req *q = *con_cls;

    (void) cls;
    (void) c;
    (void) toe;
    if (q != NULL) {
        free(q->body);
        free(q);
        *con_cls = NULL;
    }
}

static void
logger(void *cls, const char *fmt, va_list ap)
{
    (void) cls;
    fputs("jit-apid: ", stderr);
    vfprintf(stderr, fmt, ap);
}

/* A whole PEM file (root's, checked for keys by the caller). */
static char *
slurp(const char *path, char *err, size_t errlen)
{
    char *buf = NULL;
    struct stat st;
    ssize_t got = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);

    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)
        || st.st_size > (1 << 20)) {
        snprintf(err, errlen, "%s: %s", path,
                 fd < 0 ? strerror(errno) : "not a PEM file of at most 1 MiB");
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if ((buf = calloc(1, (size_t) st.st_size + 1)) != NULL)
        while (got < st.st_size) {
            ssize_t r = read(fd, buf + got, (size_t) (st.st_size - got));

            if (r <= 0)
                break;
            got += r;
        }
    close(fd);
    if (buf == NULL || got != st.st_size) {
        snprintf(err, errlen, "%s: short read", path);
        free(buf);
        return NULL;
    }
    return buf;
}

struct MHD_Daemon *
apid_http_start(struct apid *a, char *err, size_t errlen)
{
    static char *key, *cert, *ca;
    struct sockaddr_in sin;
    struct MHD_Daemon *d;
    struct stat st;

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t) a->conf.port);
    if (inet_pton(AF_INET, a->conf.listen_addr, &sin.sin_addr) != 1) {
        snprintf(err, errlen, "listen: %s: not an IPv4 address",
                 a->conf.listen_addr);
        return NULL;
    }
    if ((cert = slurp(a->conf.tls_cert, err, errlen)) == NULL
        || (key = slurp(a->conf.tls_key, err, errlen)) == NULL
        || (a->conf.client_ca != NULL
            && (ca = slurp(a->conf.client_ca, err, errlen)) == NULL))
        return NULL;
    if (stat(a->conf.tls_key, &st) != 0 || (st.st_mode & 077) != 0) {
        snprintf(err, errlen, "%s: the key must not be readable by others",
                 a->conf.tls_key);
        return NULL;
    }
    {
        /* The client CA (mTLS) only when configured: an array, since a
         * missing option must not end the list early. */
        struct MHD_OptionItem opts[] = {
            { MHD_OPTION_HTTPS_MEM_TRUST, 0, ca },
            { MHD_OPTION_END, 0, NULL },
        };

        if (ca == NULL)
            opts[0].option = MHD_OPTION_END;
        d = MHD_start_daemon(
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION
                | MHD_USE_POLL | MHD_USE_TLS | MHD_USE_ERROR_LOG,
            0, NULL, NULL, handler, a, MHD_OPTION_EXTERNAL_LOGGER, logger,
            NULL, MHD_OPTION_SOCK_ADDR, &sin,
            MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_HTTPS_MEM_CERT, cert,
            MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
            MHD_OPTION_CONNECTION_LIMIT, a->conf.max_connections,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) (WAIT_MAX + 30),
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) 64 * 1024,
            MHD_OPTION_THREAD_STACK_SIZE, (size_t) 256 * 1024,
            MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    }
    if (d == NULL)
        snprintf(err, errlen, "cannot serve on %s:%u (address in use, or"
                 " the TLS key and certificate do not load)",
                 a->conf.listen_addr, a->conf.port);
    return d;
}

void
apid_http_stop(struct MHD_Daemon *d)
{
    if (d != NULL)
        MHD_stop_daemon(d);
}

/* Another instance's changes: its operations log rows, in the shared
 * database.  One cheap query a second here, instead of every long poll
 * re-reading its list. */
void *
apid_watch_worker(void *arg)
{
    struct apid *a = arg;
    int64_t last = -1;

    while (!a->stopping) {
        int64_t seq;

        if (apid_store_change_seq(a->store, &seq) != APID_OK)
            fprintf(stderr, "jit-apid: watch: %s\n",
                    apid_store_error(a->store));
        else if (seq != last) {
            if (last >= 0)
                apid_changed(a);
            last = seq;
        }
        apid_nap(a);
    }
    return NULL;
}

void
apid_nap(struct apid *a)
{
    struct timespec ts;

    pthread_mutex_lock(&a->change_mu);
    if (!a->stopping) {
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&a->change_cv, &a->change_mu, &ts);
    }
    pthread_mutex_unlock(&a->change_mu);
}

void
apid_changed(struct apid *a)
{
    pthread_mutex_lock(&a->change_mu);
    a->generation++;
    pthread_cond_broadcast(&a->change_cv);
    pthread_mutex_unlock(&a->change_mu);
}
