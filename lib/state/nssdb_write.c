/* SPDX-License-Identifier: MIT */
/*
 * Builder of NSS snapshot images (format in nssdb_format.h).  It holds the
 * writer's half of the reader's rules: anything the reader would refuse is
 * refused here first, so a valid state store always yields a loadable
 * snapshot and a bad row never reaches libnss_jit.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/validate.h"
#include "state/nssdb_write.h"

#define ALIGN8(x) (((x) + 7u) & ~(size_t) 7u)
/* No string we serve is longer than this (gecos, home, shell). */
#define MAX_FIELD 4096u

struct strtab {
    char *buf;
    size_t len, cap;
};

/* Why a string cannot be a field of the snapshot, or NULL. */
static const char *
field_problem(const char *s)
{
    size_t n;

    if (s == NULL || (n = strnlen(s, MAX_FIELD + 1)) > MAX_FIELD)
        return "longer than a field may be";
    for (size_t i = 0; i < n; i++)
        if ((unsigned char) s[i] < 0x20 || s[i] == ':' || s[i] == 0x7f)
            return "holds ':' or a control character"; /* would corrupt
                                       getent output and its parsers */
    return NULL;
}

/* Why a string cannot be a requester in the snapshot, or NULL: what the
 * reader's requester check refuses.  It is never part of a passwd line,
 * only compared and escaped, so ':' or a control character (which the
 * grant's own rules keep out anyway) is carried as it is. */
static const char *
requester_problem(const char *s)
{
    size_t n;

    if (s == NULL || (n = strnlen(s, JIT_NSSDB_REQUESTER_MAX + 1)) == 0
        || n > JIT_NSSDB_REQUESTER_MAX)
        return "requester empty or longer than a requester may be";
    return NULL;
}

static int
strtab_put(struct strtab *t, const char *s, uint32_t *off)
{
    size_t n;

    n = strlen(s);
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        char *nb;

        while (cap < t->len + n + 1)
            cap *= 2;
        if (cap > JIT_NSSDB_MAX_SIZE)
            return -EFBIG;
        nb = realloc(t->buf, cap);
        if (nb == NULL)
            return -ENOMEM;
        t->buf = nb;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n + 1);
    *off = (uint32_t) t->len;
    t->len += n + 1;
    return 0;
}

static int
strtab_add(struct strtab *t, const char *s, uint32_t *off)
{
    if (field_problem(s) != NULL)
        return -EINVAL;
    return strtab_put(t, s, off);
}

/* An account's strings as one block (see nssdb_format.h). */
static int
add_block(struct strtab *t, const struct jit_nssdb_account *a,
          struct jit_nssdb_passwd *p)
{
    const char *gecos = a->gecos ? a->gecos : "";
    uint32_t off[5];
    int ret;

    if ((ret = strtab_add(t, a->name, &off[0])) != 0
        || (ret = strtab_add(t, JIT_NSSDB_PASSWD_FIELD, &off[1])) != 0
        || (ret = strtab_add(t, gecos, &off[2])) != 0
        || (ret = strtab_add(t, a->dir, &off[3])) != 0
        || (ret = strtab_add(t, a->shell, &off[4])) != 0)
        return ret;
    if (t->len - off[0] > UINT16_MAX)
        return -E2BIG; /* MAX_FIELD keeps it far below */
    p->block = off[0];
    p->block_len = (uint32_t) (t->len - off[0]);
    p->name_len = (uint16_t) (off[1] - off[0] - 1);
    p->gecos_at = (uint16_t) (off[2] - off[0]);
    p->dir_at = (uint16_t) (off[3] - off[0]);
    p->shell_at = (uint16_t) (off[4] - off[0]);
    /* After the block, not in it: NSS copies the block alone. */
    if (requester_problem(a->requester) != NULL)
        return -EINVAL;
    return strtab_put(t, a->requester, &p->requester);
}

static uint32_t
buckets_for(size_t n)
{
    uint32_t b = 1;

    while (b <= n * 2)
        b <<= 1;
    return b;
}

/* Put record `rec` into an index.  With `names` set, a record of the same
 * name on the probe chain is a duplicate. */
static int
index_put(uint32_t *idx, uint32_t buckets, uint32_t hash, uint32_t rec,
          const char *strtab, const struct jit_nssdb_passwd *pw)
{
    uint32_t mask = buckets - 1;

    for (uint32_t k = 0; k < buckets; k++) {
        uint32_t *e = &idx[(hash + k) & mask];

        if (*e == 0) {
            *e = rec + 1;
            return 0;
        }
        if (strtab != NULL
            && strcmp(strtab + pw[*e - 1].block, strtab + pw[rec].block) == 0)
            return -EEXIST;
    }
    return -EOVERFLOW; /* cannot happen: buckets > 2n */
}

