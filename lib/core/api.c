/* SPDX-License-Identifier: MIT */
/*
 * The JIT API client (see api.h).
 *
 * It runs inside other people's processes (sshd, su, screen lockers), some
 * of them setuid, so nothing it does may depend on the environment: the
 * CA bundle is always set explicitly (OpenSSL would otherwise honour
 * SSL_CERT_FILE), proxies are switched off (libcurl would otherwise honour
 * https_proxy), only https is spoken, no redirect is followed, no signal
 * is used for timeouts, libcurl's global state is set up once and never
 * torn down, and TLS secrets are never written to a key log (libcurl
 * would otherwise honour SSLKEYLOGFILE).  The bearer token is read from a
 * root-only file and wiped from every buffer that held it.
 */
#include "config.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/api.h"
#include "core/clock.h"
#include "core/negotiate.h"

/* Used when jit.conf names no ca_file; never taken from the environment. */
#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#define TOKEN_MAX 4096
#define ETAG_MAX 256
/* (api_answer.c's, for every failure of the transport too) */
#define fault jit_api_fault
/* The longest life of a kept connection, in seconds. */
#define KEPT_MAX_S 300

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
/* Set by jitctl daemon: a flag its signal handlers raise, which ends a
 * transfer in progress (a long poll) at once. */
static volatile sig_atomic_t *cancel_flag;

/* Set by jitctl daemon: an fd (its wake-up FIFO) whose turning readable
 * ends a long poll in progress, with JIT_API_WOKEN, once the poll has run
 * wake_grace_ms. */
static int wake_fd = -1;
static unsigned wake_grace_ms;

void
jit_api_set_cancel(volatile sig_atomic_t *flag)
{
    cancel_flag = flag;
}

void
jit_api_set_wake(int fd, unsigned grace_ms)
{
    wake_fd = fd;
    wake_grace_ms = grace_ms;
}

static int
on_progress(void *ctx, curl_off_t dltotal, curl_off_t dlnow,
            curl_off_t ultotal, curl_off_t ulnow)
{
    (void) ctx;
    (void) dltotal;
    (void) dlnow;
    (void) ultotal;
    (void) ulnow;
    return cancel_flag != NULL && *cancel_flag ? 1 : 0;
}
static CURLcode global_rc = CURLE_FAILED_INIT;

/*
 * libcurl opens the file SSLKEYLOGFILE names inside curl_global_init
 * (plain getenv: a setuid su's caller sets it) and then writes every TLS
 * session's secrets there, as root, wherever the caller said.  So the
 * variable is out of the environment while libcurl sets itself up, and
 * put back as it was (the same string) after: the host process's
 * environment is not ours to change.  Only when the variable is set is
 * the environment touched at all, once per process.  unsetenv and putenv
 * are not thread-safe: a thread of the host reading the environment in
 * that instant may miss the variable.  No interface of libcurl 7.88 turns
 * the key log off, and a race on a debugging variable is the lesser evil
 * beside root writing session secrets to a path the caller chose.
 * on_ssl_ctx covers a host that set libcurl up before us.
 */
static void
global_init(void)
{
    static const char keylog[] = "SSLKEYLOGFILE=";
    extern char **environ;
    char *entry = NULL;

    for (char **e = environ; e != NULL && *e != NULL; e++)
        if (strncmp(*e, keylog, sizeof(keylog) - 1) == 0) {
            entry = *e;
            break;
        }
    if (entry != NULL)
        unsetenv("SSLKEYLOGFILE");
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (entry != NULL)
        putenv(entry);
}

/* libcurl's OpenSSL back end gives each new TLS context a key log
 * callback when its key log file is open (a host process set libcurl up
 * before us with SSLKEYLOGFILE); this runs after, and takes it away. */
static CURLcode
on_ssl_ctx(CURL *h, void *ctx, void *arg)
{
    (void) h;
    (void) arg;
    SSL_CTX_set_keylog_callback((SSL_CTX *) ctx, NULL);
    return CURLE_OK;
}

struct body {
    char *buf;
    size_t len, cap, max;
    int too_large;
};

