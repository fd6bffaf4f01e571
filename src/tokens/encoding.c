/* encoding.c -- tiktoken-compatible encoding: text to ids and back.
 *
 * Encoding text is: split off allowed special tokens, pre-tokenize the
 * rest (pretok.c), and turn each pre-token into ids by byte-pair merging
 * over the rank table (rank_table.c, bpe_int.h):
 *
 *   - a pre-token that is itself a token is that token (tiktoken checks
 *     this first, and so must we, to give the same ids);
 *   - otherwise start from single bytes and repeatedly merge the adjacent
 *     pair whose concatenation has the lowest rank, the leftmost on ties,
 *     until no adjacent pair is a token.
 *
 * Pieces up to MID_PIECE bytes use tiktoken's scan for the lowest pair,
 * quadratic in the piece length but fastest for the few bytes of a typical
 * word (done as a vector minimum over fixed positions, merge_regs);
 * pieces up to WIDE_PIECE bytes do the same scan over two levels, the
 * minimum of the per-vector minimums (merge_wide). Longer pieces use a
 * binary heap of candidate pairs keyed by (rank, position) over a linked
 * list of parts, O(n log n) (merge_heap.c), so a 1 MB word takes a
 * fraction of a second instead of hours. Both pick the same pair at
 * every step, so they produce the same ids. Repeated pieces are served
 * from a caller's am_token_cache, else from the encoding's own one (the
 * piece memo, try-locked per call, frozen and shared by a batch's
 * threads), else from a per-call cache.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokens/bpe_int.h"
#include "tokens/cache_int.h"
#include "tokens/merge_int.h"
#include "tokens/pretok_int.h"

/* ---- Byte-pair merging ---- */

/* Pieces up to MID_PIECE bytes use the vector scan; longer ones the heap
 * (in stack buffers up to SMALL_PIECE bytes, on the heap beyond). */
#define MID_PIECE 64

/* tiktoken's merge loop for short pieces, without moving anything: parts
 * are a linked list over byte positions (next[], prev[]), and the key of
 * position s is (rank << 8 | s) for the pair starting at a live part start
 * s, or KEY_NONE. The smallest key is the lowest rank, leftmost on ties --
 * tiktoken's choice -- and is found with a vector minimum over all
 * positions (dead ones hold KEY_NONE), a handful of instructions for the
 * typical piece of 5-30 bytes. Needs ranks below 2^23 (am__merge_large handles
 * larger vocabularies) and n <= MID_PIECE < 256. */
#define KEY_NONE INT32_MAX
#define KEY_RANK_LIMIT (1u << 23)
typedef int32_t v4i __attribute__((vector_size(16)));

static inline int32_t pair_key(uint32_t rank, size_t s)
{
    return rank == NO_RANK ? KEY_NONE : (int32_t)(rank << 8 | (uint32_t)s);
}

/* The tokens of a piece the vector merges finished: `parts` of them, the
 * one starting at s being tok[s], the next at next[s]. */
static am_status emit_merged(sink *k, const uint8_t *next,
                             const uint32_t *tok, size_t n, size_t parts)
{
    if (k->toks == NULL) {
        k->count += parts;
        return AM_OK;
    }
    for (size_t s = 0; s < n; s = next[s]) {
        am_status st = emit(k, tok[s]);
        if (st != AM_OK)
            return st;
    }
    return AM_OK;
}

/* next[] and prev[] of n single-byte parts (prev[0] is unused). */
static const uint8_t seq_next[MID_PIECE + 1] = {
#define S4(i) i + 1, i + 2, i + 3, i + 4
    S4(0), S4(4), S4(8), S4(12), S4(16), S4(20), S4(24), S4(28), S4(32),
    S4(36), S4(40), S4(44), S4(48), S4(52), S4(56), S4(60), 65
#undef S4
};
static const uint8_t seq_prev[MID_PIECE + 1] = {
#define S4(i) i - 1, i, i + 1, i + 2
    0, 0, 1, 2, S4(4), S4(8), S4(12), S4(16), S4(20), S4(24), S4(28), S4(32),
    S4(36), S4(40), S4(44), S4(48), S4(52), S4(56), S4(60), 63
#undef S4
};
#if MID_PIECE != 64
#error "seq_next and seq_prev are written out for MID_PIECE 64"
#endif

/* The keys of the two pairs around part s after s absorbed its right
 * neighbour and now ends at e: (s, next[e]) into *ks and (prev[s], s) into
 * *kq (KEY_NONE where there is no such pair). Their table slots are fetched
 * together so that the two cache misses overlap, and before the filter
 * answers, so that the slot's miss overlaps the filter's. */
