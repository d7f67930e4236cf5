/*
 * jit-apid's in-memory view of every host's grant list (hostview.h).
 *
 * A revocation of a grant that is on 10,000 hosts wakes 10,000 long
 * polls at once.  Each used to read its list from the store (one
 * connection behind one lock: 10,000 queries in a row), render ~100
 * grants and hash the text.  Here one read of all the live grants and
 * their hosts is made once per change, each grant is rendered once as
 * text with a gap where the host's name goes, and a host's list is
 * then a concatenation of its grants' texts, its ETag a hash over their
 * digests.  Per host the view holds the indices of its grants, not
 * copies of their text (10,000 hosts of 100 grants: 4 MB).
 *
 * The view is as fresh as the store's own read: it is built again when
 * a change was signalled after it was read (a->generation: apid_changed
 * by a write here, before the writing request answers; the watcher for
 * another instance's, within a second), and when the clock passes the
 * end of one of its grants (a list changes then with no write).  The
 * generation is read before the store is, so a change made during the
 * read moves it and the next caller builds again.  Builds are one at a
 * time: the polls a change wakes wait for the one build and share it.
 * A reader holds a reference, so a build replacing the view never frees
 * one in use.
 */
#include "config.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "hostview.h"
#include "store_impl.h" /* apid_store_fail: its errors read as the store's */

#define DUMP_FLAGS (JSON_COMPACT | JSON_SORT_KEYS)
#define LIST_HEAD "{\"grants\":["
#define LIST_TAIL "]}"
/* Where the host's name goes in a grant rendered for the host "": the
 * one top-level key "host" (a quote inside a string is escaped, and no
 * value is an object, so the text occurs nowhere else). */
#define HOST_GAP "\"host\":\"\""
#define HOST_GAP_PRE 8 /* "host":" */

struct hv_grant {
    char *text;    /* rendered for the host "" */
    size_t pre;    /* text[0..pre) comes before the name, the rest after */
    size_t len;
    unsigned char digest[32]; /* SHA-256 of text */
    int64_t expires_at;
};

struct hv_host {
    char *name;
    char *esc; /* the name as a JSON string's inside; NULL: cannot be */
    size_t esc_len;
    size_t first, n; /* its grants: v->idx[first..first+n) */
    int64_t next_end;
};

struct apid_hostview {
    atomic_uint refs;
    uint64_t gen;
    int64_t built, until; /* valid for now in [built - 1, until) */
    struct hv_grant *g;
    size_t n_g;
    struct hv_host *h;
    size_t n_h;
    uint32_t *idx;   /* grant indices, each host's in list order */
    uint32_t *table; /* host name's hash -> host index + 1; 0 free */
    size_t table_size;
};

struct hv_cache {
    pthread_mutex_t mu;       /* cur */
    pthread_mutex_t build_mu; /* one build at a time */
    struct apid_hostview *cur;
};

static uint64_t
name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s; s++)
        h = (h ^ (unsigned char) *s) * 1099511628211ULL;
    return h;
}

/* The slot of name in the table: its host's, or the free one it would
 * take. */
static size_t
slot_of(const struct apid_hostview *v, const char *name)
{
    size_t mask = v->table_size - 1, i = (size_t) name_hash(name) & mask;

    while (v->table[i] != 0 && strcmp(v->h[v->table[i] - 1].name, name) != 0)
        i = (i + 1) & mask;
    return i;
}

static int
table_grow(struct apid_hostview *v)
{
    uint32_t *old = v->table;
    size_t old_size = v->table_size;

    v->table_size = old_size ? old_size * 2 : 1024;
    if ((v->table = calloc(v->table_size, sizeof(*v->table))) == NULL) {
        v->table = old;
        v->table_size = old_size;
        return -1;
    }
    for (size_t i = 0; i < old_size; i++)
        if (old[i] != 0)
            v->table[slot_of(v, v->h[old[i] - 1].name)] = old[i];
    free(old);
    return 0;
}

