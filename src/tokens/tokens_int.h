/* tokens_int.h -- internals shared by the files of the tokens module. */
#ifndef AM_TOKENS_INT_H
#define AM_TOKENS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentmem/tokens.h"

/* ---- Character classes (pretok.c) ---- */

/* Class flags of a code point, as the tiktoken patterns see it. */
enum {
    AM__C_L = 1,   /* \p{L} */
    AM__C_N = 2,   /* \p{N} */
    AM__C_WS = 4,  /* \s, i.e. White_Space */
    AM__C_UP = 8,  /* [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] (o200k) */
    AM__C_LO = 16, /* [\p{Ll}\p{Lm}\p{Lo}\p{M}] (o200k) */
    AM__C_M = 32,  /* \p{M} */
    AM__C_NL = 64  /* \r or \n */
};

/* Decode the character at s[i] (i < len): its class flags, and its length
 * in *clen. A byte that does not start valid UTF-8 is a character of its
 * own with no class (a symbol). */
unsigned am__ucd_class_at(const uint8_t *s, size_t len, size_t i,
                          size_t *clen);
/* Class flags of a code point (0 above U+10FFFF). */
unsigned am__ucd_class(uint32_t cp);

/* ---- Pre-tokenizers (pretok.c) ---- */

typedef enum am__pat {
    AM__PAT_R50K, /* r50k_base and p50k_base (GPT-2 pattern) */
    AM__PAT_CL100K,
    AM__PAT_O200K
} am__pat;

/* End (exclusive) of the pre-token that starts at s[i], i < len. */
size_t am__pretok_next(am__pat pat, const uint8_t *s, size_t len, size_t i);

/* ---- Token caches (encoding.c), for batches (batch.c) ---- */

/* The encoding a cache belongs to, its number of entries, and how many
 * pieces it has stored. */
const am_encoding *am__token_cache_encoding(const am_token_cache *c);
size_t am__token_cache_entries(const am_token_cache *c);
size_t am__token_cache_stores(const am_token_cache *c);

/* am_encoding_encode (out != NULL) or am_encoding_count (count != NULL)
 * over the caches given, never taking the piece memo, for the threads of
 * a batch: `cache` (NULL: a per-call cache; opts->cache is not read) and
 * `frozen`, a memo the batch holds and no thread writes (NULL: none),
 * looked up first. */
am_status am__encoding_run(const am_encoding *enc, am_str text,
                           const am_encode_opts *opts,
                           const am_token_cache *frozen,
                           am_token_cache *cache, am_tokens *out,
                           size_t *count, am_error *err);

/* The encoding's piece memo: one table behind a try-lock. Take it for work
 * on `len` bytes (grown first toward one entry per 32 bytes): its table,
 * or NULL (memo off, held by another thread, no memory for it). Never
 * waits. A non-NULL result is the caller's until it calls
 * am__memo_release(enc) on the same thread, which may grow the table for
 * next time. */
am_token_cache *am__memo_take(const am_encoding *enc, size_t len);
void am__memo_release(const am_encoding *enc);
/* A batch on several threads, holding the memo, freezes it (no thread
 * writes it) and gives thread k < AM__MEMO_SIDES the memo's side table k
 * (made on first use, kept; NULL without memory), where that thread's new
 * pieces go. Once the threads are joined, am__memo_merge_sides copies
 * what they stored into the memo (and grows a side that overflowed); then
 * the batch releases the memo. Threads beyond AM__MEMO_SIDES read the
 * frozen memo and keep nothing. */
#define AM__MEMO_SIDES 2
/* While holding the memo: whether no call has stored anything in it yet
 * (a batch then fills it from the calling thread instead of freezing it,
 * the other threads using their sides). */
bool am__memo_empty(const am_encoding *enc);
am_token_cache *am__memo_side(const am_encoding *enc, size_t k,
                              size_t len);
void am__memo_merge_sides(const am_encoding *enc);

/* ---- Batches (batch.c) ---- */

/* How many texts a thread claims at once when `left` texts of a batch are
 * unclaimed and `threads` threads share it: a shrinking share, at least 1,
 * so that the threads finish within about one text of each other. */
size_t am__batch_claim(size_t left, size_t threads);
/* How many threads a batch of `count` texts and `bytes` bytes uses when
 * the caller asked for `threads` (>= 1): no more than there are texts, and
 * no more than one per 64 KB of text beyond the first. */
size_t am__batch_threads(size_t threads, size_t count, size_t bytes);

/* ---- Binary cache of the tables (rank_table.c) ---- */

/* The checksum of the cache's payload: chained over the sections in file
 * order, starting from AM__CACHE_SUM_SEED. Exposed for the tests that
 * build damaged caches with a valid checksum. */
#define AM__CACHE_SUM_SEED 0x6a09e667f3bcc908ull
uint64_t am__tokens_cache_sum(const void *p, size_t len, uint64_t seed);

#endif