static inline void new_keys(const am_encoding *enc, const uint8_t *p,
                            size_t n, size_t q, size_t s, size_t e,
                            size_t re, int32_t *ks, int32_t *kq)
{
    size_t rn = e < n ? re - s : 0;
    size_t ln = s > 0 ? e - q : 0;
    uint64_t rh = 0, lh = 0, rhead = 0, lhead = 0;
    bool rmay = false, lmay = false;

    if (rn > 2) {
        rhead = load_head(p + s, rn);
        rh = rn <= 8 ? hash_head(rhead, rn) : hash_bytes(p + s, rn);
        __builtin_prefetch(&enc->slots[rh & enc->mask]);
        rmay = filter_has(enc->filter, rh);
    }
    if (ln > 2) {
        lhead = load_head(p + q, ln);
        lh = ln <= 8 ? hash_head(lhead, ln) : hash_bytes(p + q, ln);
        __builtin_prefetch(&enc->slots[lh & enc->mask]);
        lmay = filter_has(enc->filter, lh);
    }
    *ks = e >= n ? KEY_NONE
          : pair_key(rn == 2 ? rank_of(enc, p + s, 2)
                     : rmay  ? probe_head(enc, p + s, rn, rh, rhead)
                             : NO_RANK, s);
    *kq = s == 0 ? KEY_NONE
          : pair_key(ln == 2 ? rank_of(enc, p + q, 2)
                     : lmay  ? probe_head(enc, p + q, ln, lh, lhead)
                             : NO_RANK, q);
}

/* The keys live in vector registers, not in an array: with an array,
 * each step stores single 4-byte keys and the next step's vector loads
 * cover them, and a load wider than the store it depends on cannot be
 * forwarded -- it waits until the store reaches the cache, every step, on
 * the critical path (replacing the array cut the time of the cl100k
 * multilingual section by about 12%). A lane is replaced instead through
 * a mask from comparing a vector of lane numbers with its position.
 *
 * Each step is a chain: pick the pair, look up the two new candidates,
 * pick the next pair. The lookups take longest, so everything that does
 * not need their answer -- the minimum over the unchanged lanes, and
 * writing the new keys into the vectors -- is kept off that chain (this
 * took another 3-5% off the multilingual sections). */
static inline v4i vsplat(int32_t x)
{
    return (v4i){ x, x, x, x };
}

static inline v4i vmin(v4i a, v4i b)
{
    v4i lt = a < b;
    return (a & lt) | (b & ~lt);
}

/* The smallest of the 4 nv keys in kv[0 .. nv). */
static inline __attribute__((always_inline)) int32_t
hmin(const v4i *kv, const size_t nv)
{
    v4i m = kv[0];
    int32_t best;

    for (size_t j = 1; j < nv; j++)
        m = vmin(m, kv[j]);
    best = m[0] < m[1] ? m[0] : m[1];
    best = m[2] < best ? m[2] : best;
    return m[3] < best ? m[3] : best;
}

/* The next pair: the smallest of `other`, the minimum over the keys the
 * step did not change, and of the two new keys. A branch, not a
 * conditional move: the new keys wait for their lookups, and they usually
 * lose (one of them was the next pair in 10% of the merge steps on the
 * cl100k JS and multilingual sections, 19-22% on code and emoji). Predicted
 * so, the next step starts, and issues its own lookups, before this step's
 * are back, where a conditional move would make it wait for them (this
 * made the ~1 KB calls of every section 2-12% faster). The empty asm keeps
 * gcc from turning the branch back into a conditional move. */
static inline int32_t pick_next(int32_t other, int32_t ks, int32_t kq)
{
    int32_t fresh = ks < kq ? ks : kq;

    if (__builtin_expect(fresh < other, 0)) {
        __asm__("" : "+r"(fresh));
        return fresh;
    }
    return other;
}

/* merge_regs(nv) keeps 4 nv keys in nv vectors, for pieces of up to
 * 4 nv + 1 bytes; it is instantiated for 2, 4, 8 and 16 vectors so that
 * the common short pieces do not scan the empty lanes of a long one. */
#define REG_VECS_MAX 16

/* Fetch the filter words and table slots of every 3- and 4-byte window
 * of the piece at once (merge_regs says why), for both vector merges;
 * inlined, as the loops were. */
static inline __attribute__((always_inline)) void
prefetch_windows(const am_encoding *enc, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 3 <= n; i++) {
        uint64_t h = hash_head(load_head(p + i, 3), 3);
        __builtin_prefetch(&enc->filter[FILTER_WORD(h)]);
        __builtin_prefetch(&enc->slots[h & enc->mask]);
    }
    for (size_t i = 0; i + 4 <= n; i++) {
        uint64_t h = hash_head(load32(p + i), 4);
        __builtin_prefetch(&enc->filter[FILTER_WORD(h)]);
        __builtin_prefetch(&enc->slots[h & enc->mask]);
    }
}

