/* SPDX-License-Identifier: MIT */
/*
 * The krb5 localauth plugin's decision over the NSS snapshot (see
 * localauth.h).  Each call maps the snapshot afresh and lets it go: a
 * revocation is seen by the next login, and nothing outlives the call
 * (sshd may re-read krb5.conf or fork at any point).
 */
#include "config.h"

#include <errno.h>
#include <pwd.h>
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

/* Whether name resolves, through NSS, to a uid other than ours. */
static int
resolves_elsewhere(const char *name, uid_t ours)
{
    struct passwd pw, *res = NULL;
    char buf[4096];
    int other, rc;

    /* Ours fit (the snapshot bounds every field well below); an entry
     * that does not is another source's. */
    rc = getpwnam_r(name, &pw, buf, sizeof(buf), &res);
    if (rc == ERANGE)
        other = 1;
    else
        other = rc == 0 && res != NULL && pw.pw_uid != ours;
    explicit_bzero(buf, sizeof(buf));
    return other;
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
        /* No snapshot, or one the reader refuses (its owner, mode or
         * content): libnss_jit answers "not found" for every name then,
         * so no JIT account can log in (sshd and .k5login both look the
         * account up first); local users keep their rules.  Any other
         * failure (out of memory or descriptors) may be this process's
         * alone, while libnss_jit still serves the snapshot it mapped
         * before: then a JIT account may resolve, and is refused. */
        int gone = ret == -ENOENT || ret == -EINVAL || ret == -EPERM;

        if (ret != -ENOENT)
            jit_logf(log, LOG_WARNING, "localauth: snapshot %s unusable"
                     " (%s): %s", path, strerror(-ret),
                     gone ? "no JIT account resolves" : "refused");
        return gone ? JIT_LOCALAUTH_PASS : JIT_LOCALAUTH_DENY;
    }
    v = jit_localauth_decide(&db, principal, account, now, &reason, &p);
    /* The account sshd logs in to is the one NSS resolves: one of
     * another source met first (passwd: files sss jit, a directory user
     * named after it later) is not ours, as pam_jit's account step
     * judges it too (doc/design.md, R7). */
    if (v != JIT_LOCALAUTH_PASS && resolves_elsewhere(account, p->uid)) {
        reason = "not_ours";
        v = JIT_LOCALAUTH_PASS;
    }
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
