/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/archive.h"
#include "core/home.h"
#include "core/validate.h"

/* skel is the admin's, but a deep or huge tree still must not stall a
 * login: bounded depth and total size. */
#define SKEL_MAX_DEPTH 16
#define SKEL_MAX_BYTES (64u << 20)
#define ARCHIVE_DIR "archive"

static int
fail(char *err, size_t errlen, int ret, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return ret;
}

static int
dir_trusted(const struct stat *st)
{
    return S_ISDIR(st->st_mode) && (st->st_uid == 0 || st->st_uid == geteuid())
           && (st->st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

int
jit_home_base_open(const char *home_base, char *err, size_t errlen)
{
    char *copy = NULL, *save = NULL, *part;
    struct stat st;
    int fd = -1, next, ret, made;

    if (home_base == NULL || home_base[0] != '/')
        return fail(err, errlen, -EINVAL, "home_base must be absolute");
    if ((copy = strdup(home_base)) == NULL)
        return -ENOMEM;
    fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        ret = -errno;
        goto done;
    }
    for (part = strtok_r(copy, "/", &save); part != NULL;
         part = strtok_r(NULL, "/", &save)) {
        if (strcmp(part, ".") == 0 || strcmp(part, "..") == 0) {
            ret = fail(err, errlen, -EINVAL, "home_base %s: no . or ..",
                       home_base);
            goto done;
        }
        made = mkdirat(fd, part, 0755) == 0;
        if (!made && errno != EEXIST) {
            ret = fail(err, errlen, -errno, "home_base %s: mkdir %s: %s",
                       home_base, part, strerror(errno));
            goto done;
        }
        next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW
                                    | O_CLOEXEC);
        if (next < 0) {
            ret = fail(err, errlen, -errno, "home_base %s: %s: %s", home_base,
                       part, errno == ELOOP || errno == ENOTDIR
                             ? "is a symlink or not a directory"
                             : strerror(errno));
            goto done;
        }
        close(fd);
        fd = next;
        /* 0755 whatever the umask, set on the directory opened without
         * following a symlink rather than on its name. */
        if (made && fchmod(fd, 0755) != 0) {
            ret = fail(err, errlen, -errno, "home_base %s: chmod %s: %s",
                       home_base, part, strerror(errno));
            goto done;
        }
    }
    if (fstat(fd, &st) != 0) {
        ret = -errno;
        goto done;
    }
    if (!dir_trusted(&st)) {
        ret = fail(err, errlen, -EPERM, "home_base %s must be root's and not"
                   " group/world-writable", home_base);
        goto done;
    }
    ret = fd;
    fd = -1;

done:
    if (fd >= 0)
        close(fd);
    free(copy);
    return ret;
}

/* Copy one regular file from skel, created exclusively, never following a
 * symlink at the destination; *budget bounds the whole copy. */
static int
copy_file(int sfd, int dfd, const char *name, const struct stat *sst,
          uid_t uid, gid_t gid, size_t *budget)
{
    char buf[16384];
    ssize_t r;
    int in = -1, out = -1, ret = 0;

    in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (in < 0)
        return errno == ELOOP ? 0 : -errno; /* swapped for a symlink */
    out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW
                                | O_CLOEXEC | O_NOCTTY, 0600);
    if (out < 0) {
        ret = -errno;
        goto done;
    }
    while ((r = read(in, buf, sizeof(buf))) != 0) {
        if (r < 0) {
            if (errno == EINTR)
                continue;
            ret = -errno;
            goto done;
        }
        if ((size_t) r > *budget) {
            ret = -EFBIG;
            goto done;
        }
        *budget -= (size_t) r;
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(out, buf + off, (size_t) (r - off));

            if (w < 0 && errno != EINTR) {
                ret = -errno;
                goto done;
            }
            off += w > 0 ? w : 0;
        }
    }
    if (fchown(out, uid, gid) != 0 || fchmod(out, sst->st_mode & 0777) != 0)
        ret = -errno;

done:
    if (out >= 0)
        close(out);
    if (in >= 0)
        close(in);
    return ret;
}