static inline __attribute__((always_inline)) am_status
merge_regs(const am_encoding *enc, const uint8_t *p, size_t n, sink *k,
           const size_t nv)
{
    union {
        v4i v[REG_VECS_MAX];
        int32_t k[REG_VECS_MAX * 4];
    } init;
    v4i kv[REG_VECS_MAX];
    uint8_t next[MID_PIECE + 1], prev[MID_PIECE + 1];
    uint8_t next2[MID_PIECE + 1]; /* next[next[s]], one load sooner */
    uint32_t tok[REG_VECS_MAX * 4 + 1];
    size_t parts = n;
    int32_t best;

    for (size_t i = 0; i < nv * 4; i++)
        init.k[i] = KEY_NONE;
    for (size_t i = 0; i + 1 < n; i++)
        init.k[i] = pair_key(enc->pair_rank[p[i] | (p[i + 1] << 8)], i);
    for (size_t j = 0; j < nv; j++)
        kv[j] = init.v[j];
    /* Most lookups while merging are 3- and 4-byte windows of the piece
     * (a 2-byte part and a neighbouring byte, or two 2-byte parts: with
     * cl100k_base, 3 bytes were 45% and 4 bytes 24% of the lookups on the
     * multilingual section, 48% and 23% on JavaScript); fetch their filter
     * words and slots now, all at once, rather than one miss per merge
     * step. (3-byte windows only, before: the 4-byte ones made cl100k JS
     * and multilingual 8-11% faster in ~1 KB calls; adding 5-byte ones
     * too gained nothing measurable.) */
    prefetch_windows(enc, p, n);
    memcpy(next, seq_next, sizeof next);
    memcpy(next2, seq_next + 1, sizeof next2 - 1);
    next2[MID_PIECE] = MID_PIECE + 2;
    memcpy(prev, seq_prev, sizeof prev);
    if (k->toks != NULL)
        for (size_t i = 0; i < n; i++)
            tok[i] = enc->byte_rank[p[i]];

    best = hmin(kv, nv);
    while (best != KEY_NONE) {
        int32_t ks, kq, other;
        size_t s = (size_t)best & 0xff, mid = next[s], e = next2[s];
        size_t q = prev[s], re = next2[mid];
        /* The lanes that change: mid (no longer a part), s and its left
         * neighbour (new keys); -1 when s has no left neighbour. */
        v4i vs = vsplat((int32_t)s), vm = vsplat((int32_t)mid);
        v4i vq = vsplat(s > 0 ? (int32_t)prev[s] : -1);
        v4i none = vsplat(KEY_NONE);

        /* q is s itself when s is the first part (prev[0] is 0): q's
         * entry first, so that s's wins. */
        next2[q] = (uint8_t)e;
        next[s] = (uint8_t)e;
        next2[s] = (uint8_t)re;
        if (e < n)
            prev[e] = (uint8_t)s;
        tok[s] = (uint32_t)best >> 8;
        parts--;
        /* The minimum over the lanes that do not change is computed while
         * the lookups of the two new keys are under way; the next pair is
         * then the smaller of it and those two keys. (Keys are below
         * KEY_NONE, so or-ing KEY_NONE into a lane sets it to KEY_NONE and
         * and-ing a key into a KEY_NONE lane sets it to the key.) */
        for (size_t j = 0; j < nv; j++) {
            v4i idx = (v4i){ 0, 1, 2, 3 } + vsplat((int32_t)(4 * j));
            kv[j] |= ((idx == vm) | (idx == vq) | (idx == vs)) & none;
        }
        other = hmin(kv, nv);
        new_keys(enc, p, n, q, s, e, re, &ks, &kq);
        {
            v4i kqv = vsplat(kq), ksv = vsplat(ks);
            for (size_t j = 0; j < nv; j++) {
                v4i idx = (v4i){ 0, 1, 2, 3 } + vsplat((int32_t)(4 * j));
                kv[j] &= (ksv | ~(idx == vs)) & (kqv | ~(idx == vq));
            }
        }
        best = pick_next(other, ks, kq);
    }
    return emit_merged(k, next, tok, n, parts);
}

/* Pieces of MID_PIECE + 1 to WIDE_PIECE bytes (long identifiers, runs of
 * punctuation or spaces in code) keep tiktoken's scan too, but over two
 * levels: the keys of each group of 4 positions are one vector, and the
 * minimum of each such vector is one lane of a second, 8-vector row. A
 * merge step changes at most three keys, so it recomputes at most three
 * per-vector minimums and then takes the minimum of the row, instead of
 * all 32 vectors (the plain scan, tried up to 128 bytes, was slower than
 * the heap) or the heap's unpredictable sift branches. The keys are
 * replaced a whole vector at a time, through lane masks, so that every
 * load is forwarded from a store of the same width. Same keys, same
 * choice of pair as merge_regs and am__merge_large. */
#define WIDE_PIECE 128
#define WIDE_VECS (WIDE_PIECE / 4)

static inline int32_t vmin4(v4i m)
{
    int32_t a = m[0] < m[1] ? m[0] : m[1];
    int32_t b = m[2] < m[3] ? m[2] : m[3];
    return a < b ? a : b;
}

/* Sets key `pos` to KEY_NONE and refreshes its vector's minimum. */
static inline __attribute__((always_inline)) void
wide_clear(v4i *kv, v4i *row, size_t pos)
{
    const v4i lanes = { 0, 1, 2, 3 };
    size_t j = pos >> 2;
    v4i lm = lanes == vsplat((int32_t)(pos & 3));
    v4i rm = lanes == vsplat((int32_t)(j & 3));

    kv[j] |= lm & vsplat(KEY_NONE);
    row[j >> 2] = (row[j >> 2] & ~rm) | (vsplat(vmin4(kv[j])) & rm);
}

/* Puts key `key` (a cleared lane) at `pos`, and into its vector's minimum. */
static inline __attribute__((always_inline)) void
wide_set(v4i *kv, v4i *row, size_t pos, int32_t key)
{
    const v4i lanes = { 0, 1, 2, 3 };
    size_t j = pos >> 2;
    v4i kk = vsplat(key);
    v4i lm = lanes == vsplat((int32_t)(pos & 3));
    v4i rm = lanes == vsplat((int32_t)(j & 3));

    kv[j] &= kk | ~lm;
    /* key | KEY_NONE is KEY_NONE for keys >= 0: the other lanes keep
     * their minimum. */
    row[j >> 2] = vmin(row[j >> 2], kk | (~rm & vsplat(KEY_NONE)));
}

