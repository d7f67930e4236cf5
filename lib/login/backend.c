/* SPDX-License-Identifier: MIT */
/*
 * Finding and loading pam_jit's login backend (doc/design.md, F7), for
 * pam_jit.so: libc only, as it runs before anything else is loaded.
 */
#include "config.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "login/backend.h"

static void
not_owner(char *why, size_t size, const char *obj, uid_t owner)
{
    if (owner == 0)
        snprintf(why, size, "%s: not owned by root", obj);
    else
        snprintf(why, size, "%s: not owned by uid %u", obj, (unsigned) owner);
}

/* The backend runs as root inside setuid sudo and su: only a file root
 * alone can have put there is loaded (libpam checks nothing of the
 * modules it opens).  The file is opened once, not followed through a
 * link, and what is checked is that descriptor: jit_backend_open loads
 * the same descriptor, so a file swapped by path after the check (by
 * someone who can write a directory higher up) is not what runs.  Its
 * directory is checked too, by path (it may be reached through a link:
 * /lib on a merged-/usr system).  The descriptor (O_CLOEXEC), or -1 with
 * why (size bytes) saying what is wrong. */
int
jit_backend_check(const char *path, uid_t owner, char *why, size_t size)
{
    struct stat st;
    char *copy = NULL;
    int fd = -1, ok = 0;

    if (path[0] != '/') {
        snprintf(why, size, "not an absolute path");
        goto done;
    }
    if ((copy = strdup(path)) == NULL) {
        snprintf(why, size, "out of memory");
        goto done;
    }
    /* O_NONBLOCK: a FIFO planted there does not hang the login. */
    if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK))
            < 0) {
        snprintf(why, size, "file: %s",
                 errno == ELOOP ? "not a regular file" : strerror(errno));
        goto done;
    }
    if (fstat(fd, &st) != 0)
        snprintf(why, size, "file: %s", strerror(errno));
    else if (!S_ISREG(st.st_mode))
        snprintf(why, size, "file: not a regular file");
    else if (st.st_uid != owner)
        not_owner(why, size, "file", owner);
    else if (st.st_mode & (S_IWGRP | S_IWOTH))
        snprintf(why, size, "file: writable by group or others");
    else if (stat(dirname(copy), &st) != 0)
        snprintf(why, size, "directory: %s", strerror(errno));
    else if (!S_ISDIR(st.st_mode))
        snprintf(why, size, "directory: not a directory");
    else if (st.st_uid != owner)
        not_owner(why, size, "directory", owner);
    else if (st.st_mode & (S_IWGRP | S_IWOTH))
        snprintf(why, size, "directory: writable by group or others");
    else
        ok = 1;

done:
    free(copy);
    if (!ok && fd >= 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* The table in h if it is of this very build; NULL with why if not. */
static const struct jit_backend *
table_of(void *h, char *why, size_t size)
{
    /* version first, for ever: read before anything else in a table of
     * any build (lib/login/backend.h). */
    const struct jit_backend *b = dlsym(h, JIT_BACKEND_SYMBOL);

    if (b == NULL) {
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

/*
 * The name the descriptor fd (file st) is loaded under: /proc/self/fd/N,
 * written so that it also says the file's device and inode.
 *
 * glibc returns an object already loaded when the name matches one it was
 * loaded (or found again) under, before it compares device and inode.  A
 * long-running process that starts handle after handle opens the file at
 * the same descriptor number each time: after an upgrade (a new inode at
 * the path) a bare /proc/self/fd/N would still be the old backend's, of
 * another build, until a restart.  Each bit of the device and the inode
 * is written as "/" (0) or "/." (1) between /proc/self and fd/N, which
 * the kernel reads as /proc/self/fd/N: two files never share a name, and
 * a loaded object's inode (mapped for ever) is never reused.
 */
static void
load_name(char *buf, size_t size, int fd, const struct stat *st)
{
    const unsigned long long key[2] = { (unsigned long long) st->st_dev,
                                        (unsigned long long) st->st_ino };
    size_t len = (size_t) snprintf(buf, size, "/proc/self");

    for (int k = 0; k < 2; k++)
        for (int bit = 63; bit >= 0 && len + 3 < size; bit--) {
            buf[len++] = '/';
            if ((key[k] >> bit) & 1)
                buf[len++] = '.';
        }
    snprintf(buf + len, size - len, "/fd/%d", fd);
}

/*
 * What is loaded is the descriptor jit_backend_check checked, by its
 * /proc name (load_name), never the path again (doc/design.md, F7).
 *
 * RTLD_NOW: a missing symbol is found here, not in the middle of a login.
 * RTLD_LOCAL: its libraries' symbols do not leak into the application's.
 * RTLD_NODELETE, and no dlclose: libcurl, GnuTLS, OpenSSL and libkrb5
 * leave atexit handlers, thread-specific data destructors and (libcurl's
 * threaded resolver, after a timeout) detached threads running in their
 * code; unmapping them would crash sshd or sudo later, far from here.
 * Once loaded it stays for the life of the process, as the libraries did
 * when pam_jit.so linked them.
 */
void *
jit_backend_dlopen(const char *path, char *why, size_t size)
{
    struct stat st, proc;
    char self[320];
    void *h = NULL;
    int fd;

    if ((fd = jit_backend_check(path, 0, why, size)) < 0)
        return NULL;
    if (fstat(fd, &st) != 0) {
        snprintf(why, size, "file: %s", strerror(errno));
        goto done;
    }
    if (stat("/proc/self/fd", &proc) != 0) {
        snprintf(why, size, "/proc/self/fd: %s (is /proc mounted?)",
                 strerror(errno));
        goto done;
    }
    load_name(self, sizeof(self), fd, &st);
    if ((h = dlopen(self, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)) == NULL) {
        const char *e = dlerror();
        size_t len = strlen(self);

        /* dlerror names the /proc path; the log names the file. */
        if (e != NULL && strncmp(e, self, len) == 0 && e[len] == ':')
            e += len + 1 + (e[len + 1] == ' ');
        snprintf(why, size, "%s: %s", path, e != NULL ? e : "dlopen failed");
    }

done:
    close(fd);
    return h;
}

const struct jit_backend *
jit_backend_open(const char *path, char *why, size_t size)
{
    void *h = jit_backend_dlopen(path, why, size);

    return h != NULL ? table_of(h, why, size) : NULL;
}