static int
copy_tree(int sfd, int dfd, uid_t uid, gid_t gid, int depth, size_t *budget)
{
    struct dirent *de;
    DIR *d = NULL;
    int dup_fd, ret = 0;

    if (depth > SKEL_MAX_DEPTH)
        return -ELOOP;
    if ((dup_fd = fcntl(sfd, F_DUPFD_CLOEXEC, 0)) < 0)
        return -errno;
    if ((d = fdopendir(dup_fd)) == NULL) {
        close(dup_fd);
        return -errno;
    }
    while (ret == 0 && (errno = 0, de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        struct stat st;

        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0)
            continue;
        if (fstatat(sfd, n, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            ret = -errno;
            break;
        }
        if (S_ISREG(st.st_mode)) {
            ret = copy_file(sfd, dfd, n, &st, uid, gid, budget);
        } else if (S_ISDIR(st.st_mode)) {
            int s2 = -1, d2 = -1;

            if (mkdirat(dfd, n, 0700) != 0) {
                ret = -errno;
                break;
            }
            s2 = openat(sfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW
                                    | O_CLOEXEC);
            d2 = openat(dfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW
                                    | O_CLOEXEC);
            if (s2 < 0 || d2 < 0)
                ret = -errno;
            else
                ret = copy_tree(s2, d2, uid, gid, depth + 1, budget);
            if (ret == 0 && (fchown(d2, uid, gid) != 0
                             || fchmod(d2, st.st_mode & 0777) != 0))
                ret = -errno;
            if (s2 >= 0)
                close(s2);
            if (d2 >= 0)
                close(d2);
        } else if (S_ISLNK(st.st_mode)) {
            char target[4096];
            ssize_t len = readlinkat(sfd, n, target, sizeof(target) - 1);

            if (len < 0) {
                ret = -errno;
                break;
            }
            target[len] = '\0';
            if (symlinkat(target, dfd, n) != 0
                || fchownat(dfd, n, uid, gid, AT_SYMLINK_NOFOLLOW) != 0)
                ret = -errno;
        }
        /* Devices, fifos and sockets in skel are not copied. */
    }
    if (ret == 0 && errno != 0)
        ret = -errno;
    closedir(d);
    return ret;
}

/* An existing home is acceptable only as the account's own, unshared. */
static int
existing_home_ok(int base, const char *name, uid_t uid)
{
    struct stat st;
    int fd = openat(base, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW
                                    | O_CLOEXEC);
    int ok;

    if (fd < 0)
        return 0;
    ok = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == uid
         && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
    close(fd);
    return ok;
}

int
jit_home_create(const char *home_base, const char *name, const char *skel,
                uid_t uid, gid_t gid, int *created, char *err, size_t errlen)
{
    size_t budget = SKEL_MAX_BYTES;
    struct stat st;
    int base = -1, fd = -1, sfd = -1, made = 0, ret;

    *created = 0;
    if (jit_name_problem(name) != NULL)
        return fail(err, errlen, -EINVAL, "bad account name");
    if ((base = jit_home_base_open(home_base, err, errlen)) < 0)
        return base;
    if (mkdirat(base, name, 0700) != 0) {
        int e = errno;

        if (e == EEXIST && existing_home_ok(base, name, uid)) {
            ret = 0;
            goto done;
        }
        ret = fail(err, errlen, -e, "%s/%s: %s", home_base, name,
                   e == EEXIST ? "something else is already there"
                               : strerror(e));
        goto done;
    }
    /* Only the directory we just made, still there, empty and root's, is
     * filled; anything swapped in for it is left alone. */
    fd = openat(base, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode)
        || st.st_uid != geteuid() || (st.st_mode & 07777) != 0700
        || st.st_nlink != 2) {
        ret = fail(err, errlen, -EEXIST, "%s/%s changed while it was being"
                   " created", home_base, name);
        goto done;
    }
    made = 1;
    if (skel != NULL && skel[0] != '\0') {
        sfd = open(skel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sfd < 0 && errno != ENOENT) {
            ret = fail(err, errlen, -errno, "skel %s: %s", skel,
                       strerror(errno));
            goto done;
        }
        if (sfd >= 0 && (ret = copy_tree(sfd, fd, uid, gid, 0, &budget)) != 0) {
            fail(err, errlen, ret, "copying %s: %s", skel, strerror(-ret));
            goto done;
        }
    }
    if (fchown(fd, uid, gid) != 0 || fchmod(fd, 0700) != 0) {
        ret = fail(err, errlen, -errno, "%s/%s: %s", home_base, name,
                   strerror(errno));
        goto done;
    }
    *created = 1;
    ret = 0;

done:
    /* A half-made home goes again, through base, never followed. */
    if (ret != 0 && made)
        (void) jit_home_remove(home_base, name, NULL, 0);
    if (sfd >= 0)
        close(sfd);
    if (fd >= 0)
        close(fd);
    close(base);
    return ret;
}

