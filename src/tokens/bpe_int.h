/* bpe_int.h -- the rank table shared by rank_table.c and encoding.c.
 *
 * The struct of an encoding and the hot lookup path: hashing of token
 * bytes, the filter and the slot probe, as static inline functions so that
 * the merge loop in encoding.c inlines them. Internal to src/tokens/.
 */
#ifndef AM_TOKENS_BPE_INT_H
#define AM_TOKENS_BPE_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/core.h"
#include "tokens/tokens_int.h"

#define SMALL_PIECE 256
#define NO_RANK UINT32_MAX
#define MAX_SPECIALS 8

typedef struct special {
    const char *text;
    uint32_t len;
    uint32_t id;
} special;

typedef struct encoding_def {
    const char *name;
    am__pat pat;
    size_t nspecials;
    special specials[MAX_SPECIALS];
} encoding_def;

/* The vector merges (encoding.c) have a second build for AVX2 on x86-64
 * with gcc or clang, used where the CPU has it. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define AM_TOKENS_AVX2 1
#else
#define AM_TOKENS_AVX2 0
#endif

/* Whether this CPU (and OS) can run the AVX2 build of the merges; false
 * where there is none. am_encoding_create stores the answer in the
 * encoding (merge_avx2). Thread safety: safe. */
bool am__merge_avx2_usable(void);

struct am_encoding {
    const am_allocator *alloc;
    const encoding_def *def;
    uint32_t nranks;     /* ranks are 0 .. nranks-1 (gaps have len 0) */
    uint8_t *blob;       /* token bytes, concatenated in rank order */
    size_t blob_len;
    uint32_t *off;       /* nranks + 1 offsets into blob */
    struct slot *slots;  /* open-addressing hash table of the tokens */
    size_t mask;
    uint32_t byte_rank[256];
    uint32_t *pair_rank; /* 65536 ranks of the 2-byte tokens (or NO_RANK) */
    uint64_t *filter;    /* FILTER_BITS-bit filter of token hashes */
    bool merge_avx2;     /* the vector merges' AVX2 builds (encoding.c) */
    size_t vocab_size;
    /* When the tables were mapped from the binary cache (rank_table.c),
     * off, blob, slots, filter and pair_rank point into this read-only
     * mapping instead of owning memory. */
    void *map;
    size_t map_len;
    /* The piece memo kept across calls (encoding.c), or NULL when it is
     * off. Calls change what it points to under its own lock; the struct
     * above stays immutable. */
    struct enc_memo *memo;
};

/* The piece memo (encoding.c): am__memo_open checks the options and sets
 * up the lock (the table comes with the first call that uses it);
 * am__memo_close frees both (NULL memo: no-op). */
am_status am__memo_open(am_encoding *enc, const am_encoding_opts *o,
                        am_error *err);
void am__memo_close(am_encoding *enc);


/* ---- Hashing of token bytes ---- */

/* A slot of the rank table. `head` is the token's first 8 bytes (zero
 * padded, little-endian order), so that tokens of up to 8 bytes -- nearly
 * every lookup the merge loop makes -- are compared inside the slot with
 * no second memory access. len == 0 marks an empty slot. */
typedef struct slot {
    uint64_t head;
    uint32_t rank;
    uint32_t len;
} slot;

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static inline uint32_t load32(const uint8_t *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

/* The first min(n, 8) bytes of p as a zero-padded little-endian word,
 * reading only [p, p+n). Overlapping loads put equal bytes at equal
 * positions, so or-ing them is exact. (The project targets little-endian
 * machines; on a big-endian one the value differs but stays consistent,
 * since tables and lookups use the same function.) */
static inline uint64_t load_head(const uint8_t *p, size_t n)
{
    if (n >= 8)
        return load64(p);
    if (n >= 4)
        return (uint64_t)load32(p) |
               ((uint64_t)load32(p + n - 4) << (8 * (n - 4)));
    if (n == 0)
        return 0;
    return (uint64_t)p[0] | ((uint64_t)p[n / 2] << (8 * (n / 2))) |
           ((uint64_t)p[n - 1] << (8 * (n - 1)));
}

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    x ^= x >> 32;
    return x;
}

/* hash_bytes of n <= 8 bytes whose load_head() is `head`. */
static inline uint64_t hash_head(uint64_t head, size_t n)
{
    return mix64((head ^ (n << 59)) * 0x9E3779B97F4A7C15ull);
}

static inline uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h;
    size_t i;

    if (n <= 8)
        return hash_head(load_head(p, n), n);
    h = n * 0xff51afd7ed558ccdull;
    for (i = 0; i + 8 <= n; i += 8)
        h = (h ^ load64(p + i)) * 0x9E3779B97F4A7C15ull;
    if (i < n)
        h = (h ^ load64(p + n - 8)) * 0xbf58476d1ce4e5b9ull;
    return mix64(h);
}

/* Equal bytes, for short strings without a libc call. */
static inline bool same_bytes(const uint8_t *a, const uint8_t *b, size_t n)
{
    size_t i;
    if (n < 8)
        return load_head(a, n) == load_head(b, n);
    for (i = 0; i + 8 <= n; i += 8)
        if (load64(a + i) != load64(b + i))
            return false;
    return i == n || load64(a + n - 8) == load64(b + n - 8);
}

/* The merge loop asks mostly about byte strings that are not tokens. A
 * 256 KB bit filter over the token hashes (one bit each, from hash bits
 * the table index does not use) answers most of those from the CPU cache
 * instead of the 8 MB table. */
#define FILTER_LOG2 21
#define FILTER_BITS (1u << FILTER_LOG2)
/* Word index from the top hash bits, bit index from the six below. */
#define FILTER_WORD(h) ((h) >> (64 - (FILTER_LOG2 - 6)))
#define FILTER_BIT(h) (((h) >> (58 - (FILTER_LOG2 - 6))) & 63)

static inline bool filter_has(const uint64_t *f, uint64_t h)
{
    return (f[FILTER_WORD(h)] >> FILTER_BIT(h)) & 1;
}

/* The table probe proper, for a hash that passed the filter, given the
 * bytes' load_head(). */
static inline uint32_t probe_head(const am_encoding *enc, const uint8_t *p,
                                  size_t n, uint64_t h, uint64_t head)
{
    size_t i = (size_t)h & enc->mask;

    for (;;) {
        const slot *sl = &enc->slots[i];
        if (sl->len == n && sl->head == head &&
            (n <= 8 || same_bytes(enc->blob + enc->off[sl->rank] + 8, p + 8,
                                  n - 8)))
            return sl->rank;
        if (sl->len == 0)
            return NO_RANK;
        i = (i + 1) & enc->mask;
    }
}

static inline uint32_t probe(const am_encoding *enc, const uint8_t *p,
                             size_t n, uint64_t h)
{
    return probe_head(enc, p, n, h, load_head(p, n));
}

static inline uint32_t lookup_h(const am_encoding *enc, const uint8_t *p,
                                size_t n, uint64_t h)
{
    if (enc->filter != NULL && !filter_has(enc->filter, h))
        return NO_RANK;
    return probe(enc, p, n, h);
}

static inline uint32_t lookup(const am_encoding *enc, const uint8_t *p,
                              size_t n)
{
    return lookup_h(enc, p, n, hash_bytes(p, n));
}

/* lookup() once the tables are built: two bytes go to the direct table. */
static inline uint32_t rank_of(const am_encoding *enc, const uint8_t *p,
                               size_t n)
{
    if (n == 2)
        return enc->pair_rank[p[0] | (p[1] << 8)];
    return lookup_h(enc, p, n, hash_bytes(p, n));
}

#endif
