/* SPDX-License-Identifier: MIT */
/*
 * Finding and loading pam_jit's login backend (doc/design.md, F7), for
 * pam_jit.so: libc only, as it runs before anything else is loaded.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "login/backend.h"

/* The backend runs as root inside setuid sudo and su: only a file root
 * alone can have put there is loaded (libpam checks nothing of the
 * modules it opens).  Its directory too, so that nobody else can swap the
 * file between this check and dlopen.  NULL if fit, else what is wrong. */
static const char *
backend_problem(const char *path, char *buf, size_t size)
{
    struct stat st;
    char *copy;
    const char *obj = "file";
    int i;

    if (path[0] != '/')
        return "not an absolute path";
    if ((copy = strdup(path)) == NULL)
        return "out of memory";
    /* The file itself not followed through a link; its directory may be
     * reached through one (/lib on a merged-/usr system). */
    for (i = 0; i < 2; i++, obj = "directory") {
        if ((i == 0 ? lstat(path, &st) : stat(dirname(copy), &st)) != 0) {
            snprintf(buf, size, "%s: %s", obj, strerror(errno));
            break;
        }
        if (i == 0 ? !S_ISREG(st.st_mode) : !S_ISDIR(st.st_mode))
            snprintf(buf, size, "%s: %s", obj,
                     i == 0 ? "not a regular file" : "not a directory");
        else if (st.st_uid != 0)
            snprintf(buf, size, "%s: not owned by root", obj);
        else if (st.st_mode & (S_IWGRP | S_IWOTH))
            snprintf(buf, size, "%s: writable by group or others", obj);
        else
            continue;
        break;
    }
    free(copy);
    return i == 2 ? NULL : buf;
}

/*
 * RTLD_NOW: a missing symbol is found here, not in the middle of a login.
 * RTLD_LOCAL: its libraries' symbols do not leak into the application's.
 * RTLD_NODELETE, and no dlclose: libcurl, GnuTLS, OpenSSL and libkrb5
 * leave atexit handlers, thread-specific data destructors and (libcurl's
 * threaded resolver, after a timeout) detached threads running in their
 * code; unmapping them would crash sshd or sudo later, far from here.
 * Once loaded it stays for the life of the process, as the libraries did
 * when pam_jit.so linked them.
 */
const struct jit_backend *
jit_backend_open(const char *path, char *why, size_t size)
{
    const struct jit_backend *b = NULL;
    const char *problem;
    void *h;

    if ((problem = backend_problem(path, why, size)) != NULL) {
        if (problem != why)
            snprintf(why, size, "%s", problem);
        return NULL;
    }
    if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)) == NULL) {
        snprintf(why, size, "%s", dlerror());
        return NULL;
    }
    if ((b = dlsym(h, JIT_BACKEND_SYMBOL)) == NULL) {
        snprintf(why, size, "no %s", JIT_BACKEND_SYMBOL);
        return NULL;
    }
    if (strcmp(b->version, PACKAGE_VERSION) != 0
        || b->login_size != sizeof(struct jit_login)
        || b->conf_size != sizeof(struct jit_conf)) {
        snprintf(why, size, "of another build than pam_jit.so (%s)",
                 PACKAGE_VERSION);
        return NULL;
    }
    return b;
}
