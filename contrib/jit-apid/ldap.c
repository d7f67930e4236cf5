/* SPDX-License-Identifier: MIT */
/*
 * jit-apid's connection to the directory (ldap.h): a handle, its lazy
 * connection over verified TLS, the bind, the paged search and the two
 * escapes (doc/design.md, R13 and R14).
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_krb5.h>
#include <krb5.h>
#include <sasl/sasl.h>

#include "apid.h"
#include "ldap.h"

#define PAGE_SIZE 500

/* ldap_open(3) documents ldap_init_fd, and bookworm's libldap exports it,
 * but its ldap.h declares neither it nor LDAP_PROTO_TCP (ldap_pvt.h's). */
#ifndef LDAP_PROTO_TCP
#define LDAP_PROTO_TCP 1
int ldap_init_fd(ber_socket_t fd, int proto, const char *url, LDAP **ldp);
#endif
#define SECRET_MAX 1024

struct apid_ldap {
    pthread_mutex_t mu;
    LDAP *ld; /* NULL: not connected */
    char *uri, *ca, *bind_dn, *secret, *keytab;
    int bind, starttls;
    unsigned timeout;
    /* GSSAPI: tickets from the keytab, in a memory cache of this
     * handle's own (no process-wide KRB5_CLIENT_KTNAME nor ccache). */
    char ccache[64];
};

/* err, made printable: a server's words end up in logs and answers. */
static void
printable(char *s)
{
    char *end = s;

    for (; *s != '\0'; s++) {
        if ((unsigned char) *s < 0x20 || (unsigned char) *s == 0x7f)
            *s = '?';
        if (*s != ' ')
            end = s + 1;
    }
    *end = '\0';
}

int
apid_ldap_result(LDAP *ld, int rc, const char *what, char *err,
                 size_t errlen)
{
    char *diag = NULL;

    if (rc == LDAP_SUCCESS)
        return APID_LDAP_OK;
    if (ld != NULL)
        ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
    snprintf(err, errlen, "%s: %s%s%s", what, ldap_err2string(rc),
             diag != NULL && diag[0] != '\0' ? ": " : "",
             diag != NULL ? diag : "");
    ldap_memfree(diag);
    printable(err);
    switch (rc) {
    case LDAP_SERVER_DOWN:
    case LDAP_TIMEOUT:
    case LDAP_CONNECT_ERROR:
    case LDAP_UNAVAILABLE:
    case LDAP_BUSY:
        return APID_LDAP_DOWN;
    default:
        return APID_LDAP_ERR;
    }
}

struct timeval
apid_ldap_timeout(LDAP *ld)
{
    struct timeval tv = { 5, 0 }, *p = NULL;

    if (ldap_get_option(ld, LDAP_OPT_TIMEOUT, &p) == LDAP_OPT_SUCCESS
        && p != NULL) {
        tv = *p;
        ldap_memfree(p);
    }
    return tv;
}

struct apid_ldap *
apid_ldap_open(const struct apid_conf *c, char *err, size_t errlen)
{
    struct apid_ldap *l = NULL;

    if (c->ldap_uri == NULL || c->ldap_ca == NULL) {
        snprintf(err, errlen, "ldap_uri and ldap_ca are required");
        return NULL;
    }
    if ((l = calloc(1, sizeof(*l))) == NULL)
        goto nomem;
    pthread_mutex_init(&l->mu, NULL);
    l->bind = c->ldap_bind;
    l->timeout = c->ldap_timeout ? c->ldap_timeout : 5;
    l->starttls = strncmp(c->ldap_uri, "ldap://", 7) == 0;
    snprintf(l->ccache, sizeof(l->ccache), "MEMORY:jit-apid-ldap-%p",
             (void *) l);
    if ((l->uri = strdup(c->ldap_uri)) == NULL
        || (l->ca = strdup(c->ldap_ca)) == NULL
        || (c->ldap_bind_dn != NULL
            && (l->bind_dn = strdup(c->ldap_bind_dn)) == NULL)
        || (c->ldap_bind_secret != NULL
            && (l->secret = strdup(c->ldap_bind_secret)) == NULL))
        goto nomem;
    {
        const char *kt = c->ldap_keytab ? c->ldap_keytab : c->krb5_keytab;

        if (kt != NULL && (l->keytab = strdup(kt)) == NULL)
            goto nomem;
    }
    if (l->bind == APID_LDAP_BIND_GSSAPI && l->keytab == NULL) {
        snprintf(err, errlen, "ldap_bind gssapi: ldap_keytab (or krb5_keytab)"
                 " is required");
        apid_ldap_close(l);
        return NULL;
    }
    if (l->bind == APID_LDAP_BIND_SIMPLE
        && (l->bind_dn == NULL || l->secret == NULL)) {
        snprintf(err, errlen, "ldap_bind simple: ldap_bind_dn and"
                 " ldap_bind_secret are required");
        apid_ldap_close(l);
        return NULL;
    }
    return l;

nomem:
    snprintf(err, errlen, "out of memory");
    apid_ldap_close(l);
    return NULL;
}

