/* SPDX-License-Identifier: MIT */
/*
 * bench_apid: load on jit-apid, as a fleet makes it.  HOSTS hosts hold a
 * long poll each (as jitctl daemon does: the list, then If-None-Match
 * with wait=30, again and again), from their own loopback addresses
 * (127.1.x.y, PER_ADDR hosts an address), while logins arrive at RATE per
 * second from other addresses (127.2.x.y), each a grant check by name on
 * a new TLS connection (as pam_jit in a new sshd process makes it).  Then
 * one grant on every host is revoked through the people API and the time
 * until every long poll has answered 200 with the new list is measured
 * (the fan-out).  Then FLOOD connections from one address (127.3.0.1)
 * connect and send nothing, FLOOD_TLS more complete the TLS handshake and
 * send nothing, and logins go on at the same rate while they are held.
 *
 *   bench_apid key=value...
 *
 * Keys: url, ca, tokens (the host tokens file, "host token" lines), users
 * (u000.. hold a grant on every host), hosts, per_addr, rate, seconds,
 * threads (poller threads), setup_seconds, revoke_id and revoke_token (the
 * grant to revoke and its requester's token), fanout_seconds, flood,
 * flood_tls, flood_seconds, pid (jit-apid's, for its RSS, threads and CPU
 * time), lean (1, the default: the long polls through the lean client
 * below; 0: through libcurl), trace_ms (each login slower than this on
 * stderr, with its
 * phases: `perf record -k CLOCK_MONOTONIC` lines up with its times).  Every phase has a deadline: a server that cannot keep up makes
 * a worse report, never a hang.  Prints "key value" pairs on stdout; the
 * exit status is 0 whenever the run completed, whatever it measured.
 */
#include "config.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A poller starts from the queue, is STARTING until its first answer
 * since then, and POLLING while it answers; an error puts it back in the
 * queue for a retry a second later (as jitctl daemon retries). */
enum { QUEUED, STARTING, POLLING };

/* What an epoll event's pointer is: a curl socket, or a flood socket. */
enum { EV_CURL, EV_FLOOD, EV_LEAN };

/* Pollers of one multi handle: libcurl looks for a connection to reuse
 * among all of a multi handle's connections to the same server, so 10,000
 * in one would make each new request scan (and poll) thousands. */
#define GROUP_SIZE 64
/* First requests in flight at once, per thread: a fleet's hosts do not
 * all start in the same millisecond, and a burst of 10,000 SYNs would
 * overflow the listen queue and measure only the kernel's retry timer. */
#define RAMP 48

struct loop;

struct group {
    CURLM *m;
    struct loop *lp;
    double timer_at; /* < 0: none */
    int dirty;
    void (*on_done)(struct group *, CURL *, CURLcode);
};

struct evctx {
    int kind;
    int dead;
    int fd;
    struct group *g;       /* EV_CURL */
    struct evctx *next_dead;
};

struct loop {
    int ep;
    struct group **groups;
    size_t n_groups;
    struct evctx *dead;
    /* The generator's own delays, which a login's time would include:
     * how late epoll_wait came back, and the longest round. */
    double max_late, max_busy;
};

struct poller {
    CURL *h;
    struct curl_slist *hdr;
    struct group *g;
    char host[128], token[300], etag[128], url[512], iface[48];
    /* The body is scanned as it arrives for the revoked grant's id. */
    char carry[96];
    size_t ncarry;
    int marked;
    int state;              /* atomic */
    int64_t established_ns; /* atomic: first in its long poll */
    int64_t seen_ns;        /* atomic: first list without the grant */
    double retry_at;
    /* The lean client's connection (lean=1): kept open from one request
     * to the next, as curl keeps it. */
    struct evctx ev;        /* kind EV_LEAN, fd; ev.g unused */
    struct in_addr src;
    SSL *ssl;
    int cstate;             /* C_* */
    uint32_t events;        /* what epoll watches for it */
    int reused;             /* this request on an earlier request's connection */
    int got_any;            /* a byte of this request's answer came */
    int close_after;        /* the answer said Connection: close */
    int hdr_done;
    long code;
    long long clen, got;    /* -1: until the connection closes */
    double deadline;
    char *hbuf;             /* the answer's headers, until complete */
    size_t hlen;
    size_t req_len;
};

struct worker {
    pthread_t tid;
    struct loop lp;
    struct poller *pl; /* its share of the hosts */
    size_t n;
    size_t *ring; /* queue of indexes into pl */
    size_t head, tail;
    int starting;
};

struct stats {
    long asked, ok, failed;
    double *lat;
    size_t cap;
    char first_error[160];
};

enum { PH_STEADY, PH_FANOUT, PH_FLOOD, PH_N };

struct login {
    CURL *h;
    struct curl_slist *hdr;
    double start;
    int phase; /* -1: the revocation */
};

struct flood {
    struct evctx ev;
    int connected, closed;
};

static const char *base, *ca, *revoke_id, *revoke_token;
static char marker[96];
static size_t marker_len;
static long users, hosts, per_addr, rate, secs, nthreads, setup_s, fanout_s;
static long flood_n, flood_tls_n, flood_s, apid_pid;
static double trace_ms;
static int stop_workers;  /* atomic */
static long poll_errors;  /* atomic */
static long poll_answers; /* atomic */
static long list_bytes;   /* atomic: the size of a host's list */
/* Hosts established before the revocation that have seen the list
 * without it (atomic): the fan-out's progress without a scan of every
 * host (which, a hundred times a second, took CPU from jit-apid). */
static long seen_total;
static char first_poll_error[160];
static pthread_mutex_t err_mu = PTHREAD_MUTEX_INITIALIZER;

static struct stats st[PH_N];
static long logins_in_flight;
static int revoke_done;
static long revoke_code;
static double revoke_ms = -1;
static long tls_open, tls_failed; /* atomic */
static int stop_tls;               /* atomic */

static double
now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
die(const char *what)
{
    fprintf(stderr, "bench_apid: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void *
xcalloc(size_t n, size_t s)
{
    void *p = calloc(n ? n : 1, s);

    if (p == NULL)
        die("calloc");
    return p;
}

/* ---- the event loop: epoll under curl_multi_socket_action ---- */

static int
sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    struct group *g = userp;
    struct evctx *c = socketp;
    struct epoll_event ev = { 0 };

    (void) e;
    if (what == CURL_POLL_REMOVE) {
        if (c != NULL) {
            epoll_ctl(g->lp->ep, EPOLL_CTL_DEL, s, NULL);
            curl_multi_assign(g->m, s, NULL);
            /* Freed after the current batch of events, which may still
             * name it. */
            c->dead = 1;
            c->next_dead = g->lp->dead;
            g->lp->dead = c;
        }
        return 0;
    }
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0)
                | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    if (c == NULL) {
        c = xcalloc(1, sizeof(*c));
        c->kind = EV_CURL;
        c->fd = s;
        c->g = g;
        curl_multi_assign(g->m, s, c);
        ev.data.ptr = c;
        /* A number closed behind curl's back may still be registered. */
        if (epoll_ctl(g->lp->ep, EPOLL_CTL_ADD, s, &ev) != 0)
            epoll_ctl(g->lp->ep, EPOLL_CTL_MOD, s, &ev);
    } else {
        ev.data.ptr = c;
        if (epoll_ctl(g->lp->ep, EPOLL_CTL_MOD, s, &ev) != 0)
            epoll_ctl(g->lp->ep, EPOLL_CTL_ADD, s, &ev);
    }
    return 0;
}

