/* SPDX-License-Identifier: MIT */
/* The transport-free jit-apid of apidlib.h. */
#include "config.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apidlib.h"

const char *const ta_groups[] = {
    "users", "video", "wheel", "a", "_x", "a-b.c_9",
    "abcdefghijklmnopqrstuvwxyz012345", /* 32 bytes: the longest */
};
const size_t ta_n_groups = sizeof(ta_groups) / sizeof(ta_groups[0]);

static int
put(const char *dir, const char *name, const char *text, char *path,
    size_t pathlen)
{
    int fd, ok;

    snprintf(path, pathlen, "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    ok = write(fd, text, strlen(text)) == (ssize_t) strlen(text);
    return close(fd) == 0 && ok ? 0 : -1;
}

int
ta_open(struct apid *a, const char *dir, char *err, size_t errlen)
{
    char hosts[4096], people[4096], pol[4096], db[4200], text[2048];
    char *serr = NULL;
    size_t k = 0;

    memset(a, 0, sizeof(*a));
    pthread_rwlock_init(&a->lock, NULL);
    pthread_mutex_init(&a->change_mu, NULL);
    pthread_cond_init(&a->change_cv, NULL);
    k += (size_t) snprintf(text + k, sizeof(text) - k,
                           "{\"host_groups\": {\"web\": [\"web01.test\","
                           " \"web02.test\"]}, \"policies\": [{\"name\":"
                           " \"wide\", \"credential\": \"db-admin\","
                           " \"host_groups\": [\"web\"], \"max_duration\":"
                           " 3600, \"approval\": \"auto\", \"groups\": [");
    for (size_t i = 0; i < ta_n_groups; i++)
        k += (size_t) snprintf(text + k, sizeof(text) - k, "%s\"%s\"",
                               i ? ", " : "", ta_groups[i]);
    snprintf(text + k, sizeof(text) - k,
             "]}, {\"name\": \"pend\", \"credential\": \"root-ish\","
             " \"hosts\": [\"web01.test\"], \"max_duration\": 600,"
             " \"groups\": [\"users\"], \"username_template\":"
             " \"{user}-adm\"}]}");
    if (put(dir, "hosts", "web01.test host-token-web01-xxxxxxxx\n"
            "web02.test host-token-web02-xxxxxxxx\n", hosts, sizeof(hosts))
        || put(dir, "people", "alice@EXAMPLE.COM requester"
               " alice-token-xxxxxxxxxx\nboss@EXAMPLE.COM approver"
               " boss-token-xxxxxxxxxxx\nroot@EXAMPLE.COM admin"
               " root-token-xxxxxxxxxxx\n", people, sizeof(people))
        || put(dir, "policies.json", text, pol, sizeof(pol))) {
        snprintf(err, errlen, "%s: cannot write the tables", dir);
        return -1;
    }
    if (apid_policies_load(pol, &a->pol, err, errlen) != 0
        || apid_auth_load(hosts, people, NULL, &a->auth, err, errlen) != 0)
        return -1;
    snprintf(db, sizeof(db), "sqlite:%s/apid.db", dir);
    if ((a->store = apid_store_open(db, &serr)) == NULL) {
        snprintf(err, errlen, "%s", serr ? serr : "out of memory");
        free(serr);
        return -1;
    }
    return 0;
}

void
ta_close(struct apid *a)
{
    apid_store_close(a->store);
    apid_policies_free(&a->pol);
    apid_auth_free(&a->auth);
    apid_alerts_free(&a->alerts);
    pthread_rwlock_destroy(&a->lock);
    pthread_mutex_destroy(&a->change_mu);
    pthread_cond_destroy(&a->change_cv);
}

struct ta_query {
    const char *url; /* the whole URL, query included */
    char buf[256];
};

/* The query's value of name, as libmicrohttpd would give it (no
 * percent-decoding here: the fuzz target's bytes go in as they are). */
static const char *
arg(const struct apid_req *q, const char *name)
{
    struct ta_query *t = q->conn;
    const char *p = strchr(t->url, '?');
    size_t n = strlen(name);

    while (p != NULL) {
        p++;
        if (strncmp(p, name, n) == 0 && p[n] == '=') {
            size_t len = strcspn(p + n + 1, "&");

            snprintf(t->buf, sizeof(t->buf), "%.*s", (int) len, p + n + 1);
            return t->buf;
        }
        p = strchr(p, '&');
    }
    return NULL;
}

void
ta_call(struct apid *a, const char *method, const char *url,
        const char *authz, const char *inm, const char *body, size_t len,
        struct apid_reply *r)
{
    struct ta_query t = { url, "" };
    char path[1024];
    struct apid_req q = {
        .method = method, .url = path, .authz = authz, .if_none_match = inm,
        .arg = arg, .conn = &t, .body = body, .len = len,
    };

    /* The path without its query, as the transport hands it. */
    snprintf(path, sizeof(path), "%.*s", (int) strcspn(url, "?"), url);
    memset(r, 0, sizeof(*r));
    apid_route(a, &q, r);
}

size_t
ta_count(struct apid *a)
{
    struct apid_grant_filter f = { 0 };
    struct apid_grant *v = NULL;
    size_t n = 0;

    if (apid_store_grant_list(a->store, &f, 1000000, &v, &n, apid_now())
        != APID_OK)
        return (size_t) -1;
    apid_grants_free(v, n);
    return n;
}