static void
disconnect(struct apid_ldap *l)
{
    if (l->ld != NULL)
        ldap_unbind_ext_s(l->ld, NULL, NULL);
    l->ld = NULL;
}

void
apid_ldap_close(struct apid_ldap *l)
{
    if (l == NULL)
        return;
    disconnect(l);
    if (l->bind == APID_LDAP_BIND_GSSAPI) {
        krb5_context ctx = NULL;
        krb5_ccache cc = NULL;

        /* The memory cache outlives its handles unless destroyed. */
        if (krb5_init_context(&ctx) == 0
            && krb5_cc_resolve(ctx, l->ccache, &cc) == 0)
            krb5_cc_destroy(ctx, cc);
        if (ctx != NULL)
            krb5_free_context(ctx);
    }
    pthread_mutex_destroy(&l->mu);
    free(l->uri);
    free(l->ca);
    free(l->bind_dn);
    free(l->secret);
    free(l->keytab);
    free(l);
}

/* A file the connection trusts (ldap_ca: whoever may write it chooses
 * the directory we believe) or keeps secret (ldap_keytab: whoever reads
 * it binds as jit-apid): a regular file of root's or of jit-apid's user
 * that no one else may write, nor, secret, read; the rule of the bind
 * secret and the token files (doc/design.md, S11).  Looked at at each
 * connection, as the secret is read at each bind.  0, or -1 with err
 * naming key and path. */
static int
check_file(const char *key, const char *path, int secret, char *err,
           size_t errlen)
{
    struct stat st;

    if (stat(path, &st) != 0) {
        snprintf(err, errlen, "%s %s: %s", key, path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid())
        || (st.st_mode & (secret ? 077 : 022)) != 0) {
        snprintf(err, errlen, "%s %s: must be a regular file of root's or"
                 " jit-apid's user, %s", key, path,
                 secret ? "mode 0600 or stricter" : "writable by no one else");
        return -1;
    }
    return 0;
}

/* The simple bind's password: a file of ours, read by no one else (like
 * the token files), read at each bind so that a new one needs no
 * restart.  Returns its length, or -1 with err set. */
static int
read_secret(const char *path, char *buf, size_t size, char *err,
            size_t errlen)
{
    struct stat st;
    ssize_t n = -1;
    int fd = -1, ret = -1;

    fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errlen, "ldap_bind_secret %s: %s", path,
                 strerror(errno));
        goto done;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)
        || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        snprintf(err, errlen, "ldap_bind_secret %s: must be a regular file"
                 " of jit-apid's user, mode 0600 or stricter", path);
        goto done;
    }
    n = read(fd, buf, size);
    if (n < 0 || (size_t) n >= size) {
        snprintf(err, errlen, "ldap_bind_secret %s: %s", path,
                 n < 0 ? strerror(errno) : "too long");
        goto done;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    if (n == 0 || memchr(buf, '\0', (size_t) n) != NULL) {
        snprintf(err, errlen, "ldap_bind_secret %s: empty, or a NUL in it",
                 path);
        goto done;
    }
    ret = (int) n;

done:
    if (fd >= 0)
        close(fd);
    return ret;
}

