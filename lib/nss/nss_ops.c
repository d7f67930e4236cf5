/* SPDX-License-Identifier: MIT */
/*
 * The NSS contract over the snapshot (see nss_ops.h).  libc only; the
 * only memory touched is the caller's buffer, except initgroups, whose
 * glibc contract is to grow the caller's gid array with realloc.
 */
#include "config.h"

#include <errno.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nss/nss_ops.h"

/* Copies strings into the caller's buffer; fails once without writing
 * past buflen. */
struct packer {
    char *buf;
    size_t len, used;
};

static char *
pack_str(struct packer *p, const char *s)
{
    size_t n = strlen(s) + 1;
    char *dst;

    if (n > p->len - p->used)
        return NULL;
    dst = p->buf + p->used;
    memcpy(dst, s, n);
    p->used += n;
    return dst;
}

static enum nss_status
status_notfound(int *errnop)
{
    *errnop = ENOENT;
    return NSS_STATUS_NOTFOUND;
}

static enum nss_status
status_erange(int *errnop)
{
    *errnop = ERANGE;
    return NSS_STATUS_TRYAGAIN;
}

static int
args_bad(const void *result, const char *buf, int *errnop)
{
    if (result == NULL || buf == NULL) {
        *errnop = EINVAL;
        return 1;
    }
    return 0;
}

/* The block was validated when the snapshot was mapped: five strings,
 * field offsets inside it (nssdb_read.c block_ok). */
static enum nss_status
fill_passwd(const struct jit_nssdb *db, const struct jit_nssdb_passwd *r,
            struct passwd *pw, char *buf, size_t buflen, int *errnop)
{
    if (r->block_len > buflen)
        return status_erange(errnop);
    memcpy(buf, db->strtab + r->block, r->block_len);
    pw->pw_name = buf;
    pw->pw_passwd = buf + r->name_len + 1;
    pw->pw_gecos = buf + r->gecos_at;
    pw->pw_dir = buf + r->dir_at;
    pw->pw_shell = buf + r->shell_at;
    pw->pw_uid = r->uid;
    pw->pw_gid = r->gid;
    *errnop = 0;
    return NSS_STATUS_SUCCESS;
}

static enum nss_status
fill_group(const struct jit_nssdb *db, const struct jit_nssdb_group *r,
           struct group *gr, char *buf, size_t buflen, int *errnop)
{
    uintptr_t at = (uintptr_t) buf;
    size_t pad = (alignof(char *) - at % alignof(char *)) % alignof(char *);
    struct packer p;
    char **mem;

    /* gr_mem first, aligned: an empty, NULL-terminated member list. */
    if (buflen < pad + sizeof(char *))
        return status_erange(errnop);
    mem = (char **) (void *) (buf + pad);
    mem[0] = NULL;
    p.buf = buf;
    p.len = buflen;
    p.used = pad + sizeof(char *);
    gr->gr_name = pack_str(&p, jit_nssdb_str(db, r->name));
    gr->gr_passwd = pack_str(&p, JIT_NSSDB_PASSWD_FIELD);
    if (gr->gr_name == NULL || gr->gr_passwd == NULL)
        return status_erange(errnop);
    gr->gr_gid = r->gid;
    gr->gr_mem = mem;
    *errnop = 0;
    return NSS_STATUS_SUCCESS;
}

static enum nss_status
fill_shadow(const struct jit_nssdb *db, const struct jit_nssdb_shadow *r,
            struct spwd *sp, char *buf, size_t buflen, int *errnop)
{
    struct packer p = { buf, buflen, 0 };

    sp->sp_namp = pack_str(&p, jit_nssdb_str(db, r->name));
    sp->sp_pwdp = pack_str(&p, JIT_NSSDB_SHADOW_LOCKED);
    if (sp->sp_namp == NULL || sp->sp_pwdp == NULL)
        return status_erange(errnop);
    sp->sp_lstchg = r->lstchg;
    sp->sp_min = r->min;
    sp->sp_max = r->max;
    sp->sp_warn = r->warn;
    sp->sp_inact = r->inact;
    sp->sp_expire = r->expire;
    sp->sp_flag = ~0ul;
    *errnop = 0;
    return NSS_STATUS_SUCCESS;
}

/* The three databases: each entry point is one of them, by key or by
 * position, and the rest of the work is the same. */
