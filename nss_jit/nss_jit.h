/* SPDX-License-Identifier: MIT */
/* The entry points glibc looks up in libnss_jit.so.2 (see nss_jit.c). */
#ifndef NSS_JIT_H
#define NSS_JIT_H

#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <shadow.h>

enum nss_status _nss_jit_getpwnam_r(const char *, struct passwd *, char *,
                                    size_t, int *);
enum nss_status _nss_jit_getpwuid_r(uid_t, struct passwd *, char *, size_t,
                                    int *);
enum nss_status _nss_jit_setpwent(int);
enum nss_status _nss_jit_getpwent_r(struct passwd *, char *, size_t, int *);
enum nss_status _nss_jit_endpwent(void);
enum nss_status _nss_jit_getgrnam_r(const char *, struct group *, char *,
                                    size_t, int *);
enum nss_status _nss_jit_getgrgid_r(gid_t, struct group *, char *, size_t,
                                    int *);
enum nss_status _nss_jit_setgrent(int);
enum nss_status _nss_jit_getgrent_r(struct group *, char *, size_t, int *);
enum nss_status _nss_jit_endgrent(void);
enum nss_status _nss_jit_getspnam_r(const char *, struct spwd *, char *,
                                    size_t, int *);
enum nss_status _nss_jit_setspent(int);
enum nss_status _nss_jit_getspent_r(struct spwd *, char *, size_t, int *);
enum nss_status _nss_jit_endspent(void);
enum nss_status _nss_jit_initgroups_dyn(const char *, gid_t, long *, long *,
                                        gid_t **, long, int *);

#endif
