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
#include <unistd.h>

#include "core/archive.h"

#define BLOCK 512
#define MAX_DEPTH 512

struct out {
    int fd;             /* -1: count only */
    char *err;
    size_t errlen;
    dev_t dev;
    uint64_t total;     /* bytes written, or that would be */
};

static int
fail(struct out *o, int ret, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(o->err, o->errlen, fmt, ap);
    va_end(ap);
    return ret;
}

static int
write_all(struct out *o, const void *buf, size_t len)
{
    const char *p = buf;

    o->total += len;
    if (o->fd < 0)
        return 0;
    while (len > 0) {
        ssize_t w = write(o->fd, p, len);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return fail(o, -errno, "writing the archive: %s",
                        strerror(errno));
        p += w;
        len -= (size_t) w;
    }
    return 0;
}

static int
pad(struct out *o, uint64_t len)
{
    static const char zero[BLOCK];
    size_t n = (size_t) ((BLOCK - len % BLOCK) % BLOCK);

    return n ? write_all(o, zero, n) : 0;
}

/* An octal field of width w (w-1 digits and a NUL); 0 if it fits. */
static int
octal(char *field, size_t w, uint64_t v)
{
    if (w - 1 < 22 && v >> (3 * (w - 1)) != 0)
        return -1;
    snprintf(field, w, "%0*llo", (int) (w - 1), (unsigned long long) v);
    return 0;
}

/* One pax record "LEN key=value\n", LEN counting itself. */
static int
pax_record(char *buf, size_t cap, size_t *used, const char *key,
           const char *value)
{
    size_t body = strlen(key) + strlen(value) + 3, len = body + 1;
    int n;

    while ((size_t) snprintf(NULL, 0, "%zu", len) + body != len)
        len++;
    n = snprintf(buf + *used, cap - *used, "%zu %s=%s\n", len, key, value);
    if (n < 0 || (size_t) n >= cap - *used)
        return -1;
    *used += (size_t) n;
    return 0;
}

static void
checksum(char *h)
{
    unsigned sum = 0;

    memset(h + 148, ' ', 8);
    for (int i = 0; i < BLOCK; i++)
        sum += (unsigned char) h[i];
    snprintf(h + 148, 8, "%06o", sum);
    h[155] = ' ';
}

/* A header block for path, preceded by a pax header when the path, the
 * link target or the size do not fit the ustar fields. */
static int
header(struct out *o, const char *path, const struct stat *st, char type,
       const char *link, uint64_t size)
{
    char h[BLOCK], pax[8192], num[32];
    size_t used = 0;
    int ret;

    memset(h, 0, sizeof(h));
    if (strlen(path) >= 100 && pax_record(pax, sizeof(pax), &used, "path",
                                          path) != 0)
        return fail(o, -ENAMETOOLONG, "%s: name too long", path);
    if (link != NULL && strlen(link) >= 100
        && pax_record(pax, sizeof(pax), &used, "linkpath", link) != 0)
        return fail(o, -ENAMETOOLONG, "%s: link too long", path);
    if (octal(h + 124, 12, size) != 0) {
        snprintf(num, sizeof(num), "%llu", (unsigned long long) size);
        if (pax_record(pax, sizeof(pax), &used, "size", num) != 0)
            return fail(o, -EOVERFLOW, "%s: too large", path);
        octal(h + 124, 12, 0);
    }
    if (used > 0) {
        char ph[BLOCK];

        memset(ph, 0, sizeof(ph));
        snprintf(ph, 100, "PaxHeaders/%.80s", path);
        octal(ph + 100, 8, 0600);
        octal(ph + 108, 8, 0);
        octal(ph + 116, 8, 0);
        octal(ph + 124, 12, used);
        octal(ph + 136, 12, 0);
        ph[156] = 'x';
        memcpy(ph + 257, "ustar", 6);
        memcpy(ph + 263, "00", 2);
        checksum(ph);
        if ((ret = write_all(o, ph, sizeof(ph))) != 0
            || (ret = write_all(o, pax, used)) != 0
            || (ret = pad(o, used)) != 0)
            return ret;
    }
    snprintf(h, 100, "%s", path); /* cut short; the pax path wins */
    octal(h + 100, 8, st->st_mode & 07777);
    if (octal(h + 108, 8, st->st_uid) != 0)
        octal(h + 108, 8, 0);
    if (octal(h + 116, 8, st->st_gid) != 0)
        octal(h + 116, 8, 0);
    octal(h + 136, 12, st->st_mtime > 0 ? (uint64_t) st->st_mtime : 0);
    h[156] = type;
    if (link != NULL)
        snprintf(h + 157, 100, "%s", link);
    memcpy(h + 257, "ustar", 6);
    memcpy(h + 263, "00", 2);
    checksum(h);
    return write_all(o, h, sizeof(h));
}

