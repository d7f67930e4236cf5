/* SPDX-License-Identifier: MIT */
/*
 * The bounds of a password (kpass.h), apart from Kerberos: the auth step
 * checks them before it loads anything that talks to a KDC.
 */
#include "config.h"

#include <string.h>

#include "core/kpass.h"

const char *
jit_password_problem(const char *pw)
{
    size_t n = strnlen(pw, JIT_PASSWORD_MAX + 1);

    if (n == 0)
        return "password_empty";
    if (n > JIT_PASSWORD_MAX)
        return "password_too_long";
    return NULL;
}
