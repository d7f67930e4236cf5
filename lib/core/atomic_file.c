/* SPDX-License-Identifier: MIT */
/*
 * Atomic file replacement (see atomic_file.h).  A reader of the target
 * sees the old file or the new one, never a mix, and never a file that is
 * rewritten under its mapping.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/atomic_file.h"

static int
stage(int dirfd, const char *tmp, const void *data, size_t len, mode_t mode,
      int sync)
{
    const char *p = data;
    size_t done = 0;
    int fd, ret = 0;

    /* A leftover from a crash is ours to remove (we hold the lock). */
    if (unlinkat(dirfd, tmp, 0) < 0 && errno != ENOENT)
        return -errno;
    fd = openat(dirfd, tmp,
                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    while (done < len) {
        ssize_t r = write(fd, p + done, len - done);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            ret = -errno;
            goto done;
        }
        done += (size_t) r;
    }
    /* fchmod after writing: the file is never readable half-written. */
    if (fchmod(fd, mode) < 0 || (sync && fsync(fd) < 0))
        ret = -errno;

done:
    if (close(fd) < 0 && ret == 0)
        ret = -errno;
    if (ret != 0)
        unlinkat(dirfd, tmp, 0);
    return ret;
}

int
jit_file_stage(int dirfd, const char *tmp, const void *data, size_t len,
               mode_t mode)
{
    return stage(dirfd, tmp, data, len, mode, 1);
}

int
jit_file_stage_unsynced(int dirfd, const char *tmp, const void *data,
                        size_t len, mode_t mode)
{
    return stage(dirfd, tmp, data, len, mode, 0);
}

int
jit_file_publish(int dirfd, const char *tmp, const char *name)
{
    if (renameat(dirfd, tmp, dirfd, name) < 0) {
        int ret = -errno;

        unlinkat(dirfd, tmp, 0);
        return ret;
    }
    return 0;
}