/* name's host index, added if new; -1 out of memory. */
static long
intern(struct apid_hostview *v, const char *name, size_t *cap)
{
    size_t s;
    struct hv_host *h;

    if ((v->n_h + 1) * 2 > v->table_size && table_grow(v) != 0)
        return -1;
    s = slot_of(v, name);
    if (v->table[s] != 0)
        return (long) v->table[s] - 1;
    if (v->n_h == *cap) {
        size_t ncap = *cap ? *cap * 2 : 256;
        void *nh = realloc(v->h, ncap * sizeof(*v->h));

        if (nh == NULL)
            return -1;
        v->h = nh;
        *cap = ncap;
    }
    h = &v->h[v->n_h];
    memset(h, 0, sizeof(*h));
    h->next_end = INT64_MAX;
    if ((h->name = strdup(name)) == NULL)
        return -1;
    {
        json_t *js = json_string(name);
        char *q = js ? json_dumps(js, DUMP_FLAGS | JSON_ENCODE_ANY) : NULL;
        size_t ql = q ? strlen(q) : 0;

        /* A name jansson refuses (not UTF-8: the store's hosts are
         * validated names, so never) answers as a store failure. */
        if (ql >= 2) {
            memmove(q, q + 1, ql - 2);
            q[ql - 2] = '\0';
            h->esc = q;
            h->esc_len = ql - 2;
        } else
            free(q);
        json_decref(js);
    }
    v->table[s] = (uint32_t) ++v->n_h;
    return (long) v->n_h - 1;
}

static void
view_free(struct apid_hostview *v)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < v->n_g; i++)
        free(v->g[i].text);
    for (size_t i = 0; i < v->n_h; i++) {
        free(v->h[i].name);
        free(v->h[i].esc);
    }
    free(v->g);
    free(v->h);
    free(v->idx);
    free(v->table);
    free(v);
}

void
apid_hostview_put(struct apid_hostview *v)
{
    if (v != NULL && atomic_fetch_sub(&v->refs, 1) == 1)
        view_free(v);
}

static int
sha256(const void *p, size_t n, unsigned char out[32])
{
    return gnutls_hash_fast(GNUTLS_DIG_SHA256, p, n, out) == 0 ? 0 : -1;
}

/* SHA-256 over the host's name, a NUL, and its grants' digests in list
 * order: the text is a function of exactly these (each grant's text for
 * "" and the name spliced into it), so the ETag moves iff the text does
 * (but for a SHA-256 collision). */
static int
etag_of(const char *host, const unsigned char *const *digests, size_t n,
        char etag[80])
{
    gnutls_hash_hd_t hd;
    unsigned char h[32];

    if (gnutls_hash_init(&hd, GNUTLS_DIG_SHA256) != 0)
        return -1;
    gnutls_hash(hd, host, strlen(host) + 1);
    for (size_t i = 0; i < n; i++)
        gnutls_hash(hd, digests[i], 32);
    gnutls_hash_deinit(hd, h);
    etag[0] = '"';
    for (size_t i = 0; i < 16; i++)
        snprintf(etag + 1 + 2 * i, 3, "%02x", h[i]);
    strcpy(etag + 33, "\"");
    return 0;
}

int
apid_hostview_etag(const char *host, char *const *grant_texts, size_t n,
                   char etag[80])
{
    unsigned char(*d)[32] = calloc(n + 1, 32);
    const unsigned char **p = calloc(n + 1, sizeof(*p));
    int ret = -1;

    if (d == NULL || p == NULL)
        goto done;
    for (size_t i = 0; i < n; i++) {
        if (sha256(grant_texts[i], strlen(grant_texts[i]), d[i]) != 0)
            goto done;
        p[i] = d[i];
    }
    ret = etag_of(host, p, n, etag);

done:
    free(d);
    free(p);
    return ret;
}

/* A store grant and its hosts' text, sorted together. */
struct hv_src {
    const struct apid_grant *g;
    char *hosts;
};

static int
by_id(const void *x, const void *y)
{
    return strcmp(((const struct hv_src *) x)->g->id,
                  ((const struct hv_src *) y)->g->id);
}

/* One grant rendered for the host "", split at the gap; -1 if it cannot
 * be rendered (as host_list's json_array_append_new of NULL did, the
 * grant is then left out of every list). */
static int
render(const struct apid_grant *sg, struct hv_grant *g)
{
    json_t *o = apid_host_grant_json(sg, "");
    char *t = o ? json_dumps(o, DUMP_FLAGS) : NULL, *gap;

    json_decref(o);
    if (t == NULL || (gap = strstr(t, HOST_GAP)) == NULL
        || strstr(gap + 1, HOST_GAP) != NULL
        || sha256(t, strlen(t), g->digest) != 0) {
        free(t);
        return -1;
    }
    g->text = t;
    g->len = strlen(t);
    g->pre = (size_t) (gap - t) + HOST_GAP_PRE;
    g->expires_at = sg->expires_at;
    return 0;
}

