/* SPDX-License-Identifier: MIT */
/*
 * jit-apid's in-memory view of every host's grant list (hostview.h).
 *
 * A revocation of a grant that is on 10,000 hosts wakes 10,000 long
 * polls at once.  Each used to read its list from the store (one
 * connection behind one lock: 10,000 queries in a row), render ~100
 * grants and hash the text.  Here one read of the live grants is made
 * once per change, each grant is rendered once as text with a gap where
 * the host's name goes, and a host's list is then a concatenation of its
 * grants' texts, its ETag a hash over their digests.  Per host the view
 * holds the indices of its grants, not copies of their text (10,000
 * hosts of 100 grants: 4 MB).  A grant's hosts never change once it is
 * stored, so they are read once per grant and kept across builds (as
 * name indices into a table of every host name met): rebuilding after a
 * revocation reads ~100 grant rows, not a million grant-host rows.
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
    const uint32_t *hosts; /* its hosts (name indices), the cache's */
    size_t n_hosts;
};

/* A host name as the cache keeps it, for good: the hosts of a fleet are
 * bounded, and a view copies these pointers, not the strings. */
struct hv_name {
    char *name;
    char *esc; /* the name as a JSON string's inside; NULL: cannot be */
    size_t esc_len;
};

struct hv_host {
    struct hv_name nm; /* first: the name table's lookups take either */
    size_t first, n;   /* its grants: v->idx[first..first+n) */
    int64_t next_end;
};

/* A grant's hosts, read once: they never change once it is stored. */
struct hv_known {
    char id[40];
    uint32_t *hosts;
    size_t n;
    int kept; /* in the build under way */
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
    pthread_mutex_t build_mu; /* one build at a time; and all below */
    struct apid_hostview *cur;
    struct hv_name *names; /* every host name met, in the order met */
    size_t n_names, cap_names;
    uint32_t *table; /* name's hash -> names index + 1; 0 free */
    size_t table_size;
    struct hv_known *known; /* the live grants' hosts, in id order */
    size_t n_known;
};

static uint64_t
name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s; s++)
        h = (h ^ (unsigned char) *s) * 1099511628211ULL;
    return h;
}

/* The slot of name in a table whose entries index an array of elements
 * of stride bytes, each starting with a struct hv_name: its entry's, or
 * the free one it would take. */
static size_t
slot_of(const uint32_t *table, size_t size, const void *base, size_t stride,
        const char *name)
{
    size_t mask = size - 1, i = (size_t) name_hash(name) & mask;

    while (table[i] != 0
           && strcmp(((const struct hv_name *) ((const char *) base
                                                + (table[i] - 1) * stride))
                         ->name,
                     name)
                  != 0)
        i = (i + 1) & mask;
    return i;
}

static size_t
cache_slot(const struct hv_cache *c, const char *name)
{
    return slot_of(c->table, c->table_size, c->names, sizeof(*c->names),
                   name);
}

static int
table_grow(struct hv_cache *c)
{
    uint32_t *old = c->table;
    size_t old_size = c->table_size;

    c->table_size = old_size ? old_size * 2 : 1024;
    if ((c->table = calloc(c->table_size, sizeof(*c->table))) == NULL) {
        c->table = old;
        c->table_size = old_size;
        return -1;
    }
    for (size_t i = 0; i < old_size; i++)
        if (old[i] != 0)
            c->table[cache_slot(c, c->names[old[i] - 1].name)] = old[i];
    free(old);
    return 0;
}

