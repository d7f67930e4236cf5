/* SPDX-License-Identifier: MIT */
/*
 * The daemon's wake-up FIFO (see wake.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state/wake.h"

int
jit_wake_listen(int dirfd, char *err, size_t errlen)
{
    struct stat st;
    int fd = -1, ret;

    /* Only root writes in the state directory, so what is at the name is
     * root's leftover: an earlier daemon's FIFO (which may be full), or
     * something put there by hand.  A new FIFO replaces it; a directory
     * (unlinkat fails) is refused. */
    if (unlinkat(dirfd, JIT_WAKE_FIFO, 0) != 0 && errno != ENOENT) {
        ret = -errno;
        snprintf(err, errlen, "%s: cannot remove: %s", JIT_WAKE_FIFO,
                 strerror(errno));
        goto done;
    }
    if (mkfifoat(dirfd, JIT_WAKE_FIFO, 0600) != 0) {
        ret = -errno;
        snprintf(err, errlen, "%s: mkfifo: %s", JIT_WAKE_FIFO,
                 strerror(errno));
        goto done;
    }
    /* Read and write: the FIFO always has a writer (us), so a read never
     * sees end-of-file, and a poke never finds it without a reader. */
    fd = openat(dirfd, JIT_WAKE_FIFO,
                O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        ret = -errno;
        snprintf(err, errlen, "%s: %s", JIT_WAKE_FIFO, strerror(errno));
        goto done;
    }
    if (fstat(fd, &st) != 0 || !S_ISFIFO(st.st_mode)
        || st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
        ret = -EPERM;
        snprintf(err, errlen, "%s: not a FIFO of uid %u with mode 0600",
                 JIT_WAKE_FIFO, (unsigned) geteuid());
        goto done;
    }
    ret = fd;
    fd = -1;

done:
    if (fd >= 0)
        close(fd);
    return ret;
}

void
jit_wake_drain(int fd)
{
    char buf[4096];

    /* A full FIFO holds 64 KiB by default: a few reads. */
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
}

void
jit_wake_poke(int dirfd)
{
    struct stat st;
    int fd;

    /* Nothing but a FIFO of ours is opened: opening a device node can do
     * something by itself, and a regular file would grow.  (Only root can
     * put anything at the name; this is for root's mistakes.) */
    if (fstatat(dirfd, JIT_WAKE_FIFO, &st, AT_SYMLINK_NOFOLLOW) != 0
        || !S_ISFIFO(st.st_mode) || st.st_uid != geteuid())
        return;
    /* Read and write, not write only: a write-only end whose last reader
     * goes (the daemon stops between our open and our write) raises
     * SIGPIPE, which would kill the process we run in (sshd, su).  Ours
     * is a reader too, so that cannot happen; without a daemon the byte
     * is dropped with the FIFO's buffer when we close. */
    fd = openat(dirfd, JIT_WAKE_FIFO,
                O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return;
    /* The name could have changed between the two looks (root only). */
    if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
        /* EAGAIN: full, so the daemon has a wake-up waiting already. */
        if (write(fd, "!", 1) < 0) {
        }
    }
    close(fd);
}