static size_t
on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct body *b = ctx;
    size_t n = size * nmemb;

    /* The cap holds even when the server sends no Content-Length. */
    if (n > b->max - b->len) {
        b->too_large = 1;
        return 0;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *nb;

        while (cap < b->len + n + 1)
            cap *= 2;
        nb = realloc(b->buf, cap);
        if (nb == NULL)
            return 0;
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, data, n);
    b->len += n;
    b->buf[b->len] = '\0';
    return n;
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *ctx)
{
    char **etag = ctx;
    size_t n = size * nmemb, k;

    if (n > 5 && strncasecmp(data, "ETag:", 5) == 0) {
        const char *v = data + 5;
        size_t len = n - 5;

        while (len > 0 && (*v == ' ' || *v == '\t'))
            v++, len--;
        while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n'
                           || v[len - 1] == ' '))
            len--;
        /* An ETag goes back to the server verbatim: printable only. */
        for (k = 0; k < len && v[k] > 0x20 && v[k] < 0x7f; k++)
            ;
        if (len > 0 && len <= ETAG_MAX && k == len) {
            free(*etag);
            *etag = strndup(v, len);
        }
    }
    return n;
}

void
jit_api_init(void)
{
    pthread_once(&global_once, global_init);
}

/* libcurl's sockets, close-on-exec: jitctl daemon's relay keeps them open
 * while it runs programs (nscd) and forks children. */
static curl_socket_t
open_socket(void *ctx, curlsocktype purpose, struct curl_sockaddr *a)
{
    (void) ctx;
    (void) purpose;
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* The bearer token: a root-only file, one line, no blanks or controls
 * (it goes into a header).  Returns 0 or a fault. */
static enum jit_api_status
read_token(const char *path, char *tok, size_t toklen,
           struct jit_api_error *err)
{
    struct stat st;
    ssize_t r;
    size_t n;
    int fd;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0)
        return fault(err, "token_error", "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0
        || (st.st_mode & 077) != 0) {
        close(fd);
        return fault(err, "token_error", "%s: must be a regular file owned "
                     "by root with mode 0600", path);
    }
    r = read(fd, tok, toklen - 1);
    close(fd);
    if (r <= 0)
        return fault(err, "token_error", "%s: empty or unreadable", path);
    n = (size_t) r;
    while (n > 0 && (tok[n - 1] == '\n' || tok[n - 1] == '\r'))
        n--;
    tok[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) tok[i] <= 0x20 || (unsigned char) tok[i] >= 0x7f)
            n = 0;
    if (n == 0 || (size_t) r == toklen - 1) {
        explicit_bzero(tok, toklen);
        return fault(err, "token_error", "%s: not a single-line token of at "
                     "most %zu bytes", path, toklen - 2);
    }
    return JIT_API_OK;
}

/* The client key and the keytab are the host's identity, like the token:
 * root's, 0600, a regular file.  (libcurl and libkrb5 open them by name
 * afterwards; the state dir rules make swapping one in between root's
 * business only.)  reason: key_error or krb5_error. */
static enum jit_api_status
check_key(const char *path, const char *reason, struct jit_api_error *err)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);

    if (fd < 0)
        return fault(err, reason, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0
        || (st.st_mode & 077) != 0) {
        close(fd);
        return fault(err, reason, "%s: must be a regular file owned "
                     "by root with mode 0600", path);
    }
    close(fd);
    return JIT_API_OK;
}

static void
slist_wipe_free(struct curl_slist *l)
{
    for (struct curl_slist *p = l; p != NULL; p = p->next)
        explicit_bzero(p->data, strlen(p->data));
    curl_slist_free_all(l);
}

/* Append "name value" to the list; the temporary line may hold the
 * token, so it is wiped before it is freed.  Returns 0 or -ENOMEM. */
static int
add_header(struct curl_slist **l, const char *name, const char *value)
{
    struct curl_slist *nl;
    char *line = NULL;
    int n = asprintf(&line, "%s%s", name, value);

    if (n < 0)
        return -ENOMEM;
    nl = curl_slist_append(*l, line);
    explicit_bzero(line, (size_t) n);
    free(line);
    if (nl == NULL)
        return -ENOMEM;
    *l = nl;
    return 0;
}

