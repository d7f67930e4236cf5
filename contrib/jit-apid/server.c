/*
 * jit-apid's transport: HTTPS with libmicrohttpd, one thread per
 * connection.  A request is read here (its body capped), answered by
 * apid_route, and a long poll with nothing new waits here for a change.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api.h"

/* Per request: the body as it arrives. */
struct conn {
    char *body;
    size_t len;
    int too_big;
};

static const char *
query_arg(const struct apid_req *q, const char *name)
{
    return MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* Until a change later than generation gen, time wake, or the stop. */
static void
wait_for_change(struct apid *a, uint64_t gen, int64_t wake)
{
    pthread_mutex_lock(&a->change_mu);
    while (a->generation == gen && !a->stopping && apid_now() < wake) {
        struct timespec ts = { (time_t) wake, 0 };

        pthread_cond_timedwait(&a->change_cv, &a->change_mu, &ts);
    }
    pthread_mutex_unlock(&a->change_mu);
}

static enum MHD_Result
handler(void *cls, struct MHD_Connection *c, const char *url,
        const char *method, const char *version, const char *upload,
        size_t *upload_size, void **con_cls)
{
    struct apid *a = cls;
    struct conn *cs = *con_cls;
    struct apid_reply r;
    struct MHD_Response *resp;
    enum MHD_Result ret;

    (void) version;
    memset(&r, 0, sizeof(r));
    if (cs == NULL) {
        if ((cs = calloc(1, sizeof(*cs))) == NULL)
            return MHD_NO;
        *con_cls = cs;
        return MHD_YES;
    }
    if (*upload_size > 0) {
        /* Bodies are capped; beyond the cap the rest is read and
         * dropped, and the request refused. */
        if (!cs->too_big && cs->len + *upload_size <= a->conf.max_body) {
            char *nb = realloc(cs->body, cs->len + *upload_size + 1);

            if (nb == NULL)
                cs->too_big = 1;
            else {
                cs->body = nb;
                memcpy(cs->body + cs->len, upload, *upload_size);
                cs->len += *upload_size;
                cs->body[cs->len] = '\0';
            }
        } else {
            cs->too_big = 1;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (cs->too_big) {
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
            .body = cs->body,
            .len = cs->len,
        };

        for (;;) {
            apid_route(a, &q, &r);
            if (r.status != 0 || r.body != NULL)
                break;
            wait_for_change(a, r.poll_gen, r.poll_wake);
            q.poll_deadline = r.poll_deadline;
            memset(&r, 0, sizeof(r));
        }
    }
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
    struct conn *q = *con_cls;

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
            MHD_OPTION_HTTPS_PRIORITIES, a->conf.tls_priority,
            MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
            MHD_OPTION_CONNECTION_LIMIT, a->conf.max_connections,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) (APID_WAIT_MAX + 30),
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