enum db { DB_PASSWD, DB_GROUP, DB_SHADOW };

/* out: the caller's struct passwd, group or spwd, as which says. */
static enum nss_status
fill(const struct jit_nssdb *db, enum db which, const void *r, void *out,
     char *buf, size_t buflen, int *errnop)
{
    switch (which) {
    case DB_PASSWD:
        return fill_passwd(db, r, out, buf, buflen, errnop);
    case DB_GROUP:
        return fill_group(db, r, out, buf, buflen, errnop);
    default:
        return fill_shadow(db, r, out, buf, buflen, errnop);
    }
}

/* By name, or (name NULL) by id; shadow has no id. */
static const void *
find(const struct jit_nssdb *db, enum db which, const char *name,
     uint32_t id)
{
    switch (which) {
    case DB_PASSWD:
        return name ? (const void *) jit_nssdb_pw_byname(db, name)
                    : (const void *) jit_nssdb_pw_byuid(db, id);
    case DB_GROUP:
        return name ? (const void *) jit_nssdb_gr_byname(db, name)
                    : (const void *) jit_nssdb_gr_bygid(db, id);
    default:
        return name ? jit_nssdb_sp_byname(db, name) : NULL;
    }
}

/*
 * Look a key up; on a miss, look again after re-checking the file, so an
 * account reserved a moment ago (maybe by this very process) is found at
 * once.  Hits trust the mapping for the cache's recheck interval.  The
 * caller releases *ref.
 */
static const void *
acquire_find(struct jit_nssdb_cache *c, enum db which, const char *name,
             uint32_t id, struct jit_nssdb_ref *ref)
{
    const void *r;

    jit_nssdb_acquire(c, 0, ref);
    r = find(ref->db, which, name, id);
    if (r == NULL && !ref->fresh) {
        jit_nssdb_release(ref);
        jit_nssdb_acquire(c, 1, ref);
        r = find(ref->db, which, name, id);
    }
    return r;
}

static enum nss_status
lookup(struct jit_nssdb_cache *c, enum db which, int by_name,
       const char *name, uint32_t id, void *out, char *buf, size_t buflen,
       int *errnop)
{
    struct jit_nssdb_ref ref;
    enum nss_status st;
    const void *r;

    if (args_bad(out, buf, errnop))
        return NSS_STATUS_UNAVAIL;
    if (by_name && name == NULL)
        return status_notfound(errnop);
    r = acquire_find(c, which, name, id, &ref);
    st = r ? fill(ref.db, which, r, out, buf, buflen, errnop)
           : status_notfound(errnop);
    jit_nssdb_release(&ref);
    return st;
}

enum nss_status
jit_nss_getpwnam(struct jit_nssdb_cache *c, const char *name,
                 struct passwd *pw, char *buf, size_t buflen, int *errnop)
{
    return lookup(c, DB_PASSWD, 1, name, 0, pw, buf, buflen, errnop);
}

enum nss_status
jit_nss_getpwuid(struct jit_nssdb_cache *c, uid_t uid, struct passwd *pw,
                 char *buf, size_t buflen, int *errnop)
{
    return lookup(c, DB_PASSWD, 0, NULL, uid, pw, buf, buflen, errnop);
}

enum nss_status
jit_nss_getgrnam(struct jit_nssdb_cache *c, const char *name,
                 struct group *gr, char *buf, size_t buflen, int *errnop)
{
    return lookup(c, DB_GROUP, 1, name, 0, gr, buf, buflen, errnop);
}

enum nss_status
jit_nss_getgrgid(struct jit_nssdb_cache *c, gid_t gid, struct group *gr,
                 char *buf, size_t buflen, int *errnop)
{
    return lookup(c, DB_GROUP, 0, NULL, gid, gr, buf, buflen, errnop);
}

enum nss_status
jit_nss_getspnam(struct jit_nssdb_cache *c, const char *name,
                 struct spwd *sp, char *buf, size_t buflen, int *errnop)
{
    return lookup(c, DB_SHADOW, 1, name, 0, sp, buf, buflen, errnop);
}

/* The i-th record, or NULL past the end. */
static const void *
nth(const struct jit_nssdb *db, enum db which, uint32_t i)
{
    switch (which) {
    case DB_PASSWD:
        return i < db->hdr.n_passwd ? (const void *) &db->pw[i] : NULL;
    case DB_GROUP:
        return i < db->hdr.n_group ? (const void *) &db->gr[i] : NULL;
    default:
        return i < db->hdr.n_shadow ? (const void *) &db->sp[i] : NULL;
    }
}

