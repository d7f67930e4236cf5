/* SPDX-License-Identifier: MIT */
/*
 * jit-apid's request handlers, apart from the transport that carries
 * them: a request is a method, a path, a few headers, the query and a
 * body; a reply is a status, a JSON body and an ETag.  server.c fills a
 * request from libmicrohttpd; a test or a fuzz target may fill one
 * itself.  Routing is route.c, the hosts' side host_api.c, the people's
 * side people_api.c, the helpers shared by both reply.c.
 */
#ifndef APID_API_H
#define APID_API_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "apid.h"
#include "shown.h"

/* Longest a host's long poll waits for a change (s). */
#define APID_WAIT_MAX 60

struct apid_req {
    const char *method, *url;
    const char *authz;         /* Authorization, or NULL */
    const char *if_none_match; /* If-None-Match, or NULL */
    /* The query's value of name, or NULL. */
    const char *(*arg)(const struct apid_req *q, const char *name);
    void *conn;         /* the transport's own, for arg */
    void *tls;          /* the connection's gnutls_session_t, or NULL */
    const char *body;   /* NUL-terminated; NULL when there is none */
    size_t len;
    /* A long poll asked again: when it ends (0 on the first pass). */
    int64_t poll_deadline;
};

struct apid_reply {
    unsigned status; /* 0: a long poll with nothing new yet (below) */
    char *body;      /* JSON text, malloc'd */
    char etag[80];
    /* With status 0: ask again after a change later than generation
     * poll_gen, or at poll_wake, whichever comes first; poll_deadline is
     * to be handed back in the request. */
    uint64_t poll_gen;
    int64_t poll_wake, poll_deadline;
    /* The body holds a secret (a directory account's password): the
     * transport wipes it once sent. */
    int secret;
};

/* Answer q into r (r zeroed by the caller; r->body then freed by it). */
void apid_route(struct apid *a, const struct apid_req *q,
                struct apid_reply *r);

/* The hosts' side: /v1/hosts/{host}/... with host already checked to be
 * a host name; s the path's segments after it, n their count. */
void apid_host_api(struct apid *a, const struct apid_req *q, const char *host,
                   char **s, int n, struct apid_reply *r);

/* The people's side: /v1/... other than hosts, s and n the whole path. */
void apid_people_api(struct apid *a, const struct apid_req *q, char **s,
                     int n, struct apid_reply *r);

/* The alert settings, for admins: /v1/alerts/... but the deliveries
 * (alerts_api.c). */
void apid_alerts_api(struct apid *a, const struct apid_principal *who,
                     const struct apid_req *q, char **s, int n,
                     struct apid_reply *r);

/* ---- shared by the handlers (reply.c) ---- */

int64_t apid_now(void);
void apid_reply_json(struct apid_reply *r, unsigned status, json_t *o);
void apid_reply_error(struct apid_reply *r, unsigned status,
                      const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The store's result (not APID_OK) as a reply. */
void apid_reply_store_error(struct apid_reply *r, struct apid *a, int ret);
json_t *apid_json_string_list(char *const *v, size_t n);
json_t *apid_json_time(int64_t t);
/* Plain text: 1..max bytes, no control characters (it ends up in logs). */
int apid_plain_text(const char *s, size_t max);
/* apid_shown_text: shown.h. */
/* The request's body as a JSON object, or NULL with a 400 in r (naming
 * the field whose text is not UTF-8, where it can). */
json_t *apid_body_object(const struct apid_req *q, struct apid_reply *r);
/* A grant as host sees it (doc/design.md: "A grant"). */
json_t *apid_host_grant_json(const struct apid_grant *g, const char *host);
/* The last check before a grant is stored: as each of its hosts will
 * see it (as active, with an id of the store's form when it has none
 * yet), it must pass the hosts' own jit_grant_parse (each host's name
 * through the parser's check of that field, the one view that differs
 * from the others in nothing else parsed whole).  0, or -1 with the host
 * and the parser's words in err.  A failure means build_grant's checks
 * and the hosts' have drifted apart. */
int apid_grant_host_check(const struct apid_grant *g, char *err,
                          size_t errlen);
/* An optional string field: absent or null gives NULL; else plain text
 * of at most max bytes (0), or -1. */
int apid_opt_text(json_t *o, const char *key, size_t max, const char **out);

#endif