/* Cyrus SASL asks for what GSSAPI does not need (an authorization id):
 * the defaults, which are none. */
static int
sasl_defaults(LDAP *ld, unsigned flags, void *defaults, void *in)
{
    sasl_interact_t *i = in;

    (void) ld;
    (void) flags;
    (void) defaults;
    for (; i->id != SASL_CB_LIST_END; i++) {
        i->result = i->defresult != NULL ? i->defresult : "";
        i->len = (unsigned) strlen(i->result);
    }
    return LDAP_SUCCESS;
}

/* The keytab's first principal's tickets, from the KDC, into the
 * handle's own memory cache: at each connection, so they are never
 * stale.  0, or -1 with err set. */
static int
kinit_keytab(struct apid_ldap *l, char *err, size_t errlen)
{
    krb5_context ctx = NULL;
    krb5_keytab kt = NULL;
    krb5_ccache cc = NULL;
    krb5_principal me = NULL;
    krb5_kt_cursor cur;
    krb5_keytab_entry ent;
    krb5_creds creds;
    int have_creds = 0, ret = -1;
    krb5_error_code k;

    memset(&creds, 0, sizeof(creds));
    if (check_file("ldap_keytab", l->keytab, 1, err, errlen) != 0)
        return -1;
    if ((k = krb5_init_context(&ctx)) != 0) {
        snprintf(err, errlen, "ldap_keytab: no Kerberos context");
        return -1;
    }
    if ((k = krb5_kt_resolve(ctx, l->keytab, &kt)) != 0
        || (k = krb5_kt_start_seq_get(ctx, kt, &cur)) != 0)
        goto done;
    if ((k = krb5_kt_next_entry(ctx, kt, &ent, &cur)) == 0) {
        k = krb5_copy_principal(ctx, ent.principal, &me);
        krb5_free_keytab_entry_contents(ctx, &ent);
    }
    krb5_kt_end_seq_get(ctx, kt, &cur);
    if (k != 0)
        goto done;
    if ((k = krb5_get_init_creds_keytab(ctx, &creds, me, kt, 0, NULL, NULL))
        != 0)
        goto done;
    have_creds = 1;
    if ((k = krb5_cc_resolve(ctx, l->ccache, &cc)) != 0
        || (k = krb5_cc_initialize(ctx, cc, me)) != 0
        || (k = krb5_cc_store_cred(ctx, cc, &creds)) != 0)
        goto done;
    ret = 0;

done:
    if (ret != 0) {
        const char *m = krb5_get_error_message(ctx, k);

        snprintf(err, errlen, "%s: no credentials from ldap_keytab %s: %s",
                 l->uri, l->keytab, m);
        krb5_free_error_message(ctx, m);
    }
    if (have_creds)
        krb5_free_cred_contents(ctx, &creds);
    if (cc != NULL)
        krb5_cc_close(ctx, cc);
    if (me != NULL)
        krb5_free_principal(ctx, me);
    if (kt != NULL)
        krb5_kt_close(ctx, kt);
    krb5_free_context(ctx);
    return ret;
}

static int
bind_gssapi(struct apid_ldap *l, char *err, size_t errlen)
{
    OM_uint32 minor;
    int rc;

    if (kinit_keytab(l, err, errlen) != 0)
        return APID_LDAP_DOWN;
    /* The service is ldap/<the URI's host>, as written: no reverse
     * lookup to turn 127.0.0.1 or a CNAME into another name. */
    if ((rc = ldap_set_option(l->ld, LDAP_OPT_X_SASL_NOCANON, LDAP_OPT_ON))
        != LDAP_OPT_SUCCESS)
        return apid_ldap_result(l->ld, rc, "SASL name", err, errlen);
    /* TLS protects the connection already, and Active Directory refuses
     * a SASL security layer inside TLS: none. */
    if ((rc = ldap_set_option(l->ld, LDAP_OPT_X_SASL_SECPROPS, "maxssf=0"))
        != LDAP_OPT_SUCCESS)
        return apid_ldap_result(l->ld, rc, "SASL properties", err, errlen);
    /* This thread's default cache for the bind (GSS-API keeps it per
     * thread): ours, not the process's nor anyone's KRB5CCNAME. */
    if (GSS_ERROR(gss_krb5_ccache_name(&minor, l->ccache, NULL))) {
        snprintf(err, errlen, "%s: cannot select the ticket cache", l->uri);
        return APID_LDAP_DOWN;
    }
    rc = ldap_sasl_interactive_bind_s(l->ld, NULL, "GSSAPI", NULL, NULL,
                                      LDAP_SASL_QUIET, sasl_defaults, NULL);
    gss_krb5_ccache_name(&minor, NULL, NULL);
    return rc;
}

