/* SPDX-License-Identifier: MIT */
/*
 * Kerberos authentication of hosts and people (see kerberos.h).
 *
 * The acceptor credential is acquired per request from the configured
 * keytab (gss_acquire_cred_from): no process-wide keytab name, nothing
 * shared between the connection threads but the GSS library itself, and
 * a keytab replaced by the admin (key rotation) is used at once.
 */
#include "config.h"

#include <gnutls/gnutls.h>
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/negotiate.h"
#include "auth.h"
#include "core/validate.h"
#include "kerberos.h"

#define TOKEN_B64_MAX 65536

static OM_uint32
acceptor(const char *keytab, gss_cred_id_t *cred, OM_uint32 *minor)
{
    gss_key_value_element_desc el = { "keytab", keytab };
    gss_key_value_set_desc store = { 1, &el };

    return gss_acquire_cred_from(minor, GSS_C_NO_NAME, GSS_C_INDEFINITE,
                                 GSS_C_NO_OID_SET, GSS_C_ACCEPT, &store, cred,
                                 NULL, NULL);
}

int
apid_krb5_check(const char *keytab, char *err, size_t errlen)
{
    OM_uint32 major, minor;
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;

    major = acceptor(keytab, &cred, &minor);
    if (GSS_ERROR(major)) {
        jit_gss_why(keytab, major, minor, err, errlen);
        return -1;
    }
    gss_release_cred(&minor, &cred);
    return 0;
}

/* "host/<name>@<realm>" -> <name>, or NULL. */
static char *
host_of(const char *principal, size_t len, const char *realm)
{
    size_t rl = strlen(realm), nl;
    char *name;

    if (len < 5 + 1 + 1 + rl || memcmp(principal, "host/", 5) != 0
        || principal[len - rl - 1] != '@'
        || memcmp(principal + len - rl, realm, rl) != 0)
        return NULL;
    nl = len - 5 - rl - 1;
    if ((name = malloc(nl + 1)) == NULL)
        return NULL;
    memcpy(name, principal + 5, nl);
    name[nl] = '\0';
    if (strlen(name) != nl || jit_host_problem(name) != NULL) {
        free(name);
        return NULL;
    }
    return name;
}

/* A principal as a log line may show it: no byte that could end the
 * line or forge another, at most 200 of them. */
static void
printable(const char *v, size_t len, char *out, size_t outlen)
{
    size_t k = len < outlen - 1 ? len : outlen - 1;

    for (size_t i = 0; i < k; i++) {
        unsigned char ch = ((const unsigned char *) v)[i];

        out[i] = ch < 0x20 || ch >= 0x7f ? '?' : (char) ch;
    }
    out[k] = '\0';
}

/* The client principal that authorization's token proves, as MIT
 * unparses it, in a new string; NULL with why set.  One acceptor for
 * hosts and people: what differs is only which principals each takes. */
static char *
accept_principal(const char *keytab, const char *authorization, char *why,
                 size_t whylen)
{
    OM_uint32 major, minor;
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;
    gss_name_t src = GSS_C_NO_NAME;
    gss_OID mech = GSS_C_NO_OID;
    gss_buffer_desc in, out = GSS_C_EMPTY_BUFFER, shown = GSS_C_EMPTY_BUFFER;
    gnutls_datum_t b64, raw = { NULL, 0 };
    const char *p;
    char *name = NULL;

    if (strncasecmp(authorization, "Negotiate ", 10) != 0) {
        snprintf(why, whylen, "not a Negotiate header");
        goto done;
    }
    for (p = authorization + 10; *p == ' '; p++)
        ;
    b64.data = (unsigned char *) p;
    b64.size = (unsigned) strlen(p);
    if (b64.size == 0 || b64.size > TOKEN_B64_MAX
        || gnutls_base64_decode2(&b64, &raw) != 0 || raw.size == 0) {
        snprintf(why, whylen, "malformed Negotiate token");
        goto done;
    }
    major = acceptor(keytab, &cred, &minor);
    if (GSS_ERROR(major)) {
        jit_gss_why(keytab, major, minor, why, whylen);
        goto done;
    }
    in.value = raw.data;
    in.length = raw.size;
    major = gss_accept_sec_context(&minor, &ctx, cred, &in,
                                   GSS_C_NO_CHANNEL_BINDINGS, &src, &mech,
                                   &out, NULL, NULL, NULL);
    if (GSS_ERROR(major)) {
        jit_gss_why("Negotiate", major, minor, why, whylen);
        goto done;
    }
    if (major != GSS_S_COMPLETE) {
        snprintf(why, whylen, "Negotiate: more than one round asked for");
        goto done;
    }
    if (mech == GSS_C_NO_OID || !gss_oid_equal(mech, gss_mech_krb5)) {
        snprintf(why, whylen, "Negotiate: not Kerberos");
        goto done;
    }
    major = gss_display_name(&minor, src, &shown, NULL);
    if (GSS_ERROR(major)) {
        jit_gss_why("Negotiate", major, minor, why, whylen);
        goto done;
    }
    /* A NUL inside would make the name another one to strcmp. */
    if ((name = strndup(shown.value, shown.length)) != NULL
        && strlen(name) != shown.length) {
        free(name);
        name = NULL;
        snprintf(why, whylen, "Negotiate: a principal with a NUL byte");
    } else if (name == NULL)
        snprintf(why, whylen, "out of memory");

done:
    gss_release_buffer(&minor, &shown);
    gss_release_buffer(&minor, &out);
    gss_release_name(&minor, &src);
    if (ctx != GSS_C_NO_CONTEXT)
        gss_delete_sec_context(&minor, &ctx, GSS_C_NO_BUFFER);
    gss_release_cred(&minor, &cred);
    gnutls_free(raw.data);
    return name;
}

char *
apid_krb5_host(const char *keytab, const char *realm,
               const char *authorization, char *why, size_t whylen)
{
    char *principal, *host = NULL, shown[201];

    if ((principal = accept_principal(keytab, authorization, why, whylen))
        == NULL)
        return NULL;
    if ((host = host_of(principal, strlen(principal), realm)) == NULL) {
        printable(principal, strlen(principal), shown, sizeof(shown));
        snprintf(why, whylen, "Negotiate: %s is not host/<host>@%s", shown,
                 realm);
    }
    free(principal);
    return host;
}

char *
apid_krb5_person(const char *keytab, const char *realm,
                 const char *authorization, char *why, size_t whylen)
{
    char *principal, shown[201];

    if ((principal = accept_principal(keytab, authorization, why, whylen))
        == NULL)
        return NULL;
    /* host/web01@REALM, HTTP/x@REALM, alice/admin@REALM, alice@OTHER: a
     * host, a service, an instance or a stranger is nobody's person. */
    if (!apid_auth_one_component(principal, realm)) {
        printable(principal, strlen(principal), shown, sizeof(shown));
        snprintf(why, whylen, "Negotiate: %s is not a person of %s"
                 " (<name>@%s, one component)", shown, realm, realm);
        free(principal);
        return NULL;
    }
    return principal;
}