static enum jit_api_status
from_curl(CURLcode rc, const struct body *b, const char *errbuf,
          struct jit_api_error *err)
{
    const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);

    switch (rc) {
    case CURLE_ABORTED_BY_CALLBACK:
        return fault(err, "cancelled", "stopped by a signal");
    case CURLE_OPERATION_TIMEDOUT:
        return fault(err, "timeout", "%s", why);
    case CURLE_WRITE_ERROR:
    case CURLE_FILESIZE_EXCEEDED:
        if (b->too_large || rc == CURLE_FILESIZE_EXCEEDED)
            return fault(err, "too_large", "answer longer than %zu bytes",
                         b->max);
        return fault(err, "internal_error", "%s", why);
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
        return fault(err, "tls_error", "%s", why);
    case CURLE_OUT_OF_MEMORY:
    case CURLE_FAILED_INIT:
        return fault(err, "internal_error", "%s", why);
    default:
        return fault(err, "unreachable", "%s", why);
    }
}

/* Percent-encode one path component (host and username are validated
 * already; this keeps the URL right whatever they hold). */
static char *
escape(CURL *h, const char *s)
{
    return curl_easy_escape(h, s, 0);
}

/* The Negotiate header for the API URL's host.  A failure is
 * "krb5_error": the API was never asked, the host's Kerberos set-up
 * (keytab, KDC, service principal) is what failed. */
static enum jit_api_status
negotiate(const struct jit_conf *c, const char *url, char **out,
          struct jit_api_error *err)
{
    CURLU *u = curl_url();
    char *server = NULL, why[200] = "";
    enum jit_api_status st = JIT_API_OK;

    if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK
        || curl_url_get(u, CURLUPART_HOST, &server, 0) != CURLUE_OK) {
        st = fault(err, "config_error", "api_url: no host name");
        goto done;
    }
    if ((*out = jit_negotiate_header(c, server, why, sizeof(why))) == NULL)
        st = fault(err, "krb5_error", "%s", why);

done:
    curl_free(server);
    curl_url_cleanup(u);
    return st;
}

/*
 * curl_easy_perform, but one that the fd wfd turning readable ends, once
 * the transfer has run grace_ms: *woken is set and the transfer
 * abandoned.  Through the multi interface, since curl_easy_perform looks
 * at nothing but its own sockets (its progress callback comes about once
 * a second on an idle transfer).  A raised cancel flag ends it too, at
 * once.
 */
static CURLcode
perform_wakeable(CURL *h, int wfd, unsigned grace_ms, int *woken)
{
    CURLM *m = curl_multi_init();
    CURLcode rc = CURLE_FAILED_INIT;
    int added = 0, running = 1;
    int64_t watch_from = jit_mono_ms() + grace_ms;

    *woken = 0;
    if (m == NULL || curl_multi_add_handle(m, h) != CURLM_OK)
        goto done;
    added = 1;
    for (;;) {
        struct curl_waitfd w = { wfd, CURL_WAIT_POLLIN, 0 };
        int64_t left_ms = watch_from - jit_mono_ms();
        CURLMsg *msg;
        int left;

        if (curl_multi_perform(m, &running) != CURLM_OK)
            goto done;
        if (!running) {
            while ((msg = curl_multi_info_read(m, &left)) != NULL)
                if (msg->msg == CURLMSG_DONE && msg->easy_handle == h)
                    rc = msg->data.result;
            goto done;
        }
        /* A signal ends the wait early (EINTR counts as a timeout). */
        if (curl_multi_poll(m, &w, left_ms > 0 ? 0 : 1,
                            left_ms > 0 && left_ms < 1000 ? (int) left_ms
                                                          : 1000,
                            NULL) != CURLM_OK)
            goto done;
        if (cancel_flag != NULL && *cancel_flag) {
            rc = CURLE_ABORTED_BY_CALLBACK;
            goto done;
        }
        if (w.revents != 0) {
            *woken = 1;
            rc = CURLE_OK;
            goto done;
        }
    }

done:
    if (added)
        curl_multi_remove_handle(m, h);
    curl_multi_cleanup(m);
    return rc;
}

