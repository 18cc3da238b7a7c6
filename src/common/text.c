/*
 * text: displayable-text rules (text.h). The code point classes are those
 * of Unicode 15 (General_Category Cc, Cf, Zl, Zp, Co, Zs and the
 * noncharacters); the tables are short because those classes are.
 */
#include "common/text.h"

#include <stdint.h>

struct range {
    uint32_t lo, hi;
};

/* Cf (format) and the invisible Hangul fillers: bidi controls, zero-width
 * joiners and spaces, word joiner, BOM, tag characters. */
static const struct range invisible[] = {
    {0x00ad, 0x00ad},   {0x034f, 0x034f},   {0x061c, 0x061c},
    {0x0600, 0x0605},   {0x06dd, 0x06dd},   {0x070f, 0x070f},
    {0x0890, 0x0891},   {0x08e2, 0x08e2},   {0x115f, 0x1160},
    {0x17b4, 0x17b5},   {0x180b, 0x180f},   {0x200b, 0x200f},
    {0x202a, 0x202e},   {0x2060, 0x206f},   {0x3164, 0x3164},
    {0xfe00, 0xfe0f},   {0xfeff, 0xfeff},   {0xffa0, 0xffa0},
    {0xfff9, 0xfffb},   {0x110bd, 0x110bd}, {0x110cd, 0x110cd},
    {0x13430, 0x1343f}, {0x1bca0, 0x1bca3}, {0x1d173, 0x1d17a},
    {0xe0000, 0xe0fff},
};

/* Zs other than U+0020: spaces that look like one but are not. */
static const struct range odd_space[] = {
    {0x00a0, 0x00a0}, {0x1680, 0x1680}, {0x2000, 0x200a},
    {0x202f, 0x202f}, {0x205f, 0x205f}, {0x3000, 0x3000},
};

static int
in(const struct range *r, size_t n, uint32_t cp)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (cp >= r[i].lo && cp <= r[i].hi)
            return 1;
    return 0;
}

long
sn_utf8_next(const char *s, size_t len, size_t *i)
{
    const unsigned char *p = (const unsigned char *)s + *i;
    size_t left = len - *i, n, k;
    unsigned long cp;

    if (left == 0)
        return -1;
    if (p[0] < 0x80) {
        *i += 1;
        return p[0];
    }
    if (p[0] >= 0xc2 && p[0] <= 0xdf) {
        n = 1;
        cp = p[0] & 0x1f;
    } else if (p[0] >= 0xe0 && p[0] <= 0xef) {
        n = 2;
        cp = p[0] & 0x0f;
    } else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
        n = 3;
        cp = p[0] & 0x07;
    } else {
        return -1;
    }
    if (left - 1 < n)
        return -1;
    for (k = 1; k <= n; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return -1;
        cp = cp << 6 | (p[k] & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    *i += n + 1;
    return (long)cp;
}

enum sn_text_fault
sn_text_check(const char *s, size_t len, size_t max_chars, int strict_spacing)
{
    size_t i = 0, chars = 0;
    long cp, prev = ' ';

    if (s == NULL || len == 0)
        return SN_TEXT_EMPTY;
    while (i < len) {
        if ((cp = sn_utf8_next(s, len, &i)) < 0)
            return SN_TEXT_BAD_UTF8;
        if (++chars > max_chars)
            return SN_TEXT_TOO_LONG;
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 ||
            cp == 0x2029)
            return SN_TEXT_CONTROL;
        if (in(invisible, sizeof(invisible) / sizeof(invisible[0]),
               (uint32_t)cp))
            return SN_TEXT_INVISIBLE;
        if ((cp >= 0xe000 && cp <= 0xf8ff) || cp >= 0xf0000 ||
            (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) == 0xfffe)
            return SN_TEXT_PRIVATE;
        if (strict_spacing &&
            ((cp == ' ' && prev == ' ') ||
             in(odd_space, sizeof(odd_space) / sizeof(odd_space[0]),
                (uint32_t)cp)))
            return SN_TEXT_SPACING;
        prev = cp;
    }
    if (strict_spacing && prev == ' ')
        return SN_TEXT_SPACING;
    return SN_TEXT_OK;
}

const char *
sn_text_fault_str(enum sn_text_fault f)
{
    switch (f) {
    case SN_TEXT_OK:
        return "is valid";
    case SN_TEXT_EMPTY:
        return "is empty";
    case SN_TEXT_TOO_LONG:
        return "is too long";
    case SN_TEXT_BAD_UTF8:
        return "is not well-formed UTF-8";
    case SN_TEXT_CONTROL:
        return "contains a control or line-separator character";
    case SN_TEXT_INVISIBLE:
        return "contains an invisible or bidirectional formatting character";
    case SN_TEXT_PRIVATE:
        return "contains a private-use or noncharacter code point";
    case SN_TEXT_SPACING:
        return "has leading, trailing, repeated or non-standard spaces";
    }
    return "is not valid text";
}