static int
bind_simple(struct apid_ldap *l, char *err, size_t errlen)
{
    char secret[SECRET_MAX];
    struct berval cred;
    int n, rc;

    if ((n = read_secret(l->secret, secret, sizeof(secret), err, errlen)) < 0)
        return -1;
    cred.bv_val = secret;
    cred.bv_len = (ber_len_t) n;
    rc = ldap_sasl_bind_s(l->ld, l->bind_dn, LDAP_SASL_SIMPLE, &cred, NULL,
                          NULL, NULL);
    explicit_bzero(secret, sizeof(secret));
    return rc;
}

/* The options that make the connection ours: TLS verified against our
 * CA only (not ldap.conf's nor the environment's), a name check, bounds
 * on connect and on every operation, no referral chased. */
static int
set_options(struct apid_ldap *l, char *err, size_t errlen)
{
    struct timeval tv = { (time_t) l->timeout, 0 };
    int v3 = LDAP_VERSION3, hard = LDAP_OPT_X_TLS_HARD, zero = 0;
    int tls12 = LDAP_OPT_X_TLS_PROTOCOL_TLS1_2;
    const char *what = NULL;

    if (ldap_set_option(l->ld, LDAP_OPT_PROTOCOL_VERSION, &v3) != 0)
        what = "protocol version";
    else if (ldap_set_option(l->ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != 0)
        what = "referrals";
    else if (ldap_set_option(l->ld, LDAP_OPT_TIMEOUT, &tv) != 0)
        what = "timeout";
    else if (ldap_set_option(l->ld, LDAP_OPT_TIMELIMIT, &l->timeout) != 0)
        what = "time limit";
    else if (ldap_set_option(l->ld, LDAP_OPT_X_TLS_CACERTDIR, NULL) != 0)
        what = "no CA directory";
    else if (ldap_set_option(l->ld, LDAP_OPT_X_TLS_CACERTFILE, l->ca) != 0)
        what = "ldap_ca";
    else if (ldap_set_option(l->ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &hard) != 0)
        what = "certificate required";
    else if (ldap_set_option(l->ld, LDAP_OPT_X_TLS_PROTOCOL_MIN, &tls12) != 0)
        what = "TLS 1.2 at least";
    else if (ldap_set_option(l->ld, LDAP_OPT_X_TLS_NEWCTX, &zero) != 0)
        what = "TLS context (ldap_ca unreadable?)";
    if (what == NULL)
        return 0;
    snprintf(err, errlen, "%s: cannot set %s", l->uri, what);
    return -1;
}

/* A TCP connection to host:port within timeout: a blocking fd whose
 * every read and write is bounded by timeout too, or -1. */
static int
tcp_connect(const char *host, int port, unsigned timeout)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
    struct timeval tv = { (time_t) timeout, 0 };
    struct pollfd pfd;
    char ps[16];
    int fd = -1, e = 0;
    socklen_t elen = sizeof(e);

    snprintf(ps, sizeof(ps), "%d", port);
    if (getaddrinfo(host, ps, &hints, &ai) != 0 || ai == NULL)
        goto fail;
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        goto fail;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS)
        goto fail;
    pfd.fd = fd;
    pfd.events = POLLOUT;
    if (poll(&pfd, 1, (int) timeout * 1000) != 1
        || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) != 0 || e != 0
        || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0
        || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0
        || setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
        goto fail;
    freeaddrinfo(ai);
    return fd;

