/* SPDX-License-Identifier: MIT */
/*
 * Kerberos host authentication to the JIT API (see negotiate.h).
 */
#include "config.h"

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/negotiate.h"

/* 1.3.6.1.5.5.2: SPNEGO, what "Negotiate" carries (RFC 4178, RFC 4559). */
static gss_OID_desc spnego_oid = { 6, (void *) "\x2b\x06\x01\x05\x05\x02" };

char *
jit_base64(const unsigned char *data, size_t len)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out, *p;

    if (len > SIZE_MAX / 4 * 3 - 3
        || (out = malloc((len + 2) / 3 * 4 + 1)) == NULL)
        return NULL;
    p = out;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t) data[i] << 16;

        if (i + 1 < len)
            v |= (uint32_t) data[i + 1] << 8;
        if (i + 2 < len)
            v |= data[i + 2];
        *p++ = tab[(v >> 18) & 63];
        *p++ = tab[(v >> 12) & 63];
        *p++ = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        *p++ = i + 2 < len ? tab[v & 63] : '=';
    }
    *p = '\0';
    return out;
}

static char *
concat3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = malloc(la + lb + lc + 1);

    if (s != NULL) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb);
        memcpy(s + la + lb, c, lc + 1);
    }
    return s;
}

static char *
concat(const char *a, const char *b)
{
    return concat3(a, b, "");
}

/* The GSS-API's words for a failure: the mechanism's (Kerberos') message
 * when there is one, which names the real cause ("Client not found in
 * Kerberos database", "Cannot contact any KDC"...), else the generic one. */
void
jit_gss_why(const char *what, uint32_t major, uint32_t minor, char *err,
            size_t errlen)
{
    OM_uint32 min2, ctx = 0;
    gss_buffer_desc msg = GSS_C_EMPTY_BUFFER;
    int kind = minor != 0 ? GSS_C_MECH_CODE : GSS_C_GSS_CODE;

    if (gss_display_status(&min2, kind == GSS_C_MECH_CODE ? minor : major,
                           kind, GSS_C_NO_OID, &ctx, &msg) == GSS_S_COMPLETE
        && msg.length > 0)
        snprintf(err, errlen, "%s: %.*s", what, (int) msg.length,
                 (const char *) msg.value);
    else
        snprintf(err, errlen, "%s: GSS-API error %u/%u", what,
                 (unsigned) major, (unsigned) minor);
    gss_release_buffer(&min2, &msg);
}

/* "Negotiate <token>" for service ("HTTP@host") from cred, in a new
 * string; NULL with err set. */
static char *
header_from(gss_cred_id_t cred, const char *service, char *err,
            size_t errlen)
{
    OM_uint32 major, minor;
    gss_name_t target = GSS_C_NO_NAME;
    gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;
    gss_buffer_desc buf, out = GSS_C_EMPTY_BUFFER;
    char *b64 = NULL, *header = NULL;

    buf.value = (void *) service;
    buf.length = strlen(service);
    major = gss_import_name(&minor, &buf, GSS_C_NT_HOSTBASED_SERVICE,
                            &target);
    if (GSS_ERROR(major)) {
        jit_gss_why("service name", major, minor, err, errlen);
        goto done;
    }
    /* One round: TLS already authenticated the server, so no mutual
     * authentication and no delegation of anything. */
    major = gss_init_sec_context(&minor, cred, &ctx, target, &spnego_oid, 0,
                                 GSS_C_INDEFINITE,
                                 GSS_C_NO_CHANNEL_BINDINGS, GSS_C_NO_BUFFER,
                                 NULL, &out, NULL, NULL);
    if (GSS_ERROR(major) || out.length == 0) {
        jit_gss_why(service, major, minor, err, errlen);
        goto done;
    }
    if ((b64 = jit_base64(out.value, out.length)) == NULL
        || (header = concat("Negotiate ", b64)) == NULL)
        snprintf(err, errlen, "out of memory");

done:
    /* The token opens a session at the API once; wipe it all the same. */
    if (out.value != NULL)
        explicit_bzero(out.value, out.length);
    if (b64 != NULL)
        explicit_bzero(b64, strlen(b64));
    gss_release_buffer(&minor, &out);
    if (ctx != GSS_C_NO_CONTEXT)
        gss_delete_sec_context(&minor, &ctx, GSS_C_NO_BUFFER);
    gss_release_name(&minor, &target);
    free(b64);
    return header;
}

