/*
 * libFuzzer target: grant JSON from the API (threat B2), as a single
 * grant and as a host's grant list.  Anything accepted must satisfy the
 * rules the rest of the host relies on.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grant.h"
#include "validate.h"

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
    struct jit_grant g, *v;
    char err[256];
    size_t n;

    if (jit_grant_parse((const char *) data, size, &g, err, sizeof(err)) == 0) {
        check(&g);
        jit_grant_free(&g);
    }
    if (jit_grant_list_parse((const char *) data, size, &v, &n, err,
                             sizeof(err)) == 0) {
        for (size_t i = 0; i < n; i++)
            check(&v[i]);
        jit_grants_free(v, n);
    }
    return 0;
}
