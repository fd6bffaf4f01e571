/* embed_int.h -- the word and vector primitives of the embedders (not
 * installed).
 *
 * The built-in embedders (embed_hash.c, embed_words.c) cut text into words
 * and normalize vectors with these; the store uses the same functions for
 * its full-text queries and its exact vector search, so that a query and
 * the items it is compared with are cut and scaled the same way. They are
 * the one internal header another module includes: the store depends on
 * the embedders, never the other way round.
 */
#ifndef AM_EMBED_INT_H
#define AM_EMBED_INT_H

#include <stddef.h>

#include "agentmem/embed.h"
#include "core/core.h"

/* The longest word am__words hands out, in bytes (longer words are cut,
 * on a UTF-8 character boundary). */
#define AM__WORD_MAX 64

/* Is `c` part of a word: ASCII letters and digits, and every non-ASCII
 * byte (so words of any script stay whole). */
static inline int am__word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c >= 0x80;
}

/* Lowercased word tokens of UTF-8 text: runs of am__word_byte bytes, ASCII
 * letters lower-cased, cut to AM__WORD_MAX bytes; calls fn(word, len, ctx)
 * for each (the word is only valid during the call). */
void am__words(const char *s, size_t len,
               void (*fn)(const char *w, size_t n, void *ctx), void *ctx);

/* Is `w` (n bytes, as am__words hands it out) one of the words of `text`? */
int am__words_contain(am_str text, const char *w, size_t n);

/* Dot product of two `dim`-float vectors (eight independent accumulators,
 * so the compiler keeps SIMD lanes busy). */
float am__vec_dot(const float *a, const float *b, size_t dim);

/* Scale `v` to unit length; a zero vector stays zero. */
void am__vec_normalize(float *v, size_t dim);

#endif
