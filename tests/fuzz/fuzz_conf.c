/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the jit.conf parser and the PAM argument parser.
 * The input is parsed as a file; then its lines are given as PAM
 * arguments; the result is checked and printed as check-config would.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct jit_errs errs = { NULL, 0 };
    struct jit_conf c;
    const char *argv[64];
    char *copy;
    int argc = 0;
    FILE *devnull;

    if (jit_conf_init(&c) != 0)
        return 0;
    jit_conf_parse_buffer(&c, "fuzz", (const char *) data, size, &errs);

    copy = malloc(size + 1);
    if (copy != NULL) {
        memcpy(copy, data, size);
        copy[size] = '\0';
        for (char *save = NULL, *tok = strtok_r(copy, "\n", &save);
             tok && argc < 64; tok = strtok_r(NULL, "\n", &save))
            argv[argc++] = tok;
        jit_conf_apply_args(&c, argc, argv, &errs);
    }
    jit_conf_finish(&c, "fuzz", &errs);
    devnull = fopen("/dev/null", "w");
    if (devnull != NULL) {
        jit_conf_print(&c, devnull);
        jit_errs_print(&errs, devnull);
        fclose(devnull);
    }
    free(copy);
    jit_errs_free(&errs);
    jit_conf_free(&c);
    return 0;
}