static int
timer_cb(CURLM *m, long ms, void *userp)
{
    struct group *g = userp;

    (void) m;
    g->timer_at = ms < 0 ? -1.0 : now() + (double) ms / 1000.0;
    return 0;
}

static struct group *
group_new(struct loop *lp, void (*on_done)(struct group *, CURL *, CURLcode))
{
    struct group *g = xcalloc(1, sizeof(*g));

    g->m = curl_multi_init();
    if (g->m == NULL)
        die("curl_multi_init");
    g->lp = lp;
    g->timer_at = -1;
    g->on_done = on_done;
    curl_multi_setopt(g->m, CURLMOPT_SOCKETFUNCTION, sock_cb);
    curl_multi_setopt(g->m, CURLMOPT_SOCKETDATA, g);
    curl_multi_setopt(g->m, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(g->m, CURLMOPT_TIMERDATA, g);
    curl_multi_setopt(g->m, CURLMOPT_MAXCONNECTS, (long) GROUP_SIZE * 2);
    lp->groups = realloc(lp->groups, (lp->n_groups + 1) * sizeof(g));
    if (lp->groups == NULL)
        die("realloc");
    lp->groups[lp->n_groups++] = g;
    return g;
}

static void flood_event(struct flood *f, uint32_t events);
struct poller;
static void lean_event(struct poller *p, uint32_t events);

/* One round: wait at most max_s for events or a curl timer, act on them,
 * and hand finished transfers to their group. */
static void
loop_once(struct loop *lp, double max_s)
{
    struct epoll_event ev[256];
    double t = now(), wake = t + max_s, t0;
    int n, running, ms;

    for (size_t i = 0; i < lp->n_groups; i++)
        if (lp->groups[i]->timer_at >= 0 && lp->groups[i]->timer_at < wake)
            wake = lp->groups[i]->timer_at;
    ms = wake <= t ? 0 : (int) ((wake - t) * 1000.0) + 1;
    n = epoll_wait(lp->ep, ev, 256, ms);
    t0 = now();
    if (n == 0 && t0 - wake > lp->max_late)
        lp->max_late = t0 - wake;
    for (int i = 0; i < n; i++) {
        struct evctx *c = ev[i].data.ptr;
        int flags = 0;

        if (c->dead)
            continue;
        if (c->kind == EV_FLOOD) {
            flood_event((struct flood *) c, ev[i].events);
            continue;
        }
        if (c->kind == EV_LEAN) {
            lean_event((struct poller *) (void *) ((char *) c
                           - offsetof(struct poller, ev)), ev[i].events);
            continue;
        }
        if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP))
            flags |= CURL_CSELECT_IN;
        if (ev[i].events & EPOLLOUT)
            flags |= CURL_CSELECT_OUT;
        if (ev[i].events & EPOLLERR)
            flags |= CURL_CSELECT_ERR;
        c->g->dirty = 1;
        curl_multi_socket_action(c->g->m, c->fd, flags, &running);
    }
    t = now();
    for (size_t i = 0; i < lp->n_groups; i++) {
        struct group *g = lp->groups[i];

        if (g->timer_at >= 0 && g->timer_at <= t) {
            g->timer_at = -1;
            g->dirty = 1;
            curl_multi_socket_action(g->m, CURL_SOCKET_TIMEOUT, 0, &running);
        }
    }
    while (lp->dead != NULL) {
        struct evctx *c = lp->dead;

        lp->dead = c->next_dead;
        free(c);
    }
    for (size_t i = 0; i < lp->n_groups; i++) {
        struct group *g = lp->groups[i];
        CURLMsg *msg;
        int left;

        if (!g->dirty)
            continue;
        g->dirty = 0;
        while ((msg = curl_multi_info_read(g->m, &left)) != NULL)
            if (msg->msg == CURLMSG_DONE)
                g->on_done(g, msg->easy_handle, msg->data.result);
    }
    if (now() - t0 > lp->max_busy)
        lp->max_busy = now() - t0;
}

static void
loop_init(struct loop *lp)
{
    memset(lp, 0, sizeof(*lp));
    lp->ep = epoll_create1(EPOLL_CLOEXEC);
    if (lp->ep < 0)
        die("epoll_create1");
}

/* ---- the pollers: one worker thread drives a share of the hosts ---- */

static size_t
poll_header(char *p, size_t s, size_t n, void *u)
{
    struct poller *pl = u;
    size_t len = s * n;

    if (len > 6 && strncasecmp(p, "ETag: ", 6) == 0) {
        size_t k = len - 6;

        while (k > 0 && (p[6 + k - 1] == '\r' || p[6 + k - 1] == '\n'))
            k--;
        if (k < sizeof(pl->etag)) {
            memcpy(pl->etag, p + 6, k);
            pl->etag[k] = '\0';
        }
    }
    return len;
}

/* Looks for the marker in the stream without keeping the body: the end
 * of the last chunk is carried over for a marker across two chunks. */
static size_t
poll_body(char *p, size_t s, size_t n, void *u)
{
    struct poller *pl = u;
    size_t len = s * n, keep = marker_len - 1;

    if (pl->marked)
        return len;
    if (pl->ncarry > 0) {
        char join[192];
        size_t take = len < keep ? len : keep;

        memcpy(join, pl->carry, pl->ncarry);
        memcpy(join + pl->ncarry, p, take);
        if (memmem(join, pl->ncarry + take, marker, marker_len) != NULL)
            pl->marked = 1;
    }
    if (memmem(p, len, marker, marker_len) != NULL)
        pl->marked = 1;
    if (len >= keep) {
        memcpy(pl->carry, p + len - keep, keep);
        pl->ncarry = keep;
    } else {
        size_t drop = pl->ncarry + len > keep ? pl->ncarry + len - keep : 0;

        memmove(pl->carry, pl->carry + drop, pl->ncarry - drop);
        memcpy(pl->carry + pl->ncarry - drop, p, len);
        pl->ncarry = pl->ncarry - drop + len;
    }
    return len;
}

static size_t
discard(char *p, size_t s, size_t n, void *u)
{
    (void) p;
    (void) u;
    return s * n;
}

static void
poller_request(struct poller *p)
{
    char auth[400], inm[200];

    curl_slist_free_all(p->hdr);
    p->hdr = NULL;
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", p->token);
    p->hdr = curl_slist_append(p->hdr, auth);
    if (p->etag[0]) {
        snprintf(inm, sizeof(inm), "If-None-Match: %s", p->etag);
        p->hdr = curl_slist_append(p->hdr, inm);
        snprintf(p->url, sizeof(p->url), "%s/v1/hosts/%s/grants?wait=30",
                 base, p->host);
    } else {
        snprintf(p->url, sizeof(p->url), "%s/v1/hosts/%s/grants", base,
                 p->host);
    }
    p->marked = 0;
    p->ncarry = 0;
    curl_easy_setopt(p->h, CURLOPT_URL, p->url);
    curl_easy_setopt(p->h, CURLOPT_HTTPHEADER, p->hdr);
    curl_multi_add_handle(p->g->m, p->h);
}

