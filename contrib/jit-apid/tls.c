/* SPDX-License-Identifier: MIT */
/*
 * jit-apid's TLS rules (see tls.h): the priority string checked before
 * the server starts, and the client certificate a host presents.
 *
 * A certificate that client_ca signed is not therefore a host's: the CA
 * may also sign servers (jit-apid's own certificate, web servers), and
 * with any of those a host could be impersonated by whoever holds its
 * key.  So the certificate must say it is for TLS clients.
 */
#include "config.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "apid.h"
#include "tls.h"

/* Longest extended key usage list looked through; a host certificate
 * has one or two. */
#define EKU_MAX 64

int
apid_tls_priority_check(const char *s, char *err, size_t errlen)
{
    gnutls_priority_t p = NULL;
    const char *pos = NULL;
    int r, ret = 0;

    if (s[0] == '\0') {
        ret = apid_bad(err, errlen, "a GnuTLS priority string, not empty");
        goto done;
    }
    if ((r = gnutls_priority_init(&p, s, &pos)) != 0) {
        if (pos == NULL || pos < s || pos > s + strlen(s))
            pos = s;
        ret = apid_bad(err, errlen, "GnuTLS refuses it at character %d"
                       " ('%s'): %s", (int) (pos - s) + 1, pos,
                       gnutls_strerror(r));
    }

done:
    if (p != NULL)
        gnutls_priority_deinit(p);
    return ret;
}

static int
refuse(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
refuse(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return -EACCES;
}

/* 1 if crt lists clientAuth among its extended key usages, 0 if not,
 * -ENODATA if it has no such extension.  anyExtendedKeyUsage is not
 * clientAuth: a host certificate says what it is for. */
static int
has_client_auth(gnutls_x509_crt_t crt)
{
    char oid[128];
    unsigned i;

    for (i = 0; i < EKU_MAX; i++) {
        size_t sz = sizeof(oid);
        int r = gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &sz, NULL);

        if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
            return i == 0 ? -ENODATA : 0;
        if (r == 0 && strcmp(oid, GNUTLS_KP_TLS_WWW_CLIENT) == 0)
            return 1;
    }
    return 0;
}

int
apid_tls_client_host(void *session, const char *host, char *why,
                     size_t whylen)
{
    gnutls_session_t s = session;
    /* The chain's CAs too may limit what they sign for (their own
     * extended key usage); GnuTLS checks those against this purpose. */
    gnutls_typed_vdata_st purpose = {
        GNUTLS_DT_KEY_PURPOSE_OID, (unsigned char *) GNUTLS_KP_TLS_WWW_CLIENT,
        0
    };
    const unsigned mismatch = GNUTLS_CERT_INVALID | GNUTLS_CERT_PURPOSE_MISMATCH;
    gnutls_x509_crt_t crt = NULL;
    gnutls_datum_t text = { NULL, 0 };
    const gnutls_datum_t *chain;
    unsigned n = 0, status = 0, critical = 0, ca = 0;
    int r, ret, pathlen = 0;

    why[0] = '\0';
    if ((chain = gnutls_certificate_get_peers(s, &n)) == NULL || n == 0) {
        ret = -ENOENT;
        goto done;
    }
    if ((r = gnutls_certificate_verify_peers(s, &purpose, 1, &status)) != 0) {
        ret = refuse(why, whylen, "not verified: %s", gnutls_strerror(r));
        goto done;
    }
    if (status != 0 && status != mismatch) {
        /* Another CA's, expired, not yet valid, revoked, a bad signature:
         * GnuTLS's own words. */
        size_t l;

        if (gnutls_certificate_verification_status_print(
                status, GNUTLS_CRT_X509, &text, 0) != 0) {
            ret = refuse(why, whylen, "not verified against client_ca"
                         " (status 0x%x)", status);
            goto done;
        }
        for (l = text.size; l > 0 && (text.data[l - 1] == ' '
                                       || text.data[l - 1] == '\0'); l--)
            ;
        ret = refuse(why, whylen, "not verified against client_ca (%.*s)",
                     (int) l, (const char *) text.data);
        goto done;
    }
    if ((r = gnutls_x509_crt_init(&crt)) != 0
        || (r = gnutls_x509_crt_import(crt, &chain[0], GNUTLS_X509_FMT_DER))
               != 0) {
        ret = refuse(why, whylen, "unreadable: %s", gnutls_strerror(r));
        goto done;
    }
    /* A CA's key signs; it is not a host's (and one CA certificate for
     * every host would let any of them be all). */
    if (gnutls_x509_crt_get_basic_constraints(crt, &critical, &ca, &pathlen)
        > 0) {
        ret = refuse(why, whylen, "a CA certificate");
        goto done;
    }
    /* GnuTLS takes a certificate with no extended key usage as fit for
     * any purpose; a server certificate often has none, so we do not. */
    r = has_client_auth(crt);
    if (r == -ENODATA) {
        ret = refuse(why, whylen, "no extended key usage (clientAuth is"
                     " required)");
        goto done;
    }
    if (r == 0) {
        ret = refuse(why, whylen, "no clientAuth key purpose");
        goto done;
    }
    if (status != 0) {
        ret = refuse(why, whylen, "a CA of its chain does not allow"
                     " clientAuth");
        goto done;
    }
    /* The host's own name, never a wildcard: one *.corp.example
     * certificate (a web server's, say, from the same CA) would be every
     * host under it, each able to read and report as the others. */
    if (gnutls_x509_crt_check_hostname2(crt, host,
                                        GNUTLS_VERIFY_DO_NOT_ALLOW_WILDCARDS)
        == 0) {
        ret = refuse(why, whylen, "does not name %s", host);
        goto done;
    }
    ret = 0;

done:
    if (crt != NULL)
        gnutls_x509_crt_deinit(crt);
    gnutls_free(text.data);
    return ret;
}
