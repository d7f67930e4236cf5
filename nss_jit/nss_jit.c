/* SPDX-License-Identifier: MIT */
/*
 * libnss_jit: the glibc NSS entry points, glue only.  Each one hands the
 * process-wide snapshot cache to the matching function in lib/nss/nss_ops.c.
 *
 * This library is loaded into every process that resolves a user, setuid
 * programs included, so it reads nss.db from the compiled-in state
 * directory only: no configuration, no environment variable, no network,
 * no syslog, and libc is its only dependency (doc/design.md, R1).
 */
#include "config.h"

#include <pthread.h>

#include "nss/nss_ops.h"
#include "nss_jit.h"

/* A hit trusts the mapping for at most this many seconds (nss_jit(8)). */
#define NSS_JIT_RECHECK_S 1

static struct jit_nssdb_cache cache =
    JIT_NSSDB_CACHE_INIT(JIT_STATE_DIR "/nss.db", 0, NSS_JIT_RECHECK_S);

/* Enumeration cursors, one per thread, as glibc's own modules keep them. */
/* initial-exec: no __tls_get_addr, so no dependency on ld.so; glibc keeps
 * static TLS room for dlopen()ed modules, and this is 12 bytes of it. */
#define NSS_JIT_TLS __thread __attribute__((tls_model("initial-exec")))
static NSS_JIT_TLS struct jit_nss_cursor pwent;
static NSS_JIT_TLS struct jit_nss_cursor grent;
static NSS_JIT_TLS struct jit_nss_cursor spent;

static void
atfork_child(void)
{
    jit_nssdb_cache_atfork_child(&cache);
}

__attribute__((constructor)) static void
nss_jit_init(void)
{
    pthread_atfork(NULL, NULL, atfork_child);
}

enum nss_status
_nss_jit_getpwnam_r(const char *name, struct passwd *pw, char *buf,
                    size_t buflen, int *errnop)
{
    return jit_nss_getpwnam(&cache, name, pw, buf, buflen, errnop);
}

enum nss_status
_nss_jit_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t buflen,
                    int *errnop)
{
    return jit_nss_getpwuid(&cache, uid, pw, buf, buflen, errnop);
}

enum nss_status
_nss_jit_setpwent(int stayopen)
{
    (void) stayopen;
    pwent.next = 0;
    return NSS_STATUS_SUCCESS;
}

enum nss_status
_nss_jit_getpwent_r(struct passwd *pw, char *buf, size_t buflen, int *errnop)
{
    return jit_nss_getpwent(&cache, &pwent, pw, buf, buflen, errnop);
}

enum nss_status
_nss_jit_endpwent(void)
{
    pwent.next = 0;
    return NSS_STATUS_SUCCESS;
}

enum nss_status
_nss_jit_getgrnam_r(const char *name, struct group *gr, char *buf,
                    size_t buflen, int *errnop)
{
    return jit_nss_getgrnam(&cache, name, gr, buf, buflen, errnop);
}

enum nss_status
_nss_jit_getgrgid_r(gid_t gid, struct group *gr, char *buf, size_t buflen,
                    int *errnop)
{
    return jit_nss_getgrgid(&cache, gid, gr, buf, buflen, errnop);
}

enum nss_status
_nss_jit_setgrent(int stayopen)
{
    (void) stayopen;
    grent.next = 0;
    return NSS_STATUS_SUCCESS;
}

enum nss_status
_nss_jit_getgrent_r(struct group *gr, char *buf, size_t buflen, int *errnop)
{
    return jit_nss_getgrent(&cache, &grent, gr, buf, buflen, errnop);
}

enum nss_status
_nss_jit_endgrent(void)
{
    grent.next = 0;
    return NSS_STATUS_SUCCESS;
}

enum nss_status
_nss_jit_getspnam_r(const char *name, struct spwd *sp, char *buf,
                    size_t buflen, int *errnop)
{
    return jit_nss_getspnam(&cache, name, sp, buf, buflen, errnop);
}

enum nss_status
_nss_jit_setspent(int stayopen)
{
    (void) stayopen;
    spent.next = 0;
    return NSS_STATUS_SUCCESS;
}

enum nss_status
_nss_jit_getspent_r(struct spwd *sp, char *buf, size_t buflen, int *errnop)
{
    return jit_nss_getspent(&cache, &spent, sp, buf, buflen, errnop);
}

enum nss_status
_nss_jit_endspent(void)
{
    spent.next = 0;
    return NSS_STATUS_SUCCESS;
}

enum nss_status
_nss_jit_initgroups_dyn(const char *user, gid_t group, long *start,
                        long *size, gid_t **groupsp, long limit, int *errnop)
{
    return jit_nss_initgroups(&cache, user, group, start, size, groupsp,
                              limit, errnop);
}