fail:
    if (ai != NULL)
        freeaddrinfo(ai);
    if (fd >= 0)
        close(fd);
    return -1;
}

/* StartTLS by hand (RFC 4511 4.14), for the diagnosis below: 0 once the
 * server said yes. */
static int
starttls_by_hand(int fd, unsigned timeout)
{
    static const unsigned char req[] = {
        0x30, 0x1d, 0x02, 0x01, 0x01, 0x77, 0x18, 0x80, 0x16,
        '1', '.', '3', '.', '6', '.', '1', '.', '4', '.', '1', '.',
        '1', '4', '6', '6', '.', '2', '0', '0', '3', '7',
    };
    unsigned char res[256];
    struct pollfd pfd = { fd, POLLIN, 0 };
    ssize_t n;

    if (write(fd, req, sizeof(req)) != (ssize_t) sizeof(req)
        || poll(&pfd, 1, (int) timeout * 1000) != 1
        || (n = read(fd, res, sizeof(res))) < 12)
        return -1;
    /* An ExtendedResponse [APPLICATION 24] whose resultCode (the first
     * ENUMERATED) is 0. */
    for (ssize_t i = 2; i + 2 < n; i++)
        if (res[i] == 0x0a && res[i + 1] == 0x01)
            return res[i + 2] == 0 ? 0 : -1;
    return -1;
}

/* libldap says little of a failed handshake ("Connect error", "(unknown
 * error code)"): a second handshake of our own, to the same server
 * with the same CA and name, says what the certificate check found
 * ("The certificate issuer is unknown", "The name in the certificate
 * does not match").  Into err after what; nothing if it learns
 * nothing. */
static void
tls_diagnose(struct apid_ldap *l, const char *what, char *err, size_t errlen)
{
    gnutls_certificate_credentials_t cred = NULL;
    gnutls_session_t s = NULL;
    gnutls_datum_t out = { NULL, 0 };
    LDAPURLDesc *lud = NULL;
    unsigned status = 0;
    int fd = -1, rc;

    if (ldap_url_parse(l->uri, &lud) != LDAP_URL_SUCCESS || lud->lud_host == NULL)
        goto done;
    fd = tcp_connect(lud->lud_host,
                     lud->lud_port ? lud->lud_port : l->starttls ? 389 : 636,
                     l->timeout);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot connect to %s port %d (refused,"
                 " unreachable or no answer within %u s)", what,
                 lud->lud_host, lud->lud_port, l->timeout);
        goto done;
    }
    if (l->starttls && starttls_by_hand(fd, l->timeout) != 0) {
        snprintf(err, errlen, "%s: the server refused StartTLS (ldap:// is"
                 " used only with StartTLS; is TLS set up on the server?)",
                 what);
        goto done;
    }
    if (gnutls_certificate_allocate_credentials(&cred) < 0
        || gnutls_certificate_set_x509_trust_file(cred, l->ca,
                                                  GNUTLS_X509_FMT_PEM) <= 0) {
        snprintf(err, errlen, "%s: ldap_ca %s: no CA certificate read", what,
                 l->ca);
        goto done;
    }
    if (gnutls_init(&s, GNUTLS_CLIENT) < 0
        || gnutls_set_default_priority(s) < 0
        || gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred) < 0)
        goto done;
    gnutls_transport_set_int(s, fd);
    gnutls_handshake_set_timeout(s, l->timeout * 1000);
    /* A blocking socket: AGAIN only when a read or write timed out. */
    rc = gnutls_handshake(s);
    if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED)
        rc = GNUTLS_E_TIMEDOUT;
    if (rc < 0) {
        snprintf(err, errlen, "%s: TLS handshake: %s", what,
                 gnutls_strerror(rc));
        goto done;
    }
    if (gnutls_certificate_verify_peers3(s, lud->lud_host, &status) < 0)
        goto done;
    if (status != 0
        && gnutls_certificate_verification_status_print(
               status, GNUTLS_CRT_X509, &out, 0) == 0)
        snprintf(err, errlen, "%s: the server's certificate, checked against"
                 " ldap_ca for %s: %s", what, lud->lud_host,
                 (const char *) out.data);

