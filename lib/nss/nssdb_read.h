/* SPDX-License-Identifier: MIT */
/*
 * Reading the NSS snapshot.  This is the part of lib/ that is loaded into
 * every process on the host through libnss_jit, so it links libc only,
 * allocates nothing per lookup, takes no lock and never blocks on anything
 * but the local file system.
 *
 * Two layers:
 *  - struct jit_nssdb: one mapped snapshot, validated whole before use
 *    (jit_nssdb_parse works on any memory image, which the fuzzer uses);
 *  - struct jit_nssdb_cache: the process-wide view, which keeps a mapping
 *    across calls and maps a new one only when the file was replaced.
 */
#ifndef JIT_NSSDB_READ_H
#define JIT_NSSDB_READ_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "nss/nssdb_format.h"

#pragma GCC visibility push(hidden)

struct jit_nssdb {
    const unsigned char *base; /* start of the image */
    size_t len;
    int mapped;                /* base came from mmap */
    struct jit_nssdb_header hdr;
    const char *strtab;
    const struct jit_nssdb_passwd *pw;
    const struct jit_nssdb_group *gr;
    const struct jit_nssdb_shadow *sp;
    const uint32_t *gids;
    const uint32_t *pw_byname, *pw_byuid, *gr_byname, *gr_bygid, *sp_byname;
};

/* Validate an image and fill db with pointers into it.  Returns 0, or
 * -EINVAL for anything malformed; db is unusable then. */
int jit_nssdb_parse(const void *image, size_t len, struct jit_nssdb *db);

/* Open, check (regular file, owner, not group/world-writable), map and
 * validate the snapshot at path.  Returns 0 or a negative errno. */
int jit_nssdb_map(const char *path, uid_t owner, struct jit_nssdb *db,
                  struct stat *st);
void jit_nssdb_unmap(struct jit_nssdb *db);

const char *jit_nssdb_str(const struct jit_nssdb *db, uint32_t off);
const struct jit_nssdb_passwd *jit_nssdb_pw_byname(const struct jit_nssdb *db,
                                                   const char *name);
const struct jit_nssdb_passwd *jit_nssdb_pw_byuid(const struct jit_nssdb *db,
                                                  uint32_t uid);
const struct jit_nssdb_group *jit_nssdb_gr_byname(const struct jit_nssdb *db,
                                                  const char *name);
const struct jit_nssdb_group *jit_nssdb_gr_bygid(const struct jit_nssdb *db,
                                                 uint32_t gid);
const struct jit_nssdb_shadow *jit_nssdb_sp_byname(const struct jit_nssdb *db,
                                                   const char *name);

/* What identifies one version of the file: a replacement changes the
 * inode; chmod/chown change ctime. */
struct jit_nssdb_ident {
    int present;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime, ctime;
};

struct jit_nssdb_slot {
    struct jit_nssdb db;
    int valid;
    struct jit_nssdb_ident ident;
    atomic_uint readers;
};

/*
 * Two slots: readers use the active one; a remap fills the other one when
 * no reader is left in it, then flips `active`.  A reader counts itself in
 * before it checks `active` again, so the remapper never unmaps a slot in
 * use.  Nobody waits: a thread that finds a remap in progress uses the
 * mapping it has.
 */
struct jit_nssdb_cache {
    const char *path;
    uid_t owner;               /* required owner of the file */
    int64_t recheck_s;         /* how long a hit may trust the mapping */
    struct jit_nssdb_slot slot[2];
    atomic_int active;
    atomic_int remapping;
    _Atomic int64_t checked_s; /* when the file was last stat'ed (time()) */
};

#define JIT_NSSDB_CACHE_INIT(p, own, secs) \
    { .path = (p), .owner = (own), .recheck_s = (secs), \
      .checked_s = INT64_MIN }

struct jit_nssdb_ref {
    struct jit_nssdb_cache *cache;
    int slot;
    int fresh;                 /* the file was checked in this acquire */
    const struct jit_nssdb *db; /* NULL: no valid snapshot */
};

/* Whether a hit must re-check the file: the interval has passed, or the
 * clock stepped back.  time() is a vDSO read, cheaper than clock_gettime. */
static inline int
jit_nssdb_due(struct jit_nssdb_cache *c, int64_t now)
{
    int64_t last = atomic_load(&c->checked_s);

    return last == INT64_MIN || now < last || now - last >= c->recheck_s;
}

/* Count ourselves into the active slot; a remapper never refills a slot
 * whose count is not zero. */
static inline int
jit_nssdb_pin(struct jit_nssdb_cache *c)
{
    for (;;) {
        int i = atomic_load(&c->active);

        atomic_fetch_add(&c->slot[i].readers, 1);
        if (atomic_load(&c->active) == i)
            return i;
        atomic_fetch_sub(&c->slot[i].readers, 1);
    }
}

void jit_nssdb_acquire_slow(struct jit_nssdb_cache *c, int force,
                            struct jit_nssdb_ref *ref);

/* Pin the current snapshot, re-checking the file if the recheck interval
 * has passed or `force` is set.  Always succeeds; ref->db may be NULL.
 * Inline: this is the whole cost of a hit besides the lookup itself. */
static inline void
jit_nssdb_acquire(struct jit_nssdb_cache *c, int force,
                  struct jit_nssdb_ref *ref)
{
    if (!force && !jit_nssdb_due(c, (int64_t) time(NULL))) {
        int i = jit_nssdb_pin(c);

        if (c->slot[i].valid) {
            ref->cache = c;
            ref->slot = i;
            ref->fresh = 0;
            ref->db = &c->slot[i].db;
            return;
        }
        atomic_fetch_sub(&c->slot[i].readers, 1);
    }
    jit_nssdb_acquire_slow(c, force, ref);
}

static inline void
jit_nssdb_release(struct jit_nssdb_ref *ref)
{
    if (ref->cache != NULL)
        atomic_fetch_sub(&ref->cache->slot[ref->slot].readers, 1);
    ref->cache = NULL;
    ref->db = NULL;
}
/* In a forked child only the forking thread survives; forget the others'
 * pins so the child can still remap. */
void jit_nssdb_cache_atfork_child(struct jit_nssdb_cache *c);
/* Unmap everything (tests; never called inside libnss_jit). */
void jit_nssdb_cache_reset(struct jit_nssdb_cache *c);

#pragma GCC visibility pop

#endif
