/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "core/api.h"
#include "core/clock.h"
#include "core/relay_proto.h"
#include "core/validate.h"
#include "daemon/relay.h"

/* A caller has this long for its whole request, and the answer this long
 * to be written: it is root's login, which has its request ready and
 * reads at once. */
#define REQUEST_MS 1000
#define ANSWER_MS 2000
/* The pause before accepting again after accept failed for want of fds
 * or memory (which a busy loop would not bring back). */
#define ACCEPT_PAUSE_MS 100

struct jit_relay {
    int lfd, dirfd, stop_r, stop_w;
    pthread_t acceptor;
    const struct jit_conf *conf;
    pthread_rwlock_t *conf_lock;
    const struct jit_log *log;
    pthread_mutex_t mu;
    pthread_cond_t idle;
    unsigned inflight;
    /* API connections not in use, kept for the next requests; a reload
     * bumps gen, and a connection of an older one is not used again (its
     * TLS was set up under the trust the reload may have replaced). */
    struct jit_api *pool[JIT_RELAY_MAX_INFLIGHT];
    size_t npool;
    unsigned gen;
};

struct job {
    struct jit_relay *r;
    int fd;
};

static void
send_line(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
send_line(int fd, const char *fmt, ...)
{
    char line[JIT_RELAY_LINE_MAX];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t) n > sizeof(line) - 2)
        n = (int) sizeof(line) - 2;
    line[n] = '\n';
    (void) jit_relay_send(fd, line, (size_t) n + 1,
                          jit_mono_ms() + ANSWER_MS);
}

/*
 * The request: "grant USER N\n" and N bytes of settings, nothing after,
 * all within REQUEST_MS.  On success 0, with user pointing into buf and
 * settings at buf + *off.
 */
static int
read_request(int fd, char *buf, size_t cap, const char **user,
             size_t *off, size_t *nset)
{
    int64_t deadline = jit_mono_ms() + REQUEST_MS;
    size_t len = 0, hdr = 0, need = 0;
    char *nl, *sp;
    uint32_t n;

    for (;;) {
        ssize_t r = recv(fd, buf + len, cap - len - 1, 0);

        if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
            if (jit_relay_wait(fd, POLLIN, deadline) != 0)
                return -1;
            continue;
        }
        if (r <= 0)
            return -1;
        len += (size_t) r;
        buf[len] = '\0';
        if (hdr == 0) {
            if ((nl = memchr(buf, '\n', len)) == NULL) {
                if (len >= JIT_RELAY_LINE_MAX)
                    return -1;
                continue;
            }
            *nl = '\0';
            hdr = (size_t) (nl - buf) + 1;
            if (hdr > JIT_RELAY_LINE_MAX || strncmp(buf, "grant ", 6) != 0
                || (sp = strchr(buf + 6, ' ')) == NULL)
                return -1;
            *sp = '\0';
            if (jit_parse_u32(sp + 1, 0, JIT_RELAY_SETTINGS_MAX, &n) != 0)
                return -1;
            *user = buf + 6;
            need = hdr + n;
        }
        if (len > need)
            return -1;
        if (len == need)
            break;
        if (len == cap - 1)
            return -1;
    }
    *off = hdr;
    *nset = need - hdr;
    return 0;
}

/* A detail for the answer's one line: printable ASCII only. */
static void
one_line(char *s)
{
    for (; *s != '\0'; s++)
        if ((unsigned char) *s < 0x20 || (unsigned char) *s >= 0x7f)
            *s = '?';
}

/* A kept connection (or a new one) and the generation it is of; NULL
 * when out of memory. */
static struct jit_api *
pool_take(struct jit_relay *r, unsigned *gen)
{
    struct jit_api *api = NULL;

    pthread_mutex_lock(&r->mu);
    if (r->npool > 0)
        api = r->pool[--r->npool];
    *gen = r->gen;
    pthread_mutex_unlock(&r->mu);
    return api != NULL ? api : jit_api_new();
}

static void
pool_give(struct jit_relay *r, struct jit_api *api, unsigned gen)
{
    pthread_mutex_lock(&r->mu);
    if (api != NULL && gen == r->gen && r->npool < JIT_RELAY_MAX_INFLIGHT) {
        r->pool[r->npool++] = api;
        api = NULL;
    }
    pthread_mutex_unlock(&r->mu);
    jit_api_free(api);
}

