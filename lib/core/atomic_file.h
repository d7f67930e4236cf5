/* SPDX-License-Identifier: MIT */
/*
 * Replacing a file atomically inside a directory we hold open: write a
 * temporary file, fsync it, rename it over the target.  All calls are
 * fd-relative and never follow a symlink.
 *
 * The directory is not fsynced after the rename: after a power loss the
 * rename may be undone, which leaves the previous file, whole.  For the
 * snapshot that is the case the store already repairs (its generation is
 * then behind the store's, and the next jit_store_open re-derives it);
 * the fsync cost two of a login's fsyncs.
 */
#ifndef JIT_ATOMIC_FILE_H
#define JIT_ATOMIC_FILE_H

#include <stddef.h>
#include <sys/types.h>

#pragma GCC visibility push(hidden)

/* Write data to `tmp` in dirfd (replacing a stale one) with `mode`, and
 * fsync it.  Returns 0 or -errno; on error nothing is left behind. */
int jit_file_stage(int dirfd, const char *tmp, const void *data, size_t len,
                   mode_t mode);
/* The same without the fsync: after a power loss the renamed file may be
 * empty or torn, so only for a file whose every reader validates it whole
 * and whose writer re-derives it when it does not validate (the NSS
 * snapshot: doc/design.md, S26). */
int jit_file_stage_unsynced(int dirfd, const char *tmp, const void *data,
                            size_t len, mode_t mode);
/* Rename tmp over name.  Returns 0 or -errno. */
int jit_file_publish(int dirfd, const char *tmp, const char *name);

#pragma GCC visibility pop

#endif