/*
 * The view as of now from the store.  Grants in id order (today's
 * ORDER BY g.id: ids are "g-" and hex digits, the same order in every
 * collation), hosts in the order first met; each host's grants then
 * fall in id order by construction.
 */
static struct apid_hostview *
build(struct apid *a, uint64_t gen, int64_t now, int *ret)
{
    struct apid_hostview *v = calloc(1, sizeof(*v));
    struct apid_grant *sg = NULL;
    char **hosts = NULL;
    size_t n = 0, total = 0, hcap = 0, k = 0;
    uint32_t *pair_host = NULL, *pair_grant = NULL, *fill = NULL;
    struct hv_src *ord = NULL;
    int oom = 1; /* the failure's words: ours, or the store's */

    *ret = APID_FAILED;
    if (v == NULL)
        goto done;
    atomic_init(&v->refs, 1);
    v->gen = gen;
    v->built = now;
    v->until = INT64_MAX;
    if ((*ret = apid_store_live_grants(a->store, now, &sg, &hosts, &n))
        != APID_OK) {
        oom = 0;
        goto done;
    }
    *ret = APID_FAILED;
    if ((ord = calloc(n + 1, sizeof(*ord))) == NULL
        || (v->g = calloc(n + 1, sizeof(*v->g))) == NULL)
        goto done;
    for (size_t i = 0; i < n; i++) {
        ord[i].g = &sg[i];
        ord[i].hosts = hosts[i];
        if (*hosts[i] != '\0')
            total++;
        for (const char *p = hosts[i]; *p; p++)
            total += *p == '\n';
    }
    qsort(ord, n, sizeof(*ord), by_id);
    if ((pair_host = calloc(total + 1, sizeof(*pair_host))) == NULL
        || (pair_grant = calloc(total + 1, sizeof(*pair_grant))) == NULL)
        goto done;
    for (size_t i = 0; i < n; i++) {
        struct hv_grant *g = &v->g[v->n_g];
        uint32_t gi = (uint32_t) v->n_g;

        if (render(ord[i].g, g) != 0)
            continue;
        v->n_g++;
        if (g->expires_at < v->until)
            v->until = g->expires_at;
        for (char *p = ord[i].hosts, *e; *p; p = e) {
            long hi;

            if ((e = strchr(p, '\n')) != NULL)
                *e++ = '\0';
            else
                e = p + strlen(p);
            if ((hi = intern(v, p, &hcap)) < 0)
                goto done;
            pair_host[k] = (uint32_t) hi;
            pair_grant[k++] = gi;
            v->h[hi].n++;
            if (g->expires_at < v->h[hi].next_end)
                v->h[hi].next_end = g->expires_at;
        }
    }
    /* Each host's run of idx, filled in pair order (grant order). */
    if ((v->idx = calloc(k + 1, sizeof(*v->idx))) == NULL
        || (fill = calloc(v->n_h + 1, sizeof(*fill))) == NULL)
        goto done;
    for (size_t i = 0, at = 0; i < v->n_h; i++) {
        v->h[i].first = at;
        at += v->h[i].n;
    }
    for (size_t i = 0; i < k; i++) {
        struct hv_host *h = &v->h[pair_host[i]];

        v->idx[h->first + fill[pair_host[i]]++] = pair_grant[i];
    }
    *ret = APID_OK;

done:
    if (*ret != APID_OK) {
        if (oom)
            *ret = apid_store_fail("host view: out of memory");
        view_free(v);
        v = NULL;
    }
    for (size_t i = 0; hosts != NULL && i < n; i++)
        free(hosts[i]);
    free(hosts);
    apid_grants_free(sg, n);
    free(ord);
    free(pair_host);
    free(pair_grant);
    free(fill);
    return v;
}

static void *
cache_make(void)
{
    struct hv_cache *c = calloc(1, sizeof(*c));

    if (c != NULL) {
        pthread_mutex_init(&c->mu, NULL);
        pthread_mutex_init(&c->build_mu, NULL);
    }
    return c;
}

