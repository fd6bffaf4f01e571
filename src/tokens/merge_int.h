/* merge_int.h -- what encoding.c and the long-piece merge (merge_heap.c)
 * share: where a piece's tokens go, and the merge itself.
 *
 * emit() is on the hot path of every piece, so it stays static inline here
 * rather than a call into another file. Internal to src/tokens/.
 */
#ifndef AM_TOKENS_MERGE_INT_H
#define AM_TOKENS_MERGE_INT_H

#include "tokens/bpe_int.h"

/* Where a piece's tokens go: appended to `toks` when it is not NULL, else
 * only counted. */
typedef struct sink {
    am_tokens *toks;
    size_t count;
    size_t base; /* toks->count on entry, to roll back on failure */
    struct am_token_cache *cache; /* caller's cache, or NULL */
    /* A batch's frozen piece memo, read before `cache` and never written
     * (see encode_cached in encoding.c), or NULL. */
    const struct am_token_cache *frozen;
} sink;

static inline am_status emit(sink *k, uint32_t id)
{
    if (k->toks != NULL) {
        am_tokens *t = k->toks;
        if (t->count == t->cap) {
            am_status st = am__grow(t->alloc, (void **)&t->ids, &t->cap,
                                    t->count + 1, sizeof(uint32_t));
            if (st != AM_OK)
                return st;
        }
        t->ids[t->count++] = id;
    }
    k->count++;
    return AM_OK;
}

/* Byte-pair merging of a piece of any length in O(n log n) (a heap of
 * candidate pairs), the same ids as tiktoken's loop; encoding.c uses it for
 * pieces too long for its vector scans and for vocabularies too large for
 * their keys. Its tokens go to `k`. Errors: AM_ENOMEM (k's output is then
 * the caller's to roll back, as for every merge). */
am_status am__merge_large(const am_encoding *enc, const uint8_t *p, size_t n,
                          sink *k);

#endif