void
jit_relay_reloaded(struct jit_relay *r)
{
    struct jit_api *old[JIT_RELAY_MAX_INFLIGHT];
    size_t n;

    if (r == NULL)
        return;
    pthread_mutex_lock(&r->mu);
    r->gen++;
    n = r->npool;
    memcpy(old, r->pool, n * sizeof(old[0]));
    r->npool = 0;
    pthread_mutex_unlock(&r->mu);
    for (size_t i = 0; i < n; i++)
        jit_api_free(old[i]);
}

/* What the API client reads of a configuration (api.c, negotiate.c),
 * copied: a request runs on its copy, so that a reload (which frees the
 * configuration's strings) never waits for the API.  0 or -ENOMEM. */
static int
api_conf_copy(struct jit_conf *dst, const struct jit_conf *src)
{
    char **d[] = { &dst->api_url, &dst->host, &dst->ca_file,
                   &dst->pinned_pubkey, &dst->token_file, &dst->client_cert,
                   &dst->client_key, &dst->krb5_keytab, &dst->krb5_principal,
                   &dst->krb5_ccache, &dst->krb5_service, &dst->state_dir };
    char *const s[] = { src->api_url, src->host, src->ca_file,
                        src->pinned_pubkey, src->token_file, src->client_cert,
                        src->client_key, src->krb5_keytab, src->krb5_principal,
                        src->krb5_ccache, src->krb5_service, src->state_dir };
    int ret = 0;

    memset(dst, 0, sizeof(*dst));
    dst->timeout = src->timeout;
    dst->connect_timeout = src->connect_timeout;
    dst->max_response_size = src->max_response_size;
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
        if (s[i] != NULL && (*d[i] = strdup(s[i])) == NULL)
            ret = -ENOMEM;
    return ret;
}

static void
api_conf_free(struct jit_conf *c)
{
    char *f[] = { c->api_url, c->host, c->ca_file, c->pinned_pubkey,
                  c->token_file, c->client_cert, c->client_key,
                  c->krb5_keytab, c->krb5_principal, c->krb5_ccache,
                  c->krb5_service, c->state_dir };

    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        free(f[i]);
    memset(c, 0, sizeof(*c));
}

/* The caller closed its end (its login gave up waiting and asked
 * itself); one that only shut down its writing still reads. */
static int
caller_gone(int fd)
{
    struct pollfd p = { fd, 0, 0 };

    return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR));
}

/*
 * One request.  The configuration's lock is held only to compare the
 * settings and copy what the API client reads: never while the caller
 * sends or the API answers, so that a reload (SIGHUP) never waits on a
 * login, and the daemon's loop never waits on the relay.
 */