static void
worker_queue(struct worker *w, struct poller *p, size_t idx, double at)
{
    p->retry_at = at;
    __atomic_store_n(&p->state, QUEUED, __ATOMIC_RELAXED);
    w->ring[w->tail] = idx;
    w->tail = (w->tail + 1) % (w->n + 1);
}

static __thread struct worker *self;
/* When the revocation was sent (atomic): a list without the revoked grant
 * counts only after it. */
static int64_t revoke_sent_ns;

/* What one long poll's answer means, whichever client got it: 1 if the
 * host goes on polling (its next request is the caller's to send), 0 if it
 * was put back in the queue for a retry a second later. */
static int
poll_result(struct poller *p, int ok, long code, long long size,
            const char *err)
{
    int64_t t_ns = now_ns();

    if (__atomic_load_n(&p->state, __ATOMIC_RELAXED) == STARTING)
        self->starting--;
    if (!ok || (code != 200 && code != 304) || !p->etag[0]) {
        __atomic_fetch_add(&poll_errors, 1, __ATOMIC_RELAXED);
        pthread_mutex_lock(&err_mu);
        if (!first_poll_error[0])
            snprintf(first_poll_error, sizeof(first_poll_error),
                     "%s, HTTP %ld", err, code);
        pthread_mutex_unlock(&err_mu);
        worker_queue(self, p, (size_t) (p - self->pl), now() + 1.0);
        return 0;
    }
    __atomic_fetch_add(&poll_answers, 1, __ATOMIC_RELAXED);
    if (code == 200)
        __atomic_store_n(&list_bytes, (long) size, __ATOMIC_RELAXED);
    if (__atomic_load_n(&p->established_ns, __ATOMIC_RELAXED) == 0)
        __atomic_store_n(&p->established_ns, t_ns, __ATOMIC_RELEASE);
    if (code == 200 && !p->marked
        && __atomic_load_n(&p->seen_ns, __ATOMIC_RELAXED) == 0) {
        int64_t sent = __atomic_load_n(&revoke_sent_ns, __ATOMIC_ACQUIRE);

        if (sent != 0 && t_ns > sent) {
            int64_t e = __atomic_load_n(&p->established_ns,
                                        __ATOMIC_ACQUIRE);

            __atomic_store_n(&p->seen_ns, t_ns, __ATOMIC_RELEASE);
            if (e < sent)
                __atomic_fetch_add(&seen_total, 1, __ATOMIC_RELEASE);
        }
    }
    __atomic_store_n(&p->state, POLLING, __ATOMIC_RELAXED);
    return 1;
}

static void
poll_done(struct group *g, CURL *h, CURLcode res)
{
    struct poller *p;
    long code = 0;
    curl_off_t size = 0;

    (void) g;
    curl_easy_getinfo(h, CURLINFO_PRIVATE, &p);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(h, CURLINFO_SIZE_DOWNLOAD_T, &size);
    curl_multi_remove_handle(p->g->m, h);
    if (poll_result(p, res == CURLE_OK, code, (long long) size,
                    curl_easy_strerror(res)))
        poller_request(p);
}

/* ---- the lean long-poll client ----
 *
 * The simulated hosts' long polls are load on the server, not the thing
 * measured; on a fleet each host is a machine of its own.  Here they
 * share the 2 cores with jit-apid, so what they cost is taken from it:
 * through libcurl and OpenSSL each poll's connection had an SSL_CTX of its
 * own (the CA file read and parsed again), and each answer of a fan-out
 * cost the generator about three times what it cost the server.  This
 * client does what jitctl daemon's requests do on the wire (a full TLS
 * handshake with the server's certificate verified against the CA, then
 * HTTP/1.1 requests on the kept connection) with one SSL_CTX, a fixed
 * request and an answer parsed only for its status, ETag, length and
 * the revoked grant's id.  lean=0 puts libcurl back for comparison. */

enum { C_NONE, C_CONNECTING, C_HANDSHAKE, C_SEND, C_RECV };

static SSL_CTX *lean_ctx;
static struct sockaddr_in lean_to;
static long lean = 1;
static const char *lean_port;

/* Longest answer header block taken (jit-apid's are under 300 bytes). */
#define LEAN_HDR_MAX 4096

static void
lean_close(struct poller *p)
{
    if (p->ssl != NULL) {
        SSL_free(p->ssl);
        p->ssl = NULL;
    }
    if (p->ev.fd >= 0) {
        epoll_ctl(self->lp.ep, EPOLL_CTL_DEL, p->ev.fd, NULL);
        close(p->ev.fd);
        p->ev.fd = -1;
    }
    free(p->hbuf);
    p->hbuf = NULL;
    p->cstate = C_NONE;
    p->events = 0;
}

static void
lean_watch(struct poller *p, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = &p->ev };

    if (events != p->events
        && epoll_ctl(self->lp.ep, EPOLL_CTL_MOD, p->ev.fd, &ev) == 0)
        p->events = events;
}

/* A failed request: the connection closed, the host queued for a retry. */
static void
lean_fail(struct poller *p, const char *why)
{
    lean_close(p);
    (void) poll_result(p, 0, p->code, 0, why);
}

static int lean_connect(struct poller *p);

/* The next request on the connection, or a new connection. */
static void
lean_request(struct poller *p)
{
    p->marked = 0;
    p->ncarry = 0;
    p->hdr_done = 0;
    p->hlen = 0;
    p->code = 0;
    p->clen = -1;
    p->got = 0;
    p->got_any = 0;
    p->close_after = 0;
    p->deadline = now() + 90;
    if (p->cstate == C_NONE) {
        p->reused = 0;
        if (lean_connect(p) != 0)
            lean_fail(p, "connect");
        return;
    }
    p->reused = 1;
    p->cstate = C_SEND;
}

static int
lean_connect(struct poller *p)
{
    struct sockaddr_in from = { .sin_family = AF_INET, .sin_addr = p->src };
    struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = &p->ev };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    p->ev.kind = EV_LEAN;
    p->ev.fd = fd;
    if (bind(fd, (struct sockaddr *) &from, sizeof(from)) != 0
        || (connect(fd, (struct sockaddr *) &lean_to, sizeof(lean_to)) != 0
            && errno != EINPROGRESS)
        || epoll_ctl(self->lp.ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        close(fd);
        p->ev.fd = -1;
        return -1;
    }
    p->events = EPOLLOUT;
    p->cstate = C_CONNECTING;
    p->deadline = now() + 30;
    return 0;
}

