/*
 * text: what Signet accepts as text that people will read - names in
 * certificates, identities, key and token labels. Such text must not be
 * able to look like something else: it is well-formed UTF-8 with no
 * control, format (bidi overrides, zero-width marks), separator, private
 * use or noncharacter code points.
 */
#ifndef SN_TEXT_H
#define SN_TEXT_H

#include <stddef.h>

/* Why a text was refused, for an error message; never quotes the text. */
enum sn_text_fault {
    SN_TEXT_OK = 0,
    SN_TEXT_EMPTY,
    SN_TEXT_TOO_LONG,
    SN_TEXT_BAD_UTF8,
    SN_TEXT_CONTROL,   /* C0/C1 controls, line/paragraph separators */
    SN_TEXT_INVISIBLE, /* format characters: bidi, zero-width, fillers */
    SN_TEXT_PRIVATE,   /* private use and noncharacters */
    SN_TEXT_SPACING    /* leading/trailing/double or non-ASCII spaces */
};

/*
 * Checks s[0..len) as displayable text of 1..max_chars code points.
 * strict_spacing also refuses leading, trailing or repeated spaces and
 * any space other than U+0020 (names that differ only in spacing).
 */
enum sn_text_fault sn_text_check(const char *s, size_t len, size_t max_chars,
                                 int strict_spacing);

/* A short English phrase for a fault ("contains a control character"). */
const char *sn_text_fault_str(enum sn_text_fault f);

/*
 * Decodes one code point of well-formed UTF-8 at s[*i], len bytes in all;
 * advances *i. Returns -1 on malformed input (overlong, surrogate, past
 * U+10FFFF, truncated).
 */
long sn_utf8_next(const char *s, size_t len, size_t *i);

#endif
