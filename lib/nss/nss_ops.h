/* SPDX-License-Identifier: MIT */
/*
 * The glibc NSS contract over a snapshot cache: what each _nss_jit_*
 * entry point does, written against an explicit cache so that unit tests
 * can run it on any snapshot file.  libc only.
 *
 * Contract (as glibc expects it, and as nss-pam-ldapd documents it):
 *   found, fits         NSS_STATUS_SUCCESS,  *errnop = 0
 *   buffer too small    NSS_STATUS_TRYAGAIN, *errnop = ERANGE (glibc retries
 *                       with a bigger buffer)
 *   no such entry, or no usable snapshot
 *                       NSS_STATUS_NOTFOUND, *errnop = ENOENT
 *   NULL result/buffer  NSS_STATUS_UNAVAIL,  *errnop = EINVAL
 */
#ifndef JIT_NSS_OPS_H
#define JIT_NSS_OPS_H

#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <shadow.h>

#include "nss/nssdb_read.h"

#pragma GCC visibility push(hidden)

/* Where an enumeration stands; one per thread in the glue. */
struct jit_nss_cursor {
    uint32_t next;
};

enum nss_status jit_nss_getpwnam(struct jit_nssdb_cache *c, const char *name,
                                 struct passwd *pw, char *buf, size_t buflen,
                                 int *errnop);
enum nss_status jit_nss_getpwuid(struct jit_nssdb_cache *c, uid_t uid,
                                 struct passwd *pw, char *buf, size_t buflen,
                                 int *errnop);
enum nss_status jit_nss_getpwent(struct jit_nssdb_cache *c,
                                 struct jit_nss_cursor *cur, struct passwd *pw,
                                 char *buf, size_t buflen, int *errnop);
enum nss_status jit_nss_getgrnam(struct jit_nssdb_cache *c, const char *name,
                                 struct group *gr, char *buf, size_t buflen,
                                 int *errnop);
enum nss_status jit_nss_getgrgid(struct jit_nssdb_cache *c, gid_t gid,
                                 struct group *gr, char *buf, size_t buflen,
                                 int *errnop);
enum nss_status jit_nss_getgrent(struct jit_nssdb_cache *c,
                                 struct jit_nss_cursor *cur, struct group *gr,
                                 char *buf, size_t buflen, int *errnop);
enum nss_status jit_nss_getspnam(struct jit_nssdb_cache *c, const char *name,
                                 struct spwd *sp, char *buf, size_t buflen,
                                 int *errnop);
enum nss_status jit_nss_getspent(struct jit_nssdb_cache *c,
                                 struct jit_nss_cursor *cur, struct spwd *sp,
                                 char *buf, size_t buflen, int *errnop);
enum nss_status jit_nss_initgroups(struct jit_nssdb_cache *c,
                                   const char *user, gid_t group, long *start,
                                   long *size, gid_t **groupsp, long limit,
                                   int *errnop);

#pragma GCC visibility pop

#endif
