/* SPDX-License-Identifier: MIT */
/*
 * jit-apid and jit: people's text as people are shown it, one rule for
 * the server's mails and views and the client's terminal.  libc only.
 */
#ifndef JIT_APID_SHOWN_H
#define JIT_APID_SHOWN_H

#include <stddef.h>

/* A host's or a person's text as people are shown it (jit show, a mail;
 * doc/design.md, S25): C0, DEL and C1 controls, bidirectional marks,
 * embeddings, overrides and isolates (U+061C, U+200E-U+200F,
 * U+202A-U+202E, U+2066-U+2069), line and paragraph separators,
 * invisible characters (every format character, Unicode's Cf: zero
 * widths, joiners, soft hyphen, BOM, tags...; variation selectors,
 * Hangul fillers, U+034F) and bytes that are not UTF-8 become '?',
 * other space separators a plain space; at most max bytes (max >= 3) into out (max + 1), cut at a
 * character boundary and ended with "..." if it was cut.  Its length. */
size_t apid_shown_text(const char *s, size_t max, char *out);

#endif
