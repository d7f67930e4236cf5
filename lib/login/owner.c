/* SPDX-License-Identifier: MIT */
/*
 * What pam_jit decides before it loads anything (doc/design.md, F7):
 * whose user this is, and the audit line.  libc only (with lib/nss/'s
 * snapshot reader), since pam_jit.so runs it in every sudo, su and cron
 * of every local user; the login steps (login.c, auth.c, in the
 * backend that pam_jit.so loads only for a user that may be ours) ask
 * the same function, so both decide alike.
 */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "core/audit.h"
#include "login/login_impl.h"
#include "nss/nssdb_read.h"

/* Whose user is this?  NSS answers whether the name exists at all (our
 * module included); our own snapshot answers whether it is ours.  A name
 * NSS knows that our snapshot does not list (with the same uid) belongs to
 * another source and is none of our business (doc/design.md, R7). */
static enum jit_owner
classify(const struct jit_conf *c, const char *user, uid_t *uid)
{
    const struct jit_nssdb_passwd *p;
    struct jit_nssdb db;
    struct stat st;
    struct passwd pw, *res = NULL;
    char *buf = NULL, *path = NULL;
    size_t size = 4096;
    enum jit_owner o = JIT_OWNER_ERROR;
    int rc;

    for (;;) {
        char *nb = realloc(buf, size);

        if (nb == NULL)
            goto done;
        buf = nb;
        rc = getpwnam_r(user, &pw, buf, size, &res);
        if (rc != ERANGE || size >= (1u << 20))
            break;
        size *= 2;
    }
    /* getpwnam_r(3): these codes, like 0 with no result, mean "no such
     * user"; anything else is a lookup that failed. */
    if (res == NULL) {
        if (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF
            || rc == EPERM)
            o = JIT_OWNER_NONE;
        goto done;
    }
    o = JIT_OWNER_OTHER;
    if (asprintf(&path, "%s/" JIT_STORE_SNAPSHOT, c->state_dir) < 0) {
        path = NULL;
        o = JIT_OWNER_ERROR;
        goto done;
    }
    if (uid != NULL)
        *uid = pw.pw_uid;
    rc = jit_nssdb_map(path, 0, &db, &st);
    if (rc == 0) {
        p = jit_nssdb_pw_byname(&db, user);
        if (p != NULL && p->uid == pw.pw_uid)
            o = JIT_OWNER_OURS;
        jit_nssdb_unmap(&db);
    } else if (rc != -ENOENT && pw.pw_uid >= c->uid_min
               && pw.pw_uid <= c->uid_max) {
        /* A snapshot we cannot read (the caller's RLIMIT_NOFILE or
         * RLIMIT_AS, a broken file) cannot say a uid of our range is not
         * ours: "another source's" would skip the grant.  A uid outside
         * the range was never ours, so local users still log in. */
        o = JIT_OWNER_ERROR;
    }

done:
    free(path);
    free(buf);
    return o;
}

enum jit_owner
jit_login_owner(struct jit_login *l, uid_t *uid)
{
    return classify(l->conf, l->user, uid);
}

int
jit_login_not_ours(struct jit_login *l, int closing)
{
    enum jit_owner o = jit_login_owner(l, NULL);

    if (o == JIT_OWNER_OTHER || (closing && o != JIT_OWNER_OURS)) {
        l->reason = "other_source";
        return 1;
    }
    return 0;
}

/* login.c's own audit() adds an account's fields; a grant's (or none)
 * is all the steps outside it need. */
void
jit_login_audit(struct jit_login *l, int prio, const char *event,
                const char *result, const char *reason,
                const struct jit_grant *g)
{
    struct jit_audit au = {
        .event = event, .result = result, .reason = reason, .user = l->user,
        .service = l->service, .rhost = l->rhost, .tty = l->tty,
    };

    if (g != NULL) {
        au.requester = g->requester;
        au.credential = g->credential;
        au.grant = g->id;
        au.expires = g->expires_at;
    }
    l->reason = reason;
    jit_audit(&l->log, prio, &au);
}
