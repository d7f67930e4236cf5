/* SPDX-License-Identifier: MIT */
/*
 * jit-apid's transport: HTTPS with libmicrohttpd, event-driven.  A few
 * worker threads (each its own epoll set) carry every connection; a long
 * poll with nothing new is suspended (a connection off the event loop,
 * memory only) and resumed by the clock thread here at a change or at its
 * wake time.  The clock also closes connections that have not completed a
 * request's headers within request_timeout (slowloris), and the long
 * polls have a budget of connections of their own, so they never take
 * the slots logins need (jit-apid(8), "Connections").
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api.h"

/* What an over-budget long poll is told: ask again in this many seconds. */
#define POLL_RETRY_AFTER "5"
/* How long a stop waits for the resumed long polls to be answered (ms);
 * what is left then is closed. */
#define STOP_GRACE_MS 2000
/* Each connection's buffer for a request's line and headers (and the
 * answer's headers).  libmicrohttpd zeroes what it hands back, so a
 * connection holds about this much for its life, and a fleet's long
 * polls 10,000 times that: measured with 2,000 long polls held, 70 KiB a
 * connection with 64 KiB here, 44 with 32, 28 with 16.  16 KiB takes
 * headers of 15 KiB (a Negotiate header with a large PAC; Apache and
 * nginx stop at 8 KiB a line by default); more is refused. */
#define APID_CONN_POOL (16 * 1024)
/* Resumed long polls run again at once (see struct apid_http), resumed
 * in batches: when they are down to INFLIGHT_LOW, up to MAX_INFLIGHT.
 * libmicrohttpd (0.9.75) walks a worker's whole list of suspended
 * connections each time it is told of a resumption; resumed one at a
 * time, a fan-out to 10,000 polls was 10,000 walks of ~1,250 each.  A
 * batch is one worker's polls: a batch spread over every worker made
 * every worker walk its list, one worker's makes one walk. */
#define MAX_INFLIGHT 128
#define INFLIGHT_LOW 64
#define BATCH (MAX_INFLIGHT - INFLIGHT_LOW)
/* pool_size()'s most, and one queue more for a poll whose worker
 * libmicrohttpd did not say. */
#define MAX_WORKERS 16
#define N_QUEUES (MAX_WORKERS + 1)
/* Buckets of the long polls per address table (a power of two). */
#define ADDR_BUCKETS 4096
#define ADDR_SHIFT 20 /* 32 - log2(ADDR_BUCKETS) */
_Static_assert(1u << (32 - ADDR_SHIFT) == ADDR_BUCKETS, "ADDR_SHIFT");

/* Per connection (MHD's socket context), from accept to close. */
struct conn {
    int fd;
    uint32_t addr;         /* IPv4, network order */
    int waiting;           /* in the request deadline list */
    int64_t deadline_ms;   /* monotonic: headers complete by then */
    struct conn *prev, *next;
};

/* Per request (MHD's request context). */
struct req {
    struct MHD_Connection *c;
    struct conn *cn;
    char *body;
    size_t len;
    int too_big;
    /* A long poll: admitted to the budget; its deadline and, while
     * suspended, what ends the suspension and its place in the heap. */
    int admitted;
    int64_t poll_deadline, wake;
    /* When the clock resumes it (ms of the real-time clock): a wait's
     * end comes at its second plus the millisecond the poll first
     * parked at, so that 10,000 hosts' timeouts spread over each second
     * as their requests did, not all at its start (a burst of ~400
     * answers and new requests each second, which logins queued
     * behind); a grant's end comes at its second (but for one ending in
     * the very second the wait does, whose host then hears of it up to
     * a second late: its own daemon ends the account by its own clock
     * at expires_at, whatever the list says). */
    int64_t wake_ms;
    int phase_ms; /* -1: not parked yet */
    uint64_t gen;
    size_t heap_i;
    char etag[80];  /* the list's, when parked */
    int parked;     /* suspended by park() (the handler's own) */
    int via_clock;  /* resumed by the clock, not yet run again (mu) */
    const void *worker; /* the worker thread's daemon that serves it */
};

/* Polls due to be resumed that one worker serves, in order. */
struct pendq {
    const void *worker;
    struct req **v;
    size_t i, n, cap;
};

struct addr_count {
    uint32_t addr;
    unsigned n;
    struct addr_count *next;
};