/*
 * One GET, or a POST of a JSON body when post is set.  On success
 * (transport-wise) *http is the status and b holds the answer; a fault
 * otherwise.  extra_s lengthens the total timeout (for a long poll, by the
 * server-side wait).  cancellable: the cancel flag ends it (not for a kept
 * connection, which the relay's threads use).  With wfd >= 0, that fd
 * turning readable ends the request with JIT_API_WOKEN (reason "woken").
 */
static enum jit_api_status
request(const struct jit_conf *c, CURL *h, const char *url, const char *post,
        size_t post_len, const char *etag_in, unsigned extra_s, int wfd,
        int cancellable, long *http, struct body *b, char **etag_out,
        struct jit_api_error *err)
{
    char token[TOKEN_MAX + 2], errbuf[CURL_ERROR_SIZE] = "";
    char *negotiate_hdr = NULL;
    struct curl_slist *hdrs = NULL;
    enum jit_api_status st = JIT_API_OK;
    CURLcode rc;
    int woken = 0;

    token[0] = '\0';
    if (c->client_key != NULL
        && (st = check_key(c->client_key, "key_error", err)) != JIT_API_OK)
        goto done;
    if (c->token_file != NULL
        && (st = read_token(c->token_file, token, sizeof(token), err))
               != JIT_API_OK)
        goto done;
    /* A new token per request: a Kerberos authenticator is good once. */
    if (c->krb5_keytab != NULL
        && ((st = check_key(c->krb5_keytab, "krb5_error", err)) != JIT_API_OK
            || (st = negotiate(c, url, &negotiate_hdr, err)) != JIT_API_OK))
        goto done;
    if (add_header(&hdrs, "Accept: ", "application/json") != 0
        || (token[0] != '\0'
            && add_header(&hdrs, "Authorization: Bearer ", token) != 0)
        || (negotiate_hdr != NULL
            && add_header(&hdrs, "Authorization: ", negotiate_hdr) != 0)
        || (etag_in != NULL
            && add_header(&hdrs, "If-None-Match: ", etag_in) != 0)
        || (post != NULL
            && add_header(&hdrs, "Content-Type: ", "application/json") != 0)) {
        st = fault(err, "internal_error", "out of memory");
        goto done;
    }

    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_SSLVERSION, (long) CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(h, CURLOPT_CAINFO,
                     c->ca_file ? c->ca_file : SYSTEM_CA_BUNDLE);
    curl_easy_setopt(h, CURLOPT_CAPATH, NULL);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
#if LIBCURL_VERSION_NUM >= 0x075000
    /* A kept connection (the relay's) is made again now and then, not
     * used for ever under the trust of its first handshake. */
    curl_easy_setopt(h, CURLOPT_MAXLIFETIME_CONN, (long) KEPT_MAX_S);
#endif
    /* Only OpenSSL hands us an SSL_CTX; with any other back end the key
     * log could not be known to be off, so nothing is sent. */
    if (curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx)
        != CURLE_OK) {
        st = fault(err, "internal_error", "libcurl's TLS back end is not "
                   "OpenSSL: cannot turn its key log off");
        goto done;
    }
    if (c->pinned_pubkey != NULL)
        curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, c->pinned_pubkey);
    if (c->client_cert != NULL) {
        curl_easy_setopt(h, CURLOPT_SSLCERT, c->client_cert);
        curl_easy_setopt(h, CURLOPT_SSLKEY, c->client_key);
    }
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     (long) c->connect_timeout * 1000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                     ((long) c->timeout + (long) extra_s) * 1000L);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t) c->max_response_size);
    curl_easy_setopt(h, CURLOPT_USERAGENT, PACKAGE_NAME "/" PACKAGE_VERSION);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (cancellable && cancel_flag != NULL) {
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    }
    if (post != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) post_len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, post);
    }
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    if (etag_out != NULL) {
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, etag_out);
    }
    rc = wfd >= 0 ? perform_wakeable(h, wfd, wake_grace_ms, &woken)
                  : curl_easy_perform(h);
    if (woken) {
        err->reason = "woken";
        snprintf(err->detail, sizeof(err->detail), "woken up");
        st = JIT_API_WOKEN;
        goto done;
    }
    if (rc != CURLE_OK) {
        st = from_curl(rc, b, errbuf, err);
        goto done;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, http);