/* The answer's header block, complete: its status, length, ETag. */
static int
lean_headers(struct poller *p)
{
    char *line = p->hbuf, *end = p->hbuf + p->hlen;

    if (sscanf(p->hbuf, "HTTP/1.%*d %ld", &p->code) != 1)
        return -1;
    while (line < end) {
        char *nl = memchr(line, '\n', (size_t) (end - line));
        size_t len = nl != NULL ? (size_t) (nl - line) + 1
                                : (size_t) (end - line);

        if (len > 15 && strncasecmp(line, "Content-Length:", 15) == 0)
            p->clen = strtoll(line + 15, NULL, 10);
        else if (len > 18 && strncasecmp(line, "Transfer-Encoding:", 18) == 0)
            return -1; /* jit-apid answers with a length */
        else if (len > 11 && strncasecmp(line, "Connection:", 11) == 0
                 && memmem(line, len, "close", 5) != NULL)
            p->close_after = 1;
        else
            (void) poll_header(line, 1, len, p);
        line += len;
    }
    if (p->code == 304 || p->code == 204 || p->code / 100 == 1)
        p->clen = 0;
    if (p->clen < 0)
        p->close_after = 1;
    return 0;
}

/* Bytes of the answer: 1 when it is complete, 0 for more, -1 bad. */
static int
lean_feed(struct poller *p, char *b, size_t n)
{
    if (!p->hdr_done) {
        char *e;
        size_t take = n;

        if (p->hbuf == NULL && (p->hbuf = malloc(LEAN_HDR_MAX + 1)) == NULL)
            return -1;
        if (take > LEAN_HDR_MAX - p->hlen)
            take = LEAN_HDR_MAX - p->hlen;
        memcpy(p->hbuf + p->hlen, b, take);
        p->hlen += take;
        p->hbuf[p->hlen] = '\0';
        if ((e = strstr(p->hbuf, "\r\n\r\n")) == NULL)
            return p->hlen == LEAN_HDR_MAX ? -1 : 0;
        /* What came after the headers is the body's start. */
        {
            size_t hdr = (size_t) (e + 4 - p->hbuf);
            size_t before = p->hlen - take;

            b += hdr - before;
            n -= hdr - before;
            p->hlen = hdr;
        }
        p->hdr_done = 1;
        if (lean_headers(p) != 0)
            return -1;
        free(p->hbuf);
        p->hbuf = NULL;
    }
    if (p->clen >= 0 && (long long) n > p->clen - p->got)
        n = (size_t) (p->clen - p->got);
    if (n > 0)
        (void) poll_body(b, 1, n, p);
    p->got += (long long) n;
    return p->clen >= 0 && p->got >= p->clen;
}

/* Moves the connection on as far as it goes without waiting. */
static void
lean_drive(struct poller *p)
{
    char buf[16384];

    for (;;) {
        int r, e;

        switch (p->cstate) {
        case C_HANDSHAKE:
            if ((r = SSL_connect(p->ssl)) == 1) {
                p->cstate = C_SEND;
                continue;
            }
            break;
        case C_SEND: {
            char req[1024];
            int len;

            if (p->etag[0])
                len = snprintf(req, sizeof(req),
                               "GET /v1/hosts/%s/grants?wait=30 HTTP/1.1\r\n"
                               "Host: 127.0.0.1:%s\r\nAccept: */*\r\n"
                               "Authorization: Bearer %s\r\n"
                               "If-None-Match: %s\r\n\r\n",
                               p->host, lean_port, p->token, p->etag);
            else
                len = snprintf(req, sizeof(req),
                               "GET /v1/hosts/%s/grants HTTP/1.1\r\n"
                               "Host: 127.0.0.1:%s\r\nAccept: */*\r\n"
                               "Authorization: Bearer %s\r\n\r\n",
                               p->host, lean_port, p->token);
            if (len < 0 || (size_t) len >= sizeof(req)) {
                lean_fail(p, "request too long");
                return;
            }
            /* A write that waits is retried with the same bytes, as
             * OpenSSL requires: the request is built the same each time
             * (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER: from another place). */
            if ((r = SSL_write(p->ssl, req, len)) > 0) {
                p->cstate = C_RECV;
                lean_watch(p, EPOLLIN);
                continue;
            }
            break;
        }
        case C_RECV:
            if ((r = SSL_read(p->ssl, buf, sizeof(buf))) > 0) {
                int done;

                p->got_any = 1;
                if ((done = lean_feed(p, buf, (size_t) r)) < 0) {
                    lean_fail(p, "bad answer");
                    return;
                }
                if (done) {
                    int keep = !p->close_after;

                    if (!keep)
                        lean_close(p);
                    if (poll_result(p, 1, p->code, p->got, "")) {
                        lean_request(p);
                        if (p->cstate != C_SEND)
                            return; /* connecting, or failed */
                    } else {
                        lean_close(p);
                        return;
                    }
                }
                continue;
            }
            break;
        default:
            return;
        }
        e = SSL_get_error(p->ssl, r);
        if (e == SSL_ERROR_WANT_READ) {
            lean_watch(p, EPOLLIN);
            return;
        }
        if (e == SSL_ERROR_WANT_WRITE) {
            lean_watch(p, EPOLLIN | EPOLLOUT);
            return;
        }
        ERR_clear_error();
        if (p->cstate == C_RECV && p->reused && !p->got_any) {
            /* The server closed a kept connection between requests (as
             * it may): ask again on a new one, as curl does. */
            lean_close(p);
            p->reused = 0;
            if (lean_connect(p) != 0)
                lean_fail(p, "connect");
            return;
        }
        if (p->cstate == C_RECV && p->hdr_done && p->clen < 0
            && e == SSL_ERROR_ZERO_RETURN) {
            /* An answer without a length ends with the connection. */
            lean_close(p);
            if (poll_result(p, 1, p->code, p->got, ""))
                lean_request(p);
            return;
        }
        lean_fail(p, p->cstate == C_HANDSHAKE ? "TLS handshake"
                     : p->cstate == C_SEND ? "send" : "receive");
        return;
    }
}

static void
lean_event(struct poller *p, uint32_t events)
{
    if (p->cstate == C_CONNECTING) {
        int err = 0;
        socklen_t l = sizeof(err);

        if (getsockopt(p->ev.fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0
            || err != 0 || !(events & EPOLLOUT)) {
            if (err == 0 && !(events & (EPOLLERR | EPOLLHUP)))
                return; /* not yet */
            lean_fail(p, "connect");
            return;
        }
        if ((p->ssl = SSL_new(lean_ctx)) == NULL
            || SSL_set_fd(p->ssl, p->ev.fd) != 1
            || X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(p->ssl),
                                             "127.0.0.1") != 1) {
            lean_fail(p, "SSL_new");
            return;
        }
        SSL_set_connect_state(p->ssl);
        p->cstate = C_HANDSHAKE;
        lean_watch(p, EPOLLIN);
    }
    lean_drive(p);
}

/* Requests past their time (30 s to connect, 90 s for an answer, as the
 * curl pollers had): a scan of the worker's hosts, a few times a second. */
static void
lean_timeouts(struct worker *w)
{
    double t = now();

    for (size_t i = 0; i < w->n; i++) {
        struct poller *p = &w->pl[i];

        if (p->cstate != C_NONE && p->deadline < t)
            lean_fail(p, "timeout");
    }
}