done:
    gnutls_free(out.data);
    if (s != NULL)
        gnutls_deinit(s);
    if (cred != NULL)
        gnutls_certificate_free_credentials(cred);
    if (fd >= 0)
        close(fd);
    ldap_free_urldesc(lud);
    printable(err);
}

/* A watchdog over a step libldap does not bound itself: the TLS
 * handshake, which on a blocking socket retries each timed-out read
 * without end.  After timeout seconds it shuts the socket down, and the
 * step fails at once. */
struct watchdog {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int fd, done;
    unsigned timeout;
};

static void *
watchdog_run(void *arg)
{
    struct watchdog *w = arg;
    struct timespec until;
    int rc = 0;

    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += (time_t) w->timeout;
    pthread_mutex_lock(&w->mu);
    while (!w->done && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&w->cv, &w->mu, &until);
    if (!w->done)
        shutdown(w->fd, SHUT_RDWR);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static int
watchdog_start(struct watchdog *w, pthread_t *t, int fd, unsigned timeout)
{
    pthread_condattr_t ca;

    w->fd = fd;
    w->done = 0;
    w->timeout = timeout;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(t, NULL, watchdog_run, w) == 0)
        return 0;
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    return -1;
}

static void
watchdog_stop(struct watchdog *w, pthread_t t)
{
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(t, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}

static int
connect_ld(struct apid_ldap *l, char *err, size_t errlen)
{
    struct watchdog wd;
    pthread_t wt;
    LDAPURLDesc *lud = NULL;
    char what[300];
    int rc, fd = -1, port;

    /* The socket is ours: libldap's own connect with a network timeout
     * spins without end on a server that accepts and never answers the
     * TLS handshake (2.5.13).  Ours is bounded, and so is every read and
     * write on it after (a blocking socket with SO_RCVTIMEO and
     * SO_SNDTIMEO): no step can hang. */
    if (ldap_url_parse(l->uri, &lud) != LDAP_URL_SUCCESS
        || lud->lud_host == NULL) {
        snprintf(err, errlen, "ldap_uri %s: cannot parse it", l->uri);
        ldap_free_urldesc(lud);
        return APID_LDAP_DOWN;
    }
    port = lud->lud_port ? lud->lud_port : l->starttls ? 389 : 636;
    fd = tcp_connect(lud->lud_host, port, l->timeout);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot connect to %s port %d (refused,"
                 " unreachable or no answer within %u s)", l->uri,
                 lud->lud_host, port, l->timeout);
        ldap_free_urldesc(lud);
        return APID_LDAP_DOWN;
    }
    ldap_free_urldesc(lud);
    if (check_file("ldap_ca", l->ca, 0, err, errlen) != 0) {
        close(fd);
        return APID_LDAP_DOWN;
    }
    if ((rc = ldap_init_fd(fd, LDAP_PROTO_TCP, l->uri, &l->ld))
        != LDAP_SUCCESS) {
        close(fd);
        l->ld = NULL;
        snprintf(err, errlen, "%s: cannot set up the connection", l->uri);
        return APID_LDAP_DOWN;
    }
    if (set_options(l, err, errlen) != 0)
        goto down;
    if (watchdog_start(&wd, &wt, fd, l->timeout) != 0) {
        snprintf(err, errlen, "%s: cannot start a thread", l->uri);
        goto down;
    }
    if (l->starttls) {
        rc = ldap_start_tls_s(l->ld, NULL, NULL);
        snprintf(what, sizeof(what), "%s: StartTLS", l->uri);
    } else {
        rc = ldap_install_tls(l->ld);
        snprintf(what, sizeof(what), "%s: TLS connection", l->uri);
    }
    watchdog_stop(&wd, wt);
    if (rc != LDAP_SUCCESS) {
        apid_ldap_result(l->ld, rc, what, err, errlen);
        /* A refusal of StartTLS is an answer libldap words well. */
        if (rc != LDAP_PROTOCOL_ERROR && rc != LDAP_UNAVAILABLE)
            tls_diagnose(l, what, err, errlen);
        goto down;
    }
    if (l->bind == APID_LDAP_BIND_GSSAPI) {
        rc = bind_gssapi(l, err, errlen);
        snprintf(what, sizeof(what), "%s: GSSAPI bind", l->uri);
    } else {
        rc = bind_simple(l, err, errlen);
        snprintf(what, sizeof(what), "%s: simple bind as %s", l->uri,
                 l->bind_dn);
    }
    if (rc == -1 || rc == APID_LDAP_DOWN)
        goto down; /* err set */
    if (rc != LDAP_SUCCESS) {
        apid_ldap_result(l->ld, rc, what, err, errlen);
        goto down;
    }
    return APID_LDAP_OK;

down:
    disconnect(l);
    return APID_LDAP_DOWN;
}