/* A home may be nested deeper than any fixed limit (a user can make a
 * million levels in minutes).  Below FLATTEN_AT levels a directory is
 * moved up into the top of the tree being removed (rename never follows
 * a symlink, and stays on the file system) and removed in a later pass,
 * so neither the stack nor the open descriptors grow with the depth. */
#define FLATTEN_AT 64
#define REMOVE_MAX_PASSES (1L << 22)

struct remove_ctx {
    dev_t dev;
    int top;            /* the tree's top directory, once open */
    unsigned long seq;  /* for the names of moved directories */
    int moved;          /* something was moved up in this pass */
};

/* Move the directory `name` in parent up into ctx->top. */
static int
move_up(int parent, const char *name, struct remove_ctx *c)
{
    char to[64];

    for (int tries = 0; tries < 1000; tries++) {
        snprintf(to, sizeof(to), ".jit-deep.%lu", c->seq++);
        struct stat st;
        int r = renameat2(parent, name, c->top, to, RENAME_NOREPLACE);

        /* A file system without NOREPLACE: the user's processes are gone
         * by now, so a check and a plain rename will do. */
        if (r != 0 && errno == EINVAL) {
            if (fstatat(c->top, to, &st, AT_SYMLINK_NOFOLLOW) == 0)
                continue;
            r = renameat(parent, name, c->top, to);
        }
        if (r == 0) {
            c->moved = 1;
            return 0;
        }
        if (errno != EEXIST)
            return errno == ENOENT ? 0 : -errno;
    }
    return -EEXIST;
}

/* Remove `name` in parent: a directory's contents first, through an fd
 * opened without following symlinks and only on the same file system. */
static int
remove_at(int parent, const char *name, struct remove_ctx *c, int depth)
{
    struct dirent *de;
    struct stat st;
    DIR *d = NULL;
    int fd, ret = 0;

    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(st.st_mode))
        return unlinkat(parent, name, 0) == 0 || errno == ENOENT ? 0 : -errno;
    if (st.st_dev != c->dev)
        return -EXDEV;
    if (depth >= FLATTEN_AT && c->top >= 0)
        return move_up(parent, name, c);
    fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        /* Swapped for a symlink or a file since the stat: remove that
         * entry itself, never what it points to. */
        if (errno == ELOOP || errno == ENOTDIR)
            return depth > FLATTEN_AT + 8 ? -ELOOP
                                          : remove_at(parent, name, c,
                                                      depth + 1);
        return errno == ENOENT ? 0 : -errno;
    }
    if (fstat(fd, &st) != 0 || st.st_dev != c->dev) {
        close(fd);
        return -EXDEV;
    }
    if ((d = fdopendir(fd)) == NULL) {
        close(fd);
        return -errno;
    }
    if (depth == 0)
        c->top = dirfd(d);
    while ((errno = 0, de = readdir(d)) != NULL) {
        int r;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if ((r = remove_at(dirfd(d), de->d_name, c, depth + 1)) != 0
            && ret == 0)
            ret = r;
    }
    /* Directories moved up in this pass are left for the next one. */
    if (depth == 0 && c->moved && ret == 0)
        ret = -EAGAIN;
    if (depth == 0)
        c->top = -1;
    closedir(d);
    if (ret != 0)
        return ret;
    if (unlinkat(parent, name, AT_REMOVEDIR) != 0 && errno != ENOENT)
        return -errno;
    return 0;
}

/* Passes of remove_at until the tree is gone. */
static int
remove_tree(int parent, const char *name, dev_t dev)
{
    struct remove_ctx c = { dev, -1, 0, 0 };
    int ret = -EAGAIN;

    for (long pass = 0; ret == -EAGAIN && pass < REMOVE_MAX_PASSES; pass++) {
        c.moved = 0;
        ret = remove_at(parent, name, &c, 0);
    }
    return ret == -EAGAIN ? -ELOOP : ret;
}