struct apid_http {
    struct apid *a;
    struct MHD_Daemon *d;
    pthread_t clock;
    int have_clock;
    /* Everything below under mu (taken after no MHD call's lock: MHD is
     * called with mu released, and calls us with its own released). */
    pthread_mutex_t mu;
    pthread_cond_t cv;     /* the clock's: a change, a slot, the stop */
    atomic_int clock_stop;
    /* Connections that owe a request's headers, oldest deadline first
     * (every deadline is now + request_timeout, so a FIFO is in order). */
    struct conn *wait_head, *wait_tail;
    /* Suspended long polls: a min-heap by wake time. */
    struct req **heap;
    size_t n_heap, cap_heap;
    /* Polls due to be resumed, per worker, and how many resumed ones
     * are being run again: at most MAX_INFLIGHT, so that a change that
     * wakes 10,000 polls does not queue 10,000 list queries in front of
     * the logins in the workers' event loops.  Batches take the queues
     * in turn, from next_q. */
    struct pendq q[N_QUEUES];
    size_t n_q, next_q, n_pend;
    unsigned inflight;
    /* Long polls admitted (suspended now, or resumed and not yet
     * answered), in all and per address. */
    unsigned polls, polls_max, polls_per_addr_max;
    struct addr_count *by_addr[ADDR_BUCKETS];
};

static int64_t
real_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the request deadline list (under mu) ---- */

static void
wait_remove(struct apid_http *h, struct conn *cn)
{
    if (!cn->waiting)
        return;
    if (cn->prev)
        cn->prev->next = cn->next;
    else
        h->wait_head = cn->next;
    if (cn->next)
        cn->next->prev = cn->prev;
    else
        h->wait_tail = cn->prev;
    cn->prev = cn->next = NULL;
    cn->waiting = 0;
}

static void
wait_add(struct apid_http *h, struct conn *cn)
{
    wait_remove(h, cn);
    cn->deadline_ms = mono_ms() + (int64_t) h->a->conf.request_timeout * 1000;
    cn->prev = h->wait_tail;
    cn->next = NULL;
    if (h->wait_tail)
        h->wait_tail->next = cn;
    else
        h->wait_head = cn;
    h->wait_tail = cn;
    cn->waiting = 1;
}

/* ---- the suspended long polls' heap (under mu) ---- */

static void
heap_swap(struct apid_http *h, size_t i, size_t j)
{
    struct req *t = h->heap[i];

    h->heap[i] = h->heap[j];
    h->heap[j] = t;
    h->heap[i]->heap_i = i;
    h->heap[j]->heap_i = j;
}

