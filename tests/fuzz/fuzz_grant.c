/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: grant JSON from the API (doc/design.md, threat B2),
 * as a single grant and as a host's grant list.  Anything accepted must
 * satisfy the rules the rest of the host relies on.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/grant.h"
#include "core/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(const struct jit_grant *g)
{
    if (jit_name_check(g->username) != 0 || g->expires_at <= g->not_before)
        abort();
    for (size_t i = 0; i < g->n_groups; i++)
        if (jit_group_problem(g->groups[i]) != NULL)
            abort();
    for (size_t i = 0; i < g->n_ssh_keys; i++)
        if (strpbrk(g->ssh_keys[i], "\n\r") != NULL)
            abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct jit_grant g;
    struct jit_grant_list l;
    char err[256];

    if (jit_grant_parse((const char *) data, size, &g, err, sizeof(err)) == 0) {
        check(&g);
        jit_grant_free(&g);
    }
    if (jit_grant_list_parse((const char *) data, size, &l, err,
                             sizeof(err)) == 0) {
        for (size_t i = 0; i < l.n; i++)
            check(&l.v[i]);
        /* Every refused entry has a key, and a valid id if any. */
        for (size_t i = 0; i < l.n_bad; i++)
            if (l.bad[i].key == NULL || l.bad[i].key[0] == '\0'
                || (l.bad[i].username != NULL
                    && jit_name_problem(l.bad[i].username) != NULL))
                __builtin_trap();
        jit_grant_list_free(&l);
    }
    return 0;
}
