/* SPDX-License-Identifier: MIT */
/*
 * Reader of the NSS snapshot (see nssdb_format.h for the format and
 * nssdb_read.h for the two layers).  Part of libnss_jit: libc only.
 *
 * Everything in an image is validated once, when it is mapped; lookups
 * then only follow offsets that were proven to be in bounds.  Any fault
 * makes the whole file unusable, which the NSS layer reports as "not
 * found": a damaged snapshot must never crash the process that loaded us
 * or hand out an id it should not.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdalign.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "nss/nssdb_read.h"

static int
section_ok(const struct jit_nssdb_header *h, uint64_t off, uint64_t count,
           uint64_t size)
{
    uint64_t bytes = count * size; /* both < 2^32: cannot overflow */

    if (off % 8 != 0 || off < h->header_size)
        return 0;
    return off <= h->file_size && bytes <= h->file_size - off;
}

static int
buckets_ok(uint32_t buckets, uint32_t count)
{
    /* A power of two with room to spare, so every probe ends. */
    return buckets != 0 && (buckets & (buckets - 1)) == 0 && buckets > count
        && buckets <= (1u << 28);
}

static int
index_ok(const uint32_t *idx, uint32_t buckets, uint32_t count)
{
    for (uint32_t i = 0; i < buckets; i++)
        if (idx[i] > count)
            return 0;
    return 1;
}

static int
name_ok(const struct jit_nssdb *db, uint32_t off)
{
    const char *s;

    if (off >= db->hdr.strtab_len)
        return 0;
    s = db->strtab + off;
    return s[0] != '\0' && strnlen(s, JIT_NSSDB_NAME_MAX + 1)
        <= JIT_NSSDB_NAME_MAX;
}

/* An account's string block: inside the table, and each field starting
 * right after the previous one's NUL, the last one ending at the block's
 * end.  Then copying the block copies exactly five C strings. */
static int
block_ok(const struct jit_nssdb *db, const struct jit_nssdb_passwd *p)
{
    const char *b;

    if (p->block >= db->hdr.strtab_len
        || p->block_len > db->hdr.strtab_len - p->block
        || !name_ok(db, p->block))
        return 0;
    b = db->strtab + p->block;
    return p->name_len == strlen(b)
        && p->gecos_at == p->name_len + 3u
        && b[p->name_len + 1] == JIT_NSSDB_PASSWD_FIELD[0]
        && b[p->name_len + 2] == '\0'
        && p->dir_at > p->gecos_at && p->shell_at > p->dir_at
        && p->shell_at < p->block_len
        && b[p->dir_at - 1] == '\0' && b[p->shell_at - 1] == '\0'
        && b[p->block_len - 1] == '\0';
}

/* The requester: a non-empty string of the table, bounded.  Only
 * compared and escaped, never served, so any other byte may be in it. */
static int
requester_ok(const struct jit_nssdb *db, uint32_t off)
{
    size_t n;

    if (off >= db->hdr.strtab_len)
        return 0;
    n = strnlen(db->strtab + off, JIT_NSSDB_REQUESTER_MAX + 1);
    return n != 0 && n <= JIT_NSSDB_REQUESTER_MAX;
}

static int
id_ok(const struct jit_nssdb *db, uint32_t id)
{
    return id >= db->hdr.id_min && id <= db->hdr.id_max
        && !jit_nssdb_id_forbidden(id);
}

static int
records_ok(const struct jit_nssdb *db)
{
    const struct jit_nssdb_header *h = &db->hdr;

    for (uint32_t i = 0; i < h->n_passwd; i++) {
        const struct jit_nssdb_passwd *p = &db->pw[i];

        if (!block_ok(db, p) || !id_ok(db, p->uid) || !id_ok(db, p->gid)
            || (uint64_t) p->gids_first + p->gids_count > h->n_gids
            || !requester_ok(db, p->requester)
            || (p->flags & ~JIT_NSSDB_F_LIVE) != 0)
            return 0;
    }
    for (uint32_t i = 0; i < h->n_group; i++)
        if (!name_ok(db, db->gr[i].name) || !id_ok(db, db->gr[i].gid))
            return 0;
    for (uint32_t i = 0; i < h->n_shadow; i++)
        if (!name_ok(db, db->sp[i].name))
            return 0;
    /* Supplementary groups come from the host's own group database, so
     * they lie outside our range, but never root's or an overflow id. */
    for (uint32_t i = 0; i < h->n_gids; i++)
        if (jit_nssdb_id_forbidden(db->gids[i]))
            return 0;
    return 1;
}

