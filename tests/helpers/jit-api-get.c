/* SPDX-License-Identifier: MIT */
/*
 * jit-api-get: one call of the API client, for the test suite.
 *
 *   jit-api-get --config FILE get USER
 *   jit-api-get --config FILE list [ETAG] [WAIT]
 *
 * Prints "ok ...", "not_found", "not_modified" or "fault reason=R detail=D"
 * and exits 0, 1, 1 or 2.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/api.h"
#include "core/conf.h"
#include "core/validate.h"

int
main(int argc, char **argv)
{
    struct jit_errs errs = { NULL, 0 };
    struct jit_api_error err;
    enum jit_api_status st;
    struct jit_conf conf;
    int ret = 2;

    if (argc < 4 || strcmp(argv[1], "--config") != 0) {
        fprintf(stderr, "usage: jit-api-get --config FILE get USER | list "
                        "[ETAG] [WAIT]\n");
        return 64;
    }
    if (jit_conf_init(&conf) != 0)
        return 70;
    if (jit_conf_load_file(&conf, argv[2], &errs) == 0)
        jit_conf_finish(&conf, argv[2], &errs);
    if (errs.n > 0) {
        jit_errs_print(&errs, stderr);
        return 64;
    }
    if (strcmp(argv[3], "get") == 0 && argc == 5) {
        struct jit_grant g;

        st = jit_api_get_grant(&conf, argv[4], &g, &err);
        if (st == JIT_API_OK) {
            printf("ok id=%s username=%s groups=%zu keys=%zu\n", g.id,
                   g.username, g.n_groups, g.n_ssh_keys);
            ret = 0;
        }
        jit_grant_free(&g);
    } else if (strcmp(argv[3], "list") == 0) {
        uint32_t wait = 0;
        struct jit_grant_list l;
        char *etag;

        if (argc > 5 && jit_parse_u32(argv[5], 0, 60, &wait) != 0)
            return 64;
        st = jit_api_list_grants(&conf, argc > 4 && argv[4][0] ? argv[4]
                                                              : NULL,
                                 wait, &l, &etag, &err);
        if (st == JIT_API_OK) {
            printf("ok n=%zu etag=%s\n", l.n, etag ? etag : "");
            ret = 0;
        }
        jit_grant_list_free(&l);
        free(etag);
    } else {
        return 64;
    }
    if (st == JIT_API_NOT_FOUND) {
        printf("not_found\n");
        ret = 1;
    } else if (st == JIT_API_NOT_MODIFIED) {
        printf("not_modified\n");
        ret = 1;
    } else if (st == JIT_API_FAULT) {
        printf("fault reason=%s detail=%s\n", err.reason, err.detail);
    }
    jit_conf_free(&conf);
    return ret;
}