/*
 * Enumeration walks the records by index.  If the snapshot is replaced
 * mid-walk the walk goes on by index in the new one, as a walk over
 * /etc/passwd does when the file changes under it.  The cursor only
 * advances on success, so a TRYAGAIN retry returns the same entry.
 */
static enum nss_status
next(struct jit_nssdb_cache *c, struct jit_nss_cursor *cur, enum db which,
     void *out, char *buf, size_t buflen, int *errnop)
{
    struct jit_nssdb_ref ref;
    enum nss_status st;
    const void *r = NULL;

    if (args_bad(out, buf, errnop))
        return NSS_STATUS_UNAVAIL;
    jit_nssdb_acquire(c, 0, &ref);
    if (ref.db != NULL)
        r = nth(ref.db, which, cur->next);
    if (r == NULL) {
        st = status_notfound(errnop);
    } else {
        st = fill(ref.db, which, r, out, buf, buflen, errnop);
        if (st == NSS_STATUS_SUCCESS)
            cur->next++;
    }
    jit_nssdb_release(&ref);
    return st;
}

enum nss_status
jit_nss_getpwent(struct jit_nssdb_cache *c, struct jit_nss_cursor *cur,
                 struct passwd *pw, char *buf, size_t buflen, int *errnop)
{
    return next(c, cur, DB_PASSWD, pw, buf, buflen, errnop);
}

enum nss_status
jit_nss_getgrent(struct jit_nssdb_cache *c, struct jit_nss_cursor *cur,
                 struct group *gr, char *buf, size_t buflen, int *errnop)
{
    return next(c, cur, DB_GROUP, gr, buf, buflen, errnop);
}

enum nss_status
jit_nss_getspent(struct jit_nssdb_cache *c, struct jit_nss_cursor *cur,
                 struct spwd *sp, char *buf, size_t buflen, int *errnop)
{
    return next(c, cur, DB_SHADOW, sp, buf, buflen, errnop);
}

static int
have_gid(const gid_t *groups, long n, gid_t gid)
{
    for (long i = 0; i < n; i++)
        if (groups[i] == gid)
            return 1;
    return 0;
}

/*
 * Append the account's allow-listed supplementary groups.  glibc passes
 * the array it is building; we grow it (doubling, capped by limit) as
 * every other NSS module does.  If growing fails the groups found so far
 * stay, and we report TRYAGAIN/ENOMEM rather than silently dropping some.
 */
enum nss_status
jit_nss_initgroups(struct jit_nssdb_cache *c, const char *user, gid_t group,
                   long *start, long *size, gid_t **groupsp, long limit,
                   int *errnop)
{
    const struct jit_nssdb_passwd *r;
    struct jit_nssdb_ref ref;
    enum nss_status st = NSS_STATUS_SUCCESS;

    if (start == NULL || size == NULL || groupsp == NULL || *groupsp == NULL
        || *start < 0 || *size < *start) {
        *errnop = EINVAL;
        return NSS_STATUS_UNAVAIL;
    }
    if (user == NULL)
        return status_notfound(errnop);
    r = acquire_find(c, DB_PASSWD, user, 0, &ref);
    if (r == NULL) {
        st = status_notfound(errnop);
        goto done;
    }
    for (uint32_t k = 0; k < r->gids_count; k++) {
        gid_t gid = ref.db->gids[r->gids_first + k];

        if (gid == group || have_gid(*groupsp, *start, gid))
            continue;
        if (limit > 0 && *start >= limit)
            break;
        if (*start == *size) {
            long nsize = *size > 0 ? *size * 2 : 8;
            gid_t *ng;

            if (limit > 0 && nsize > limit)
                nsize = limit;
            ng = realloc(*groupsp, (size_t) nsize * sizeof(gid_t));
            if (ng == NULL) {
                *errnop = ENOMEM;
                st = NSS_STATUS_TRYAGAIN;
                goto done;
            }
            *groupsp = ng;
            *size = nsize;
        }
        (*groupsp)[(*start)++] = gid;
    }
    *errnop = 0;

done:
    jit_nssdb_release(&ref);
    return st;
}
