/* SPDX-License-Identifier: MIT */
/*
 * Validation of what becomes an identity on this host: local account
 * names and numeric ids, and the strict number parsing that every
 * security-relevant number goes through (never atoi, never strtoul alone).
 */
#ifndef JIT_VALIDATE_H
#define JIT_VALIDATE_H

#include <stdint.h>

#pragma GCC visibility push(hidden)

/* utmp's ut_user is 32 bytes; longer names are truncated by some tools. */
#define JIT_NAME_MAX 32
/* Supplementary groups one grant may give. */
#define JIT_MAX_GROUPS 64
/* A DNS name: at most 253 bytes (RFC 1035, without the final dot). */
#define JIT_HOST_MAX 253

/* NULL if name may be a pam-jit account name, else why not (a constant
 * string suitable for an error message or an audit reason). */
const char *jit_name_problem(const char *name);
/* 0 or -EINVAL. */
int jit_name_check(const char *name);

/* NULL if id may be given to an account in [min, max], else why not. */
const char *jit_id_problem(uint32_t id, uint32_t min, uint32_t max);
int jit_id_check(uint32_t id, uint32_t min, uint32_t max);

/* NULL if v may name a supplementary group (an existing group of this
 * host, so the account-name reservations do not apply; root never). */
const char *jit_group_problem(const char *v);
/* NULL if v is a DNS host name (letters, digits, '-', '.'). */
const char *jit_host_problem(const char *v);
/* NULL if v is an absolute path with no '.' or '..' component and no
 * '//': what it names is what it seems to name. */
const char *jit_path_normal_problem(const char *v);

/* Plain decimal only: no sign, no blanks, no leading zeros, no hex or
 * exponent, no wraparound.  Returns 0, -EINVAL (not a number) or -ERANGE
 * (outside [min, max]). */
int jit_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out);

#pragma GCC visibility pop

#endif
