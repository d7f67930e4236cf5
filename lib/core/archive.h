/* SPDX-License-Identifier: MIT */
/*
 * A home archived as a tar file (POSIX pax format), written by walking the
 * tree fd-relative: never following a symlink (a link is stored as a
 * link), never leaving the file system it starts on, each file read
 * through an fd checked to be the entry that was listed.  No tar(1) is run.
 */
#ifndef JIT_ARCHIVE_H
#define JIT_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#pragma GCC visibility push(hidden)

/* Write the tree `name` in directory fd `parent` to outfd as a tar
 * stream (entries named name/...), ending with the two zero blocks.
 * Sockets, FIFOs and devices are left out.  With outfd -1 nothing is read
 * or written: *size (if not NULL) says how large the archive would be.
 * 0, or -errno with err set. */
int jit_archive_tree(int parent, const char *name, int outfd, uint64_t *size,
                     char *err, size_t errlen);

#pragma GCC visibility pop

#endif
