/* SPDX-License-Identifier: MIT */
/*
 * The on-disk format of the NSS snapshot (nss.db), shared by the writer
 * (root code linking SQLite) and the reader (libnss_jit, libc only).
 *
 * The file is written whole into a temporary file and renamed into place;
 * it is never changed after the rename, so a reader that mapped it can use
 * it until it notices a newer file.  All integers are in host byte order
 * (the file never leaves the host that wrote it); the magic tells a file of
 * another byte order apart, and the reader rejects it.
 *
 * Layout (every section offset is 8-byte aligned and inside the file):
 *
 *   header                     struct jit_nssdb_header
 *   string table               NUL-terminated strings; the last byte is NUL,
 *                              so every offset inside it starts a C string;
 *                              each account's strings form one block
 *   passwd records             struct jit_nssdb_passwd[n_passwd], by uid
 *   group records              struct jit_nssdb_group[n_group]
 *   shadow records             struct jit_nssdb_shadow[n_shadow]
 *   supplementary gids         uint32_t[n_gids], referenced by passwd
 *   five hash indexes          uint32_t[buckets], value = record index + 1,
 *                              0 = empty, open addressing, linear probing:
 *                              passwd by name, passwd by uid, group by name,
 *                              group by gid, shadow by name
 *
 * Each passwd record also says whose the account is and until when it
 * stands (the grant's requester, its end, and whether the account is
 * live), for the krb5 localauth plugin (lib/krb5/localauth.h): the
 * requester is a string of the table outside the account's block, so
 * that NSS never copies it into a caller's buffer.
 *
 * The checksum covers the whole file with the checksum field read as 0.
 * It detects truncation and corruption; trust comes from the file's owner
 * and mode, which the reader checks before it maps anything.
 */
#ifndef JIT_NSSDB_FORMAT_H
#define JIT_NSSDB_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#pragma GCC visibility push(hidden)

#define JIT_NSSDB_MAGIC   "JITNSSDB"
/* 2: passwd records carry the requester, the end and the live flag.  A
 * reader refuses any other version (the whole file: every lookup says
 * "not found"), and the store re-derives the file at its next open. */
#define JIT_NSSDB_VERSION 2u
/* A snapshot is never bigger than this; it bounds every size computation. */
#define JIT_NSSDB_MAX_SIZE (1024u * 1024u * 1024u)
/* Names longer than this are never looked up (they cannot be ours). */
#define JIT_NSSDB_NAME_MAX 64u
/* A requester is at most this long (JIT_GRANT_REQUESTER_MAX). */
#define JIT_NSSDB_REQUESTER_MAX 256u
/* passwd flags: the account is reserved or active and its grant is
 * active and not revoked on this host; without it the account is ending
 * (its grant is revoked or over, or it is being torn down).  Any other
 * bit makes the file invalid. */
#define JIT_NSSDB_F_LIVE 0x1u
/* Hard bounds on the id range, whatever a header or config says: never
 * the system range, never where signed-int bugs live (uid > INT_MAX). */
#define JIT_NSSDB_ID_FLOOR 1000u
#define JIT_NSSDB_ID_CEIL 0x7fffffffu
/* Fixed fields of records that nss_jit serves. */
#define JIT_NSSDB_PASSWD_FIELD "x"
#define JIT_NSSDB_SHADOW_LOCKED "!*"

struct jit_nssdb_header {
    char magic[8];             /* JIT_NSSDB_MAGIC, no NUL */
    uint32_t version;          /* JIT_NSSDB_VERSION */
    uint32_t header_size;      /* sizeof(struct jit_nssdb_header) */
    uint64_t file_size;        /* exact size of the file */
    uint64_t generation;       /* state store generation this was derived from */
    uint64_t checksum;         /* jit_nssdb_checksum over the file */
    int64_t created;           /* seconds since the epoch, informational */
    uint32_t id_min, id_max;   /* every uid and private gid lies in here */
    uint32_t n_passwd, n_group, n_shadow, n_gids;
    uint32_t strtab_off, strtab_len;
    uint32_t passwd_off, group_off, shadow_off, gids_off;
    uint32_t pw_byname_off, pw_byuid_off, gr_byname_off, gr_bygid_off,
        sp_byname_off;
    uint32_t pw_buckets, gr_buckets, sp_buckets; /* powers of two */
    uint32_t reserved;         /* 0 */
};

/*
 * An account's strings sit together in the string table as one block,
 * "name\0x\0gecos\0dir\0shell\0", so that a hit is one copy into the
 * caller's buffer; `block` is also the offset of the name.
 */
struct jit_nssdb_passwd {
    uint32_t block, block_len;        /* string table offset and size */
    uint16_t name_len, gecos_at, dir_at, shell_at; /* within the block */
    uint32_t uid, gid;
    uint32_t gids_first, gids_count;  /* slice of the supplementary gids */
    uint32_t requester;               /* string table offset, not in block */
    uint32_t flags;                   /* JIT_NSSDB_F_* */
    int64_t ends;                     /* the earlier of the account's and
                                         its grant's end, epoch seconds */
};

struct jit_nssdb_group {
    uint32_t name; /* string table offset; private groups have no members */
    uint32_t gid;
};

struct jit_nssdb_shadow {
    uint32_t name;                   /* string table offset */
    int32_t lstchg, min, max, warn, inact, expire; /* days, -1 = unset */
};

/* Checksum of a snapshot image: header with checksum read as 0, then the
 * rest.  Not cryptographic; it catches truncation and bit rot. */
uint64_t jit_nssdb_checksum(const void *image, size_t len);

/* Bucket hashes, shared by writer and reader; inline because every
 * lookup runs one. */
static inline uint32_t
jit_nssdb_hash_name_bounded(const char *name, size_t max, size_t *len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    size_t n = 0;

    /* The length comes out of the same pass; it stops past max. */
    for (const unsigned char *p = (const unsigned char *) name; *p; p++) {
        if (++n > max)
            break;
        h = (h ^ *p) * 16777619u;
    }
    *len = n;
    return h;
}

static inline uint32_t
jit_nssdb_hash_name(const char *name)
{
    size_t len;

    return jit_nssdb_hash_name_bounded(name, SIZE_MAX, &len);
}

static inline uint32_t
jit_nssdb_hash_id(uint32_t id)
{
    /* Ids are handed out sequentially; spread them over the buckets. */
    id ^= id >> 16;
    id *= 0x7feb352du;
    id ^= id >> 15;
    id *= 0x846ca68bu;
    id ^= id >> 16;
    return id;
}

/* Ids that must never be served whatever the range says: root, the
 * overflow/nobody ids and (uid_t)-1, also after truncation to 16 bits. */
int jit_nssdb_id_forbidden(uint32_t id);

#pragma GCC visibility pop

#endif
