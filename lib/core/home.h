/* SPDX-License-Identifier: MIT */
/*
 * Home directories of our accounts, made and removed without ever
 * following a symlink: every step is relative to a directory fd opened
 * with O_NOFOLLOW, and removal never crosses into another file system.
 */
#ifndef JIT_HOME_H
#define JIT_HOME_H

#include <stddef.h>
#include <sys/types.h>

#pragma GCC visibility push(hidden)

/* Open home_base (an absolute path), creating missing components 0755.
 * Every component must be a real directory owned by root (or by the
 * caller when not root) and not group/world-writable.  Returns an
 * O_DIRECTORY fd or -errno, with a message in err. */
int jit_home_base_open(const char *home_base, char *err, size_t errlen);

/* Create <home_base>/<name> for uid/gid: 0700 and root's while it is
 * filled from skel (NULL or "" for none), then handed over.  An existing
 * home is accepted only if it is a real directory owned by uid and not
 * writable by others (a kept home, or a second session); anything else
 * there (a symlink, someone else's directory, a file) is refused with
 * -EEXIST and left alone.  *created says whether it was made now. */
int jit_home_create(const char *home_base, const char *name, const char *skel,
                    uid_t uid, gid_t gid, int *created, char *err,
                    size_t errlen);

/* Remove <home_base>/<name> and everything below it, fd-relative, never
 * following a symlink or leaving the file system of home_base.
 * 0 also when it does not exist. */
int jit_home_remove(const char *home_base, const char *name, char *err,
                    size_t errlen);

/* Archive <home_base>/<name> as <state_dir>/archive/<name>.<suffix>.tar
 * (the directory root-only, the file 0600; see archive.h), then remove
 * the home as jit_home_remove does.  A failure keeps the home and leaves
 * no partial archive.  0 also when there is no home. */
int jit_home_archive(const char *home_base, const char *name,
                     const char *state_dir, const char *suffix, char *err,
                     size_t errlen);

#pragma GCC visibility pop

#endif
