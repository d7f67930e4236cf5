/* SPDX-License-Identifier: MIT */
/*
 * Escaping of untrusted text (see escape.h).  Bytes >= 0x80 are escaped
 * too: a log line stays plain ASCII, and no multi-byte sequence can hide
 * a control character from whoever reads it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "core/escape.h"

char *
jit_escape(const char *s)
{
    static const char hex[] = "0123456789abcdef";
    size_t n;
    char *out, *o;

    if (s == NULL)
        return NULL;
    n = strlen(s);
    out = malloc(n * 4 + 1);
    if (out == NULL)
        return NULL;
    o = out;
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        if (*p == '\\' || *p == '"') {
            *o++ = '\\';
            *o++ = (char) *p;
        } else if (*p == '\n' || *p == '\r' || *p == '\t') {
            *o++ = '\\';
            *o++ = *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't';
        } else if (*p < 0x20 || *p >= 0x7f) {
            *o++ = '\\';
            *o++ = 'x';
            *o++ = hex[*p >> 4];
            *o++ = hex[*p & 15];
        } else {
            *o++ = (char) *p;
        }
    }
    *o = '\0';
    return out;
}