static inline __attribute__((always_inline)) am_status
merge_wide(const am_encoding *enc, const uint8_t *p, size_t n, sink *k,
           const size_t nrow)
{
    union {
        v4i v[WIDE_VECS];
        int32_t k[WIDE_VECS * 4];
    } keys;
    v4i row[WIDE_VECS / 4];
    uint8_t next[WIDE_PIECE + 1], prev[WIDE_PIECE + 1];
    uint32_t tok[WIDE_PIECE + 1];
    size_t parts = n;
    int32_t best;

    for (size_t i = 0; i < nrow * 16; i++)
        keys.k[i] = KEY_NONE;
    for (size_t i = 0; i + 1 < n; i++)
        keys.k[i] = pair_key(enc->pair_rank[p[i] | (p[i + 1] << 8)], i);
    for (size_t r = 0; r < nrow; r++)
        row[r] = (v4i){ vmin4(keys.v[4 * r]), vmin4(keys.v[4 * r + 1]),
                        vmin4(keys.v[4 * r + 2]),
                        vmin4(keys.v[4 * r + 3]) };
    prefetch_windows(enc, p, n);
    for (size_t i = 0; i <= n; i++) {
        next[i] = (uint8_t)(i + 1);
        prev[i] = (uint8_t)(i > 0 ? i - 1 : 0);
    }
    if (k->toks != NULL)
        for (size_t i = 0; i < n; i++)
            tok[i] = enc->byte_rank[p[i]];

    best = hmin(row, nrow);
    while (best != KEY_NONE) {
        int32_t ks, kq, other;
        size_t s = (size_t)best & 0xff, mid = next[s], e = next[mid];
        size_t q = prev[s], re = e < n ? next[e] : e;

        next[s] = (uint8_t)e;
        if (e < n)
            prev[e] = (uint8_t)s;
        tok[s] = (uint32_t)best >> 8;
        parts--;
        wide_clear(keys.v, row, mid);
        wide_clear(keys.v, row, s);
        if (s > 0)
            wide_clear(keys.v, row, q);
        other = hmin(row, nrow);
        new_keys(enc, p, n, q, s, e, re, &ks, &kq);
        wide_set(keys.v, row, s, ks);
        if (s > 0)
            wide_set(keys.v, row, q, kq);
        best = pick_next(other, ks, kq);
    }
    return emit_merged(k, next, tok, n, parts);
}

/* ---- The vector merges, built twice ----
 *
 * merge_regs and merge_wide are compiled once for the baseline x86-64
 * (SSE2) that the library targets, and, on x86-64, once more for AVX2,
 * chosen per encoding when it is created (am__merge_avx2_usable). The
 * source is the same; AVX2 gives the 4-lane code a one-instruction
 * signed minimum (SSE2 needs a compare and three logic operations) and
 * three-operand forms that save register copies. With cl100k_base over
 * the JavaScript section in ~1 KB calls, that took merge_piece and what
 * it calls from 70.0 M to 59.0 M instructions (callgrind) and the ~1 KB
 * calls of JS, emoji and multilingual 2-12% faster (docs/BENCHMARKS.md).
 * MERGE_SET(suffix, attributes) writes one set: a function per vector
 * count, and the choice by piece length. */
#define MERGE_SET(SFX, ATTR)                                                 \
    ATTR static am_status merge_regs2##SFX(const am_encoding *enc,          \
                                           const uint8_t *p, size_t n,      \
                                           sink *k)                         \
    {                                                                        \
        return merge_regs(enc, p, n, k, 2);                                  \
    }                                                                        \
    ATTR static am_status merge_regs4##SFX(const am_encoding *enc,          \
                                           const uint8_t *p, size_t n,      \
                                           sink *k)                         \
    {                                                                        \
        return merge_regs(enc, p, n, k, 4);                                  \
    }                                                                        \
    ATTR static am_status merge_regs8##SFX(const am_encoding *enc,          \
                                           const uint8_t *p, size_t n,      \
                                           sink *k)                         \
    {                                                                        \
        return merge_regs(enc, p, n, k, 8);                                  \
    }                                                                        \
    ATTR static am_status merge_regs16##SFX(const am_encoding *enc,         \
                                            const uint8_t *p, size_t n,     \
                                            sink *k)                        \
    {                                                                        \
        return merge_regs(enc, p, n, k, 16);                                 \
    }                                                                        \
    ATTR static am_status merge_wide8##SFX(const am_encoding *enc,          \
                                           const uint8_t *p, size_t n,      \
                                           sink *k)                         \
    {                                                                        \
        return merge_wide(enc, p, n, k, 8);                                  \
    }                                                                        \
    /* n is 2 .. WIDE_PIECE. */                                              \
    static am_status merge_vec##SFX(const am_encoding *enc,                 \
                                    const uint8_t *p, size_t n, sink *k)    \
    {                                                                        \
        if (n > MID_PIECE)                                                   \
            return merge_wide8##SFX(enc, p, n, k);                           \
        if (n <= 4 * 2 + 1)                                                  \
            return merge_regs2##SFX(enc, p, n, k);                           \
        if (n <= 4 * 4 + 1)                                                  \
            return merge_regs4##SFX(enc, p, n, k);                           \
        if (n <= 4 * 8 + 1)                                                  \
            return merge_regs8##SFX(enc, p, n, k);                           \
        return merge_regs16##SFX(enc, p, n, k);                              \
    }