/* A regular file: opened without following, not blocking (a FIFO swapped
 * in meanwhile must not hang the reaper), and checked to be the file that
 * was listed; exactly st_size bytes go in, zero-padded if it shrank. */
static int
put_file(struct out *o, int dir, const char *entry, const char *path,
         const struct stat *listed)
{
    char buf[65536];
    struct stat st;
    uint64_t left;
    int fd, ret;

    fd = openat(dir, entry, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC
                                | O_NOCTTY);
    if (fd < 0)
        return errno == ENOENT || errno == ELOOP ? 0 /* gone, or swapped */
                                                 : fail(o, -errno, "%s: %s",
                                                        path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)
        || st.st_ino != listed->st_ino || st.st_dev != listed->st_dev) {
        close(fd);
        return 0; /* not what was listed: left out */
    }
    if ((ret = header(o, path, &st, '0', NULL, (uint64_t) st.st_size)) != 0)
        goto done;
    if (o->fd < 0) { /* counting: the size will do */
        o->total += (uint64_t) st.st_size;
        ret = pad(o, (uint64_t) st.st_size);
        goto done;
    }
    for (left = (uint64_t) st.st_size; left > 0;) {
        size_t want = left < sizeof(buf) ? (size_t) left : sizeof(buf);
        ssize_t r = read(fd, buf, want);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ret = fail(o, -errno, "%s: %s", path, strerror(errno));
            goto done;
        }
        if (r == 0) {
            memset(buf, 0, want);
            r = (ssize_t) want;
        }
        if ((ret = write_all(o, buf, (size_t) r)) != 0)
            goto done;
        left -= (uint64_t) r;
    }
    ret = pad(o, (uint64_t) st.st_size);

done:
    close(fd);
    return ret;
}

static int
walk(struct out *o, int parent, const char *entry, const char *path,
     int depth)
{
    char target[4096], child[8192];
    struct dirent *de;
    struct stat st;
    DIR *d;
    ssize_t n;
    int fd, ret = 0;

    if (fstatat(parent, entry, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? 0 : fail(o, -errno, "%s: %s", path,
                                          strerror(errno));
    if (S_ISREG(st.st_mode))
        return put_file(o, parent, entry, path, &st);
    if (S_ISLNK(st.st_mode)) {
        if ((n = readlinkat(parent, entry, target, sizeof(target) - 1)) < 0)
            return errno == ENOENT || errno == EINVAL ? 0
                   : fail(o, -errno, "%s: %s", path, strerror(errno));
        target[n] = '\0';
        return header(o, path, &st, '2', target, 0);
    }
    if (!S_ISDIR(st.st_mode))
        return 0; /* sockets, FIFOs, devices: nothing to keep */
    if (st.st_dev != o->dev)
        return fail(o, -EXDEV, "%s: a mount point", path);
    if (depth > MAX_DEPTH)
        return fail(o, -ELOOP, "%s: too deep", path);
    fd = openat(parent, entry, O_RDONLY | O_DIRECTORY | O_NOFOLLOW
                                   | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT || errno == ELOOP || errno == ENOTDIR
                   ? 0 /* gone or swapped since the stat */
                   : fail(o, -errno, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || st.st_dev != o->dev) {
        close(fd);
        return fail(o, -EXDEV, "%s: a mount point", path);
    }
    snprintf(child, sizeof(child), "%s/", path);
    if ((ret = header(o, child, &st, '5', NULL, 0)) != 0) {
        close(fd);
        return ret;
    }
    if ((d = fdopendir(fd)) == NULL) {
        close(fd);
        return fail(o, -errno, "%s: %s", path, strerror(errno));
    }
    while (ret == 0 && (de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if ((size_t) snprintf(child, sizeof(child), "%s/%s", path,
                              de->d_name) >= sizeof(child)) {
            ret = fail(o, -ENAMETOOLONG, "%s/...: path too long", path);
            break;
        }
        ret = walk(o, dirfd(d), de->d_name, child, depth + 1);
    }
    closedir(d);
    return ret;
}

int
jit_archive_tree(int parent, const char *name, int outfd, uint64_t *size,
                 char *err, size_t errlen)
{
    static const char end[2 * BLOCK];
    struct out o = { outfd, err, errlen, 0, 0 };
    struct stat st;
    int ret;

    if (fstat(parent, &st) != 0)
        return fail(&o, -errno, "archive: %s", strerror(errno));
    o.dev = st.st_dev;
    if ((ret = walk(&o, parent, name, name, 0)) != 0)
        return ret;
    ret = write_all(&o, end, sizeof(end));
    if (size != NULL)
        *size = o.total;
    return ret;
}