char *
jit_negotiate_header(const struct jit_conf *c, const char *server, char *err,
                     size_t errlen)
{
    OM_uint32 major, minor;
    gss_name_t me = GSS_C_NO_NAME;
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    gss_buffer_desc buf;
    char *principal = NULL, *ccache = NULL, *service = NULL;
    char *header = NULL;
    gss_key_value_element_desc elements[2];
    gss_key_value_set_desc store = { 2, elements };

    if (c->krb5_keytab == NULL) {
        snprintf(err, errlen, "krb5_keytab not set");
        goto done;
    }
    principal = c->krb5_principal != NULL ? strdup(c->krb5_principal)
                                          : concat("host/", c->host);
    ccache = c->krb5_ccache != NULL
                 ? strdup(c->krb5_ccache)
                 : concat3("FILE:", c->state_dir, "/krb5cc_host");
    service = concat3(c->krb5_service, "@", server);
    if (principal == NULL || ccache == NULL || service == NULL) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    /* The client keytab is where a missing or expired ticket comes from;
     * the cache is where it is kept between processes. */
    elements[0].key = "client_keytab";
    elements[0].value = c->krb5_keytab;
    elements[1].key = "ccache";
    elements[1].value = ccache;

    buf.value = principal;
    buf.length = strlen(principal);
    major = gss_import_name(&minor, &buf, GSS_KRB5_NT_PRINCIPAL_NAME, &me);
    if (GSS_ERROR(major)) {
        jit_gss_why("krb5_principal", major, minor, err, errlen);
        goto done;
    }
    major = gss_acquire_cred_from(&minor, me, GSS_C_INDEFINITE,
                                  GSS_C_NO_OID_SET, GSS_C_INITIATE, &store,
                                  &cred, NULL, NULL);
    if (GSS_ERROR(major)) {
        jit_gss_why("host credentials", major, minor, err, errlen);
        goto done;
    }
    header = header_from(cred, service, err, errlen);

done:
    gss_release_cred(&minor, &cred);
    gss_release_name(&minor, &me);
    free(principal);
    free(ccache);
    free(service);
    return header;
}

char *
jit_negotiate_user_header(const char *service, char *err, size_t errlen)
{
    OM_uint32 major, minor, life = 0;
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    char *header = NULL;

    /* Acquired first, so that no ticket at all is said as such, not as
     * a failure to reach the service.  An expired ticket still makes a
     * token that the KDC and the server take within their clock skew (5
     * minutes): what klist calls expired is said to be so here too. */
    major = gss_acquire_cred(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE,
                             GSS_C_NO_OID_SET, GSS_C_INITIATE, &cred, NULL,
                             NULL);
    if (!GSS_ERROR(major))
        major = gss_inquire_cred(&minor, cred, NULL, &life, NULL, NULL);
    if (GSS_ROUTINE_ERROR(major) == GSS_S_CREDENTIALS_EXPIRED
        || (!GSS_ERROR(major) && life == 0)) {
        snprintf(err, errlen, "your Kerberos ticket has expired");
        goto done;
    }
    if (GSS_ERROR(major)) {
        jit_gss_why("your Kerberos ticket", major, minor, err, errlen);
        goto done;
    }
    header = header_from(cred, service, err, errlen);

done:
    gss_release_cred(&minor, &cred);
    return header;
}