MERGE_SET(, )
#if AM_TOKENS_AVX2
MERGE_SET(_avx2, __attribute__((target("avx2"))))
#endif

bool am__merge_avx2_usable(void)
{
#if AM_TOKENS_AVX2
    /* Also checks that the OS saves the AVX registers. */
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
#else
    return false;
#endif
}

/* The merges of a piece of two bytes or more that is not itself a
 * token. */
static am_status merge_piece(const am_encoding *enc, const uint8_t *p,
                             size_t n, sink *k)
{
    if (n > WIDE_PIECE || enc->nranks > KEY_RANK_LIMIT)
        return am__merge_large(enc, p, n, k);
#if AM_TOKENS_AVX2
    if (enc->merge_avx2)
        return merge_vec_avx2(enc, p, n, k);
#endif
    return merge_vec(enc, p, n, k);
}

static am_status encode_piece(const am_encoding *enc, const uint8_t *p,
                              size_t n, uint64_t h, sink *k)
{
    uint32_t r;

    if (n == 1)
        return emit(k, enc->byte_rank[p[0]]);
    r = lookup_h(enc, p, n, h);
    if (r != NO_RANK)
        return emit(k, r);
    return merge_piece(enc, p, n, k);
}

/* A piece of one or two bytes (n <= 2): one byte is its token; two bytes
 * are one token or two, and the direct tables say which at once, faster
 * than any cache could (the caches skip such pieces). */
static inline am_status encode_short(const am_encoding *enc,
                                     const uint8_t *p, size_t n, sink *k)
{
    uint32_t r = n == 1 ? enc->byte_rank[p[0]]
                        : enc->pair_rank[p[0] | (p[1] << 8)];
    am_status st;

    if (r != NO_RANK)
        return emit(k, r);
    st = emit(k, enc->byte_rank[p[0]]);
    return st == AM_OK ? emit(k, enc->byte_rank[p[1]]) : st;
}

/* ---- Piece cache ----
 *
 * Text repeats its words, so a call over a long text keeps a small
 * direct-mapped cache of the pieces it has already encoded: the piece (a
 * pointer into the caller's text, verified byte for byte on a hit, so a
 * hit is always exact), its token count, and where its ids start in the
 * output. It lives on the stack of one call, which keeps the encoding
 * immutable and the cache free of locks. */
#define PCACHE_SIZE 1024      /* entries on the stack, at most */
#define PCACHE_MIN_TEXT 256   /* shorter texts skip the cache */
#define PCACHE_MSG_TEXT 4096  /* below this, a message: */
#define PCACHE_BYTES_PER 4    /* one entry per 4 bytes of text, so that a
                               * message-sized call clears a cache the size
                               * of its text, not 12 KB, and it caches only
                               * pieces that needed merging (see below) */
#define PCACHE_BIG_TEXT (256 * 1024) /* from here on, a heap cache */
#define PCACHE_BIG_MIN 16384  /* its entries: one per 32 bytes of text, */
#define PCACHE_BIG_MAX 32768  /* a power of two between these two (a larger
                               * cache costs more in L2 than it saves) */
#define PCACHE_MAX_PIECE 255

typedef struct pcache_entry {
    uint32_t at;     /* the piece is s[at, at + len) of this call's text */
    uint32_t ids_at; /* where its ids start in the output (encode) */
    uint16_t len;    /* 0: empty entry */
    uint16_t count;
} pcache_entry;

static am_status replay(sink *k, const pcache_entry *ce)
{
    am_tokens *t = k->toks;

    if (t == NULL) {
        k->count += ce->count;
        return AM_OK;
    }
    if (t->cap - t->count < ce->count) {
        am_status st = am__grow(t->alloc, (void **)&t->ids, &t->cap,
                                t->count + ce->count, sizeof(uint32_t));
        if (st != AM_OK)
            return st;
    }
    memcpy(t->ids + t->count, t->ids + (size_t)ce->ids_at,
           ce->count * sizeof(uint32_t));
    t->count += ce->count;
    k->count += ce->count;
    return AM_OK;
}

/* ---- Caller-owned token cache ----
 *
 * The per-call cache forgets everything when the call returns. An agent
 * counts much the same words again and again, so a caller may keep an
 * am_token_cache (one per thread) and pass it in am_encode_opts: pieces of
 * up to TC_BYTES bytes that encode to at most TC_IDS tokens are kept with
 * their bytes inline (a hit compares them, so it is exact) in a
 * direct-mapped table. Count-only calls store the count; ids are stored
 * when a call encodes. Its layout is in cache_int.h; the encoding's own
 * one, the piece memo, is in memo.c. */

am_token_cache_opts am_token_cache_opts_default(void)
{
    am_token_cache_opts o = { 0, NULL };
    return o;
}