int
jit_home_remove(const char *home_base, const char *name, char *err,
                size_t errlen)
{
    char dummy[8];
    struct stat st;
    int base, ret;

    if (err == NULL) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    if (jit_name_problem(name) != NULL)
        return fail(err, errlen, -EINVAL, "bad account name");
    if ((base = jit_home_base_open(home_base, err, errlen)) < 0)
        return base;
    if (fstat(base, &st) != 0)
        ret = -errno;
    else
        ret = remove_tree(base, name, st.st_dev);
    if (ret != 0)
        fail(err, errlen, ret, "removing %s/%s: %s", home_base, name,
             ret == -EXDEV ? "a mount point below it" : strerror(-ret));
    close(base);
    return ret;
}

int
jit_home_archive(const char *home_base, const char *name,
                 const char *state_dir, const char *suffix, char *err,
                 size_t errlen)
{
    char file[512] = "";
    struct statvfs vfs;
    struct stat st;
    uint64_t need = 0;
    int base, sd = -1, arch = -1, out = -1, ret;

    if (jit_name_problem(name) != NULL || strchr(suffix, '/') != NULL)
        return fail(err, errlen, -EINVAL, "bad account name");
    if ((base = jit_home_base_open(home_base, err, errlen)) < 0)
        return base;
    if (fstatat(base, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        ret = errno == ENOENT ? 0 : -errno;
        goto done;
    }
    sd = open(state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sd < 0) {
        ret = fail(err, errlen, -errno, "%s: %s", state_dir, strerror(errno));
        goto done;
    }
    if (mkdirat(sd, ARCHIVE_DIR, 0700) != 0 && errno != EEXIST) {
        ret = fail(err, errlen, -errno, "%s/" ARCHIVE_DIR ": %s", state_dir,
                   strerror(errno));
        goto done;
    }
    arch = openat(sd, ARCHIVE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW
                                       | O_CLOEXEC);
    if (arch < 0 || fstat(arch, &st) != 0 || st.st_uid != geteuid()
        || (st.st_mode & 077) != 0) {
        ret = fail(err, errlen, -EPERM, "%s/" ARCHIVE_DIR " must be a"
                   " root-only directory", state_dir);
        goto done;
    }
    /* Room for it first: an archive that fills state_dir's file system
     * would fail the state store's commits meanwhile.  What the archive
     * needs, plus a reserve of a tenth of the file system, must be free. */
    if ((ret = jit_archive_tree(base, name, -1, &need, err, errlen)) != 0)
        goto done;
    if (fstatvfs(arch, &vfs) == 0) {
        uint64_t avail = (uint64_t) vfs.f_bavail * vfs.f_frsize,
                 reserve = (uint64_t) vfs.f_blocks * vfs.f_frsize / 10;

        if (need + reserve > avail) {
            ret = fail(err, errlen, -ENOSPC, "archiving %s/%s: %llu KiB"
                       " needed, %llu KiB free in %s/" ARCHIVE_DIR
                       " (a tenth is kept free)", home_base, name,
                       (unsigned long long) (need >> 10),
                       (unsigned long long) (avail >> 10), state_dir);
            goto done;
        }
    }
    snprintf(file, sizeof(file), "%s.%s.tar", name, suffix);
    out = openat(arch, file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW
                                 | O_CLOEXEC, 0600);
    if (out < 0) {
        ret = fail(err, errlen, -errno, "%s/" ARCHIVE_DIR "/%s: %s",
                   state_dir, file, strerror(errno));
        goto done;
    }
    /* Kept only once it is all on disk; then the home goes. */
    if ((ret = jit_archive_tree(base, name, out, NULL, err, errlen)) != 0)
        goto done;
    if (fsync(out) != 0) {
        ret = fail(err, errlen, -errno, "%s/" ARCHIVE_DIR "/%s: %s",
                   state_dir, file, strerror(errno));
        goto done;
    }
    close(out);
    out = -1;
    if (fstat(base, &st) != 0) {
        ret = -errno;
        goto done;
    }
    if ((ret = remove_tree(base, name, st.st_dev)) != 0)
        fail(err, errlen, ret, "removing %s/%s: %s", home_base, name,
             ret == -EXDEV ? "a mount point below it" : strerror(-ret));

done:
    if (out >= 0) {
        close(out);
        unlinkat(arch, file, 0); /* half an archive is none */
    }
    if (arch >= 0)
        close(arch);
    if (sd >= 0)
        close(sd);
    close(base);
    return ret;
}
