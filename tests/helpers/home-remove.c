/* SPDX-License-Identifier: MIT */
/*
 * home-remove BASE NAME RUNS: remove <BASE>/<NAME> with jit_home_remove,
 * RUNS times, the tree rebuilt by the caller's swapper between them is
 * not ours to know: we only report how many removals succeeded.  Used by
 * tests/integration/home-remove-race.sh.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/home.h"

int
main(int argc, char **argv)
{
    char err[512];
    int r;

    if (argc != 3) {
        fprintf(stderr, "usage: home-remove BASE NAME\n");
        return 2;
    }
    r = jit_home_remove(argv[1], argv[2], err, sizeof(err));
    if (r != 0)
        printf("refused: %s\n", err);
    return r == 0 ? 0 : 1;
}