am_status am_token_cache_create(const am_encoding *enc,
                                const am_token_cache_opts *opts,
                                am_token_cache **out, am_error *err)
{
    am_token_cache_opts o = opts != NULL ? *opts
                                         : am_token_cache_opts_default();
    size_t entries = o.entries;
    const am_allocator *alloc = o.alloc;
    am_token_cache *c;
    size_t n = 1024;

    if (enc == NULL || out == NULL)
        return am__fail(err, AM_EINVAL, "am_token_cache_create: NULL "
                        "argument");
    *out = NULL;
    if (entries == 0)
        entries = 65536;
    if (entries > ((size_t)1 << 24))
        return am__fail(err, AM_EINVAL, "cache of %zu entries is too big "
                        "(at most 16777216)", entries);
    while (n < entries)
        n <<= 1;
    c = am__calloc(alloc, 1, sizeof *c);
    if (c == NULL)
        return am__fail(err, AM_ENOMEM, "out of memory");
    c->e = am__calloc(alloc, n, sizeof *c->e);
    if (c->e == NULL) {
        am__free(alloc, c, sizeof *c);
        return am__fail(err, AM_ENOMEM, "out of memory for %zu cache "
                        "entries", n);
    }
    c->alloc = alloc;
    c->enc = enc;
    c->mask = n - 1;
    *out = c;
    return AM_OK;
}

void am_token_cache_free(am_token_cache *c)
{
    if (c == NULL)
        return;
    if (c->log != NULL)
        am__free(c->alloc, c->log, (c->mask + 1) * sizeof *c->log);
    am__free(c->alloc, c->e, (c->mask + 1) * sizeof *c->e);
    am__free(c->alloc, c, sizeof *c);
}

const am_encoding *am__token_cache_encoding(const am_token_cache *c)
{
    return c->enc;
}

size_t am__token_cache_entries(const am_token_cache *c)
{
    return c->mask + 1;
}

size_t am__token_cache_stores(const am_token_cache *c)
{
    return c->stores;
}

/* The piece loop over a cache kept across calls, `c`. For a batch's
 * thread (`side`), `frozen` is the batch's piece memo (or NULL), shared by
 * its threads and written by none of them while they run: a piece is
 * looked up there first, then in `c`, the thread's side table (or NULL),
 * which takes what is new and notes where (c->log). Otherwise `c` alone.
 * Built twice, so that the one-table loop pays nothing for the other. */
static inline __attribute__((always_inline)) am_status
encode_cached(const am_encoding *enc, const am_token_cache *frozen,
              am_token_cache *c, const uint8_t *s, size_t len, sink *k,
              bool side)
{
    am__pat pat = enc->def->pat;
    size_t i = 0;
    am_status st = AM_OK;

    if (!side && (frozen != NULL || c == NULL))
        __builtin_unreachable();

    while (i < len) {
        size_t e = pretok_fast(pat, s, len, i), n = e - i;
        const uint8_t *p = s + i;
        uint64_t h;
        const tc_entry *hit = NULL;
        tc_entry *ce = NULL;
        size_t count0 = k->count;
        size_t at0 = k->toks != NULL ? k->toks->count : 0;
        size_t got;

        i = e;
        if (n <= 2) {
            st = encode_short(enc, p, n, k);
            if (st != AM_OK)
                return st;
            continue;
        }
        h = hash_bytes(p, n);
        if (frozen != NULL) {
            const tc_entry *fe = &frozen->e[(h >> 40) & frozen->mask];
            if (fe->len == n && same_bytes(fe->bytes, p, n) &&
                (k->toks == NULL || fe->has_ids))
                hit = fe;
        }
        if (hit == NULL && c != NULL) {
            ce = &c->e[(h >> 40) & c->mask];
            if (ce->len == n && same_bytes(ce->bytes, p, n) &&
                (k->toks == NULL || ce->has_ids))
                hit = ce;
        }
        if (hit != NULL) {
            if (k->toks == NULL) {
                k->count += hit->count;
                continue;
            }
            for (size_t j = 0; j < hit->count && st == AM_OK; j++)
                st = emit(k, hit->ids[j]);
            if (st != AM_OK)
                return st;
            continue;
        }
        st = encode_piece(enc, p, n, h, k);
        if (st != AM_OK)
            return st;
        got = k->count - count0;
        if (ce != NULL && n <= TC_BYTES && got <= TC_IDS) {
            c->stores++;
            memcpy(ce->bytes, p, n);
            ce->len = (uint8_t)n;
            ce->count = (uint8_t)got;
            ce->has_ids = k->toks != NULL;
            if (k->toks != NULL)
                memcpy(ce->ids, k->toks->ids + at0, got * sizeof(uint32_t));
            if (side && c->log != NULL && c->logged <= c->mask)
                c->log[c->logged++] = (uint32_t)(h >> 40);
        }
    }
    return AM_OK;
}

static am_status encode_with_cache(const am_encoding *enc,
                                   am_token_cache *c, const uint8_t *s,
                                   size_t len, sink *k)
{
    return encode_cached(enc, NULL, c, s, len, k, false);
}

/* Out of line, so that encode_ordinary, which the one-table loop is
 * inlined into, is built as without it (inlined, 1-thread batches and
 * single calls ran 0.5-2% more instructions). */
