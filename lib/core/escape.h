/* SPDX-License-Identifier: MIT */
/*
 * Escaping of untrusted text (requester, reason, names from the API) for
 * terminals and key=value log lines: nothing a grant says can start a new
 * line, move the cursor or forge a field.
 */
#ifndef JIT_ESCAPE_H
#define JIT_ESCAPE_H

#pragma GCC visibility push(hidden)

/* A new string in which '\\' and '"' are backslash-escaped, \n \r \t are
 * written as such, and every other byte below 0x20 or 0x7f and above as
 * \xNN.  NULL on allocation failure (or NULL input). */
char *jit_escape(const char *s);

#pragma GCC visibility pop

#endif