static uint32_t find_name(const struct jit_nssdb *db, const uint32_t *idx,
                          uint32_t buckets, const void *recs, size_t recsize,
                          const char *name);
static uint32_t find_pw_uid(const struct jit_nssdb *db, uint32_t uid);
static uint32_t find_gr_gid(const struct jit_nssdb *db, uint32_t gid);

/* Every record is what its own keys find, in all five indexes: so no two
 * records share a name or an id, and no record is unreachable. */
static int
indexes_agree(const struct jit_nssdb *db)
{
    const struct jit_nssdb_header *h = &db->hdr;

    for (uint32_t i = 0; i < h->n_passwd; i++)
        if (find_name(db, db->pw_byname, h->pw_buckets, db->pw,
                      sizeof(*db->pw), db->strtab + db->pw[i].block) != i
            || find_pw_uid(db, db->pw[i].uid) != i)
            return 0;
    for (uint32_t i = 0; i < h->n_group; i++)
        if (find_name(db, db->gr_byname, h->gr_buckets, db->gr,
                      sizeof(*db->gr), db->strtab + db->gr[i].name) != i
            || find_gr_gid(db, db->gr[i].gid) != i)
            return 0;
    for (uint32_t i = 0; i < h->n_shadow; i++)
        if (find_name(db, db->sp_byname, h->sp_buckets, db->sp,
                      sizeof(*db->sp), db->strtab + db->sp[i].name) != i)
            return 0;
    return 1;
}

int
jit_nssdb_parse(const void *image, size_t len, struct jit_nssdb *db)
{
    const unsigned char *base = image;
    struct jit_nssdb_header *h = &db->hdr;

    memset(db, 0, sizeof(*db));
    if (image == NULL || len < sizeof(*h) || len > JIT_NSSDB_MAX_SIZE
        || (uintptr_t) image % 8 != 0)
        return -EINVAL;
    memcpy(h, base, sizeof(*h));
    if (memcmp(h->magic, JIT_NSSDB_MAGIC, sizeof(h->magic)) != 0
        || h->version != JIT_NSSDB_VERSION || h->header_size != sizeof(*h)
        || h->file_size != len || h->reserved != 0)
        return -EINVAL;
    /* (The fuzzer reaches the structural checks below by writing the
     * right checksum into its input, not by skipping this.) */
    if (h->checksum != jit_nssdb_checksum(image, len))
        return -EINVAL;
    if (h->id_min < JIT_NSSDB_ID_FLOOR || h->id_max > JIT_NSSDB_ID_CEIL
        || h->id_min > h->id_max)
        return -EINVAL;
    if (h->strtab_len == 0 || !section_ok(h, h->strtab_off, h->strtab_len, 1)
        || base[h->strtab_off + h->strtab_len - 1] != '\0')
        return -EINVAL;
    if (!section_ok(h, h->passwd_off, h->n_passwd,
                    sizeof(struct jit_nssdb_passwd))
        || !section_ok(h, h->group_off, h->n_group,
                       sizeof(struct jit_nssdb_group))
        || !section_ok(h, h->shadow_off, h->n_shadow,
                       sizeof(struct jit_nssdb_shadow))
        || !section_ok(h, h->gids_off, h->n_gids, sizeof(uint32_t)))
        return -EINVAL;
    if (!buckets_ok(h->pw_buckets, h->n_passwd)
        || !buckets_ok(h->gr_buckets, h->n_group)
        || !buckets_ok(h->sp_buckets, h->n_shadow)
        || !section_ok(h, h->pw_byname_off, h->pw_buckets, 4)
        || !section_ok(h, h->pw_byuid_off, h->pw_buckets, 4)
        || !section_ok(h, h->gr_byname_off, h->gr_buckets, 4)
        || !section_ok(h, h->gr_bygid_off, h->gr_buckets, 4)
        || !section_ok(h, h->sp_byname_off, h->sp_buckets, 4))
        return -EINVAL;

    db->base = base;
    db->len = len;
    db->strtab = (const char *) base + h->strtab_off;
    db->pw = (const void *) (base + h->passwd_off);
    db->gr = (const void *) (base + h->group_off);
    db->sp = (const void *) (base + h->shadow_off);
    db->gids = (const void *) (base + h->gids_off);
    db->pw_byname = (const void *) (base + h->pw_byname_off);
    db->pw_byuid = (const void *) (base + h->pw_byuid_off);
    db->gr_byname = (const void *) (base + h->gr_byname_off);
    db->gr_bygid = (const void *) (base + h->gr_bygid_off);
    db->sp_byname = (const void *) (base + h->sp_byname_off);

    if (!index_ok(db->pw_byname, h->pw_buckets, h->n_passwd)
        || !index_ok(db->pw_byuid, h->pw_buckets, h->n_passwd)
        || !index_ok(db->gr_byname, h->gr_buckets, h->n_group)
        || !index_ok(db->gr_bygid, h->gr_buckets, h->n_group)
        || !index_ok(db->sp_byname, h->sp_buckets, h->n_shadow)
        || !records_ok(db) || !indexes_agree(db)) {
        memset(db, 0, sizeof(*db));
        return -EINVAL;
    }
    return 0;
}