static void
handle(struct jit_relay *r, int fd)
{
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    struct jit_api_error err;
    struct jit_conf c;
    struct jit_api *api = NULL;
    const char *user = NULL;
    char *buf = NULL, *mine = NULL, *body = NULL;
    size_t off = 0, nset = 0, mlen = 0, blen = 0;
    unsigned gen = 0;
    long http = 0;
    int same = 0, copied = -ENOMEM;

    memset(&c, 0, sizeof(c));
    memset(&cred, 0, sizeof(cred));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0
        || clen != sizeof(cred))
        cred.uid = (uid_t) -1; /* unknown: refused as any other */
    if (cred.uid != 0) {
        /* (the log's format changes only under the lock: a reload) */
        pthread_rwlock_rdlock(r->conf_lock);
        jit_logf(r->log, LOG_WARNING, "daemon: relay: refused a caller of "
                 "uid %ld", cred.uid == (uid_t) -1 ? -1L : (long) cred.uid);
        pthread_rwlock_unlock(r->conf_lock);
        goto done;
    }
    buf = malloc(JIT_RELAY_LINE_MAX + JIT_RELAY_SETTINGS_MAX + 1);
    if (buf == NULL) {
        send_line(fd, "refused out_of_memory");
        goto done;
    }
    if (read_request(fd, buf, JIT_RELAY_LINE_MAX + JIT_RELAY_SETTINGS_MAX + 1,
                     &user, &off, &nset) != 0) {
        send_line(fd, "refused bad_request");
        goto done;
    }
    if (jit_name_problem(user) != NULL) {
        send_line(fd, "refused bad_user");
        goto done;
    }
    /* The copy and the connection are of one configuration: a reload
     * (which empties the pool) happens before or after both. */
    pthread_rwlock_rdlock(r->conf_lock);
    mine = jit_relay_settings(r->conf, &mlen);
    same = mine != NULL && mlen == nset && memcmp(mine, buf + off, nset) == 0;
    if (same && (copied = api_conf_copy(&c, r->conf)) == 0)
        api = pool_take(r, &gen);
    pthread_rwlock_unlock(r->conf_lock);
    if (!same) {
        send_line(fd, "refused settings");
        goto done;
    }
    if (copied != 0 || api == NULL) {
        send_line(fd, "refused out_of_memory");
        goto done;
    }
    /* A request that waited in the queue while the daemon was stopped:
     * its login has asked the API itself already. */
    if (caller_gone(fd))
        goto done;
    /* The caller now waits for the API, not for a wedged daemon. */
    send_line(fd, "taken");
    if (jit_api_fetch_grant(&c, api, user, &http, &body, &blen, &err)
        != JIT_API_OK) {
        one_line(err.detail);
        send_line(fd, "fault %s %s", err.reason ? err.reason
                                                 : "internal_error",
                  err.detail);
        goto done;
    }
    send_line(fd, "answer %ld %zu", http, blen);
    if (blen > 0)
        (void) jit_relay_send(fd, body, blen, jit_mono_ms() + ANSWER_MS);

done:
    if (api != NULL)
        pool_give(r, api, gen);
    api_conf_free(&c);
    free(body);
    free(mine);
    free(buf);
}

static void
done_one(struct jit_relay *r)
{
    pthread_mutex_lock(&r->mu);
    if (--r->inflight == 0)
        pthread_cond_broadcast(&r->idle);
    pthread_mutex_unlock(&r->mu);
}

static void *
serve(void *arg)
{
    struct job *j = arg;
    struct jit_relay *r = j->r;
    int fd = j->fd;

    free(j);
    handle(r, fd);
    close(fd);
    done_one(r);
    return NULL;
}

static void
dispatch(struct jit_relay *r, int fd)
{
    pthread_attr_t attr;
    struct job *j = NULL;
    pthread_t t;
    int busy;

    pthread_mutex_lock(&r->mu);
    busy = r->inflight >= JIT_RELAY_MAX_INFLIGHT;
    if (!busy)
        r->inflight++;
    pthread_mutex_unlock(&r->mu);
    if (busy) {
        send_line(fd, "refused busy");
        close(fd);
        return;
    }
    if ((j = malloc(sizeof(*j))) != NULL) {
        j->r = r;
        j->fd = fd;
        if (pthread_attr_init(&attr) == 0) {
            pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
            if (pthread_create(&t, &attr, serve, j) == 0) {
                pthread_attr_destroy(&attr);
                return;
            }
            pthread_attr_destroy(&attr);
        }
        free(j);
    }
    send_line(fd, "refused busy");
    close(fd);
    done_one(r);
}

static void *
accept_loop(void *arg)
{
    struct jit_relay *r = arg;

    for (;;) {
        struct pollfd p[2] = { { r->lfd, POLLIN, 0 },
                               { r->stop_r, POLLIN, 0 } };
        int fd;

        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            /* No relay rather than one that takes no request: without
             * the socket a login asks the API at once. */
            int e = errno;

            pthread_rwlock_rdlock(r->conf_lock);
            jit_logf(r->log, LOG_ERR, "daemon: relay: poll: %s; logins "
                     "ask the API themselves", strerror(e));
            pthread_rwlock_unlock(r->conf_lock);
            (void) unlinkat(r->dirfd, JIT_RELAY_SOCKET, 0);
            break;
        }
        if (p[1].revents != 0)
            break;
        if (p[0].revents == 0)
            continue;
        fd = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS
                || errno == ENOMEM)
                (void) poll(NULL, 0, ACCEPT_PAUSE_MS);
            continue;
        }
        dispatch(r, fd);
    }
    return NULL;
}

