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

#include "nssdb_format.h"

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
    int64_t recheck_ns;        /* how long a hit may trust the mapping */
    struct jit_nssdb_slot slot[2];
    atomic_int active;
    atomic_int remapping;
    _Atomic int64_t checked_ns; /* when the file was last stat'ed */
};

#define JIT_NSSDB_CACHE_INIT(p, own, ns) \
    { .path = (p), .owner = (own), .recheck_ns = (ns), \
      .checked_ns = INT64_MIN }

struct jit_nssdb_ref {
    struct jit_nssdb_cache *cache;
    int slot;
    int fresh;                 /* the file was checked in this acquire */
    const struct jit_nssdb *db; /* NULL: no valid snapshot */
};

/* Pin the current snapshot, re-checking the file if the recheck interval
 * has passed or `force` is set.  Always succeeds; ref->db may be NULL. */
void jit_nssdb_acquire(struct jit_nssdb_cache *c, int force,
                       struct jit_nssdb_ref *ref);
void jit_nssdb_release(struct jit_nssdb_ref *ref);
/* In a forked child only the forking thread survives; forget the others'
 * pins so the child can still remap. */
void jit_nssdb_cache_atfork_child(struct jit_nssdb_cache *c);
/* Unmap everything (tests; never called inside libnss_jit). */
void jit_nssdb_cache_reset(struct jit_nssdb_cache *c);

#pragma GCC visibility pop

#endif
