/* SPDX-License-Identifier: MIT */
/*
 * Building the NSS snapshot image from account rows (root code only; the
 * state store calls it inside its write lock).
 */
#ifndef JIT_NSSDB_WRITE_H
#define JIT_NSSDB_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "nss/nssdb_format.h"

#pragma GCC visibility push(hidden)

struct jit_nssdb_account {
    const char *name, *gecos, *dir, *shell;
    uint32_t uid, gid;
    const uint32_t *gids; /* supplementary groups, already resolved */
    size_t n_gids;
    int64_t created, expires; /* seconds since the epoch */
    /* For the krb5 localauth plugin (nssdb_format.h): whose the account
     * is, until when it stands (the earlier of its own and its grant's
     * end), and whether it is live (not ending, its grant in force). */
    const char *requester;
    int64_t ends;
    int live;
};

struct jit_nssdb_image {
    unsigned char *data;
    size_t len;
};

/*
 * Build an image of `n` accounts, each with its private group and a
 * locked shadow entry whose sp_expire is the first day boundary at or
 * after `expires` (pam_unix refuses from that day on).  Every name, id and
 * string is checked again here: a row the reader would reject makes the
 * build fail (-EINVAL), duplicates give -EEXIST.  Returns 0 or -errno; on
 * success the caller frees img with jit_nssdb_image_free.
 */
int jit_nssdb_build(const struct jit_nssdb_account *accts, size_t n,
                    uint32_t id_min, uint32_t id_max, uint64_t generation,
                    int64_t now, struct jit_nssdb_image *img);
void jit_nssdb_image_free(struct jit_nssdb_image *img);

/* Why jit_nssdb_build would refuse this one row, or NULL: for the store,
 * which refuses such a row when it is written (one grant's problem), not
 * when the snapshot is built (everyone's). */
const char *jit_nssdb_account_problem(const struct jit_nssdb_account *a,
                                      uint32_t id_min, uint32_t id_max);

/* Days since the epoch as shadow(5) counts them. */
int32_t jit_nssdb_day_floor(int64_t t);
int32_t jit_nssdb_day_ceil(int64_t t);

#pragma GCC visibility pop

#endif
