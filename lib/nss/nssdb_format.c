/* SPDX-License-Identifier: MIT */
/*
 * The checksum and id rules of the NSS snapshot format (nssdb_format.h).
 * Links libc only: it is part of libnss_jit.
 */
#include "config.h"

#include <string.h>

#include "nss/nssdb_format.h"

#define CK_PRIME 0x100000001b3ULL
#define CK_SEED 0xcbf29ce484222325ULL

static uint64_t
mix_bytes(uint64_t h, const unsigned char *p, size_t len)
{
    uint64_t w;

    /* Eight bytes per step keeps a 20 MB snapshot well under 10 ms. */
    while (len >= 8) {
        memcpy(&w, p, 8);
        h = (h ^ w) * CK_PRIME;
        h ^= h >> 29;
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        h = (h ^ *p++) * CK_PRIME;
        len--;
    }
    return h;
}

uint64_t
jit_nssdb_checksum(const void *image, size_t len)
{
    struct jit_nssdb_header hdr;
    const unsigned char *p = image;
    uint64_t h = CK_SEED;

    if (len < sizeof(hdr))
        return mix_bytes(h, p, len);
    memcpy(&hdr, p, sizeof(hdr));
    hdr.checksum = 0;
    h = mix_bytes(h, (const unsigned char *) &hdr, sizeof(hdr));
    h = mix_bytes(h, p + sizeof(hdr), len - sizeof(hdr));
    return h ^ (uint64_t) len;
}

int
jit_nssdb_id_forbidden(uint32_t id)
{
    uint32_t low = id & 0xffffu;

    /* A 16-bit truncation of 65536 is root; of 131070 is nobody. */
    return id == 0 || id == UINT32_MAX || low == 0 || low == 0xfffeu
        || low == 0xffffu;
}
