/*
 * libFuzzer target: the NSS snapshot reader (doc/design.md, threat E4).
 * Any input is parsed as a snapshot image; if it is accepted, every
 * record is read through the same lookups and buffer filling that
 * libnss_jit does.  Any crash, out-of-bounds read or UB is a finding.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nss/nssdb_read.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct jit_nssdb db;
    void *image = NULL;

    /* The reader sees page-aligned mappings; give it an exact-size copy
     * so that ASan catches any read past the end. */
    if (posix_memalign(&image, 8, size ? size : 8) != 0)
        return 0;
    memcpy(image, data, size);
    if (jit_nssdb_parse(image, size, &db) == 0) {
        for (uint32_t i = 0; i < db.hdr.n_passwd; i++) {
            const struct jit_nssdb_passwd *p = &db.pw[i];
            const char *name = jit_nssdb_str(&db, p->block);
            char copy[65536];

            /* What a hit does: one copy of the block, then its fields. */
            memcpy(copy, db.strtab + p->block, p->block_len);
            (void) strlen(copy + p->name_len + 1);
            (void) strlen(copy + p->gecos_at);
            (void) strlen(copy + p->dir_at);
            (void) strlen(copy + p->shell_at);
            (void) jit_nssdb_pw_byname(&db, name);
            (void) jit_nssdb_pw_byuid(&db, p->uid);
            (void) jit_nssdb_gr_byname(&db, name);
            (void) jit_nssdb_sp_byname(&db, name);
            for (uint32_t k = 0; k < p->gids_count; k++)
                (void) db.gids[p->gids_first + k];
        }
        for (uint32_t i = 0; i < db.hdr.n_group; i++)
            (void) jit_nssdb_gr_bygid(&db, db.gr[i].gid);
        (void) jit_nssdb_pw_byname(&db, "root");
        (void) jit_nssdb_pw_byuid(&db, 0);
    }
    free(image);
    return 0;
}