int32_t
jit_nssdb_day_floor(int64_t t)
{
    if (t < 86400)
        return 1; /* 0 would tell pam_unix the password must change */
    return (int32_t) (t / 86400);
}

int32_t
jit_nssdb_day_ceil(int64_t t)
{
    if (t <= 0)
        return 1;
    return (int32_t) ((t + 86399) / 86400);
}

static int
check_account(const struct jit_nssdb_account *a, uint32_t id_min,
              uint32_t id_max)
{
    if (jit_name_check(a->name) != 0)
        return -EINVAL;
    /* Private group: gid = uid, so no two accounts can share a gid. */
    if (jit_id_check(a->uid, id_min, id_max) != 0 || a->gid != a->uid)
        return -EINVAL;
    if (a->dir == NULL || a->dir[0] != '/' || a->shell == NULL
        || a->shell[0] != '/')
        return -EINVAL;
    for (size_t k = 0; k < a->n_gids; k++)
        if (jit_nssdb_id_forbidden(a->gids[k]))
            return -EINVAL;
    return 0;
}

const char *
jit_nssdb_account_problem(const struct jit_nssdb_account *a, uint32_t id_min,
                          uint32_t id_max)
{
    const char *why;

    if (check_account(a, id_min, id_max) != 0)
        return "name, ids, home or shell out of the snapshot's rules";
    if (a->n_gids > JIT_MAX_GROUPS)
        return "too many groups";
    if ((why = requester_problem(a->requester)) != NULL)
        return why;
    if ((why = field_problem(a->name)) != NULL
        || (why = field_problem(a->gecos ? a->gecos : "")) != NULL
        || (why = field_problem(a->dir)) != NULL
        || (why = field_problem(a->shell)) != NULL)
        return why;
    return NULL;
}

static int
cmp_uid(const void *x, const void *y)
{
    const struct jit_nssdb_account *a = *(const struct jit_nssdb_account *const *) x;
    const struct jit_nssdb_account *b = *(const struct jit_nssdb_account *const *) y;

    return a->uid < b->uid ? -1 : a->uid > b->uid;
}