done:
    slist_wipe_free(hdrs);
    explicit_bzero(token, sizeof(token));
    if (negotiate_hdr != NULL)
        explicit_bzero(negotiate_hdr, strlen(negotiate_hdr));
    free(negotiate_hdr);
    return st;
}

struct jit_api {
    CURL *h;
};

struct jit_api *
jit_api_new(void)
{
    return calloc(1, sizeof(struct jit_api));
}

void
jit_api_free(struct jit_api *api)
{
    if (api == NULL)
        return;
    curl_easy_cleanup(api->h);
    free(api);
}

/* A handle and the URL api_url/v1/hosts/{host}/{resource}[/{user}][query].
 * With api, its handle is reset and reused: every option is set again,
 * but the open connection and TLS session stay. */
static enum jit_api_status
start(const struct jit_conf *c, struct jit_api *api, const char *resource,
      const char *user, const char *query, CURL **h, char **url,
      struct jit_api_error *err)
{
    char *eh = NULL, *eu = NULL;
    size_t baselen;
    int r;

    *h = NULL;
    *url = NULL;
    jit_api_init();
    if (global_rc != CURLE_OK)
        return fault(err, "internal_error", "curl_global_init failed");
    if (c->api_url == NULL || c->host == NULL)
        return fault(err, "config_error", "api_url or host not set");
    if (api != NULL && api->h != NULL) {
        curl_easy_reset(api->h);
        *h = api->h;
    } else if ((*h = curl_easy_init()) == NULL) {
        return fault(err, "internal_error", "curl_easy_init failed");
    } else if (api != NULL) {
        api->h = *h;
    }
    eh = escape(*h, c->host);
    eu = user ? escape(*h, user) : NULL;
    if (eh == NULL || (user != NULL && eu == NULL)) {
        curl_free(eh);
        curl_free(eu);
        return fault(err, "internal_error", "out of memory");
    }
    baselen = strlen(c->api_url);
    while (baselen > 0 && c->api_url[baselen - 1] == '/')
        baselen--;
    r = asprintf(url, "%.*s/v1/hosts/%s/%s%s%s%s", (int) baselen,
                 c->api_url, eh, resource, eu ? "/" : "", eu ? eu : "",
                 query ? query : "");
    curl_free(eh);
    curl_free(eu);
    if (r < 0) {
        *url = NULL;
        return fault(err, "internal_error", "out of memory");
    }
    return JIT_API_OK;
}

enum jit_api_status
jit_api_get_grant(const struct jit_conf *c, const char *username,
                  struct jit_grant *g, struct jit_api_error *err)
{
    return jit_api_get_grant_with(c, NULL, username, g, err);
}

enum jit_api_status
jit_api_fetch_grant(const struct jit_conf *c, struct jit_api *api,
                    const char *username, long *http, char **body,
                    size_t *len, struct jit_api_error *err)
{
    struct body b = { NULL, 0, 0, c->max_response_size, 0 };
    enum jit_api_status st;
    char *url = NULL;
    CURL *h = NULL;

    *http = 0;
    *body = NULL;
    *len = 0;
    err->reason = NULL;
    err->detail[0] = '\0';
    if ((st = start(c, api, "grants", username, NULL, &h, &url, err))
        != JIT_API_OK)
        goto done;
    if ((st = request(c, h, url, NULL, 0, NULL, 0, -1, api == NULL, http,
                      &b, NULL, err)) != JIT_API_OK)
        goto done;
    *body = b.buf;
    *len = b.len;
    b.buf = NULL;

done:
    free(b.buf);
    free(url);
    if (api == NULL)
        curl_easy_cleanup(h);
    return st;
}

enum jit_api_status
jit_api_get_grant_with(const struct jit_conf *c, struct jit_api *api,
                       const char *username, struct jit_grant *g,
                       struct jit_api_error *err)
{
    enum jit_api_status st;
    char *body = NULL;
    size_t len = 0;
    long http = 0;

    memset(g, 0, sizeof(*g));
    st = jit_api_fetch_grant(c, api, username, &http, &body, &len, err);
    if (st == JIT_API_OK)
        st = jit_api_grant_answer(http, body, len, g, err);
    free(body);
    return st;
}

