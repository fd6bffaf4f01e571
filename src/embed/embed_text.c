/* embed_text.c -- cutting text into the words the embedders and the
 * full-text search agree on (see embed_int.h).
 */
#include "embed_int.h"

void am__words(const char *s, size_t len,
               void (*fn)(const char *w, size_t n, void *ctx), void *ctx)
{
    char w[AM__WORD_MAX];
    size_t i = 0;
    while (i < len) {
        while (i < len && !am__word_byte((unsigned char)s[i]))
            i++;
        size_t n = 0, start = i;
        while (i < len && am__word_byte((unsigned char)s[i])) {
            if (n < sizeof w) {
                w[n++] = (char)am__ascii_lower((unsigned char)s[i]);
            }
            i++;
        }
        if (i > start) {
            /* Do not cut a UTF-8 sequence in the middle. */
            n = am__utf8_floor(w, n);
            if (n > 0)
                fn(w, n, ctx);
        }
    }
}

int am__words_contain(am_str text, const char *w, size_t n)
{
    size_t i = 0;
    while (i < text.len) {
        while (i < text.len && !am__word_byte((unsigned char)text.ptr[i]))
            i++;
        size_t st = i;
        while (i < text.len && am__word_byte((unsigned char)text.ptr[i]))
            i++;
        if (i - st == n) {
            size_t k = 0;
            while (k < n) {
                if ((char)am__ascii_lower(
                        (unsigned char)text.ptr[st + k]) != w[k])
                    break;
                k++;
            }
            if (k == n)
                return 1;
        }
    }
    return 0;
}
