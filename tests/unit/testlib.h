/* SPDX-License-Identifier: MIT */
/* Helpers shared by the unit tests: temporary directories, snapshots of
 * made-up accounts, and raw file writes for hostile inputs. */
#ifndef JIT_TESTLIB_H
#define JIT_TESTLIB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "state/nssdb_write.h"

#define T_ID_MIN 70000u
#define T_ID_MAX 99999u

/* A fresh directory under $TMPDIR (or /tmp), mode 0755; removed with
 * t_rmtree.  Returns a malloc'd path. */
char *t_mkdtemp(void);
void t_rmtree(const char *path);
char *t_path(const char *dir, const char *name);

/* n accounts named <prefix><i>, uid T_ID_MIN + i, home /home/jit/<name>,
 * gecos "<tag>", with groups {27, 100} on every even one. */
struct t_accounts {
    struct jit_nssdb_account *v;
    char **names, **gecos, **dirs;
    size_t n;
};
void t_accounts_make(struct t_accounts *a, size_t n, const char *prefix,
                     const char *tag);
void t_accounts_free(struct t_accounts *a);
/* Build those accounts into an image (asserts success). */
void t_build(const struct t_accounts *a, uint64_t gen,
             struct jit_nssdb_image *img);

/* Write bytes to a file by path (replacing it atomically), with mode. */
void t_write_file(const char *path, const void *data, size_t len,
                  mode_t mode);

/* Run the suite (CK_NORMAL); the exit status for main. */
#include <check.h>
int t_run(Suite *s);

#endif