int
jit_nssdb_map(const char *path, uid_t owner, struct jit_nssdb *db,
              struct stat *st)
{
    void *image = MAP_FAILED;
    int fd = -1;
    int ret;

    memset(db, 0, sizeof(*db));
    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0) {
        ret = -errno;
        goto done;
    }
    if (fstat(fd, st) < 0) {
        ret = -errno;
        goto done;
    }
    /* Anyone who can write the file could hand out any identity. */
    if (!S_ISREG(st->st_mode) || st->st_uid != owner
        || (st->st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        ret = -EPERM;
        goto done;
    }
    if (st->st_size < (off_t) sizeof(struct jit_nssdb_header)
        || st->st_size > (off_t) JIT_NSSDB_MAX_SIZE) {
        ret = -EINVAL;
        goto done;
    }
    image = mmap(NULL, (size_t) st->st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (image == MAP_FAILED) {
        ret = -errno;
        goto done;
    }
    ret = jit_nssdb_parse(image, (size_t) st->st_size, db);
    if (ret == 0) {
        db->mapped = 1;
        image = MAP_FAILED;
    }

done:
    if (image != MAP_FAILED)
        munmap(image, (size_t) st->st_size);
    if (fd >= 0)
        close(fd);
    return ret;
}

void
jit_nssdb_unmap(struct jit_nssdb *db)
{
    if (db->mapped && db->base != NULL)
        munmap((void *) db->base, db->len);
    memset(db, 0, sizeof(*db));
}

const char *
jit_nssdb_str(const struct jit_nssdb *db, uint32_t off)
{
    /* Offsets were checked in jit_nssdb_parse; this guards stray ones. */
    return off < db->hdr.strtab_len ? db->strtab + off : "";
}

/*
 * One probe loop for all five indexes.  `match` says whether record i is
 * the one sought.  The probe count is bounded by the bucket count, which
 * jit_nssdb_parse proved exceeds the record count.
 */
#define PROBE(idx, buckets, start, match)                           \
    do {                                                            \
        uint32_t mask_ = (buckets) - 1;                             \
        for (uint32_t k_ = 0; k_ < (buckets); k_++) {               \
            uint32_t e_ = (idx)[((start) + k_) & mask_];            \
            if (e_ == 0)                                            \
                break;                                              \
            uint32_t i = e_ - 1;                                    \
            if (match)                                              \
                return i;                                           \
        }                                                           \
        return UINT32_MAX;                                          \
    } while (0)

/* Names that are empty or longer than JIT_NSSDB_NAME_MAX are never ours;
 * they are refused while hashing, without a separate pass. */
static uint32_t
find_name(const struct jit_nssdb *db, const uint32_t *idx, uint32_t buckets,
          const void *recs, size_t recsize, const char *name)
{
    const unsigned char *r = recs;
    size_t len;
    uint32_t off, hash;

    hash = jit_nssdb_hash_name_bounded(name, JIT_NSSDB_NAME_MAX, &len);
    if (len == 0 || len > JIT_NSSDB_NAME_MAX)
        return UINT32_MAX;
    /* Every record type begins with the offset of its name. */
    PROBE(idx, buckets, hash,
          (memcpy(&off, r + (size_t) i * recsize, sizeof(off)),
           strcmp(db->strtab + off, name) == 0));
}

static uint32_t
find_pw_uid(const struct jit_nssdb *db, uint32_t uid)
{
    PROBE(db->pw_byuid, db->hdr.pw_buckets, jit_nssdb_hash_id(uid),
          db->pw[i].uid == uid);
}

static uint32_t
find_gr_gid(const struct jit_nssdb *db, uint32_t gid)
{
    PROBE(db->gr_bygid, db->hdr.gr_buckets, jit_nssdb_hash_id(gid),
          db->gr[i].gid == gid);
}

const struct jit_nssdb_passwd *
jit_nssdb_pw_byname(const struct jit_nssdb *db, const char *name)
{
    uint32_t i;

    if (db == NULL || name == NULL || db->hdr.n_passwd == 0)
        return NULL;
    i = find_name(db, db->pw_byname, db->hdr.pw_buckets, db->pw,
                  sizeof(*db->pw), name);
    return i == UINT32_MAX ? NULL : &db->pw[i];
}

const struct jit_nssdb_passwd *
jit_nssdb_pw_byuid(const struct jit_nssdb *db, uint32_t uid)
{
    uint32_t i;

    if (db == NULL || db->hdr.n_passwd == 0)
        return NULL;
    i = find_pw_uid(db, uid);
    return i == UINT32_MAX ? NULL : &db->pw[i];
}

const struct jit_nssdb_group *
jit_nssdb_gr_byname(const struct jit_nssdb *db, const char *name)
{
    uint32_t i;

    if (db == NULL || name == NULL || db->hdr.n_group == 0)
        return NULL;
    i = find_name(db, db->gr_byname, db->hdr.gr_buckets, db->gr,
                  sizeof(*db->gr), name);
    return i == UINT32_MAX ? NULL : &db->gr[i];
}

const struct jit_nssdb_group *
jit_nssdb_gr_bygid(const struct jit_nssdb *db, uint32_t gid)
{
    uint32_t i;

    if (db == NULL || db->hdr.n_group == 0)
        return NULL;
    i = find_gr_gid(db, gid);
    return i == UINT32_MAX ? NULL : &db->gr[i];
}

const struct jit_nssdb_shadow *
jit_nssdb_sp_byname(const struct jit_nssdb *db, const char *name)
{
    uint32_t i;

    if (db == NULL || name == NULL || db->hdr.n_shadow == 0)
        return NULL;
    i = find_name(db, db->sp_byname, db->hdr.sp_buckets, db->sp,
                  sizeof(*db->sp), name);
    return i == UINT32_MAX ? NULL : &db->sp[i];
}

/* ---- the process-wide cache ---- */

/* How long a thread with no snapshot waits for one that another thread is
 * mapping.  Bounded by the clock, not by a count of yields: a count runs
 * out in 40 ms on an idle machine and sooner than the mapper gets the CPU
 * on a loaded one (CI: one wrong "not found" in the thread test). */
#define JIT_NSSDB_FIRST_MAP_WAIT_NS (2LL * 1000 * 1000 * 1000)

static int64_t
mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void
ident_from_stat(struct jit_nssdb_ident *id, const struct stat *st)
{
    memset(id, 0, sizeof(*id));
    id->present = 1;
    id->dev = st->st_dev;
    id->ino = st->st_ino;
    id->size = st->st_size;
    id->mtime = st->st_mtim;
    id->ctime = st->st_ctim;
}

static int
ident_same(const struct jit_nssdb_ident *a, const struct jit_nssdb_ident *b)
{
    if (a->present != b->present)
        return 0;
    if (!a->present)
        return 1;
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size
        && a->mtime.tv_sec == b->mtime.tv_sec
        && a->mtime.tv_nsec == b->mtime.tv_nsec
        && a->ctime.tv_sec == b->ctime.tv_sec
        && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

/* The snapshot file's identity now; all zero when there is none. */
static void
file_ident(const struct jit_nssdb_cache *c, struct jit_nssdb_ident *seen)
{
    struct stat st;

    if (lstat(c->path, &st) == 0)
        ident_from_stat(seen, &st);
    else
        memset(seen, 0, sizeof(*seen));
}

/* Fill the idle slot from the file and make it active.  Called with the
 * remap flag held and a pin on the active slot `cur`; returns the slot the
 * caller now holds a pin on. */
static int
remap(struct jit_nssdb_cache *c, int cur, const struct jit_nssdb_ident *seen)
{
    int next = 1 - cur;
    struct jit_nssdb_slot *s = &c->slot[next];
    struct stat st;
    int ret;

    /* Another thread may have remapped since we pinned `cur`; then `next`
     * is the active slot and must not be touched.  Only the holder of the
     * remap flag moves `active`, so this check stays true below. */
    if (atomic_load(&c->active) != cur)
        return cur;
    if (atomic_load(&s->readers) != 0)
        return cur; /* a slow reader still uses it; try again later */
    if (s->valid)
        jit_nssdb_unmap(&s->db);
    s->valid = 0;
    ret = jit_nssdb_map(c->path, c->owner, &s->db, &st);
    if (ret == 0) {
        s->valid = 1;
        ident_from_stat(&s->ident, &st);
    } else if (ret == -EPERM || ret == -EINVAL) {
        /* A file we refuse: remember it (its fstat identity) so that we
         * do not re-read it on every call, and answer "not found". */
        ident_from_stat(&s->ident, &st);
    } else if (ret == -ENOENT || ret == -ENOTDIR || ret == -ELOOP
               || ret == -EACCES) {
        s->ident = *seen; /* no file, a symlink, or not ours to read */
    } else {
        /* EMFILE, ENOMEM, EIO...: a passing trouble of this process.
         * Keep the mapping we have; the next call tries again. */
        return cur;
    }
    atomic_fetch_add(&s->readers, 1);
    atomic_store(&c->active, next);
    atomic_fetch_sub(&c->slot[cur].readers, 1);
    return next;
}

/* Pin a slot, re-checking the file when due; may leave us on a slot with
 * no snapshot if another thread is busy mapping the first one. */
static int
pin_checked(struct jit_nssdb_cache *c, int force, int64_t now, int *fresh)
{
    int i = jit_nssdb_pin(c);

    if (force || jit_nssdb_due(c, now)) {
        struct jit_nssdb_ident seen;

        file_ident(c, &seen);
        *fresh = 1;
        if (ident_same(&seen, &c->slot[i].ident)) {
            atomic_store(&c->checked_s, now);
        } else if (atomic_exchange(&c->remapping, 1) == 0) {
            int j = remap(c, i, &seen);

            if (j != i)
                atomic_store(&c->checked_s, now);
            i = j;
            atomic_store(&c->remapping, 0);
        }
    }
    return i;
}

/* Whether slot i was made from the file as it is now (or its absence). */
static int
reflects_file(struct jit_nssdb_cache *c, int i)
{
    struct jit_nssdb_ident seen;

    file_ident(c, &seen);
    return ident_same(&seen, &c->slot[i].ident);
}

void
jit_nssdb_acquire_slow(struct jit_nssdb_cache *c, int force,
                       struct jit_nssdb_ref *ref)
{
    int64_t now = (int64_t) time(NULL), deadline = 0;
    int i;

    ref->cache = c;
    ref->fresh = 0;
    i = pin_checked(c, force, now, &ref->fresh);
    /* A thread with no snapshot at all (the process's first lookups) waits
     * for the file to be mapped, by another thread or by itself, rather
     * than answering "not found" for an account that exists: as long as
     * its slot does not reflect the file there now (a mapper busy or just
     * done, or a remap skipped because a reader was still pinning the
     * idle slot for an instant).  A missing file, or one the reader
     * refused, is reflected at once.  The wait is bounded; it never waits
     * on a lock, only on the other threads' progress. */
    while (!c->slot[i].valid && !reflects_file(c, i)) {
        if (deadline == 0)
            deadline = mono_ns() + JIT_NSSDB_FIRST_MAP_WAIT_NS;
        else if (mono_ns() >= deadline)
            break;
        atomic_fetch_sub(&c->slot[i].readers, 1);
        sched_yield();
        i = pin_checked(c, 1, now, &ref->fresh);
    }
    ref->slot = i;
    ref->db = c->slot[i].valid ? &c->slot[i].db : NULL;
}

void
jit_nssdb_cache_atfork_child(struct jit_nssdb_cache *c)
{
    atomic_store(&c->slot[0].readers, 0);
    atomic_store(&c->slot[1].readers, 0);
    atomic_store(&c->remapping, 0);
}

void
jit_nssdb_cache_reset(struct jit_nssdb_cache *c)
{
    for (int i = 0; i < 2; i++) {
        if (c->slot[i].valid)
            jit_nssdb_unmap(&c->slot[i].db);
        memset(&c->slot[i].ident, 0, sizeof(c->slot[i].ident));
        c->slot[i].valid = 0;
        atomic_store(&c->slot[i].readers, 0);
    }
    atomic_store(&c->active, 0);
    atomic_store(&c->remapping, 0);
    atomic_store(&c->checked_s, INT64_MIN);
}