/* name's index, added if new; -1 out of memory. */
static long
intern(struct hv_cache *c, const char *name)
{
    size_t s;
    struct hv_name *nm;

    if ((c->n_names + 1) * 2 > c->table_size && table_grow(c) != 0)
        return -1;
    s = cache_slot(c, name);
    if (c->table[s] != 0)
        return (long) c->table[s] - 1;
    if (c->n_names == c->cap_names) {
        size_t ncap = c->cap_names ? c->cap_names * 2 : 256;
        void *nn = realloc(c->names, ncap * sizeof(*c->names));

        if (nn == NULL)
            return -1;
        c->names = nn;
        c->cap_names = ncap;
    }
    nm = &c->names[c->n_names];
    memset(nm, 0, sizeof(*nm));
    if ((nm->name = strdup(name)) == NULL)
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
            nm->esc = q;
            nm->esc_len = ql - 2;
        } else
            free(q);
        json_decref(js);
    }
    c->table[s] = (uint32_t) ++c->n_names;
    return (long) c->n_names - 1;
}

static void
view_free(struct apid_hostview *v)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < v->n_g; i++)
        free(v->g[i].text);
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

static int
by_id(const void *x, const void *y)
{
    return strcmp(((const struct apid_grant *) x)->id,
                  ((const struct apid_grant *) y)->id);
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

/* Grant id's hosts as name indices: the cache's if known (marked kept),
 * else read from the store into *k.  0, or an APID_* error. */
static int
hosts_of(struct apid *a, struct hv_cache *c, const char *id,
         struct hv_known *k)
{
    size_t lo = 0, hi = c->n_known, cap = 0;
    char *text = NULL;
    int ret;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int d = strcmp(c->known[mid].id, id);

        if (d == 0) {
            c->known[mid].kept = 1;
            *k = c->known[mid];
            return APID_OK;
        }
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    memset(k, 0, sizeof(*k));
    snprintf(k->id, sizeof(k->id), "%s", id);
    if ((ret = apid_store_grant_hosts(a->store, id, &text)) != APID_OK)
        return ret;
    ret = apid_store_fail("host view: out of memory");
    for (char *p = text, *e; *p; p = e) {
        long ni;

        if ((e = strchr(p, '\n')) != NULL)
            *e++ = '\0';
        else
            e = p + strlen(p);
        if (k->n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            void *nh = realloc(k->hosts, ncap * sizeof(*k->hosts));

            if (nh == NULL)
                goto done;
            k->hosts = nh;
            cap = ncap;
        }
        if ((ni = intern(c, p)) < 0)
            goto done;
        k->hosts[k->n++] = (uint32_t) ni;
    }
    ret = APID_OK;

done:
    free(text);
    if (ret != APID_OK) {
        free(k->hosts);
        k->hosts = NULL;
    }
    return ret;
}

/*
 * The view as of now.  The store gives the live grants (one short read);
 * each grant's hosts come from the cache, read from the store only for a
 * grant the cache has not met: after a revocation nothing is read but
 * the grants.  Grants in id order (the store's ORDER BY g.id was: ids are
 * "g-" and hex digits, the same order in every collation), so each
 * host's grants fall in id order by construction.
 */
static struct apid_hostview *
build(struct apid *a, struct hv_cache *c, uint64_t gen, int64_t now,
      int *ret)
{
    struct apid_hostview *v = calloc(1, sizeof(*v));
    struct apid_grant *sg = NULL;
    struct hv_known *known = NULL;
    size_t n = 0, k = 0;
    uint32_t *fill = NULL;
    int oom = 1; /* the failure's words: ours, or the store's */

    *ret = APID_FAILED;
    if (v == NULL)
        goto done;
    atomic_init(&v->refs, 1);
    v->gen = gen;
    v->built = now;
    v->until = INT64_MAX;
    if ((*ret = apid_store_live_grants(a->store, now, &sg, &n)) != APID_OK) {
        oom = 0;
        goto done;
    }
    *ret = APID_FAILED;
    if (n > 0) /* sg is NULL then, and qsort's pointer is never */
        qsort(sg, n, sizeof(*sg), by_id);
    if ((known = calloc(n + 1, sizeof(*known))) == NULL
        || (v->g = calloc(n + 1, sizeof(*v->g))) == NULL)
        goto done;
    for (size_t i = 0; i < c->n_known; i++)
        c->known[i].kept = 0;
    for (; k < n; k++)
        if ((*ret = hosts_of(a, c, sg[k].id, &known[k])) != APID_OK) {
            oom = 0;
            goto done;
        }
    *ret = APID_FAILED;
    /* Every name index the grants use is below n_names now. */
    v->n_h = c->n_names;
    if ((v->h = calloc(v->n_h + 1, sizeof(*v->h))) == NULL
        || (v->table = malloc((c->table_size + 1) * sizeof(*v->table)))
               == NULL)
        goto done;
    if (c->table_size > 0) /* no name met yet: c->table is NULL */
        memcpy(v->table, c->table, c->table_size * sizeof(*v->table));
    v->table_size = c->table_size;
    for (size_t i = 0; i < v->n_h; i++) {
        v->h[i].nm = c->names[i];
        v->h[i].next_end = INT64_MAX;
    }
    {
        size_t pairs = 0;

        for (size_t i = 0; i < n; i++) {
            struct hv_grant *g = &v->g[v->n_g];

            if (render(&sg[i], g) != 0)
                continue;
            v->n_g++;
            g->hosts = known[i].hosts;
            g->n_hosts = known[i].n;
            if (g->expires_at < v->until)
                v->until = g->expires_at;
            for (size_t j = 0; j < g->n_hosts; j++) {
                struct hv_host *h = &v->h[g->hosts[j]];

                h->n++;
                if (g->expires_at < h->next_end)
                    h->next_end = g->expires_at;
            }
            pairs += g->n_hosts;
        }
        /* Each host's run of idx, filled in grant order. */
        if ((v->idx = calloc(pairs + 1, sizeof(*v->idx))) == NULL
            || (fill = calloc(v->n_h + 1, sizeof(*fill))) == NULL)
            goto done;
    }
    for (size_t i = 0, at = 0; i < v->n_h; i++) {
        v->h[i].first = at;
        at += v->h[i].n;
    }
    for (size_t gi = 0; gi < v->n_g; gi++)
        for (size_t j = 0; j < v->g[gi].n_hosts; j++) {
            uint32_t hi = v->g[gi].hosts[j];

            v->idx[v->h[hi].first + fill[hi]++] = (uint32_t) gi;
        }
    /* The cache's, and freed when their grant is no longer live: the
     * view's lists need only idx. */
    for (size_t gi = 0; gi < v->n_g; gi++)
        v->g[gi].hosts = NULL;
    /* The cache now knows exactly the live grants: the others' hosts go
     * (a grant that is not live is never live again). */
    for (size_t i = 0; i < c->n_known; i++)
        if (!c->known[i].kept)
            free(c->known[i].hosts);
    free(c->known);
    c->known = known;
    c->n_known = n;
    known = NULL;
    *ret = APID_OK;

done:
    if (known != NULL)
        for (size_t i = 0; i < k; i++) /* those read now, not the kept */
            if (!known[i].kept)
                free(known[i].hosts);
    free(known);
    if (*ret != APID_OK) {
        if (oom)
            *ret = apid_store_fail("host view: out of memory");
        view_free(v);
        v = NULL;
    }
    apid_grants_free(sg, n);
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
    for (size_t i = 0; i < c->n_names; i++) {
        free(c->names[i].name);
        free(c->names[i].esc);
    }
    free(c->names);
    free(c->table);
    for (size_t i = 0; i < c->n_known; i++)
        free(c->known[i].hosts);
    free(c->known);
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
        && (v = build(a, c, gen, now, ret)) != NULL) {
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
    if (v->table_size > 0) {
        uint32_t e = v->table[slot_of(v->table, v->table_size, v->h,
                                      sizeof(*v->h), host)];

        /* A name met after this view was built is not in its hosts. */
        if (e != 0 && e <= v->n_h)
            h = &v->h[e - 1];
    }
    if (h != NULL) {
        if (h->nm.esc == NULL)
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
        len += g->len + h->nm.esc_len + 1;
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
            memcpy(p, h->nm.esc, h->nm.esc_len);
            p += h->nm.esc_len;
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
