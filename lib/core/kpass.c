/* SPDX-License-Identifier: MIT */
/*
 * A person's domain password checked at the KDC and verified against the
 * host keytab (see kpass.h).  The model is pam-krb5's verify_creds: a
 * TGT alone proves only that some KDC answered; a service ticket for the
 * host's own principal, decrypted with the host's own key, proves that it
 * was the realm's KDC.
 */
#include "config.h"

#include <errno.h>
#include <krb5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/kpass.h"

/* err = what: Kerberos' words for code. */
static void
why(krb5_context ctx, const char *what, krb5_error_code code, char *err,
    size_t errlen)
{
    const char *m = ctx != NULL ? krb5_get_error_message(ctx, code) : NULL;

    snprintf(err, errlen, "%s: %s", what, m != NULL ? m : "Kerberos error");
    if (m != NULL)
        krb5_free_error_message(ctx, m);
}

/* The audit reason for the KDC's answer to the initial request. */
static const char *
initial_reason(krb5_error_code code)
{
    switch (code) {
    case KRB5KDC_ERR_PREAUTH_FAILED:
    case KRB5KRB_AP_ERR_BAD_INTEGRITY: /* a principal without preauth */
        return "password_wrong";
    case KRB5KDC_ERR_C_PRINCIPAL_UNKNOWN:
        return "principal_unknown";
    case KRB5KDC_ERR_KEY_EXP:
        return "password_expired";
    case KRB5KDC_ERR_CLIENT_REVOKED:
        return "principal_locked";
    case KRB5_KDC_UNREACH:
    case KRB5_REALM_CANT_RESOLVE:
    case KRB5_REALM_UNKNOWN:
        return "kdc_unreachable";
    default:
        return "krb5_error";
    }
}

static char *
host_principal(const struct jit_conf *c)
{
    char *s = NULL;

    if (c->krb5_principal != NULL)
        return strdup(c->krb5_principal);
    if (asprintf(&s, "host/%s", c->host) < 0)
        return NULL;
    return s;
}

int
jit_kpass_verify(const struct jit_conf *c, const char *requester,
                 const char *pw, const char **reason, char *err,
                 size_t errlen)
{
    krb5_context ctx = NULL;
    krb5_principal client = NULL, server = NULL;
    krb5_keytab kt = NULL;
    krb5_keytab_entry ent;
    krb5_get_init_creds_opt *opt = NULL;
    krb5_verify_init_creds_opt vopt;
    krb5_creds creds;
    krb5_error_code code;
    char *ktname = NULL, *sname = NULL;
    int have_creds = 0, ret = -EIO;

    memset(&creds, 0, sizeof(creds));
    *reason = "krb5_error";
    err[0] = '\0';
    /* sudo is setuid: KRB5_CONFIG, KRB5_KTNAME, KRB5CCNAME and the like
     * are the caller's to set, so none of them is read
     * (doc/design.md, threat A2). */
    if ((code = krb5_init_secure_context(&ctx)) != 0) {
        snprintf(err, errlen, "krb5_init_secure_context: error %ld",
                 (long) code);
        ctx = NULL;
        goto done;
    }
    /* The contract with jit-apid: a person's requester is their full
     * principal; one with no realm names nobody here (doc/design.md,
     * "Proving who asks: pam_jit's auth step"). */
    code = krb5_parse_name_flags(ctx, requester,
                                 KRB5_PRINCIPAL_PARSE_REQUIRE_REALM, &client);
    /* "alice@" parses, with an empty realm. */
    if (code == 0 && client->realm.length == 0)
        code = KRB5_PARSE_MALFORMED;
    if (code != 0) {
        why(ctx, "requester is not a principal with a realm", code, err,
            errlen);
        *reason = "no_realm";
        ret = -EACCES;
        goto done;
    }
    if (c->krb5_keytab == NULL) {
        snprintf(err, errlen, "krb5_keytab is not set: nothing to verify "
                 "the KDC's answer with");
        *reason = "no_keytab";
        ret = -ENOENT;
        goto done;
    }
    if ((sname = host_principal(c)) == NULL
        || asprintf(&ktname, "FILE:%s", c->krb5_keytab) < 0) {
        ktname = NULL;
        snprintf(err, errlen, "out of memory");
        ret = -ENOMEM;
        goto done;
    }
    /* The host's key is looked up first: a keytab without it is the
     * host's fault, not the person's, and asks nothing of the KDC. */
    if ((code = krb5_parse_name(ctx, sname, &server)) != 0
        || (code = krb5_kt_resolve(ctx, ktname, &kt)) != 0
        || (code = krb5_kt_get_entry(ctx, kt, server, 0, 0, &ent)) != 0) {
        why(ctx, sname, code, err, errlen);
        *reason = "keytab_error";
        goto done;
    }
    krb5_free_keytab_entry_contents(ctx, &ent);
    if ((code = krb5_get_init_creds_opt_alloc(ctx, &opt)) != 0) {
        why(ctx, "options", code, err, errlen);
        opt = NULL;
        goto done;
    }
    /* No prompter: an expired password is refused here, not changed. */
    code = krb5_get_init_creds_password(ctx, &creds, client, pw, NULL, NULL,
                                        0, NULL, opt);
    if (code != 0) {
        why(ctx, requester, code, err, errlen);
        *reason = initial_reason(code);
        if (strcmp(*reason, "kdc_unreachable") != 0
            && strcmp(*reason, "krb5_error") != 0)
            ret = -EACCES;
        goto done;
    }
    have_creds = 1;
    /* ap_req_nofail: without it a keytab lacking the key would let the
     * check pass unverified. */
    krb5_verify_init_creds_opt_init(&vopt);
    krb5_verify_init_creds_opt_set_ap_req_nofail(&vopt, 1);
    code = krb5_verify_init_creds(ctx, &creds, server, kt, NULL, &vopt);
    if (code != 0) {
        why(ctx, sname, code, err, errlen);
        *reason = "verify_failed";
        ret = -EACCES;
        goto done;
    }
    *reason = NULL;
    ret = 0;

done:
    if (have_creds)
        krb5_free_cred_contents(ctx, &creds);
    if (opt != NULL)
        krb5_get_init_creds_opt_free(ctx, opt);
    if (kt != NULL)
        krb5_kt_close(ctx, kt);
    if (server != NULL)
        krb5_free_principal(ctx, server);
    if (client != NULL)
        krb5_free_principal(ctx, client);
    if (ctx != NULL)
        krb5_free_context(ctx);
    free(ktname);
    free(sname);
    return ret;
}