static void
heap_up(struct apid_http *h, size_t i)
{
    while (i > 0 && h->heap[(i - 1) / 2]->wake_ms > h->heap[i]->wake_ms) {
        heap_swap(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void
heap_down(struct apid_http *h, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;

        if (l < h->n_heap && h->heap[l]->wake_ms < h->heap[m]->wake_ms)
            m = l;
        if (l + 1 < h->n_heap && h->heap[l + 1]->wake_ms < h->heap[m]->wake_ms)
            m = l + 1;
        if (m == i)
            return;
        heap_swap(h, i, m);
        i = m;
    }
}

static int
heap_push(struct apid_http *h, struct req *rq)
{
    if (h->n_heap == h->cap_heap) {
        size_t cap = h->cap_heap ? h->cap_heap * 2 : 1024;
        struct req **v = realloc(h->heap, cap * sizeof(*v));

        if (v == NULL)
            return -ENOMEM;
        h->heap = v;
        h->cap_heap = cap;
    }
    rq->heap_i = h->n_heap;
    h->heap[h->n_heap++] = rq;
    heap_up(h, rq->heap_i);
    return 0;
}

static struct req *
heap_pop(struct apid_http *h)
{
    struct req *top = h->heap[0];

    h->heap[0] = h->heap[--h->n_heap];
    h->heap[0]->heap_i = 0;
    if (h->n_heap > 0)
        heap_down(h, 0);
    return top;
}

/* ---- the long polls' budget (under mu) ---- */

static struct addr_count **
addr_slot(struct apid_http *h, uint32_t addr)
{
    /* The product's top bits: its low ones are the address's low ones,
     * which in network order are the first octets, the same for a whole
     * fleet's subnet (127.1.x.y put 1,000 addresses in 16 chains, each
     * long poll's admission walking one of them under mu). */
    struct addr_count **p = &h->by_addr[(uint32_t) (addr * 2654435761u)
                                        >> ADDR_SHIFT];

    while (*p != NULL && (*p)->addr != addr)
        p = &(*p)->next;
    return p;
}

/* Admit a long poll from addr: 0, or -1 when over either budget. */
static int
poll_admit(struct apid_http *h, uint32_t addr)
{
    struct addr_count **p = addr_slot(h, addr);

    if (h->polls >= h->polls_max
        || (*p != NULL && (*p)->n >= h->polls_per_addr_max))
        return -1;
    if (*p == NULL) {
        if ((*p = calloc(1, sizeof(**p))) == NULL)
            return -1;
        (*p)->addr = addr;
    }
    (*p)->n++;
    h->polls++;
    return 0;
}

static void
poll_release(struct apid_http *h, uint32_t addr)
{
    struct addr_count **p = addr_slot(h, addr), *e = *p;

    if (e == NULL)
        return;
    h->polls--;
    if (--e->n == 0) {
        *p = e->next;
        free(e);
    }
}

/* ---- the clock: changes, wake times, request deadlines ---- */

static int
pend_push(struct apid_http *h, struct req *rq)
{
    struct pendq *q = NULL;

    for (size_t k = 0; k < h->n_q && q == NULL; k++)
        if (h->q[k].worker == rq->worker)
            q = &h->q[k];
    if (q == NULL) {
        /* More workers than MAX_WORKERS (never: pool_size): the last
         * queue takes the rest, a batch then spanning workers. */
        if (h->n_q < N_QUEUES)
            h->q[h->n_q++].worker = rq->worker;
        q = &h->q[h->n_q - 1];
    }
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 256;
        struct req **v = realloc(q->v, cap * sizeof(*v));

        if (v == NULL)
            return -ENOMEM;
        q->v = v;
        q->cap = cap;
    }
    q->v[q->n++] = rq;
    h->n_pend++;
    return 0;
}

/* The next batch, from the first queue with polls after next_q: up to
 * BATCH of them into out; how many. */
static size_t
pend_batch(struct apid_http *h, struct MHD_Connection **out)
{
    size_t n = 0;

    for (size_t k = 0; k < h->n_q; k++) {
        size_t qi = (h->next_q + k) % h->n_q;
        struct pendq *q = &h->q[qi];

        if (q->i == q->n)
            continue;
        while (q->i < q->n && n < BATCH
               && (h->clock_stop || h->inflight < MAX_INFLIGHT)) {
            struct req *rq = q->v[q->i++];

            rq->via_clock = 1;
            h->inflight++;
            h->n_pend--;
            out[n++] = rq->c;
        }
        if (q->i == q->n)
            q->i = q->n = 0;
        h->next_q = (qi + 1) % h->n_q;
        break;
    }
    return n;
}

/* A resumed poll has run again (or its request ended): a slot for the
 * next (under mu). */
static void
inflight_done(struct apid_http *h, struct req *rq)
{
    if (!rq->via_clock)
        return;
    rq->via_clock = 0;
    h->inflight--;
    if (h->n_pend > 0 && h->inflight == INFLIGHT_LOW)
        pthread_cond_signal(&h->cv);
}

static void
clock_wake(struct apid_http *h)
{
    pthread_mutex_lock(&h->mu);
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

static void *
clock_worker(void *arg)
{
    struct apid_http *h = arg;
    struct apid *a = h->a;
    struct MHD_Connection *out[BATCH];
    uint64_t seen;

    pthread_mutex_lock(&a->change_mu);
    seen = a->generation;
    pthread_mutex_unlock(&a->change_mu);
    pthread_mutex_lock(&h->mu);
    for (;;) {
        int64_t now_ms, wait_ms;
        struct timespec ts;
        uint64_t gen;
        size_t n = 0;
        int stop = h->clock_stop || a->stopping;

        pthread_mutex_lock(&a->change_mu);
        gen = a->generation;
        pthread_mutex_unlock(&a->change_mu);
        /* A change, or the stop: every suspended poll asks again (each
         * was parked at a generation before this one).  Else those whose
         * wake time came.  A poll stays in the heap if the queue cannot
         * grow, to be tried at the next round. */
        while (h->n_heap > 0
               && (gen != seen || stop || h->heap[0]->wake_ms <= real_ms())
               && pend_push(h, h->heap[0]) == 0)
            (void) heap_pop(h);
        seen = gen;
        if (h->n_pend > 0
            && (h->clock_stop || h->inflight <= INFLIGHT_LOW))
            n = pend_batch(h, out);
        /* A connection that has not sent a request's headers in time
         * (a TLS handshake never finished, headers trickled) is cut:
         * shutdown wakes its worker, which sees the end and closes it.
         * Its fd is still its own: the close notice takes it off this
         * list, under mu, before libmicrohttpd closes the fd. */
        now_ms = mono_ms();
        while (h->wait_head != NULL && h->wait_head->deadline_ms <= now_ms) {
            struct conn *cn = h->wait_head;

            wait_remove(h, cn);
            shutdown(cn->fd, SHUT_RDWR);
        }
        if (n > 0) {
            /* Resumed with mu released: a suspended connection stays
             * until resumed, and only we resume it. */
            pthread_mutex_unlock(&h->mu);
            for (size_t k = 0; k < n; k++)
                MHD_resume_connection(out[k]);
            pthread_mutex_lock(&h->mu);
            continue;
        }
        if (h->clock_stop && h->n_heap == 0 && h->n_pend == 0)
            break;
        /* Sleep until a change, a slot, the first poll's wake time, or
         * the first request deadline (at most a second). */
        wait_ms = 1000;
        if (h->wait_head != NULL && h->wait_head->deadline_ms - now_ms < wait_ms)
            wait_ms = h->wait_head->deadline_ms - now_ms;
        clock_gettime(CLOCK_REALTIME, &ts);
        if (h->n_heap > 0
            && h->heap[0]->wake_ms - ((int64_t) ts.tv_sec * 1000
                                      + ts.tv_nsec / 1000000) < wait_ms)
            wait_ms = h->heap[0]->wake_ms
                      - ((int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
        if (wait_ms < 1)
            wait_ms = 1;
        ts.tv_nsec += (long) (wait_ms % 1000) * 1000000;
        ts.tv_sec += (time_t) (wait_ms / 1000) + ts.tv_nsec / 1000000000;
        ts.tv_nsec %= 1000000000;
        pthread_mutex_lock(&a->change_mu);
        gen = a->generation;
        pthread_mutex_unlock(&a->change_mu);
        /* (With a->stopping, every poll parked later resumes itself:
         * nothing is left to do here but the deadlines.) */
        if (gen == seen && !h->clock_stop)
            pthread_cond_timedwait(&h->cv, &h->mu, &ts);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* ---- libmicrohttpd's callbacks ---- */

static const char *
query_arg(const struct apid_req *q, const char *name)
{
    return MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* Park a long poll with nothing new until a change after gen or wake:
 * 1 if suspended (the handler runs again when resumed), 0 if over the
 * budget (answer at once). */
static int
park(struct apid_http *h, struct req *rq, const struct apid_reply *r)
{
    uint64_t gen = r->poll_gen;
    int64_t wake = r->poll_wake;
    struct apid *a = h->a;
    int again;

    if (!rq->admitted) {
        pthread_mutex_lock(&h->mu);
        rq->admitted = poll_admit(h, rq->cn->addr) == 0;
        pthread_mutex_unlock(&h->mu);
        if (!rq->admitted)
            return 0;
    }
    if (rq->phase_ms < 0) {
        const union MHD_ConnectionInfo *di = MHD_get_connection_info(
            rq->c, MHD_CONNECTION_INFO_DAEMON);

        rq->phase_ms = (int) (real_ms() % 1000);
        rq->worker = di != NULL ? di->daemon : NULL;
    }
    rq->gen = gen;
    rq->wake = wake;
    rq->wake_ms = wake * 1000 + (wake == rq->poll_deadline ? rq->phase_ms : 0);
    rq->parked = 1;
    memcpy(rq->etag, r->etag, sizeof(rq->etag));
    MHD_suspend_connection(rq->c);
    pthread_mutex_lock(&h->mu);
    pthread_mutex_lock(&a->change_mu);
    /* A change since apid_route looked, or the stop: ask again now. */
    again = a->generation != gen || a->stopping || h->clock_stop
            || rq->wake_ms <= real_ms() || heap_push(h, rq) != 0;
    pthread_mutex_unlock(&a->change_mu);
    pthread_mutex_unlock(&h->mu);
    if (again)
        MHD_resume_connection(rq->c);
    return 1;
}

/* A body that held a secret, freed once sent (or not sent). */
static void
wipe_free(void *p)
{
    if (p != NULL)
        explicit_bzero(p, strlen(p));
    free(p);
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
        const char *method, const char *version, const char *upload,
        size_t *upload_size, void **con_cls)
{
    struct apid_http *h = cls;
    struct apid *a = h->a;
    struct req *rq = *con_cls;
    struct apid_reply r;
    struct MHD_Response *resp;
    enum MHD_Result ret;

    (void) version;
    memset(&r, 0, sizeof(r));
    if (rq == NULL) {
        /* The headers are in: the request deadline no longer applies
         * (a body and a long poll have their own limits). */
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
            c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

        if (ci == NULL || ci->socket_context == NULL
            || (rq = calloc(1, sizeof(*rq))) == NULL)
            return MHD_NO;
        rq->c = c;
        rq->cn = ci->socket_context;
        rq->phase_ms = -1;
        pthread_mutex_lock(&h->mu);
        wait_remove(h, rq->cn);
        pthread_mutex_unlock(&h->mu);
        *con_cls = rq;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        /* Bodies are capped; beyond the cap the rest is read and
         * dropped, and the request refused. */
        if (!rq->too_big && rq->len + *upload_size <= a->conf.max_body) {
            char *nb = realloc(rq->body, rq->len + *upload_size + 1);

            if (nb == NULL)
                rq->too_big = 1;
            else {
                rq->body = nb;
                memcpy(rq->body + rq->len, upload, *upload_size);
                rq->len += *upload_size;
                rq->body[rq->len] = '\0';
            }
        } else {
            rq->too_big = 1;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (rq->parked) {
        /* Resumed.  At its deadline, with no change since it was parked
         * and no grant's end before, the list is the one the host has:
         * 304 without asking the store again (10,000 hosts polling for
         * 30 s each would be 333 list queries a second for nothing). */
        uint64_t gen;

        rq->parked = 0;
        pthread_mutex_lock(&a->change_mu);
        gen = a->generation;
        pthread_mutex_unlock(&a->change_mu);
        if (gen == rq->gen && !a->stopping && rq->wake >= rq->poll_deadline
            && apid_now() >= rq->poll_deadline) {
            r.status = 304;
            memcpy(r.etag, rq->etag, sizeof(r.etag));
        }
    }
    if (r.status != 0) {
        /* answered above */
    } else if (rq->too_big) {
        apid_reply_error(&r, 413, "too_large", "the body is larger than %zu"
                         " bytes", a->conf.max_body);
    } else {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
            c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
        struct apid_req q = {
            .method = method,
            .url = url,
            .authz = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                 "Authorization"),
            .if_none_match = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                         "If-None-Match"),
            .arg = query_arg,
            .conn = c,
            .tls = ci != NULL ? ci->tls_session : NULL,
            .body = rq->body,
            .len = rq->len,
            .poll_deadline = rq->poll_deadline,
        };

        apid_route(a, &q, &r);
        if (r.status == 0 && r.body == NULL) {
            rq->poll_deadline = r.poll_deadline;
            if (park(h, rq, &r)) {
                ret = MHD_YES;
                goto done;
            }
            apid_reply_error(&r, 429, "too_many_polls", "long polls are at"
                             " their limit; ask again in " POLL_RETRY_AFTER
                             " s");
        }
    }
    /* The body is handed over, not copied: a fan-out sends 10,000 lists
     * of ~28 KB. */
    if (r.body != NULL && r.secret) {
        resp = MHD_create_response_from_buffer_with_free_callback(
            strlen(r.body), r.body, wipe_free);
        if (resp != NULL)
            r.body = NULL;
    } else if (r.body != NULL) {
        resp = MHD_create_response_from_buffer(strlen(r.body), r.body,
                                               MHD_RESPMEM_MUST_FREE);
        if (resp != NULL)
            r.body = NULL;
    } else
        resp = MHD_create_response_from_buffer(0, (char *) "",
                                               MHD_RESPMEM_PERSISTENT);
    wipe_free(r.body);
    ret = MHD_NO;
    if (resp != NULL) {
        if (r.status != 304)
            MHD_add_response_header(resp, "Content-Type",
                                    "application/json");
        if (r.etag[0])
            MHD_add_response_header(resp, "ETag", r.etag);
        if (r.status == 429)
            MHD_add_response_header(resp, "Retry-After", POLL_RETRY_AFTER);
        ret = MHD_queue_response(c, r.status ? r.status : 500, resp);
        MHD_destroy_response(resp);
    }

done:
    /* A poll the clock resumed has run: its slot goes to the next. */
    pthread_mutex_lock(&h->mu);
    inflight_done(h, rq);
    pthread_mutex_unlock(&h->mu);
    return ret;
}

/* A request's end (answered, or its connection closed): its long poll
 * slot is free, and a connection kept open owes the next request's
 * headers within request_timeout. */
static void
completed(void *cls, struct MHD_Connection *c, void **con_cls,
          enum MHD_RequestTerminationCode toe)
{
    struct apid_http *h = cls;
    struct req *rq = *con_cls;

    (void) c;
    if (rq == NULL)
        return;
    pthread_mutex_lock(&h->mu);
    inflight_done(h, rq);
    if (rq->admitted)
        poll_release(h, rq->cn->addr);
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        wait_add(h, rq->cn);
    pthread_mutex_unlock(&h->mu);
    free(rq->body);
    free(rq);
    *con_cls = NULL;
}

static void
notify_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                  enum MHD_ConnectionNotificationCode toe)
{
    struct apid_http *h = cls;
    struct conn *cn = *socket_context;

    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *fd = MHD_get_connection_info(
            c, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *ad = MHD_get_connection_info(
            c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

        /* Without its record a connection is refused at its first
         * request (the handler finds no socket context). */
        if (fd == NULL || (cn = calloc(1, sizeof(*cn))) == NULL)
            return;
        cn->fd = fd->connect_fd;
        if (ad != NULL && ad->client_addr != NULL
            && ad->client_addr->sa_family == AF_INET)
            cn->addr = ((const struct sockaddr_in *) (const void *)
                            ad->client_addr)->sin_addr.s_addr;
        pthread_mutex_lock(&h->mu);
        wait_add(h, cn);
        pthread_mutex_unlock(&h->mu);
        *socket_context = cn;
        return;
    }
    if (cn != NULL) {
        pthread_mutex_lock(&h->mu);
        wait_remove(h, cn);
        pthread_mutex_unlock(&h->mu);
        free(cn);
        *socket_context = NULL;
    }
}

/* libmicrohttpd's messages, at most LOG_BURST a second: a flood of
 * refused connections would otherwise be a flood of lines. */
#define LOG_BURST 20
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static void
logger(void *cls, const char *fmt, va_list ap)
{
    static int64_t second;
    static unsigned n, dropped;
    int64_t now = apid_now();

    (void) cls;
    pthread_mutex_lock(&log_mu);
    if (now != second) {
        if (dropped > 0)
            fprintf(stderr, "jit-apid: (%u more messages of libmicrohttpd"
                    " in that second not shown)\n", dropped);
        second = now;
        n = dropped = 0;
    }
    if (n++ < LOG_BURST) {
        fputs("jit-apid: ", stderr);
        vfprintf(stderr, fmt, ap);
    } else {
        dropped++;
    }
    pthread_mutex_unlock(&log_mu);
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

/* The worker threads.  Each runs its own epoll loop over its share of
 * the connections; a handler blocks its thread while it runs.  The store
 * is one connection behind one lock, so at most one handler at a time
 * waits on the database (SQLite, or PostgreSQL a network round trip
 * away) and the others on that lock; a Kerberos ticket's check (GSS
 * accept, about a millisecond of CPU and a replay cache write) and TLS
 * handshakes need CPU, not more threads.  Two threads per CPU, at least
 * four, keeps handshakes and the requests that need no store moving
 * while one thread waits on the database and another on its lock. */
static unsigned
pool_size(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 2)
        n = 2;
    if (n > 8)
        n = 8;
    return (unsigned) n * 2;
}

struct apid_http *
apid_http_start(struct apid *a, char *err, size_t errlen)
{
    static char *key, *cert, *ca;
    struct apid_http *h = NULL;
    struct sockaddr_in sin;
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
    if ((h = calloc(1, sizeof(*h))) == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->a = a;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    /* apid_changed wakes the clock through this; set before any thread
     * that may call it starts, and freed after they end. */
    a->http = h;
    a->on_change = clock_wake;
    /* The long polls leave an eighth of the connections, in all and per
     * address, to logins and events: a fleet's polls behind one NAT
     * address never lock its own logins out. */
    h->polls_max = a->conf.max_connections - a->conf.max_connections / 8;
    h->polls_per_addr_max = a->conf.max_connections_per_address
                            - a->conf.max_connections_per_address / 8;
    if (h->polls_max == 0)
        h->polls_max = 1;
    if (h->polls_per_addr_max == 0)
        h->polls_per_addr_max = 1;
    {
        /* The client CA (mTLS) only when configured: an array, since a
         * missing option must not end the list early. */
        struct MHD_OptionItem opts[] = {
            { MHD_OPTION_HTTPS_MEM_TRUST, 0, ca },
            { MHD_OPTION_END, 0, NULL },
        };

        if (ca == NULL)
            opts[0].option = MHD_OPTION_END;
        /* The connection timeout is libmicrohttpd's idle one: it bounds
         * a body or an answer that stops moving; a suspended long poll
         * is not subject to it, and the request deadline is the clock's
         * (an idle timeout alone would let a trickle of header bytes
         * hold a connection for ever). */
        h->d = MHD_start_daemon(
            MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME
                | MHD_USE_TLS | MHD_USE_ERROR_LOG,
            0, NULL, NULL, handler, h, MHD_OPTION_EXTERNAL_LOGGER, logger,
            NULL, MHD_OPTION_SOCK_ADDR, &sin,
            MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_HTTPS_MEM_CERT, cert,
            MHD_OPTION_HTTPS_PRIORITIES, a->conf.tls_priority,
            MHD_OPTION_NOTIFY_COMPLETED, completed, h,
            MHD_OPTION_NOTIFY_CONNECTION, notify_connection, h,
            MHD_OPTION_THREAD_POOL_SIZE, pool_size(),
            MHD_OPTION_CONNECTION_LIMIT, a->conf.max_connections,
            MHD_OPTION_PER_IP_CONNECTION_LIMIT,
            a->conf.max_connections_per_address,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) APID_WAIT_MAX,
            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) APID_CONN_POOL,
            MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u,
            MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    }
    if (h->d == NULL) {
        snprintf(err, errlen, "cannot serve on %s:%u (address in use, or"
                 " the TLS key and certificate do not load)",
                 a->conf.listen_addr, a->conf.port);
        goto fail;
    }
    if (pthread_create(&h->clock, NULL, clock_worker, h) != 0) {
        snprintf(err, errlen, "cannot start the clock thread");
        goto fail;
    }
    h->have_clock = 1;
    return h;

fail:
    apid_http_stop(h);
    apid_http_free(h);
    return NULL;
}

unsigned
apid_http_port(struct apid_http *h)
{
    const union MHD_DaemonInfo *di =
        MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);

    return di != NULL ? di->port : h->a->conf.port;
}

/* The stop: no new connections; every suspended long poll resumed, to
 * be answered (304, as a->stopping is set) within STOP_GRACE_MS; then
 * libmicrohttpd closes what is left. */
void
apid_http_stop(struct apid_http *h)
{
    unsigned left = 0;

    if (h == NULL)
        return;
    if (h->d != NULL) {
        MHD_socket lfd = MHD_quiesce_daemon(h->d);

        if (lfd != MHD_INVALID_SOCKET)
            close(lfd);
    }
    pthread_mutex_lock(&h->mu);
    h->clock_stop = 1;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    /* The clock's last round resumes every poll; any parked later sees
     * clock_stop and resumes itself. */
    if (h->have_clock)
        pthread_join(h->clock, NULL);
    for (int64_t end = mono_ms() + STOP_GRACE_MS; mono_ms() < end;) {
        struct timespec ts = { 0, 10 * 1000000 };

        pthread_mutex_lock(&h->mu);
        left = h->polls;
        pthread_mutex_unlock(&h->mu);
        if (left == 0)
            break;
        nanosleep(&ts, NULL);
    }
    if (left > 0)
        fprintf(stderr, "jit-apid: %u long polls not answered before the"
                " stop; closed\n", left);
    if (h->d != NULL)
        MHD_stop_daemon(h->d);
    h->d = NULL;
}

/* After the stop, once no thread can call apid_changed. */
void
apid_http_free(struct apid_http *h)
{
    if (h == NULL)
        return;
    h->a->on_change = NULL;
    h->a->http = NULL;
    for (size_t i = 0; i < ADDR_BUCKETS; i++)
        while (h->by_addr[i] != NULL) {
            struct addr_count *e = h->by_addr[i];

            h->by_addr[i] = e->next;
            free(e);
        }
    free(h->heap);
    for (size_t k = 0; k < h->n_q; k++)
        free(h->q[k].v);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}
