/* utf8.c -- UTF-8 validation on the hot path.
 *
 * Hand-written rather than utf8proc_iterate per code point because every
 * message, key and file passes through here: ASCII runs are skipped eight
 * bytes at a time, and only multi-byte sequences take the careful path that
 * rejects overlongs, surrogates and code points above U+10FFFF.
 */
#include <string.h>

#include "core.h"

bool am__utf8_valid(const char *str, size_t len, size_t *bad_offset)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;

    while (i < len) {
        unsigned c;
        size_t n;
        unsigned lo = 0x80, hi = 0xBF;

        if (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if ((w & 0x8080808080808080ull) == 0) {
                i += 8;
                continue;
            }
        }
        c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            if (c == 0xE0)
                lo = 0xA0; /* overlong */
            else if (c == 0xED)
                hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            if (c == 0xF0)
                lo = 0x90; /* overlong */
            else if (c == 0xF4)
                hi = 0x8F; /* above U+10FFFF */
        } else {
            goto bad;
        }
        if (n >= len - i) /* truncated sequence */
            goto bad;
        if (s[i + 1] < lo || s[i + 1] > hi)
            goto bad;
        for (size_t k = 2; k <= n; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                goto bad;
        i += n + 1;
    }
    return true;
bad:
    if (bad_offset != NULL)
        *bad_offset = i;
    return false;
}

size_t am__utf8_count(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

size_t am__utf8_floor(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = len;
    size_t back = 0;

    if (len == 0)
        return 0;
    /* Step back over at most three continuation bytes to the lead byte. */
    while (i > 0 && back < 4 && (s[i - 1] & 0xC0) == 0x80) {
        i--;
        back++;
    }
    if (i == 0)
        return 0;
    {
        unsigned c = s[i - 1];
        size_t want = c < 0x80 ? 0 : c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
        if (c >= 0x80 && c < 0xC0)
            return i - 1; /* stray continuation: cut before it */
        return back == want ? len : i - 1;
    }
}