enum jit_api_status
jit_api_list_grants(const struct jit_conf *c, const char *etag_in,
                    unsigned wait_s, struct jit_grant_list *l,
                    char **etag_out, struct jit_api_error *err)
{
    struct body b = { NULL, 0, 0, c->max_response_size, 0 };
    enum jit_api_status st;
    char *url = NULL, *etag = NULL, query[32] = "", why[200];
    CURL *h = NULL;
    long http = 0;

    memset(l, 0, sizeof(*l));
    *etag_out = NULL;
    err->reason = NULL;
    err->detail[0] = '\0';
    if (wait_s > 0)
        snprintf(query, sizeof(query), "?wait=%u", wait_s);
    if ((st = start(c, NULL, "grants", NULL, query, &h, &url, err))
        != JIT_API_OK)
        goto done;
    /* Only a poll that waits is worth waking from. */
    st = request(c, h, url, NULL, 0, etag_in, wait_s,
                 wait_s > 0 ? wake_fd : -1, 1, &http, &b, &etag, err);
    if (st != JIT_API_OK)
        goto done;
    if ((st = jit_api_answer(JIT_API_CALL_LIST, http, err)) != JIT_API_OK)
        goto done;
    if (b.buf == NULL
        || jit_grant_list_parse(b.buf, b.len, l, why, sizeof(why)) != 0) {
        st = fault(err, "malformed", "%s", b.buf ? why : "empty answer");
    } else {
        *etag_out = etag;
        etag = NULL;
    }

done:
    free(etag);
    free(b.buf);
    free(url);
    curl_easy_cleanup(h);
    return st;
}

enum jit_api_status
jit_api_post_events(const struct jit_conf *c, const char *body, size_t len,
                    long *accepted, struct jit_api_error *err)
{
    struct body b = { NULL, 0, 0, c->max_response_size, 0 };
    enum jit_api_status st;
    json_error_t je;
    json_t *j = NULL, *n;
    char *url = NULL;
    CURL *h = NULL;
    long http = 0;

    *accepted = 0;
    err->reason = NULL;
    err->detail[0] = '\0';
    if ((st = start(c, NULL, "events", NULL, NULL, &h, &url, err))
        != JIT_API_OK)
        goto done;
    st = request(c, h, url, body, len, NULL, 0, -1, 1, &http, &b, NULL,
                 err);
    if (st != JIT_API_OK)
        goto done;
    if ((st = jit_api_answer(JIT_API_CALL_EVENTS, http, err)) != JIT_API_OK)
        goto done;
    j = b.buf ? json_loadb(b.buf, b.len, JSON_REJECT_DUPLICATES, &je) : NULL;
    n = j ? json_object_get(j, "accepted") : NULL;
    if (!json_is_integer(n) || json_integer_value(n) < 0) {
        st = fault(err, "malformed", "no \"accepted\" count in the answer");
        goto done;
    }
    *accepted = (long) json_integer_value(n);

done:
    json_decref(j);
    free(b.buf);
    free(url);
    curl_easy_cleanup(h);
    return st;
}

enum jit_api_status
jit_api_probe(const struct jit_conf *c, long *http, int64_t *date,
              struct jit_api_error *err)
{
    struct body b = { NULL, 0, 0, c->max_response_size, 0 };
    enum jit_api_status st;
    char *url = NULL;
    CURL *h = NULL;

    *http = 0;
    *date = -1;
    err->reason = NULL;
    err->detail[0] = '\0';
    if ((st = start(c, NULL, "grants", NULL, NULL, &h, &url, err))
        != JIT_API_OK)
        goto done;
    st = request(c, h, url, NULL, 0, NULL, 0, -1, 1, http, &b, NULL, err);
    if (st != JIT_API_OK)
        goto done;
#if LIBCURL_VERSION_NUM >= 0x075400
    {
        struct curl_header *hd = NULL;
        time_t t;

        if (curl_easy_header(h, "Date", 0, CURLH_HEADER, -1, &hd)
                == CURLHE_OK
            && hd != NULL && (t = curl_getdate(hd->value, NULL)) != -1)
            *date = (int64_t) t;
    }
#endif

done:
    free(b.buf);
    free(url);
    curl_easy_cleanup(h);
    return st;
}
