/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the NSS snapshot reader and the NSS contract over it
 * (doc/design.md, threat E4).  Any input is taken as a snapshot image;
 * the harness writes the input's own checksum into it first, so that the
 * mutations reach the structural checks through the real checksum test
 * (which is not skipped), and a wrong checksum must be refused.  If the
 * image is accepted, every record is read through the jit_nss_* entry
 * points libnss_jit calls, with heap buffers sized exactly to the entry
 * (and one byte short), so that ASan catches a write or a read past the
 * caller's buffer.  Any crash, out-of-bounds access, UB or broken
 * contract (abort) is a finding.  The krb5 localauth plugin's decision
 * (lib/krb5/localauth.c) is asked about every account too: only its own
 * requester, only while live and before its end.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "krb5/localauth.h"
#include "nss/nss_ops.h"
#include "nss/nssdb_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The plugin's answers about one account of an accepted snapshot. */
static void
localauth(const struct jit_nssdb *d, const struct jit_nssdb_passwd *r,
          const char *name)
{
    const char *req = jit_nssdb_str(d, r->requester), *why;
    int64_t now = (int64_t) time(NULL);
    int standing = (r->flags & JIT_NSSDB_F_LIVE) && now < r->ends;
    size_t n = strlen(req);

    if (n == 0 || n > JIT_NSSDB_REQUESTER_MAX)
        abort();
    if ((jit_localauth_decide(d, req, name, now, &why, NULL)
         == JIT_LOCALAUTH_ALLOW) != standing
        || jit_localauth_decide(d, "", name, now, &why, NULL)
               != JIT_LOCALAUTH_DENY
        || jit_localauth_decide(d, NULL, name, now, &why, NULL)
               != JIT_LOCALAUTH_DENY)
        abort();
}

/* One lookup of one entry, filling the caller's buffer. */
struct probe {
    struct jit_nssdb_cache *c;
    int kind;
    const char *name;
    uint32_t id;
    uint32_t index; /* for the enumerations */
    struct passwd pw;
    struct group gr;
    struct spwd sp;
};

enum { PW_NAM, PW_UID, PW_ENT, GR_NAM, GR_GID, GR_ENT, SP_NAM, SP_ENT };

static enum nss_status
call(struct probe *p, char *buf, size_t len, int *err)
{
    struct jit_nss_cursor cur = { p->index };

    switch (p->kind) {
    case PW_NAM: return jit_nss_getpwnam(p->c, p->name, &p->pw, buf, len, err);
    case PW_UID: return jit_nss_getpwuid(p->c, p->id, &p->pw, buf, len, err);
    case PW_ENT: return jit_nss_getpwent(p->c, &cur, &p->pw, buf, len, err);
    case GR_NAM: return jit_nss_getgrnam(p->c, p->name, &p->gr, buf, len, err);
    case GR_GID: return jit_nss_getgrgid(p->c, p->id, &p->gr, buf, len, err);
    case GR_ENT: return jit_nss_getgrent(p->c, &cur, &p->gr, buf, len, err);
    case SP_NAM: return jit_nss_getspnam(p->c, p->name, &p->sp, buf, len, err);
    default: return jit_nss_getspent(p->c, &cur, &p->sp, buf, len, err);
    }
}

/* A string the entry points into: inside the buffer and ending there
 * (strlen under ASan reads no further than the allocation). */
static void
inside(const char *s, const char *buf, size_t len)
{
    if (s < buf || s >= buf + len || strlen(s) >= (size_t) (buf + len - s))
        abort();
}

static void
check_filled(const struct probe *p, const char *buf, size_t len)
{
    switch (p->kind) {
    case PW_NAM: case PW_UID: case PW_ENT:
        inside(p->pw.pw_name, buf, len);
        inside(p->pw.pw_passwd, buf, len);
        inside(p->pw.pw_gecos, buf, len);
        inside(p->pw.pw_dir, buf, len);
        inside(p->pw.pw_shell, buf, len);
        if ((p->kind == PW_NAM && strcmp(p->pw.pw_name, p->name) != 0)
            || (p->kind == PW_UID && p->pw.pw_uid != p->id))
            abort();
        break;
    case GR_NAM: case GR_GID: case GR_ENT:
        inside(p->gr.gr_name, buf, len);
        inside(p->gr.gr_passwd, buf, len);
        /* the member list: one NULL, inside the buffer */
        if ((const char *) p->gr.gr_mem < buf
            || (const char *) (p->gr.gr_mem + 1) > buf + len
            || p->gr.gr_mem[0] != NULL)
            abort();
        if ((p->kind == GR_NAM && strcmp(p->gr.gr_name, p->name) != 0)
            || (p->kind == GR_GID && p->gr.gr_gid != p->id))
            abort();
        break;
    default:
        inside(p->sp.sp_namp, buf, len);
        inside(p->sp.sp_pwdp, buf, len);
        if (p->kind == SP_NAM && strcmp(p->sp.sp_namp, p->name) != 0)
            abort();
        break;
    }
}

/* One call with a heap buffer of exactly len bytes starting `skew` bytes
 * into its allocation (glibc's buffers need not be aligned); 1 if it
 * fitted.  Anything but success or ERANGE for an entry that exists
 * breaks the contract. */