/* Bind and listen on name in dirfd, mode 0600.  The fd or -errno. */
static int
listen_at(int dirfd, const char *name, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    struct stat st;
    mode_t old;
    int fd = -1, ret;

    if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT) {
        ret = -errno;
        snprintf(err, errlen, "%s: cannot remove: %s", name, strerror(errno));
        goto done;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    /* The directory by its fd: no path to follow, and always short. */
    snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dirfd,
             name);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
        ret = -errno;
        snprintf(err, errlen, "socket: %s", strerror(errno));
        goto done;
    }
    /* The daemon has one thread when it starts the relay: the umask is
     * its own for this instant. */
    old = umask(0177);
    ret = bind(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0 ? -errno : 0;
    umask(old);
    if (ret != 0) {
        snprintf(err, errlen, "%s: bind: %s", name, strerror(-ret));
        close(fd);
        return ret;
    }
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0
        || !S_ISSOCK(st.st_mode) || st.st_uid != geteuid()
        || (st.st_mode & 077) != 0) {
        ret = -EPERM;
        snprintf(err, errlen, "%s: not a socket of uid %u with mode 0600",
                 name, (unsigned) geteuid());
        goto done;
    }
    if (listen(fd, 64) != 0) {
        ret = -errno;
        snprintf(err, errlen, "%s: listen: %s", name, strerror(errno));
        goto done;
    }
    ret = fd;
    fd = -1;

done:
    if (fd >= 0) {
        close(fd);
        (void) unlinkat(dirfd, name, 0);
    }
    return ret;
}

int
jit_relay_start(int dirfd, const struct jit_conf *conf,
                pthread_rwlock_t *conf_lock, const struct jit_log *log,
                struct jit_relay **out, char *err, size_t errlen)
{
    struct jit_relay *r = calloc(1, sizeof(*r));
    sigset_t all, old;
    int pfd[2] = { -1, -1 }, ret;

    *out = NULL;
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    r->lfd = r->dirfd = r->stop_r = r->stop_w = -1;
    r->conf = conf;
    r->conf_lock = conf_lock;
    r->log = log;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->idle, NULL);
    if ((r->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0)) < 0
        || pipe2(pfd, O_CLOEXEC) != 0) {
        ret = -errno;
        snprintf(err, errlen, "%s", strerror(errno));
        goto fail;
    }
    r->stop_r = pfd[0];
    r->stop_w = pfd[1];
    if ((ret = listen_at(r->dirfd, JIT_RELAY_SOCKET, err, errlen)) < 0)
        goto fail;
    r->lfd = ret;
    /* libcurl's global set-up (which may touch the environment) while
     * the daemon has one thread. */
    jit_api_init();
    /* Signals are the main thread's: its sleeps and long polls end when
     * one comes. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    ret = -pthread_create(&r->acceptor, NULL, accept_loop, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (ret != 0) {
        snprintf(err, errlen, "thread: %s", strerror(-ret));
        (void) unlinkat(r->dirfd, JIT_RELAY_SOCKET, 0);
        goto fail;
    }
    *out = r;
    return 0;

fail:
    if (r->lfd >= 0)
        close(r->lfd);
    if (r->stop_r >= 0)
        close(r->stop_r);
    if (r->stop_w >= 0)
        close(r->stop_w);
    if (r->dirfd >= 0)
        close(r->dirfd);
    pthread_cond_destroy(&r->idle);
    pthread_mutex_destroy(&r->mu);
    free(r);
    return ret;
}

void
jit_relay_stop(struct jit_relay *r)
{
    if (r == NULL)
        return;
    while (write(r->stop_w, "x", 1) < 0 && errno == EINTR)
        ;
    pthread_join(r->acceptor, NULL);
    /* No new caller now: a login that comes calls the API itself. */
    (void) unlinkat(r->dirfd, JIT_RELAY_SOCKET, 0);
    close(r->lfd);
    pthread_mutex_lock(&r->mu);
    while (r->inflight > 0)
        pthread_cond_wait(&r->idle, &r->mu);
    pthread_mutex_unlock(&r->mu);
    for (size_t i = 0; i < r->npool; i++)
        jit_api_free(r->pool[i]);
    close(r->stop_r);
    close(r->stop_w);
    close(r->dirfd);
    pthread_cond_destroy(&r->idle);
    pthread_mutex_destroy(&r->mu);
    free(r);
}
