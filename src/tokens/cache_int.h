/* cache_int.h -- the layout of an am_token_cache, shared by the piece
 * loop that reads and fills it (encoding.c) and the encoding's own piece
 * memo with its batch side tables (memo.c). What the cache is for is said
 * at "Caller-owned token cache" in encoding.c.
 */
#ifndef AM_TOKENS_CACHE_INT_H
#define AM_TOKENS_CACHE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "agentmem/tokens.h"

#define TC_BYTES 44
#define TC_IDS 12

typedef struct tc_entry {
    uint8_t bytes[TC_BYTES];
    uint32_t ids[TC_IDS];
    uint8_t len;       /* 0: empty */
    uint8_t count;
    uint8_t has_ids;
    uint8_t pad;
} tc_entry;

struct am_token_cache {
    const am_allocator *alloc;
    const am_encoding *enc;
    tc_entry *e;
    size_t mask;
    size_t stores; /* entries written so far (the memo grows by it) */
    /* A batch's side table (the memo's, below) notes where it stored each
     * piece, its hash >> 40, so that the batch's end copies just those
     * into the memo: up to mask + 1 of them, then it stops noting (and
     * grows next time). NULL in every other cache. */
    uint32_t *log;
    size_t logged;
};

#endif