static void
cache_drop(void *p)
{
    struct hv_cache *c = p;

    apid_hostview_put(c->cur);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->build_mu);
    free(c);
}

static uint64_t
generation(struct apid *a)
{
    uint64_t g;

    pthread_mutex_lock(&a->change_mu);
    g = a->generation;
    pthread_mutex_unlock(&a->change_mu);
    return g;
}

/* The current view with a reference, if it is fresh for gen and now.  A
 * view read a second after the caller's clock reading is taken too (a
 * thread that read the clock just before a second turned would
 * otherwise build again behind the one that read it after). */
static struct apid_hostview *
fresh(struct hv_cache *c, uint64_t gen, int64_t now)
{
    struct apid_hostview *v;

    pthread_mutex_lock(&c->mu);
    v = c->cur;
    if (v != NULL && v->gen == gen && now >= v->built - 1
        && now < v->until)
        atomic_fetch_add(&v->refs, 1);
    else
        v = NULL;
    pthread_mutex_unlock(&c->mu);
    return v;
}

struct apid_hostview *
apid_hostview_get(struct apid *a, int64_t now, int *ret)
{
    struct hv_cache *c = apid_store_cache(a->store, cache_make, cache_drop);
    struct apid_hostview *v, *old;
    uint64_t gen;

    *ret = APID_OK;
    if (c == NULL) {
        *ret = apid_store_fail("host view: out of memory");
        return NULL;
    }
    if ((v = fresh(c, generation(a), now)) != NULL)
        return v;
    /* Stale: the first caller builds, the others wait and share it. */
    pthread_mutex_lock(&c->build_mu);
    gen = generation(a);
    if ((v = fresh(c, gen, now)) == NULL
        && (v = build(a, gen, now, ret)) != NULL) {
        atomic_fetch_add(&v->refs, 1); /* the caller's; the cache has one */
        pthread_mutex_lock(&c->mu);
        old = c->cur;
        c->cur = v;
        pthread_mutex_unlock(&c->mu);
        apid_hostview_put(old);
    }
    pthread_mutex_unlock(&c->build_mu);
    return v;
}

int
apid_hostview_list(const struct apid_hostview *v, const char *host,
                   char **text, char etag[80], int64_t *next_end)
{
    const struct hv_host *h = NULL;
    const unsigned char **d = NULL;
    size_t len, n = 0;
    char *t, *p;
    int ret = APID_FAILED;

    if (text != NULL)
        *text = NULL;
    *next_end = INT64_MAX;
    if (v->table_size > 0 && v->table[slot_of(v, host)] != 0)
        h = &v->h[v->table[slot_of(v, host)] - 1];
    if (h != NULL) {
        if (h->esc == NULL)
            return apid_store_fail("host %s: a name JSON cannot carry", host);
        n = h->n;
        *next_end = h->next_end;
    }
    if ((d = calloc(n + 1, sizeof(*d))) == NULL)
        return apid_store_fail("out of memory");
    len = strlen(LIST_HEAD) + strlen(LIST_TAIL) + 1;
    for (size_t i = 0; i < n; i++) {
        const struct hv_grant *g = &v->g[v->idx[h->first + i]];

        d[i] = g->digest;
        len += g->len + h->esc_len + 1;
    }
    if (etag_of(host, d, n, etag) != 0) {
        apid_store_fail("host %s: cannot hash its list", host);
        goto done;
    }
    if (text != NULL) {
        if ((t = p = malloc(len)) == NULL) {
            apid_store_fail("out of memory");
            goto done;
        }
        memcpy(p, LIST_HEAD, strlen(LIST_HEAD));
        p += strlen(LIST_HEAD);
        for (size_t i = 0; i < n; i++) {
            const struct hv_grant *g = &v->g[v->idx[h->first + i]];

            if (i > 0)
                *p++ = ',';
            memcpy(p, g->text, g->pre);
            p += g->pre;
            memcpy(p, h->esc, h->esc_len);
            p += h->esc_len;
            memcpy(p, g->text + g->pre, g->len - g->pre);
            p += g->len - g->pre;
        }
        memcpy(p, LIST_TAIL, strlen(LIST_TAIL) + 1);
        *text = t;
    }
    ret = APID_OK;

done:
    free(d);
    return ret;
}
