/* SPDX-License-Identifier: MIT */
/*
 * The race of a check by path and a load by path (pam-backend.sh;
 * doc/design.md, F7), made certain: preloaded, it renames
 * $SWAP_SHIM_NEW over $SWAP_SHIM_PATH just before the first dlopen of
 * the login backend, after pam_jit.so has checked the file, as someone
 * who can write a directory higher up could.  What pam_jit.so then loads
 * must still be the file it checked.
 */
#include "config.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *dlopen(const char *file, int mode);

void *
dlopen(const char *file, int mode)
{
    static int done;
    void *(*real)(const char *, int) =
        (void *(*)(const char *, int)) dlsym(RTLD_NEXT, "dlopen");
    const char *path = getenv("SWAP_SHIM_PATH");
    const char *repl = getenv("SWAP_SHIM_NEW");

    if (!done && path != NULL && repl != NULL && file != NULL
        && (strncmp(file, "/proc/self/", 11) == 0
            || strstr(file, "pam_jit_login") != NULL)) {
        done = 1;
        if (rename(repl, path) != 0)
            perror("swap-shim: rename");
    }
    return real != NULL ? real(file, mode) : NULL;
}
