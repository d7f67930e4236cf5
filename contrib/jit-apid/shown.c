/* SPDX-License-Identifier: MIT */
/*
 * jit-apid and jit: people's text as people are shown it (shown.h).
 */
#include "config.h"

#include <string.h>

#include "shown.h"

/* The code point of the UTF-8 sequence at p and its length in *len, or
 * -1 (*len 1) for a byte that starts none: a stray continuation, an
 * overlong form, a surrogate, past U+10FFFF, or cut short. */
static long
utf8_at(const unsigned char *p, size_t *len)
{
    long c;
    size_t n;

    *len = 1;
    if (p[0] < 0x80)
        return p[0];
    if (p[0] >= 0xc2 && p[0] <= 0xdf)
        n = 2, c = p[0] & 0x1f;
    else if (p[0] >= 0xe0 && p[0] <= 0xef)
        n = 3, c = p[0] & 0x0f;
    else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        n = 4, c = p[0] & 0x07;
    else
        return -1;
    for (size_t k = 1; k < n; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return -1; /* the NUL that ends s stops here too */
        c = (c << 6) | (p[k] & 0x3f);
    }
    if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff))
        || (c >= 0xd800 && c <= 0xdfff))
        return -1;
    *len = n;
    return c;
}

/* What a person's screen or mail reader would act on, or not show: '?'
 * for controls, direction marks and overrides, invisible characters and
 * line breaks; ' ' for other spaces; 0 for what is shown as it is. */
static char
unshown(long c)
{
    if (c < 0 || c < 0x20 || (c >= 0x7f && c <= 0x9f))
        return '?'; /* not UTF-8; C0, DEL, C1 */
    if (c == 0x061c || (c >= 0x200e && c <= 0x200f)
        || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069))
        return '?'; /* bidirectional marks, embeddings, overrides, isolates */
    if (c == 0x2028 || c == 0x2029)
        return '?'; /* line and paragraph separators */
    /* Invisible: every format character (Unicode's Cf: zero widths,
     * joiners, soft hyphen, tags, BOM, Arabic and other number and
     * annotation marks, shorthand and musical format controls), the
     * variation selectors, the Hangul fillers and the combining
     * grapheme joiner: each can hide or change what a reader takes the
     * text to say. */
    if (c == 0x00ad || (c >= 0x0600 && c <= 0x0605) || c == 0x06dd
        || c == 0x070f || c == 0x08e2 || c == 0x180e
        || (c >= 0x200b && c <= 0x200d) || (c >= 0x2060 && c <= 0x2064)
        || (c >= 0x206a && c <= 0x206f) || c == 0xfeff
        || (c >= 0xfff9 && c <= 0xfffb) || c == 0x110bd || c == 0x110cd
        || (c >= 0x13430 && c <= 0x1343f) || (c >= 0x1bca0 && c <= 0x1bca3)
        || (c >= 0x1d173 && c <= 0x1d17a) || c == 0xe0001
        || (c >= 0xe0020 && c <= 0xe007f))
        return '?'; /* format characters (Cf) */
    if ((c >= 0xfe00 && c <= 0xfe0f) || (c >= 0xe0100 && c <= 0xe01ef))
        return '?'; /* variation selectors */
    if (c == 0x115f || c == 0x1160 || c == 0x3164 || c == 0xffa0
        || c == 0x034f)
        return '?'; /* Hangul fillers, combining grapheme joiner */
    if (c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a)
        || c == 0x202f || c == 0x205f || c == 0x3000)
        return ' '; /* the other space separators: a plain space */
    return 0;
}

size_t
apid_shown_text(const char *s, size_t max, char *out)
{
    const unsigned char *p = (const unsigned char *) s;
    size_t o = 0, cut = 0; /* cut: the last end of a character with room
                            * for "..." after it */

    if (max < 3) {
        out[0] = '\0';
        return 0;
    }
    while (*p != '\0') {
        size_t len;
        char r = unshown(utf8_at(p, &len));
        size_t w = r ? 1 : len;

        if (o + w > max) {
            memcpy(out + cut, "...", 3); /* cut at a character, and said so */
            o = cut + 3;
            break;
        }
        if (r)
            out[o] = r;
        else
            memcpy(out + o, p, len);
        o += w;
        if (o <= max - 3)
            cut = o;
        p += len;
    }
    out[o] = '\0';
    return o;
}