static __attribute__((noinline)) am_status
encode_side(const am_encoding *enc, const am_token_cache *frozen,
            am_token_cache *c, const uint8_t *s, size_t len, sink *k)
{
    return encode_cached(enc, frozen, c, s, len, k, true);
}

static am_status encode_ordinary(const am_encoding *enc, const uint8_t *s,
                                 size_t len, sink *k)
{
    am__pat pat = enc->def->pat;
    pcache_entry small[PCACHE_SIZE];
    pcache_entry *cache = small;
    size_t mask = PCACHE_SIZE - 1, big_n = PCACHE_BIG_MIN;
    /* Entries hold 32-bit offsets: a larger text, or a larger output,
     * goes without the cache. */
    bool cached = len >= PCACHE_MIN_TEXT && len < UINT32_MAX &&
                  (k->toks == NULL || k->toks->count < UINT32_MAX / 2);
    /* In a message, few pieces repeat: a piece that is a token is looked
     * up at once, and the cache serves only the merged ones. (Caching
     * every piece, as a long text does, cost cl100k prose in ~1 KB calls
     * 15-20%; caching only merged pieces is what gains: multilingual and
     * emoji text.) */
    bool merged_only = cached && len < PCACHE_MSG_TEXT;
    size_t i = 0;
    am_status st = AM_OK;

    if (k->frozen != NULL || (k->cache != NULL && k->cache->log != NULL))
        return encode_side(enc, k->frozen, k->cache, s, len, k);
    if (k->cache != NULL)
        return encode_with_cache(enc, k->cache, s, len, k);
    /* A long text has more distinct words than the stack cache holds;
     * without memory for a bigger one it simply uses the small one. */
    if (len >= PCACHE_BIG_TEXT) {
        pcache_entry *big;
        while (big_n < PCACHE_BIG_MAX && big_n < len / 32)
            big_n <<= 1;
        big = am__calloc(enc->alloc, big_n, sizeof *big);
        if (big != NULL) {
            cache = big;
            mask = big_n - 1;
        }
    }
    if (cached && cache == small) {
        size_t n = 64;
        while (n < PCACHE_SIZE && n * PCACHE_BYTES_PER < len)
            n <<= 1;
        mask = n - 1;
        memset(small, 0, n * sizeof small[0]);
    }
    while (i < len) {
        size_t e = pretok_fast(pat, s, len, i), n = e - i;
        const uint8_t *p = s + i;
        uint64_t h;
        pcache_entry *ce;
        size_t count0 = k->count;
        size_t at0 = k->toks != NULL ? k->toks->count : 0;

        i = e;
        if (n <= 2) {
            st = encode_short(enc, p, n, k);
            if (st != AM_OK)
                break;
            continue;
        }
        h = hash_bytes(p, n);
        if (merged_only) {
            uint32_t r = lookup_h(enc, p, n, h);
            if (r != NO_RANK) {
                st = emit(k, r);
                if (st != AM_OK)
                    break;
                continue;
            }
        }
        ce = &cache[(h >> 40) & mask];
        if (cached && ce->len == n && same_bytes(s + ce->at, p, n)) {
            st = replay(k, ce);
            if (st != AM_OK)
                break;
            continue;
        }
        st = merged_only ? merge_piece(enc, p, n, k)
                         : encode_piece(enc, p, n, h, k);
        if (st != AM_OK)
            break;
        if (cached && n <= PCACHE_MAX_PIECE &&
            at0 + (k->count - count0) < UINT32_MAX) {
            ce->at = (uint32_t)(p - s);
            ce->len = (uint16_t)n;
            ce->count = (uint16_t)(k->count - count0);
            ce->ids_at = (uint32_t)at0;
        }
    }
    if (cache != small)
        am__free(enc->alloc, cache, big_n * sizeof *cache);
    return st;
}

/* ---- Special tokens ---- */

/* Which of the encoding's special tokens are allowed, as a bit set. */
static am_status allowed_set(const am_encoding *enc,
                             const am_encode_opts *opts, unsigned *set,
                             am_error *err)
{
    *set = 0;
    if (opts == NULL)
        return AM_OK;
    if (opts->flags & AM_SPECIAL_ALLOW_ALL)
        *set = (1u << enc->def->nspecials) - 1;
    if (opts->allowed_count > 0 && opts->allowed == NULL)
        return am__fail(err, AM_EINVAL, "allowed_count > 0 but allowed is "
                        "NULL");
    for (size_t i = 0; i < opts->allowed_count; i++) {
        am_str a = opts->allowed[i];
        size_t j;
        for (j = 0; j < enc->def->nspecials; j++)
            if (a.len == enc->def->specials[j].len && a.ptr != NULL &&
                memcmp(a.ptr, enc->def->specials[j].text, a.len) == 0)
                break;
        if (j == enc->def->nspecials)
            return am__fail(err, AM_EINVAL, "allowed[%zu] '%.*s' is not a "
                            "special token of %s", i,
                            (int)(a.len > 40 ? 40 : a.len),
                            a.ptr != NULL ? a.ptr : "", enc->def->name);
        *set |= 1u << j;
    }
    return AM_OK;
}

/* The special token (index into specials) at s[i], or -1. */
static int special_at(const am_encoding *enc, const uint8_t *s, size_t len,
                      size_t i)
{
    for (size_t j = 0; j < enc->def->nspecials; j++) {
        const special *sp = &enc->def->specials[j];
        if (len - i >= sp->len && memcmp(s + i, sp->text, sp->len) == 0)
            return (int)j;
    }
    return -1;
}