int
jit_nssdb_build(const struct jit_nssdb_account *accts, size_t n,
                uint32_t id_min, uint32_t id_max, uint64_t generation,
                int64_t now, struct jit_nssdb_image *img)
{
    const struct jit_nssdb_account **order = NULL;
    struct strtab st = { NULL, 0, 0 };
    struct jit_nssdb_passwd *pw = NULL;
    struct jit_nssdb_group *gr = NULL;
    struct jit_nssdb_shadow *sp = NULL;
    uint32_t *gids = NULL, *pwn, *pwu, *grn, *grg, *spn;
    unsigned char *data = NULL;
    struct jit_nssdb_header h;
    size_t total_gids = 0, off, total;
    uint32_t b, gi = 0, empty;
    int ret;

    img->data = NULL;
    img->len = 0;
    if (id_min < JIT_NSSDB_ID_FLOOR || id_max > JIT_NSSDB_ID_CEIL
        || id_min > id_max || n > id_max - id_min + 1u) {
        ret = -EINVAL;
        goto done;
    }
    order = calloc(n ? n : 1, sizeof(*order));
    pw = calloc(n ? n : 1, sizeof(*pw));
    gr = calloc(n ? n : 1, sizeof(*gr));
    sp = calloc(n ? n : 1, sizeof(*sp));
    if (order == NULL || pw == NULL || gr == NULL || sp == NULL) {
        ret = -ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        ret = check_account(&accts[i], id_min, id_max);
        if (ret != 0)
            goto done;
        if (accts[i].n_gids > JIT_MAX_GROUPS) {
            ret = -E2BIG;
            goto done;
        }
        total_gids += accts[i].n_gids;
        order[i] = &accts[i];
    }
    gids = calloc(total_gids ? total_gids : 1, sizeof(*gids));
    if (gids == NULL) {
        ret = -ENOMEM;
        goto done;
    }
    qsort(order, n, sizeof(*order), cmp_uid);

    for (size_t i = 0; i < n; i++) {
        const struct jit_nssdb_account *a = order[i];

        if (i > 0 && a->uid == order[i - 1]->uid) {
            ret = -EEXIST;
            goto done;
        }
        if ((ret = add_block(&st, a, &pw[i])) != 0)
            goto done;
        pw[i].uid = a->uid;
        pw[i].gid = a->gid;
        pw[i].gids_first = gi;
        pw[i].gids_count = (uint32_t) a->n_gids;
        pw[i].flags = a->live ? JIT_NSSDB_F_LIVE : 0;
        pw[i].ends = a->ends;
        if (a->n_gids > 0)
            memcpy(gids + gi, a->gids, a->n_gids * sizeof(*gids));
        gi += (uint32_t) a->n_gids;
        gr[i].name = pw[i].block;
        gr[i].gid = a->gid;
        sp[i].name = pw[i].block;
        sp[i].lstchg = jit_nssdb_day_floor(a->created);
        sp[i].min = sp[i].max = sp[i].warn = sp[i].inact = -1;
        sp[i].expire = jit_nssdb_day_ceil(a->expires);
    }
    /* The reader wants a non-empty table ending in NUL. */
    if (st.len == 0 && (ret = strtab_add(&st, "", &empty)) != 0)
        goto done;

    b = buckets_for(n);
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, JIT_NSSDB_MAGIC, sizeof(h.magic));
    h.version = JIT_NSSDB_VERSION;
    h.header_size = sizeof(h);
    h.generation = generation;
    h.created = now;
    h.id_min = id_min;
    h.id_max = id_max;
    h.n_passwd = h.n_group = h.n_shadow = (uint32_t) n;
    h.n_gids = (uint32_t) total_gids;
    h.pw_buckets = h.gr_buckets = h.sp_buckets = b;

    off = ALIGN8(sizeof(h));
    h.strtab_off = (uint32_t) off;
    h.strtab_len = (uint32_t) st.len;
    off = ALIGN8(off + st.len);
    h.passwd_off = (uint32_t) off;
    off = ALIGN8(off + n * sizeof(*pw));
    h.group_off = (uint32_t) off;
    off = ALIGN8(off + n * sizeof(*gr));
    h.shadow_off = (uint32_t) off;
    off = ALIGN8(off + n * sizeof(*sp));
    h.gids_off = (uint32_t) off;
    off = ALIGN8(off + total_gids * sizeof(uint32_t));
    h.pw_byname_off = (uint32_t) off;
    off = ALIGN8(off + (size_t) b * 4);
    h.pw_byuid_off = (uint32_t) off;
    off = ALIGN8(off + (size_t) b * 4);
    h.gr_byname_off = (uint32_t) off;
    off = ALIGN8(off + (size_t) b * 4);
    h.gr_bygid_off = (uint32_t) off;
    off = ALIGN8(off + (size_t) b * 4);
    h.sp_byname_off = (uint32_t) off;
    total = ALIGN8(off + (size_t) b * 4);
    if (total > JIT_NSSDB_MAX_SIZE) {
        ret = -EFBIG;
        goto done;
    }
    h.file_size = total;

    data = calloc(1, total);
    if (data == NULL) {
        ret = -ENOMEM;
        goto done;
    }
    memcpy(data + h.strtab_off, st.buf, st.len);
    memcpy(data + h.passwd_off, pw, n * sizeof(*pw));
    memcpy(data + h.group_off, gr, n * sizeof(*gr));
    memcpy(data + h.shadow_off, sp, n * sizeof(*sp));
    memcpy(data + h.gids_off, gids, total_gids * sizeof(*gids));
    pwn = (uint32_t *) (void *) (data + h.pw_byname_off);
    pwu = (uint32_t *) (void *) (data + h.pw_byuid_off);
    grn = (uint32_t *) (void *) (data + h.gr_byname_off);
    grg = (uint32_t *) (void *) (data + h.gr_bygid_off);
    spn = (uint32_t *) (void *) (data + h.sp_byname_off);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t hn = jit_nssdb_hash_name(st.buf + pw[i].block);

        /* The private group and shadow entry share the account's name
         * and id, so the duplicate check on passwd covers all five. */
        if ((ret = index_put(pwn, b, hn, i, st.buf, pw)) != 0
            || (ret = index_put(pwu, b, jit_nssdb_hash_id(pw[i].uid), i,
                                NULL, NULL)) != 0
            || (ret = index_put(grn, b, hn, i, NULL, NULL)) != 0
            || (ret = index_put(grg, b, jit_nssdb_hash_id(gr[i].gid), i,
                                NULL, NULL)) != 0
            || (ret = index_put(spn, b, hn, i, NULL, NULL)) != 0)
            goto done;
    }
    memcpy(data, &h, sizeof(h));
    h.checksum = jit_nssdb_checksum(data, total);
    memcpy(data, &h, sizeof(h));
    img->data = data;
    img->len = total;
    data = NULL;
    ret = 0;

done:
    free(data);
    free(gids);
    free(sp);
    free(gr);
    free(pw);
    free(st.buf);
    free(order);
    return ret;
}

void
jit_nssdb_image_free(struct jit_nssdb_image *img)
{
    free(img->data);
    img->data = NULL;
    img->len = 0;
}
