/*
 * The krb5 localauth plugin's decision over the NSS snapshot (see
 * localauth.h).  Each call maps the snapshot afresh and lets it go: a
 * revocation is seen by the next login, and nothing outlives the call
 * (sshd may re-read krb5.conf or fork at any point).
 */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <syslog.h>

#include "krb5/localauth.h"

enum jit_localauth_verdict
jit_localauth_decide(const struct jit_nssdb *db, const char *principal,
                     const char *account, int64_t now, const char **reason,
                     const struct jit_nssdb_passwd **rec)
{
    const struct jit_nssdb_passwd *p;

    if (rec != NULL)
        *rec = NULL;
    p = db != NULL && account != NULL ? jit_nssdb_pw_byname(db, account)
                                      : NULL;
    if (p == NULL) {
        *reason = "not_ours";
        return JIT_LOCALAUTH_PASS;
    }
    if (rec != NULL)
        *rec = p;
    /* Byte for byte: the requester is the principal jit-apid saw
     * (krb5_unparse_name), realm included; a requester without a realm
     * matches no principal. */
    if (principal == NULL
        || strcmp(jit_nssdb_str(db, p->requester), principal) != 0) {
        *reason = "not_requester";
        return JIT_LOCALAUTH_DENY;
    }
    if (!(p->flags & JIT_NSSDB_F_LIVE)) {
        *reason = "account_ending";
        return JIT_LOCALAUTH_DENY;
    }
    /* No allowance at the end, as for every other check of it
     * (jit_grant_standing). */
    if (now >= p->ends) {
        *reason = "grant_expired";
        return JIT_LOCALAUTH_DENY;
    }
    *reason = "requester";
    return JIT_LOCALAUTH_ALLOW;
}

enum jit_localauth_verdict
jit_localauth_userok(const char *path, uid_t owner, const char *principal,
                     const char *account, int64_t now,
                     const struct jit_log *log)
{
    const struct jit_nssdb_passwd *p = NULL;
    enum jit_localauth_verdict v;
    struct jit_nssdb db;
    const char *reason;
    struct stat st;
    int ret;

    ret = jit_nssdb_map(path, owner, &db, &st);
    if (ret != 0) {
        /* libnss_jit answers "not found" for every name then, so no JIT
         * account can log in (sshd and .k5login both look the account up
         * first); local users keep their rules. */
        if (ret != -ENOENT)
            jit_logf(log, LOG_WARNING,
                     "localauth: snapshot %s unusable (%s): no JIT account"
                     " resolves", path, strerror(-ret));
        return JIT_LOCALAUTH_PASS;
    }
    v = jit_localauth_decide(&db, principal, account, now, &reason, &p);
    if (v != JIT_LOCALAUTH_PASS) {
        struct jit_audit au = {
            .event = "gssapi", .reason = reason, .user = account,
            .result = v == JIT_LOCALAUTH_ALLOW ? "allow" : "deny",
            .requester = jit_nssdb_str(&db, p->requester),
            .expires = p->ends, .detail = principal,
        };

        jit_audit(log, v == JIT_LOCALAUTH_ALLOW ? LOG_INFO : LOG_NOTICE,
                  &au);
    }
    jit_nssdb_unmap(&db);
    return v;
}