static int
fits(struct probe *p, size_t len, size_t skew)
{
    char *mem = malloc(skew + len), *buf;
    int err = 0, r = 0;
    enum nss_status st;

    if (mem == NULL)
        abort();
    buf = mem + skew;
    st = call(p, buf, len, &err);
    if (st == NSS_STATUS_SUCCESS && err == 0) {
        check_filled(p, buf, len);
        r = 1;
    } else if (st != NSS_STATUS_TRYAGAIN || err != ERANGE) {
        abort();
    }
    free(mem);
    return r;
}

/* The smallest buffer the entry fits in, found with exact-size buffers
 * only: it must fit at `most`, and not one byte below the smallest. */
static void
exact(struct probe *p, size_t most)
{
    for (size_t skew = 0; skew < 2; skew++) {
        size_t lo = 0, hi = most;

        if (!fits(p, hi, skew))
            abort();
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;

            if (fits(p, mid, skew))
                hi = mid;
            else
                lo = mid + 1;
        }
        if (lo > 0 && fits(p, lo - 1, skew))
            abort();
    }
}

/* Supplementary groups through initgroups, from a one-slot array that
 * the entry point must grow (realloc) as glibc's contract says. */
static void
groups_of(struct jit_nssdb_cache *c, const char *name, uint32_t gid)
{
    long start = 1, size = 1;
    gid_t *g = malloc(sizeof(gid_t));
    int err = 0;

    if (g == NULL)
        abort();
    g[0] = gid;
    if (jit_nss_initgroups(c, name, gid, &start, &size, &g, 0, &err)
        != NSS_STATUS_SUCCESS || start > size)
        abort();
    for (long i = 0; i < start; i++)
        (void) g[i];
    free(g);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct jit_nssdb_cache cache;
    struct jit_nssdb db, *d;
    unsigned char *image = NULL;
    uint64_t sum;
    size_t most = size + 64;
    int err;

    /* The reader sees page-aligned mappings; give it an exact-size copy
     * so that ASan catches any read past the end. */
    if (posix_memalign((void **) &image, 8, size ? size : 8) != 0)
        return 0;
    memcpy(image, data, size);
    if (size >= sizeof(struct jit_nssdb_header)) {
        const size_t at = offsetof(struct jit_nssdb_header, checksum);

        /* A wrong checksum is refused ... */
        sum = jit_nssdb_checksum(image, size) + 1;
        memcpy(image + at, &sum, sizeof(sum));
        if (jit_nssdb_parse(image, size, &db) == 0)
            abort();
        /* ... and the right one lets the rest of the checks run. */
        sum--;
        memcpy(image + at, &sum, sizeof(sum));
    }
    if (jit_nssdb_parse(image, size, &db) != 0)
        goto done;

    /* The cache as libnss_jit holds it, on this image: a recheck is never
     * due, and a forced one (after a miss) finds no file at the path,
     * which is what the slot already says, so the image stays. */
    memset(&cache, 0, sizeof(cache));
    cache.path = "/nonexistent/jit-fuzz/nss.db";
    cache.owner = 0;
    cache.recheck_s = INT32_MAX;
    cache.checked_s = (int64_t) time(NULL);
    cache.slot[0].db = db;
    cache.slot[0].valid = 1;
    d = &cache.slot[0].db;

    for (uint32_t i = 0; i < d->hdr.n_passwd; i++) {
        const struct jit_nssdb_passwd *r = &d->pw[i];
        const char *name = jit_nssdb_str(d, r->block);
        struct probe p = { .c = &cache, .name = name, .index = i };

        p.kind = PW_ENT; exact(&p, most);
        /* By key only where the index has it (the parse decides that;
         * here only the filling is checked). */
        if (jit_nssdb_pw_byname(d, name) != NULL) {
            p.kind = PW_NAM;
            exact(&p, most);
            groups_of(&cache, name, r->gid);
            localauth(d, r, name);
        }
        if (jit_nssdb_pw_byuid(d, r->uid) != NULL) {
            p.kind = PW_UID;
            p.id = r->uid;
            exact(&p, most);
        }
    }
    for (uint32_t i = 0; i < d->hdr.n_group; i++) {
        const char *name = jit_nssdb_str(d, d->gr[i].name);
        struct probe p = { .c = &cache, .name = name, .index = i };

        p.kind = GR_ENT; exact(&p, most);
        if (jit_nssdb_gr_bygid(d, d->gr[i].gid) != NULL) {
            p.kind = GR_GID;
            p.id = d->gr[i].gid;
            exact(&p, most);
        }
        if (jit_nssdb_gr_byname(d, name) != NULL) {
            p.kind = GR_NAM;
            exact(&p, most);
        }
    }
    for (uint32_t i = 0; i < d->hdr.n_shadow; i++) {
        const char *name = jit_nssdb_str(d, d->sp[i].name);
        struct probe p = { .c = &cache, .name = name, .index = i };

        p.kind = SP_ENT; exact(&p, most);
        if (jit_nssdb_sp_byname(d, name) != NULL) {
            p.kind = SP_NAM;
            exact(&p, most);
        }
    }
    /* Misses, and what a miss does: look again after a forced recheck. */
    {
        struct passwd pw;
        char *buf = malloc(1);

        if (buf == NULL)
            abort();
        (void) jit_nss_getpwnam(&cache, "root", &pw, buf, 1, &err);
        (void) jit_nss_getpwuid(&cache, 0, &pw, buf, 1, &err);
        free(buf);
    }
    cache.slot[0].valid = 0;

done:
    free(image);
    return 0;
}