static am_status encode_text(const am_encoding *enc, am_str text,
                             const am_encode_opts *opts, sink *k,
                             am_error *err)
{
    const uint8_t *s = (const uint8_t *)text.ptr;
    size_t len = text.len, start = 0, i = 0;
    unsigned allowed = 0;
    bool check = opts != NULL &&
                 (opts->flags & AM_SPECIAL_DISALLOWED_ERROR) != 0;
    am_status st;

    if (s == NULL && len > 0)
        return am__fail(err, AM_EINVAL, "text.ptr is NULL");
    st = allowed_set(enc, opts, &allowed, err);
    if (st != AM_OK)
        return st;
    if (allowed == 0 && !check)
        return encode_ordinary(enc, s, len, k);

    /* All special tokens start with "<|": find each candidate. */
    while (i + 1 < len) {
        const uint8_t *hit = memchr(s + i, '<', len - i - 1);
        int j;
        if (hit == NULL)
            break;
        i = (size_t)(hit - s);
        if (s[i + 1] != '|' || (j = special_at(enc, s, len, i)) < 0) {
            i++;
            continue;
        }
        if (!(allowed & (1u << j))) {
            if (check)
                return am__fail(err, AM_EINVAL, "disallowed special token "
                                "'%s' at byte %zu",
                                enc->def->specials[j].text, i);
            i++;
            continue;
        }
        st = encode_ordinary(enc, s + start, i - start, k);
        if (st == AM_OK)
            st = emit(k, enc->def->specials[j].id);
        if (st != AM_OK)
            return st;
        i += enc->def->specials[j].len;
        start = i;
    }
    return encode_ordinary(enc, s + start, len - start, k);
}

/* The body of am_encoding_encode (out != NULL) and am_encoding_count
 * (count != NULL) over the caches given (tokens_int.h). */
am_status am__encoding_run(const am_encoding *enc, am_str text,
                           const am_encode_opts *opts,
                           const am_token_cache *frozen,
                           am_token_cache *cache, am_tokens *out,
                           size_t *count, am_error *err)
{
    sink k = { NULL, 0, 0, NULL, NULL };
    am_status st;

    k.toks = out;
    k.base = out != NULL ? out->count : 0;
    k.cache = cache;
    k.frozen = frozen;
    st = encode_text(enc, text, opts, &k, err);
    if (st == AM_ENOMEM)
        am__fail(err, st, "out of memory %s %zu bytes",
                 out != NULL ? "encoding" : "counting", text.len);
    if (out != NULL && st != AM_OK)
        out->count = k.base;
    if (count != NULL)
        *count = st == AM_OK ? k.count : 0;
    return st;
}

/* One call: the caller's cache, else the piece memo when it is free. */
static am_status run(const am_encoding *enc, am_str text,
                     const am_encode_opts *opts, am_tokens *out,
                     size_t *count, am_error *err)
{
    am_token_cache *cache = opts != NULL ? opts->cache : NULL;
    bool memo = false;
    am_status st;

    if (cache != NULL && cache->enc != enc)
        return am__fail(err, AM_EINVAL, "the token cache belongs to another "
                        "encoding");
    if (cache == NULL) {
        cache = am__memo_take(enc, text.len);
        memo = cache != NULL;
    }
    st = am__encoding_run(enc, text, opts, NULL, cache, out, count, err);
    if (memo)
        am__memo_release(enc);
    return st;
}

am_status am_encoding_encode(const am_encoding *enc, am_str text,
                             const am_encode_opts *opts, am_tokens *out,
                             am_error *err)
{
    if (enc == NULL || out == NULL)
        return am__fail(err, AM_EINVAL, "am_encoding_encode: NULL argument");
    return run(enc, text, opts, out, NULL, err);
}

am_status am_encoding_count(const am_encoding *enc, am_str text,
                            const am_encode_opts *opts, size_t *count,
                            am_error *err)
{
    if (enc == NULL || count == NULL)
        return am__fail(err, AM_EINVAL, "am_encoding_count: NULL argument");
    return run(enc, text, opts, NULL, count, err);
}

am_status am_encoding_decode(const am_encoding *enc, const uint32_t *ids,
                             size_t count, am_buf *out, am_error *err)
{
    size_t old;

    if (enc == NULL || out == NULL || (ids == NULL && count > 0))
        return am__fail(err, AM_EINVAL, "am_encoding_decode: NULL argument");
    old = out->len;
    for (size_t i = 0; i < count; i++) {
        am_str b;
        if (!am_encoding_token_bytes(enc, ids[i], &b)) {
            out->len = old;
            if (out->ptr != NULL)
                out->ptr[old] = '\0';
            return am__fail(err, AM_EINVAL, "ids[%zu] = %u is not a token of "
                            "%s", i, ids[i], enc->def->name);
        }
        if (am_buf_append(out, b.ptr, b.len) != AM_OK) {
            out->len = old;
            if (out->ptr != NULL)
                out->ptr[old] = '\0';
            return am__fail(err, AM_ENOMEM, "out of memory decoding");
        }
    }
    return AM_OK;
}