int
apid_ldap_run(struct apid_ldap *l, apid_ldap_fn fn, void *arg, char *err,
              size_t errlen)
{
    int rc = APID_LDAP_DOWN;

    pthread_mutex_lock(&l->mu);
    /* A connection lost since its last use shows only now: once more on
     * a fresh one. */
    for (int attempt = 0; attempt < 2; attempt++) {
        if (l->ld == NULL && (rc = connect_ld(l, err, errlen)) != APID_LDAP_OK)
            break;
        rc = fn(l->ld, arg, err, errlen);
        if (rc != APID_LDAP_DOWN)
            break;
        disconnect(l);
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

/* One page's entries to fn; the page's result code. */
static int
page_entries(LDAP *ld, LDAPMessage *res, apid_ldap_entry_fn fn, void *arg,
             char *err, size_t errlen)
{
    for (LDAPMessage *e = ldap_first_entry(ld, res); e != NULL;
         e = ldap_next_entry(ld, e)) {
        int r = fn(ld, e, arg, err, errlen);

        if (r != 0)
            return r;
    }
    return 0;
}

int
apid_ldap_search(LDAP *ld, const char *base, int scope, const char *filter,
                 char *const *attrs, apid_ldap_entry_fn fn, void *arg,
                 char *err, size_t errlen)
{
    struct berval cookie = { 0, NULL };
    struct timeval tv = apid_ldap_timeout(ld);
    LDAPMessage *res = NULL;
    LDAPControl *page = NULL, **sctrls = NULL;
    int rc, ret = APID_LDAP_OK;

    for (;;) {
        LDAPControl *ctrls[2] = { NULL, NULL }, *resp;
        int code = LDAP_SUCCESS;
        ber_int_t count;

        /* Not critical: a server without paging sends everything. */
        rc = ldap_create_page_control(ld, PAGE_SIZE, &cookie, 0, &page);
        if (rc != LDAP_SUCCESS) {
            ret = apid_ldap_result(ld, rc, "paged search", err, errlen);
            goto done;
        }
        ctrls[0] = page;
        rc = ldap_search_ext_s(ld, base, scope, filter, (char **) attrs, 0,
                               ctrls, NULL, &tv, 0, &res);
        ldap_control_free(page);
        page = NULL;
        if (rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT) {
            char what[512];

            snprintf(what, sizeof(what), "search %s under %s", filter, base);
            ret = apid_ldap_result(ld, rc, what, err, errlen);
            goto done;
        }
        if ((ret = page_entries(ld, res, fn, arg, err, errlen)) != 0)
            goto done;
        rc = ldap_parse_result(ld, res, &code, NULL, NULL, NULL, &sctrls, 0);
        ldap_msgfree(res);
        res = NULL;
        if (rc != LDAP_SUCCESS) {
            ret = apid_ldap_result(ld, rc, "paged search result", err, errlen);
            goto done;
        }
        ber_memfree(cookie.bv_val);
        cookie.bv_val = NULL;
        cookie.bv_len = 0;
        resp = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, sctrls, NULL);
        if (resp == NULL
            || ldap_parse_pageresponse_control(ld, resp, &count, &cookie)
                   != LDAP_SUCCESS
            || cookie.bv_len == 0)
            break;
        ldap_controls_free(sctrls);
        sctrls = NULL;
    }

done:
    ldap_controls_free(sctrls);
    ldap_control_free(page);
    ldap_msgfree(res);
    ber_memfree(cookie.bv_val);
    return ret;
}

char *
apid_ldap_first_value(LDAP *ld, LDAPMessage *entry, const char *attr)
{
    struct berval **v = ldap_get_values_len(ld, entry, attr);
    char *s = NULL;

    if (v != NULL && v[0] != NULL
        && memchr(v[0]->bv_val, '\0', v[0]->bv_len) == NULL)
        s = strndup(v[0]->bv_val, v[0]->bv_len);
    ldap_value_free_len(v);
    return s;
}

static const char hex[] = "0123456789abcdef";

static int
ava_eq(const LDAPAVA *a, const LDAPAVA *b)
{
    /* A value given as #hex (BER) is compared as given: equal only to
     * the same form, which fails closed. */
    if ((a->la_flags & LDAP_AVA_BINARY) != (b->la_flags & LDAP_AVA_BINARY)
        || a->la_attr.bv_len != b->la_attr.bv_len
        || a->la_value.bv_len != b->la_value.bv_len
        || strncasecmp(a->la_attr.bv_val, b->la_attr.bv_val,
                       a->la_attr.bv_len) != 0)
        return 0;
    for (size_t i = 0; i < a->la_value.bv_len; i++) {
        unsigned char x = (unsigned char) a->la_value.bv_val[i];
        unsigned char y = (unsigned char) b->la_value.bv_val[i];

        /* ASCII case only: a value outside it must match exactly. */
        if (x != y && !(x < 128 && y < 128 && tolower(x) == tolower(y)))
            return 0;
    }
    return 1;
}

static int
dn_within(const char *dn, const char *base, int or_equal)
{
    LDAPDN d = NULL, b = NULL;
    size_t nd = 0, nb = 0;
    int under = 0;

    if (dn == NULL || base == NULL
        || ldap_str2dn(dn, &d, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS
        || ldap_str2dn(base, &b, LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS
        || d == NULL || b == NULL)
        goto done;
    while (d[nd] != NULL)
        nd++;
    while (b[nb] != NULL)
        nb++;
    if (nb == 0 || nd < nb || (nd == nb && !or_equal))
        goto done;
    under = 1;
    for (size_t i = 0; i < nb && under; i++) {
        LDAPRDN rd = d[nd - nb + i], rb = b[i];
        size_t k = 0;

        /* A multi-valued RDN in the same order only (fails closed). */
        for (; rd[k] != NULL && rb[k] != NULL && under; k++)
            under = ava_eq(rd[k], rb[k]);
        if (rd[k] != NULL || rb[k] != NULL)
            under = 0;
    }

done:
    ldap_dnfree(d);
    ldap_dnfree(b);
    return under;
}

int
apid_ldap_dn_under(const char *dn, const char *base)
{
    return dn_within(dn, base, 0);
}

int
apid_ldap_dn_within(const char *dn, const char *base)
{
    return dn_within(dn, base, 1);
}

char *
apid_ldap_filter_escape(const char *v, size_t n)
{
    char *out = n < SIZE_MAX / 3 ? malloc(n * 3 + 1) : NULL, *o = out;

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) v[i];

        if (c < 0x20 || c >= 0x7f || c == '*' || c == '(' || c == ')'
            || c == '\\') {
            *o++ = '\\';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 0xf];
        } else
            *o++ = (char) c;
    }
    *o = '\0';
    return out;
}

char *
apid_ldap_dn_escape(const char *v, size_t n)
{
    char *out = n < SIZE_MAX / 3 ? malloc(n * 3 + 1) : NULL, *o = out;

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) v[i];

        if (c < 0x20 || c >= 0x7f) {
            *o++ = '\\';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 0xf];
        } else if (strchr(",+\"\\<>;=", c) != NULL
                   || (i == 0 && (c == '#' || c == ' '))
                   || (i == n - 1 && c == ' ')) {
            *o++ = '\\';
            *o++ = (char) c;
        } else
            *o++ = (char) c;
    }
    *o = '\0';
    return out;
}