static void
lean_init(const char *url)
{
    const char *port = strrchr(url, ':');

    lean_port = port + 1;
    lean_to.sin_family = AF_INET;
    lean_to.sin_port = htons((uint16_t) atoi(lean_port));
    inet_pton(AF_INET, "127.0.0.1", &lean_to.sin_addr);
    if ((lean_ctx = SSL_CTX_new(TLS_client_method())) == NULL
        || SSL_CTX_load_verify_locations(lean_ctx, ca, NULL) != 1) {
        fprintf(stderr, "bench_apid: the lean client's TLS context (%s)\n",
                ca);
        exit(1);
    }
    SSL_CTX_set_verify(lean_ctx, SSL_VERIFY_PEER, NULL);
    /* A held poll keeps no read or write buffer (10,000 of them); a
     * write that waited is retried from a request built again (the same
     * bytes, not the same buffer). */
    SSL_CTX_set_mode(lean_ctx, SSL_MODE_RELEASE_BUFFERS
                                   | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

static void *
worker_main(void *arg)
{
    struct worker *w = arg;
    double scan = now() + 0.5;

    self = w;
    while (!__atomic_load_n(&stop_workers, __ATOMIC_RELAXED)) {
        double t = now();

        if (lean && t >= scan) {
            lean_timeouts(w);
            scan = t + 0.5;
        }

        while (w->head != w->tail && w->starting < RAMP) {
            struct poller *p = w->pl + w->ring[w->head];

            if (p->retry_at > t)
                break;
            w->head = (w->head + 1) % (w->n + 1);
            __atomic_store_n(&p->state, STARTING, __ATOMIC_RELAXED);
            w->starting++;
            if (!lean)
                poller_request(p);
            else {
                lean_request(p);
                if (p->cstate == C_SEND)
                    lean_drive(p);
            }
        }
        loop_once(&w->lp, 0.05);
    }
    return NULL;
}

/* ---- logins, the revocation and the flood: the main thread ---- */

static struct loop main_lp;
static struct group *login_g;
static struct flood *floods;

static void
stat_add(struct stats *s, double ms)
{
    if ((size_t) s->ok >= s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->lat = realloc(s->lat, s->cap * sizeof(*s->lat));
        if (s->lat == NULL)
            die("realloc");
    }
    s->lat[s->ok++] = ms;
}

/* A slow login's phases on stderr (trace_ms=): where its time went, the
 * TCP connect, the TLS handshake or the answer, and when it started. */
static void
trace_login(CURL *h, const struct login *lg, double ms)
{
    double c = 0, a = 0, f = 0;

    curl_easy_getinfo(h, CURLINFO_CONNECT_TIME, &c);
    curl_easy_getinfo(h, CURLINFO_APPCONNECT_TIME, &a);
    curl_easy_getinfo(h, CURLINFO_STARTTRANSFER_TIME, &f);
    fprintf(stderr, "slow login: phase %d at %.3f (CLOCK_MONOTONIC s) took"
            " %.1f ms: connected %.1f, TLS done %.1f, first byte %.1f\n",
            lg->phase, lg->start, ms, c * 1000, a * 1000, f * 1000);
}

static void
login_done(struct group *g, CURL *h, CURLcode res)
{
    struct login *lg;
    long code = 0;

    curl_easy_getinfo(h, CURLINFO_PRIVATE, &lg);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (lg->phase < 0) {
        revoke_done = 1;
        revoke_code = res == CURLE_OK ? code : -1;
        revoke_ms = (now() - lg->start) * 1000;
    } else if (res == CURLE_OK && code == 200) {
        double ms = (now() - lg->start) * 1000;

        stat_add(&st[lg->phase], ms);
        if (trace_ms > 0 && ms > trace_ms)
            trace_login(h, lg, ms);
    } else {
        struct stats *s = &st[lg->phase];

        if (s->failed++ == 0)
            snprintf(s->first_error, sizeof(s->first_error), "%s, HTTP %ld",
                     curl_easy_strerror(res), code);
    }
    if (lg->phase >= 0)
        logins_in_flight--;
    curl_multi_remove_handle(g->m, h);
    curl_easy_cleanup(h);
    curl_slist_free_all(lg->hdr);
    free(lg);
}

static void
login_start(int phase, struct poller *pl)
{
    static unsigned long n;
    struct login *lg = xcalloc(1, sizeof(*lg));
    long hi = random() % hosts, u = random() % users;
    char url[512], auth[400], iface[48];

    /* From 250 addresses of their own: logins are not the long polls'
     * connections, and no one address carries many. */
    snprintf(iface, sizeof(iface), "host!127.2.0.%lu", n++ % 250 + 1);
    snprintf(url, sizeof(url), "%s/v1/hosts/%s/grants/u%03ld", base,
             pl[hi].host, u);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", pl[hi].token);
    lg->h = curl_easy_init();
    lg->hdr = curl_slist_append(NULL, auth);
    lg->phase = phase;
    curl_easy_setopt(lg->h, CURLOPT_URL, url);
    curl_easy_setopt(lg->h, CURLOPT_INTERFACE, iface);
    curl_easy_setopt(lg->h, CURLOPT_HTTPHEADER, lg->hdr);
    curl_easy_setopt(lg->h, CURLOPT_CAINFO, ca);
    curl_easy_setopt(lg->h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(lg->h, CURLOPT_PRIVATE, lg);
    curl_easy_setopt(lg->h, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(lg->h, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(lg->h, CURLOPT_TIMEOUT, 10L);
    curl_easy_setopt(lg->h, CURLOPT_NOSIGNAL, 1L);
    lg->start = now();
    st[phase].asked++;
    logins_in_flight++;
    curl_multi_add_handle(login_g->m, lg->h);
}

static void
revoke_start(void)
{
    struct login *lg = xcalloc(1, sizeof(*lg));
    char url[512], auth[400];

    snprintf(url, sizeof(url), "%s/v1/grants/%s/revoke", base, revoke_id);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", revoke_token);
    lg->h = curl_easy_init();
    lg->hdr = curl_slist_append(NULL, auth);
    lg->hdr = curl_slist_append(lg->hdr, "Content-Type: application/json");
    lg->phase = -1;
    curl_easy_setopt(lg->h, CURLOPT_URL, url);
    curl_easy_setopt(lg->h, CURLOPT_INTERFACE, "host!127.2.1.1");
    curl_easy_setopt(lg->h, CURLOPT_HTTPHEADER, lg->hdr);
    curl_easy_setopt(lg->h, CURLOPT_COPYPOSTFIELDS,
                     "{\"reason\":\"bench: the fan-out\"}");
    curl_easy_setopt(lg->h, CURLOPT_CAINFO, ca);
    curl_easy_setopt(lg->h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(lg->h, CURLOPT_PRIVATE, lg);
    curl_easy_setopt(lg->h, CURLOPT_TIMEOUT, (long) fanout_s);
    curl_easy_setopt(lg->h, CURLOPT_NOSIGNAL, 1L);
    lg->start = now();
    curl_multi_add_handle(login_g->m, lg->h);
}

static void
flood_event(struct flood *f, uint32_t events)
{
    struct epoll_event ev = { 0 };

    if (!f->connected) {
        int err = 0;
        socklen_t l = sizeof(err);

        /* Connected, maybe closed at once: the server took it. */
        if (getsockopt(f->ev.fd, SOL_SOCKET, SO_ERROR, &err, &l) == 0
            && err == 0 && (events & EPOLLOUT))
            f->connected = 1;
        if (f->connected && !(events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP))) {
            /* Now only the server's close is of interest. */
            ev.events = EPOLLRDHUP;
            ev.data.ptr = f;
            epoll_ctl(main_lp.ep, EPOLL_CTL_MOD, f->ev.fd, &ev);
            return;
        }
    }
    if (events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
        /* Refused, or closed by the server: not held any longer. */
        f->closed = 1;
        f->ev.dead = 1;
        epoll_ctl(main_lp.ep, EPOLL_CTL_DEL, f->ev.fd, NULL);
        close(f->ev.fd);
        f->ev.fd = -1;
    }
}

static void
flood_open(struct flood *f, const struct sockaddr_in *to)
{
    struct sockaddr_in from = { .sin_family = AF_INET };
    struct epoll_event ev = { 0 };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    f->ev.kind = EV_FLOOD;
    f->ev.fd = fd;
    inet_pton(AF_INET, "127.3.0.1", &from.sin_addr);
    if (fd < 0 || bind(fd, (struct sockaddr *) &from, sizeof(from)) != 0
        || (connect(fd, (const struct sockaddr *) to, sizeof(*to)) != 0
            && errno != EINPROGRESS)) {
        if (fd >= 0)
            close(fd);
        f->ev.fd = -1;
        f->ev.dead = 1;
        f->closed = 1;
        return;
    }
    ev.events = EPOLLOUT | EPOLLRDHUP;
    ev.data.ptr = f;
    epoll_ctl(main_lp.ep, EPOLL_CTL_ADD, fd, &ev);
}

/* A TLS connection that completed its handshake stays in its multi handle
 * (removing it would close it) and says nothing more. */
static void
tls_done(struct group *g, CURL *h, CURLcode res)
{
    (void) g;
    (void) h;
    __atomic_fetch_add(res == CURLE_OK ? &tls_open : &tls_failed, 1,
                       __ATOMIC_RELAXED);
}

static void
tls_start(struct group *g)
{
    CURL *h = curl_easy_init();

    curl_easy_setopt(h, CURLOPT_URL, base);
    curl_easy_setopt(h, CURLOPT_INTERFACE, "host!127.3.0.1");
    curl_easy_setopt(h, CURLOPT_CAINFO, ca);
    curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_multi_add_handle(g->m, h);
}

/* The TLS flood has a thread of its own: a client's handshake costs
 * milliseconds of CPU, and hundreds started at once would hold up the
 * logins' thread. */
static void *
tls_flood_main(void *arg)
{
    struct loop lp;
    struct group *g;
    long started = 0;

    (void) arg;
    loop_init(&lp);
    g = group_new(&lp, tls_done);
    curl_multi_setopt(g->m, CURLMOPT_MAXCONNECTS, flood_tls_n + 16);
    while (!__atomic_load_n(&stop_tls, __ATOMIC_RELAXED)) {
        /* A few at a time, as fast as they complete. */
        while (started < flood_tls_n
               && started - __atomic_load_n(&tls_open, __ATOMIC_RELAXED)
                      - __atomic_load_n(&tls_failed, __ATOMIC_RELAXED)
                  < 16) {
            tls_start(g);
            started++;
        }
        loop_once(&lp, 0.05);
    }
    /* Closing them is the end of the hold. */
    curl_multi_cleanup(g->m);
    return NULL;
}

/* ---- what the server costs: RSS, threads, CPU time ---- */

struct sample {
    double t, self_cpu, apid_cpu;
    long rss_mb, hwm_mb, threads;
};

static void
sample(struct sample *s)
{
    struct rusage ru;
    char path[64], line[256];
    FILE *f;

    s->t = now();
    getrusage(RUSAGE_SELF, &ru);
    s->self_cpu = (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6
                  + (double) ru.ru_stime.tv_sec
                  + (double) ru.ru_stime.tv_usec / 1e6;
    s->rss_mb = s->hwm_mb = s->threads = -1;
    s->apid_cpu = -1;
    if (apid_pid <= 0)
        return;
    snprintf(path, sizeof(path), "/proc/%ld/status", apid_pid);
    if ((f = fopen(path, "re")) != NULL) {
        while (fgets(line, sizeof(line), f)) {
            long v;

            if (sscanf(line, "VmRSS: %ld", &v) == 1)
                s->rss_mb = v / 1024;
            else if (sscanf(line, "VmHWM: %ld", &v) == 1)
                s->hwm_mb = v / 1024;
            else if (sscanf(line, "Threads: %ld", &v) == 1)
                s->threads = v;
        }
        fclose(f);
    }
    snprintf(path, sizeof(path), "/proc/%ld/stat", apid_pid);
    if ((f = fopen(path, "re")) != NULL) {
        char buf[1024], *p;
        unsigned long ut, stt;

        if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')) != NULL
            && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u"
                             " %lu %lu", &ut, &stt) == 2)
            s->apid_cpu = (double) (ut + stt) / (double) sysconf(_SC_CLK_TCK);
        fclose(f);
    }
}

/* CPU use between two samples, in % of one core. */
static double
cpu_pct(double a, double b, double ta, double tb)
{
    return a < 0 || b < 0 || tb <= ta ? -1.0 : (b - a) / (tb - ta) * 100.0;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;

    return x < y ? -1 : x > y;
}

static double
pct(double *v, size_t n, double q)
{
    size_t i = (size_t) ((double) n * q);

    if (n == 0)
        return -1.0;
    return v[i < n ? i : n - 1];
}

static void
print_stats(const char *ph, struct stats *s, double wall)
{
    if (s->ok > 0)
        qsort(s->lat, (size_t) s->ok, sizeof(*s->lat), cmp_double);
    printf("%s_logins %ld %s_ok %ld %s_failed %ld %s_rate %.1f\n", ph,
           s->asked, ph, s->ok, ph, s->failed, ph,
           wall > 0 ? (double) s->ok / wall : 0.0);
    printf("%s_p50_ms %.2f %s_p90_ms %.2f %s_p99_ms %.2f %s_max_ms %.2f\n",
           ph, pct(s->lat, (size_t) s->ok, 0.50), ph,
           pct(s->lat, (size_t) s->ok, 0.90), ph,
           pct(s->lat, (size_t) s->ok, 0.99), ph,
           pct(s->lat, (size_t) s->ok, 1.0));
    if (s->failed)
        fprintf(stderr, "bench_apid: %s: first failed login: %s\n", ph,
                s->first_error);
}

static void
print_sample(const char *ph, const struct sample *a, const struct sample *b)
{
    printf("%s_rss_mb %ld %s_threads %ld %s_apid_cpu_pct %.0f"
           " %s_gen_cpu_pct %.0f %s_wall_s %.1f\n",
           ph, b->rss_mb, ph, b->threads, ph,
           cpu_pct(a->apid_cpu, b->apid_cpu, a->t, b->t), ph,
           cpu_pct(a->self_cpu, b->self_cpu, a->t, b->t), ph, b->t - a->t);
}

/* The hosts in their long poll: established and not waiting to retry. */
static long
count_polling(const struct poller *pl)
{
    long n = 0;

    for (long i = 0; i < hosts; i++)
        n += __atomic_load_n(&pl[i].established_ns, __ATOMIC_ACQUIRE) != 0
             && __atomic_load_n(&pl[i].state, __ATOMIC_RELAXED) != QUEUED;
    return n;
}

/* Of the hosts established before the revocation, how many have seen the
 * list without it; their times in ms when ms is given. */
static long
count_seen(const struct poller *pl, int64_t sent, long *counted, double *ms)
{
    long seen = 0;

    *counted = 0;
    for (long i = 0; i < hosts; i++) {
        int64_t e = __atomic_load_n(&pl[i].established_ns, __ATOMIC_ACQUIRE);
        int64_t s = __atomic_load_n(&pl[i].seen_ns, __ATOMIC_ACQUIRE);

        if (e == 0 || e >= sent)
            continue;
        (*counted)++;
        if (s > sent) {
            if (ms != NULL)
                ms[seen] = (double) (s - sent) / 1e6;
            seen++;
        }
    }
    return seen;
}

/* Logins due by now, at RATE from the start. */
static void
logins_due(int phase, struct poller *pl, double *next)
{
    while (now() >= *next) {
        login_start(phase, pl);
        *next += 1.0 / (double) rate;
    }
}

static const char *
arg(int argc, char **argv, const char *key, const char *dflt)
{
    size_t k = strlen(key);

    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], key, k) == 0 && argv[i][k] == '=')
            return argv[i] + k + 1;
    if (dflt == NULL) {
        fprintf(stderr, "bench_apid: %s= is required\n", key);
        exit(64);
    }
    return dflt;
}

int
main(int argc, char **argv)
{
    struct poller *pl;
    struct worker *w;
    struct sample s0, s1, s2, s3, s4;
    struct sockaddr_in to = { .sin_family = AF_INET };
    struct rlimit rl;
    double t0, next, end, phase_t[PH_N + 1];
    long polling, established = 0, flood_open_n = 0, flood_closed = 0;
    long tls_held, need;
    long flood_refused = 0, flood_pending = 0;
    pthread_t tls_tid;
    FILE *f;
    char line[512];
    const char *port;

    base = arg(argc, argv, "url", NULL);
    ca = arg(argc, argv, "ca", NULL);
    users = atol(arg(argc, argv, "users", NULL));
    hosts = atol(arg(argc, argv, "hosts", NULL));
    per_addr = atol(arg(argc, argv, "per_addr", "10"));
    rate = atol(arg(argc, argv, "rate", "100"));
    secs = atol(arg(argc, argv, "seconds", "20"));
    nthreads = atol(arg(argc, argv, "threads", "2"));
    setup_s = atol(arg(argc, argv, "setup_seconds", "120"));
    fanout_s = atol(arg(argc, argv, "fanout_seconds", "30"));
    revoke_id = arg(argc, argv, "revoke_id", NULL);
    revoke_token = arg(argc, argv, "revoke_token", NULL);
    flood_n = atol(arg(argc, argv, "flood", "5000"));
    flood_tls_n = atol(arg(argc, argv, "flood_tls", "200"));
    flood_s = atol(arg(argc, argv, "flood_seconds", "10"));
    apid_pid = atol(arg(argc, argv, "pid", "0"));
    trace_ms = atof(arg(argc, argv, "trace_ms", "0"));
    lean = atol(arg(argc, argv, "lean", "1"));
    if (users < 1 || hosts < 1 || per_addr < 1 || rate < 1 || secs < 1
        || nthreads < 1 || nthreads > hosts || flood_n < 0 || flood_tls_n < 0
        || (port = strrchr(base, ':')) == NULL) {
        fprintf(stderr, "bench_apid: bad arguments\n");
        return 64;
    }
    need = hosts + flood_n + flood_tls_n + 12 * rate + 100;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t) need)
        fprintf(stderr, "bench_apid: warning: %lu descriptors, about %ld"
                        " wanted\n", (unsigned long) rl.rlim_cur, need);
    to.sin_port = htons((uint16_t) atoi(port + 1));
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    snprintf(marker, sizeof(marker), "\"id\":\"%s\"", revoke_id);
    marker_len = strlen(marker);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (lean)
        lean_init(base);
    srandom(1);

    pl = xcalloc((size_t) hosts, sizeof(*pl));
    if ((f = fopen(arg(argc, argv, "tokens", NULL), "re")) == NULL)
        die("tokens");
    for (long i = 0; i < hosts; i++) {
        long a = i / per_addr;

        if (!fgets(line, sizeof(line), f)
            || sscanf(line, "%127s %299s", pl[i].host, pl[i].token) != 2) {
            fprintf(stderr, "bench_apid: tokens: %ld hosts wanted\n", hosts);
            return 1;
        }
        /* A fleet: PER_ADDR hosts behind each address. */
        snprintf(pl[i].iface, sizeof(pl[i].iface), "host!127.1.%ld.%ld",
                 a / 250, a % 250 + 1);
    }
    fclose(f);

    /* Each thread a contiguous share of the hosts; GROUP_SIZE of them a
     * multi handle. */
    w = xcalloc((size_t) nthreads, sizeof(*w));
    for (long k = 0; k < nthreads; k++) {
        struct worker *wk = &w[k];
        long lo = hosts * k / nthreads, hi = hosts * (k + 1) / nthreads;
        struct group *g = NULL;

        loop_init(&wk->lp);
        wk->pl = pl + lo;
        wk->n = (size_t) (hi - lo);
        wk->ring = xcalloc(wk->n + 1, sizeof(*wk->ring));
        for (size_t j = 0; j < wk->n; j++) {
            struct poller *p = &wk->pl[j];

            p->ev.fd = -1;
            inet_pton(AF_INET, p->iface + 5, &p->src);
            if (lean) {
                worker_queue(wk, p, j, 0);
                continue;
            }
            if (j % GROUP_SIZE == 0)
                g = group_new(&wk->lp, poll_done);
            p->g = g;
            p->h = curl_easy_init();
            if (p->h == NULL)
                die("curl_easy_init");
            curl_easy_setopt(p->h, CURLOPT_CAINFO, ca);
            curl_easy_setopt(p->h, CURLOPT_INTERFACE, p->iface);
            curl_easy_setopt(p->h, CURLOPT_WRITEFUNCTION, poll_body);
            curl_easy_setopt(p->h, CURLOPT_WRITEDATA, p);
            curl_easy_setopt(p->h, CURLOPT_HEADERFUNCTION, poll_header);
            curl_easy_setopt(p->h, CURLOPT_HEADERDATA, p);
            curl_easy_setopt(p->h, CURLOPT_PRIVATE, p);
            curl_easy_setopt(p->h, CURLOPT_TIMEOUT, 90L);
            curl_easy_setopt(p->h, CURLOPT_CONNECTTIMEOUT, 30L);
            curl_easy_setopt(p->h, CURLOPT_NOSIGNAL, 1L);
            worker_queue(wk, p, j, 0);
        }
    }
    loop_init(&main_lp);
    login_g = group_new(&main_lp, login_done);

    /* ---- setup: every host gets its list and settles in its poll ---- */
    t0 = now();
    sample(&s0);
    for (long k = 0; k < nthreads; k++)
        if (pthread_create(&w[k].tid, NULL, worker_main, &w[k]) != 0)
            die("pthread_create");
    while (now() - t0 < (double) setup_s) {
        loop_once(&main_lp, 0.1);
        established = 0;
        for (long i = 0; i < hosts; i++)
            established += __atomic_load_n(&pl[i].established_ns,
                                           __ATOMIC_RELAXED) != 0;
        if (established == hosts)
            break;
    }
    sample(&s1);
    fprintf(stderr, "bench_apid: %ld of %ld hosts in their long poll after"
                    " %.1f s\n", established, hosts, s1.t - t0);
    printf("hosts %ld per_addr %ld addresses %ld threads %ld\n", hosts,
           per_addr, (hosts + per_addr - 1) / per_addr, nthreads);
    printf("established %ld setup_s %.1f\n", established, s1.t - t0);

    /* ---- steady: RATE x SECS logins while the polls go on ---- */
    phase_t[PH_STEADY] = next = now();
    while (st[PH_STEADY].asked < rate * secs) {
        while (st[PH_STEADY].asked < rate * secs && now() >= next) {
            login_start(PH_STEADY, pl);
            next += 1.0 / (double) rate;
        }
        loop_once(&main_lp, next - now() > 0 ? next - now() : 0);
    }
    sample(&s2);
    polling = count_polling(pl);

    /* ---- fan-out: one grant on every host revoked, logins go on ---- */
    phase_t[PH_FANOUT] = now();
    {
        int64_t sent = now_ns();
        long counted = 0, seen = 0;
        double *ms;

        __atomic_store_n(&revoke_sent_ns, sent, __ATOMIC_RELEASE);
        revoke_start();
        end = now() + (double) fanout_s;
        /* Who counts is fixed now: a host established later has
         * established_ns > sent. */
        (void) count_seen(pl, sent, &counted, NULL);
        do {
            logins_due(PH_FANOUT, pl, &next);
            loop_once(&main_lp, 0.01);
            seen = __atomic_load_n(&seen_total, __ATOMIC_ACQUIRE);
        } while ((seen < counted || !revoke_done) && now() < end);
        ms = xcalloc((size_t) hosts, sizeof(*ms));
        seen = count_seen(pl, sent, &counted, ms);
        qsort(ms, (size_t) seen, sizeof(*ms), cmp_double);
        printf("polling %ld change_hosts %ld change_seen %ld"
               " change_p50_ms %.0f change_last_ms %.0f\n", polling, counted,
               seen, pct(ms, (size_t) seen, 0.5), pct(ms, (size_t) seen, 1.0));
        printf("revoke_code %ld revoke_ms %.1f list_bytes %ld\n",
               revoke_code, revoke_ms,
               __atomic_load_n(&list_bytes, __ATOMIC_RELAXED));
        free(ms);
    }
    sample(&s3);

    /* ---- flood: idle connections from one address, logins go on ---- */
    phase_t[PH_FLOOD] = now();
    floods = xcalloc((size_t) flood_n + 1, sizeof(*floods));
    for (long i = 0; i < flood_n; i++)
        flood_open(&floods[i], &to);
    if (pthread_create(&tls_tid, NULL, tls_flood_main, NULL) != 0)
        die("pthread_create");
    /* All connected (or refused) within 15 s, then held flood_s. */
    end = now() + 15;
    for (;;) {
        long pending = 0;

        logins_due(PH_FLOOD, pl, &next);
        loop_once(&main_lp, 0.01);
        for (long i = 0; i < flood_n; i++)
            pending += !floods[i].connected && !floods[i].closed;
        if ((pending == 0
             && __atomic_load_n(&tls_open, __ATOMIC_RELAXED)
                        + __atomic_load_n(&tls_failed, __ATOMIC_RELAXED)
                    >= flood_tls_n)
            || now() >= end)
            break;
    }
    for (long i = 0; i < flood_n; i++) {
        flood_open_n += floods[i].connected && !floods[i].closed;
        flood_refused += !floods[i].connected && floods[i].closed;
        flood_pending += !floods[i].connected && !floods[i].closed;
    }
    tls_held = __atomic_load_n(&tls_open, __ATOMIC_RELAXED);
    end = now() + (double) flood_s;
    while (now() < end) {
        logins_due(PH_FLOOD, pl, &next);
        loop_once(&main_lp, next - now() > 0 ? next - now() : 0);
    }
    sample(&s4);
    for (long i = 0; i < flood_n; i++) {
        flood_closed += floods[i].connected && floods[i].closed;
        if (!floods[i].closed) {
            epoll_ctl(main_lp.ep, EPOLL_CTL_DEL, floods[i].ev.fd, NULL);
            close(floods[i].ev.fd);
            floods[i].closed = 1;
        }
    }
    __atomic_store_n(&stop_tls, 1, __ATOMIC_RELAXED);
    pthread_join(tls_tid, NULL);
    printf("flood %ld flood_open %ld flood_refused %ld flood_pending %ld"
           " flood_closed_by_server %ld flood_tls %ld flood_tls_open %ld\n",
           flood_n, flood_open_n, flood_refused, flood_pending, flood_closed,
           flood_tls_n, tls_held);
    phase_t[PH_N] = now();
    /* The logins still out end within their own 10 s timeout. */
    end = now() + 12;
    while (logins_in_flight > 0 && now() < end)
        loop_once(&main_lp, 0.05);
    if (logins_in_flight > 0) {
        fprintf(stderr, "bench_apid: %ld logins never ended\n",
                logins_in_flight);
        st[PH_FLOOD].failed += logins_in_flight;
    }
    __atomic_store_n(&stop_workers, 1, __ATOMIC_RELAXED);
    for (long k = 0; k < nthreads; k++)
        pthread_join(w[k].tid, NULL);

    print_stats("steady", &st[PH_STEADY],
                phase_t[PH_FANOUT] - phase_t[PH_STEADY]);
    print_stats("fanout", &st[PH_FANOUT],
                phase_t[PH_FLOOD] - phase_t[PH_FANOUT]);
    print_stats("flood", &st[PH_FLOOD], phase_t[PH_N] - phase_t[PH_FLOOD]);
    print_sample("setup", &s0, &s1);
    print_sample("steady", &s1, &s2);
    print_sample("fanout", &s2, &s3);
    print_sample("flood", &s3, &s4);
    {
        double late = 0, busy = 0;

        for (long k = 0; k < nthreads; k++) {
            if (w[k].lp.max_late > late)
                late = w[k].lp.max_late;
            if (w[k].lp.max_busy > busy)
                busy = w[k].lp.max_busy;
        }
        printf("gen_late_ms %.0f gen_busy_ms %.0f gen_poll_late_ms %.0f"
               " gen_poll_busy_ms %.0f\n", main_lp.max_late * 1000,
               main_lp.max_busy * 1000, late * 1000, busy * 1000);
    }
    printf("hwm_mb %ld long_poll_answers %ld poll_errors %ld\n", s4.hwm_mb,
           __atomic_load_n(&poll_answers, __ATOMIC_RELAXED),
           __atomic_load_n(&poll_errors, __ATOMIC_RELAXED));
    if (first_poll_error[0])
        fprintf(stderr, "bench_apid: first failed long poll: %s\n",
                first_poll_error);
    fflush(stdout);
    /* Ten thousand connections close with the process, faster than
     * through curl one by one. */
    _exit(0);
}
