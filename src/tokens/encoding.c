/* encoding.c -- tiktoken-compatible BPE encodings.
 *
 * An encoding is a rank table (token bytes -> rank, which is also the id)
 * loaded from a .tiktoken file, a pre-tokenizer (pretok.c) and a few special
 * tokens. Encoding text is: split off allowed special tokens, pre-tokenize
 * the rest, and turn each pre-token into ids by byte-pair merging:
 *
 *   - a pre-token that is itself a token is that token (tiktoken checks
 *     this first, and so must we, to give the same ids);
 *   - otherwise start from single bytes and repeatedly merge the adjacent
 *     pair whose concatenation has the lowest rank, the leftmost on ties,
 *     until no adjacent pair is a token.
 *
 * Short pieces use tiktoken's own array scan, which is quadratic in the
 * piece length but fastest for the few bytes of a typical word. Pieces
 * longer than SMALL_PIECE use a binary heap of candidate pairs keyed by
 * (rank, position) over a linked list of parts, O(n log n), so a 1 MB word
 * takes milliseconds instead of hours. Both pick the same pair at every
 * step, so they produce the same ids.
 *
 * The rank table is an open-addressing hash over the token bytes, stored
 * once in a blob indexed by rank. Nothing changes after loading, so an
 * encoding is shared by all threads without locks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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

static const encoding_def defs[] = {
    { "cl100k_base", AM__PAT_CL100K, 5,
      { { "<|endoftext|>", 13, 100257 },
        { "<|fim_prefix|>", 14, 100258 },
        { "<|fim_middle|>", 14, 100259 },
        { "<|fim_suffix|>", 14, 100260 },
        { "<|endofprompt|>", 15, 100276 } } },
    { "o200k_base", AM__PAT_O200K, 2,
      { { "<|endoftext|>", 13, 199999 },
        { "<|endofprompt|>", 15, 200018 } } },
    { "p50k_base", AM__PAT_R50K, 1, { { "<|endoftext|>", 13, 50256 } } },
    { "r50k_base", AM__PAT_R50K, 1, { { "<|endoftext|>", 13, 50256 } } },
};

struct am_encoding {
    const am_allocator *alloc;
    const encoding_def *def;
    uint32_t nranks;     /* ranks are 0 .. nranks-1 (gaps have len 0) */
    uint8_t *blob;       /* token bytes, concatenated in rank order */
    size_t blob_len;
    uint32_t *off;       /* nranks + 1 offsets into blob */
    struct slot *slots;  /* open-addressing hash table of the tokens */
    void *slots_raw;     /* the allocation slots lives in (aligned inside) */
    size_t slots_raw_size;
    size_t mask;
    uint32_t byte_rank[256];
    uint32_t *pair_rank; /* 65536 ranks of the 2-byte tokens (or NO_RANK) */
    uint64_t *filter;    /* FILTER_BITS-bit filter of token hashes */
    size_t vocab_size;
};

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

static inline uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h;
    size_t i;

    if (n <= 8)
        return mix64((load_head(p, n) ^ (n << 59)) * 0x9E3779B97F4A7C15ull);
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

/* The table probe proper, for a hash that passed the filter. */
static inline uint32_t probe(const am_encoding *enc, const uint8_t *p,
                             size_t n, uint64_t h)
{
    uint64_t head = load_head(p, n);
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

/* ---- The slot table's memory ----
 *
 * Lookups hit the 8 MB slot table at random, so with 4 KB pages nearly
 * every probe also misses the TLB. The table is therefore placed at a
 * 2 MB boundary inside a slightly larger allocation and, where the kernel
 * offers transparent huge pages on request, advised to use them. This is a
 * hint only: without it everything works the same, a little slower. */
#define HUGE_ALIGN ((size_t)2 << 20)

static am_status slots_alloc(am_encoding *enc, size_t nslots)
{
    size_t bytes = nslots * sizeof(struct slot);
    size_t raw_size = bytes >= HUGE_ALIGN ? bytes + HUGE_ALIGN : bytes;
    uintptr_t at;
    void *raw;

    if (nslots > SIZE_MAX / sizeof(struct slot) / 2)
        return AM_ENOMEM;
    raw = am__alloc(enc->alloc, raw_size);
    if (raw == NULL)
        return AM_ENOMEM;
    at = (uintptr_t)raw;
    if (raw_size > bytes)
        at = (at + HUGE_ALIGN - 1) & ~(uintptr_t)(HUGE_ALIGN - 1);
#ifdef MADV_HUGEPAGE
    if (raw_size > bytes)
        (void)madvise((void *)at, bytes, MADV_HUGEPAGE);
#endif
    memset((void *)at, 0, bytes);
    enc->slots_raw = raw;
    enc->slots_raw_size = raw_size;
    enc->slots = (struct slot *)at;
    enc->mask = nslots - 1;
    return AM_OK;
}

static void slots_free(am_encoding *enc)
{
    if (enc->slots_raw != NULL)
        am__free(enc->alloc, enc->slots_raw, enc->slots_raw_size);
    enc->slots_raw = NULL;
    enc->slots_raw_size = 0;
    enc->slots = NULL;
    enc->mask = 0;
}

/* ---- Loading ---- */

static int b64_value(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decode base64 [p, p+n) into out; returns the length or -1. */
static long b64_decode(const uint8_t *p, size_t n, uint8_t *out)
{
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    size_t pad = 0;

    if (n == 0 || n % 4 != 0)
        return -1;
    while (pad < 2 && n > 0 && p[n - 1] == '=') {
        n--;
        pad++;
    }
    for (size_t i = 0; i < n; i++) {
        int v = b64_value(p[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    return (long)o;
}

typedef struct line_rec {
    uint32_t rank;
    uint32_t boff; /* offset of the decoded bytes in the scratch blob */
    uint32_t blen;
} line_rec;

static am_status parse_ranks(am_encoding *enc, const char *path,
                             const uint8_t *text, size_t len, am_error *err)
{
    am_status st = AM_OK;
    const am_allocator *a = enc->alloc;
    size_t nlines = 0, cap = 0, line = 0, i = 0;
    line_rec *recs = NULL;
    uint8_t *scratch = NULL;
    size_t scratch_len = 0;
    uint32_t max_rank = 0;

    /* Decoded bytes are never longer than the text. */
    scratch = am__alloc(a, len + 1);
    if (scratch == NULL)
        return am__fail(err, AM_ENOMEM, "out of memory loading '%s'", path);

    while (i < len) {
        size_t start = i, sp, end;
        uint64_t rank = 0;
        long blen;

        line++;
        while (i < len && text[i] != '\n')
            i++;
        end = i;
        if (i < len)
            i++;
        if (end > start && text[end - 1] == '\r')
            end--;
        if (end == start)
            continue; /* blank lines (e.g. a trailing newline) */
        for (sp = start; sp < end && text[sp] != ' '; sp++)
            ;
        if (sp == end || sp + 1 == end) {
            st = am__fail(err, AM_EFORMAT, "%s:%zu: expected 'BASE64 RANK'",
                          path, line);
            goto out;
        }
        for (size_t k = sp + 1; k < end; k++) {
            if (text[k] < '0' || text[k] > '9' || rank > 0xFFFFFFF0ull) {
                st = am__fail(err, AM_EFORMAT, "%s:%zu: bad rank '%.*s'",
                              path, line, (int)(end - sp - 1 > 20 ? 20 :
                                                end - sp - 1),
                              (const char *)text + sp + 1);
                goto out;
            }
            rank = rank * 10 + (uint64_t)(text[k] - '0');
        }
        blen = b64_decode(text + start, sp - start, scratch + scratch_len);
        if (blen <= 0) {
            st = am__fail(err, AM_EFORMAT, "%s:%zu: bad base64 token",
                          path, line);
            goto out;
        }
        if (rank > 0x7FFFFFFF) {
            st = am__fail(err, AM_EFORMAT, "%s:%zu: rank %llu too large",
                          path, line, (unsigned long long)rank);
            goto out;
        }
        if (nlines == cap) {
            st = am__grow(a, (void **)&recs, &cap, nlines + 1,
                          sizeof *recs);
            if (st != AM_OK) {
                am__fail(err, st, "out of memory loading '%s'", path);
                goto out;
            }
        }
        recs[nlines].rank = (uint32_t)rank;
        recs[nlines].boff = (uint32_t)scratch_len;
        recs[nlines].blen = (uint32_t)blen;
        nlines++;
        scratch_len += (size_t)blen;
        if (rank > max_rank)
            max_rank = (uint32_t)rank;
    }
    if (nlines == 0) {
        st = am__fail(err, AM_EFORMAT, "%s: no tokens", path);
        goto out;
    }

    /* Lay the tokens out by rank. */
    enc->nranks = max_rank + 1;
    enc->off = am__alloc_array(a, (size_t)enc->nranks + 1, sizeof(uint32_t));
    enc->blob = am__alloc(a, scratch_len);
    enc->blob_len = enc->blob != NULL ? scratch_len : 0;
    for (size_t s = 16; s < (size_t)nlines * 2; s <<= 1)
        enc->mask = s * 2 - 1;
    if (enc->mask == 0)
        enc->mask = 31;
    if (slots_alloc(enc, enc->mask + 1) != AM_OK)
        enc->mask = 0;
    if (enc->off == NULL || enc->blob == NULL || enc->slots == NULL) {
        st = am__fail(err, AM_ENOMEM, "out of memory loading '%s'", path);
        goto out;
    }
    {
        /* Counting sort by rank: lengths first, then prefix sums. */
        uint32_t *len_by_rank = enc->off;
        memset(len_by_rank, 0, ((size_t)enc->nranks + 1) * sizeof(uint32_t));
        for (size_t k = 0; k < nlines; k++) {
            if (len_by_rank[recs[k].rank + 1] != 0) {
                st = am__fail(err, AM_EFORMAT, "%s: rank %u appears twice",
                              path, recs[k].rank);
                goto out;
            }
            len_by_rank[recs[k].rank + 1] = recs[k].blen;
        }
        for (size_t r = 1; r <= enc->nranks; r++)
            enc->off[r] += enc->off[r - 1];
        for (size_t k = 0; k < nlines; k++)
            memcpy(enc->blob + enc->off[recs[k].rank],
                   scratch + recs[k].boff, recs[k].blen);
    }
    for (size_t b = 0; b < 256; b++)
        enc->byte_rank[b] = NO_RANK;
    for (size_t k = 0; k < nlines; k++) {
        uint32_t r = recs[k].rank;
        const uint8_t *p = enc->blob + enc->off[r];
        uint64_t h = hash_bytes(p, recs[k].blen);
        size_t at = (size_t)h & enc->mask;

        if (lookup(enc, p, recs[k].blen) != NO_RANK) {
            st = am__fail(err, AM_EFORMAT,
                          "%s: token of rank %u appears twice", path, r);
            goto out;
        }
        while (enc->slots[at].len != 0)
            at = (at + 1) & enc->mask;
        enc->slots[at].head = load_head(p, recs[k].blen);
        enc->slots[at].rank = r;
        enc->slots[at].len = recs[k].blen;
        if (recs[k].blen == 1)
            enc->byte_rank[p[0]] = r;
    }
    for (size_t b = 0; b < 256; b++)
        if (enc->byte_rank[b] == NO_RANK) {
            st = am__fail(err, AM_EFORMAT, "%s: no token for byte 0x%02zx",
                          path, b);
            goto out;
        }
    enc->filter = am__calloc(a, FILTER_BITS / 64, sizeof(uint64_t));
    if (enc->filter == NULL) {
        st = am__fail(err, AM_ENOMEM, "out of memory loading '%s'", path);
        goto out;
    }
    for (size_t r = 0; r < enc->nranks; r++) {
        uint32_t o = enc->off[r], n = enc->off[r + 1] - o;
        uint64_t h;
        if (n == 0)
            continue;
        h = hash_bytes(enc->blob + o, n);
        enc->filter[FILTER_WORD(h)] |= 1ull << FILTER_BIT(h);
    }
    /* Most lookups of the merge loop are for two bytes: give them a
     * direct table. */
    enc->pair_rank = am__alloc_array(a, 65536, sizeof(uint32_t));
    if (enc->pair_rank == NULL) {
        st = am__fail(err, AM_ENOMEM, "out of memory loading '%s'", path);
        goto out;
    }
    for (size_t w = 0; w < 65536; w++) {
        uint8_t two[2] = { (uint8_t)(w & 0xFF), (uint8_t)(w >> 8) };
        enc->pair_rank[w] = lookup(enc, two, 2);
    }

out:
    am__free(a, recs, cap * sizeof *recs);
    am__free(a, scratch, len + 1);
    return st;
}

am_encoding_opts am_encoding_opts_default(void)
{
    am_encoding_opts o;
    memset(&o, 0, sizeof o);
    return o;
}

static bool file_exists(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return false;
    fclose(fp);
    return true;
}

/* Find <name>.tiktoken on the search path; writes the path to `out`. */
static am_status find_rank_file(const char *name, const am_encoding_opts *o,
                                char *out, size_t cap, am_error *err)
{
    const char *dirs[4];
    const char *what[4] = { "data_dir", "AGENTMEM_DATA_DIR", "AM_DATADIR",
                            "source tree" };
    char tried[200] = "";
    size_t nd = 0, tl = 0;

    if (o->rank_file != NULL) {
        if (strlen(o->rank_file) + 1 > cap)
            return am__fail(err, AM_EINVAL, "rank file path too long");
        memcpy(out, o->rank_file, strlen(o->rank_file) + 1);
        return AM_OK;
    }
    dirs[0] = o->data_dir;
    dirs[1] = getenv("AGENTMEM_DATA_DIR");
    dirs[2] = AM_DATADIR;
    dirs[3] = AM_SOURCE_DATADIR;
    for (nd = 0; nd < 4; nd++) {
        if (dirs[nd] == NULL || dirs[nd][0] == '\0')
            continue;
        if ((size_t)snprintf(out, cap, "%s/%s.tiktoken", dirs[nd], name) >=
            cap)
            continue;
        if (file_exists(out))
            return AM_OK;
        if (tl < sizeof tried - 1)
            tl += (size_t)snprintf(tried + tl, sizeof tried - tl, "%s%s",
                                   tl ? ", " : "", what[nd]);
    }
    return am__fail(err, AM_ENOTFOUND,
                    "rank file %s.tiktoken not found (tried %s; run "
                    "scripts/setup or set AGENTMEM_DATA_DIR)", name, tried);
}


/* ---- Binary cache of the tables ----
 *
 * Parsing a rank file (base64, hashing 200,000 tokens, building the
 * filter) takes tens of milliseconds; reading the finished tables back
 * takes a few. After a parse, open writes them next to the rank file as
 * <rank file>.bin (if the directory is writable; failure is silent) and
 * later opens read that instead. The cache records the rank file's size
 * and modification time, the layout constants, and a hash of its payload;
 * any mismatch or damage means "no cache": the rank file is parsed again
 * and the cache rewritten. */

#define CACHE_MAGIC "AMBPE\0\0\1"
#define CACHE_VERSION 1u

typedef struct cache_hdr {
    char magic[8];
    uint32_t version;
    uint32_t endian;       /* 0x01020304 as written */
    char name[16];
    uint64_t src_size;
    int64_t src_mtime_ns;
    uint32_t nranks;
    uint32_t slot_size;
    uint64_t blob_len;
    uint64_t mask;
    uint64_t filter_bits;
    uint64_t payload_hash; /* am__hash64 chain over the sections */
} cache_hdr;

typedef struct section {
    void *ptr;
    size_t len;
} section;

static size_t sections_of(am_encoding *enc, section sec[6])
{
    sec[0] = (section){ enc->byte_rank, sizeof enc->byte_rank };
    sec[1] = (section){ enc->off, ((size_t)enc->nranks + 1) * 4 };
    sec[2] = (section){ enc->blob, enc->blob_len };
    sec[3] = (section){ enc->slots, (enc->mask + 1) * sizeof(slot) };
    sec[4] = (section){ enc->filter, FILTER_BITS / 8 };
    sec[5] = (section){ enc->pair_rank, 65536 * 4 };
    return 6;
}

static uint64_t sections_hash(const section *sec, size_t n)
{
    uint64_t h = 0x6a09e667f3bcc908ull;
    for (size_t i = 0; i < n; i++)
        h = am__hash64(sec[i].ptr, sec[i].len, h);
    return h;
}

static void cache_path(char *out, size_t cap, const char *rank_path)
{
    snprintf(out, cap, "%s.bin", rank_path);
}

/* Read the cache for `rank_path` into `enc` (which has alloc and def).
 * Returns AM_OK, AM_ENOMEM, or AM_ENOTFOUND for "no usable cache" (then
 * `enc` holds no tables). */
static am_status cache_read(am_encoding *enc, const char *rank_path,
                            const struct stat *src)
{
    char path[4200];
    cache_hdr h;
    section sec[6];
    size_t nsec;
    FILE *fp;
    am_status st = AM_ENOTFOUND;
    const am_allocator *a = enc->alloc;

    cache_path(path, sizeof path, rank_path);
    fp = fopen(path, "rb");
    if (fp == NULL)
        return AM_ENOTFOUND;
    if (fread(&h, sizeof h, 1, fp) != 1 ||
        memcmp(h.magic, CACHE_MAGIC, 8) != 0 ||
        h.version != CACHE_VERSION || h.endian != 0x01020304u ||
        strncmp(h.name, enc->def->name, sizeof h.name) != 0 ||
        h.src_size != (uint64_t)src->st_size ||
        h.src_mtime_ns != (int64_t)src->st_mtim.tv_sec * 1000000000 +
                              src->st_mtim.tv_nsec ||
        h.slot_size != sizeof(slot) || h.filter_bits != FILTER_BITS ||
        h.nranks == 0 || h.nranks > (1u << 24) ||
        h.blob_len > ((uint64_t)1 << 30) || h.mask > ((uint64_t)1 << 26) ||
        ((h.mask + 1) & h.mask) != 0)
        goto out;
    enc->nranks = h.nranks;
    enc->off = am__alloc_array(a, (size_t)h.nranks + 1, sizeof(uint32_t));
    enc->blob = am__alloc(a, (size_t)h.blob_len);
    enc->blob_len = enc->blob != NULL ? (size_t)h.blob_len : 0;
    (void)slots_alloc(enc, (size_t)h.mask + 1);
    enc->filter = am__alloc(a, FILTER_BITS / 8);
    enc->pair_rank = am__alloc_array(a, 65536, sizeof(uint32_t));
    if (enc->off == NULL || enc->blob == NULL || enc->slots == NULL ||
        enc->filter == NULL || enc->pair_rank == NULL) {
        st = AM_ENOMEM;
        goto out;
    }
    nsec = sections_of(enc, sec);
    for (size_t i = 0; i < nsec; i++)
        if (fread(sec[i].ptr, 1, sec[i].len, fp) != sec[i].len)
            goto out;
    if (fgetc(fp) != EOF || sections_hash(sec, nsec) != h.payload_hash)
        goto out;
    /* The offsets must stay inside the blob for lookups to be safe. */
    for (size_t r = 0; r < h.nranks; r++)
        if (enc->off[r] > enc->off[r + 1])
            goto out;
    if (enc->off[h.nranks] != h.blob_len)
        goto out;
    st = AM_OK;

out:
    fclose(fp);
    return st;
}

/* Write the cache; any failure just leaves no cache behind. */
static void cache_write(am_encoding *enc, const char *rank_path,
                        const struct stat *src)
{
    char path[4200], tmp[4300];
    cache_hdr h;
    section sec[6];
    size_t nsec = sections_of(enc, sec);
    FILE *fp;
    bool ok;

    memset(&h, 0, sizeof h);
    memcpy(h.magic, CACHE_MAGIC, 8);
    h.version = CACHE_VERSION;
    h.endian = 0x01020304u;
    snprintf(h.name, sizeof h.name, "%s", enc->def->name);
    h.src_size = (uint64_t)src->st_size;
    h.src_mtime_ns = (int64_t)src->st_mtim.tv_sec * 1000000000 +
                     src->st_mtim.tv_nsec;
    h.nranks = enc->nranks;
    h.slot_size = sizeof(slot);
    h.blob_len = enc->blob_len;
    h.mask = enc->mask;
    h.filter_bits = FILTER_BITS;
    h.payload_hash = sections_hash(sec, nsec);

    cache_path(path, sizeof path, rank_path);
    /* Unique per process and per encoding being opened. */
    snprintf(tmp, sizeof tmp, "%s.%ld.%p.tmp", path, (long)getpid(),
             (void *)enc);
    fp = fopen(tmp, "wb");
    if (fp == NULL)
        return;
    ok = fwrite(&h, sizeof h, 1, fp) == 1;
    for (size_t i = 0; i < nsec && ok; i++)
        ok = fwrite(sec[i].ptr, 1, sec[i].len, fp) == sec[i].len;
    ok = fclose(fp) == 0 && ok;
    if (!ok || rename(tmp, path) != 0)
        unlink(tmp);
}

/* Drop whatever tables a failed cache read left. */
static void drop_tables(am_encoding *enc)
{
    const am_allocator *a = enc->alloc;
    if (enc->off != NULL)
        am__free(a, enc->off, ((size_t)enc->nranks + 1) * sizeof(uint32_t));
    am__free(a, enc->blob, enc->blob_len);
    slots_free(enc);
    if (enc->pair_rank != NULL)
        am__free(a, enc->pair_rank, 65536 * sizeof(uint32_t));
    if (enc->filter != NULL)
        am__free(a, enc->filter, FILTER_BITS / 8);
    enc->off = NULL;
    enc->blob = NULL;
    enc->blob_len = 0;
    enc->pair_rank = NULL;
    enc->filter = NULL;
    enc->nranks = 0;
}

am_status am_encoding_open(const char *name, const am_encoding_opts *opts,
                           am_encoding **out, am_error *err)
{
    am_status st = AM_OK;
    am_encoding_opts o = opts != NULL ? *opts : am_encoding_opts_default();
    const encoding_def *def = NULL;
    am_encoding *enc = NULL;
    am_buf text = AM_BUF_INIT;
    char path[4096];
    struct stat sb;
    bool use_cache;

    if (out == NULL || name == NULL)
        return am__fail(err, AM_EINVAL, "am_encoding_open: NULL argument");
    *out = NULL;
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
        if (strcmp(defs[i].name, name) == 0)
            def = &defs[i];
    if (def == NULL)
        return am__fail(err, AM_ENOTFOUND,
                        "unknown encoding '%s' (known: cl100k_base, "
                        "o200k_base, p50k_base, r50k_base)", name);
    st = find_rank_file(name, &o, path, sizeof path, err);
    if (st != AM_OK)
        return st;
    enc = am__calloc(o.alloc, 1, sizeof *enc);
    if (enc == NULL)
        return am__fail(err, AM_ENOMEM, "out of memory opening '%s'", name);
    enc->alloc = o.alloc;
    enc->def = def;
    use_cache = !(o.flags & AM_ENCODING_NO_CACHE) && stat(path, &sb) == 0;
    if (use_cache) {
        st = cache_read(enc, path, &sb);
        if (st == AM_ENOMEM) {
            am__fail(err, st, "out of memory opening '%s'", name);
            goto fail;
        }
        if (st != AM_OK)
            drop_tables(enc);
    }
    if (!use_cache || st != AM_OK) {
        text.alloc = o.alloc;
        st = am__read_file(path, &text, err);
        if (st != AM_OK)
            goto fail;
        st = parse_ranks(enc, path, (const uint8_t *)text.ptr, text.len,
                         err);
        if (st != AM_OK)
            goto fail;
        if (use_cache)
            cache_write(enc, path, &sb);
    }
    enc->vocab_size = enc->nranks;
    for (size_t i = 0; i < def->nspecials; i++) {
        if (def->specials[i].id < enc->nranks &&
            enc->off[def->specials[i].id + 1] !=
                enc->off[def->specials[i].id]) {
            st = am__fail(err, AM_EFORMAT, "%s: special token id %u is an "
                          "ordinary token: not a %s rank file", path,
                          def->specials[i].id, name);
            goto fail;
        }
        if (def->specials[i].id + 1 > enc->vocab_size)
            enc->vocab_size = def->specials[i].id + 1;
    }
    am_buf_free(&text);
    *out = enc;
    return AM_OK;

fail:
    am_buf_free(&text);
    am_encoding_free(enc);
    return st;
}

void am_encoding_free(am_encoding *enc)
{
    if (enc == NULL)
        return;
    drop_tables(enc);
    am__free(enc->alloc, enc, sizeof *enc);
}

const char *am_encoding_name(const am_encoding *enc)
{
    return enc != NULL ? enc->def->name : "";
}

size_t am_encoding_vocab_size(const am_encoding *enc)
{
    return enc != NULL ? enc->vocab_size : 0;
}

bool am_encoding_token_bytes(const am_encoding *enc, uint32_t id,
                             am_str *bytes)
{
    if (enc == NULL || bytes == NULL)
        return false;
    if (id < enc->nranks && enc->off[id + 1] != enc->off[id]) {
        bytes->ptr = (const char *)enc->blob + enc->off[id];
        bytes->len = enc->off[id + 1] - enc->off[id];
        return true;
    }
    for (size_t i = 0; i < enc->def->nspecials; i++)
        if (enc->def->specials[i].id == id) {
            bytes->ptr = enc->def->specials[i].text;
            bytes->len = enc->def->specials[i].len;
            return true;
        }
    return false;
}

bool am_encoding_special_id(const am_encoding *enc, am_str text,
                            uint32_t *id)
{
    if (enc == NULL || text.ptr == NULL)
        return false;
    for (size_t i = 0; i < enc->def->nspecials; i++) {
        const special *sp = &enc->def->specials[i];
        if (sp->len == text.len && memcmp(sp->text, text.ptr, text.len) == 0) {
            if (id != NULL)
                *id = sp->id;
            return true;
        }
    }
    return false;
}

void am_tokens_free(am_tokens *toks)
{
    if (toks == NULL)
        return;
    am__free(toks->alloc, toks->ids, toks->cap * sizeof(uint32_t));
    toks->ids = NULL;
    toks->count = 0;
    toks->cap = 0;
}

size_t am_tokens_approx(am_str text)
{
    return (text.len + 3) / 4;
}

/* ---- Byte-pair merging ---- */

/* Where a piece's tokens go: appended to `toks` when it is not NULL, else
 * only counted. */
typedef struct sink {
    am_tokens *toks;
    size_t count;
    size_t base; /* toks->count on entry, to roll back on failure */
    struct am_token_cache *cache; /* caller's cache, or NULL */
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

/* tiktoken's merge loop for short pieces: pos[] holds part starts (plus
 * n), rank[i] the rank of joining parts i and i+1. */
static am_status merge_small(const am_encoding *enc, const uint8_t *p,
                             size_t n, sink *k)
{
    uint32_t pos[SMALL_PIECE + 1];
    uint32_t rank[SMALL_PIECE + 1];
    uint32_t tok[SMALL_PIECE + 1]; /* the token each part is so far */
    size_t parts = n; /* number of parts; pos[parts] == n */

    for (size_t i = 0; i <= n; i++)
        pos[i] = (uint32_t)i;
    for (size_t i = 0; i + 1 < n; i++)
        rank[i] = enc->pair_rank[p[i] | (p[i + 1] << 8)];
    rank[n - 1] = NO_RANK;
    if (k->toks != NULL)
        for (size_t i = 0; i < n; i++)
            tok[i] = enc->byte_rank[p[i]];

    for (;;) {
        /* The lowest rank, leftmost on ties. */
        uint64_t key = UINT64_MAX;
        uint32_t best;
        size_t bi;
        for (size_t i = 0; i + 1 < parts; i++) {
            uint64_t c = ((uint64_t)rank[i] << 32) | i;
            key = c < key ? c : key;
        }
        best = (uint32_t)(key >> 32);
        if (best == NO_RANK)
            break;
        bi = (size_t)(uint32_t)key;
        /* Join parts bi and bi+1; the joined part is token `best`. */
        for (size_t i = bi + 1; i < parts; i++)
            pos[i] = pos[i + 1];
        for (size_t i = bi + 1; i + 1 < parts; i++)
            rank[i] = rank[i + 1];
        tok[bi] = best;
        if (k->toks != NULL)
            for (size_t i = bi + 1; i + 1 < parts; i++)
                tok[i] = tok[i + 1];
        parts--;
        /* The two new candidate pairs; their table slots are fetched
         * together so that the two cache misses overlap. */
        {
            size_t rn = bi + 1 < parts ? pos[bi + 2] - pos[bi] : 0;
            size_t ln = bi > 0 ? pos[bi + 1] - pos[bi - 1] : 0;
            uint64_t rh = 0, lh = 0;
            bool rmay = false, lmay = false;
            if (rn > 2) {
                rh = hash_bytes(p + pos[bi], rn);
                rmay = filter_has(enc->filter, rh);
                if (rmay)
                    __builtin_prefetch(&enc->slots[rh & enc->mask]);
            }
            if (ln > 2) {
                lh = hash_bytes(p + pos[bi - 1], ln);
                lmay = filter_has(enc->filter, lh);
                if (lmay)
                    __builtin_prefetch(&enc->slots[lh & enc->mask]);
            }
            rank[bi] = rn == 2 ? rank_of(enc, p + pos[bi], 2)
                       : rmay  ? probe(enc, p + pos[bi], rn, rh)
                               : NO_RANK;
            if (bi > 0)
                rank[bi - 1] = ln == 2 ? rank_of(enc, p + pos[bi - 1], 2)
                               : lmay  ? probe(enc, p + pos[bi - 1], ln, lh)
                                       : NO_RANK;
        }
    }
    if (k->toks == NULL) {
        k->count += parts;
        return AM_OK;
    }
    for (size_t i = 0; i < parts; i++) {
        am_status st = emit(k, tok[i]);
        if (st != AM_OK)
            return st;
    }
    return AM_OK;
}

/* Heap entry: (rank << 32 | left part start) orders by rank, then by
 * position, which is exactly tiktoken's choice of the pair to merge. */
typedef struct heap {
    uint64_t *v;
    size_t n;
} heap;

static void heap_push(heap *h, uint64_t x)
{
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->v[parent] <= x)
            break;
        h->v[i] = h->v[parent];
        i = parent;
    }
    h->v[i] = x;
}

static uint64_t heap_pop(heap *h)
{
    uint64_t top = h->v[0], x = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->v[c + 1] < h->v[c])
            c++;
        if (x <= h->v[c])
            break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n > 0)
        h->v[i] = x;
    return top;
}

/* Merging for long pieces: parts are a linked list over positions (next[],
 * prev[]), candidate pairs live in a heap with stale entries skipped on
 * pop. cur[s] is the rank of the pair (s, next[s]) for a live part start s,
 * NO_RANK when that pair is not a token or s is no longer a part start. A
 * heap entry (r, s) is current exactly when cur[s] == r: the bytes of the
 * pair starting at s only ever grow, and ranks are unique per byte string,
 * so an outdated entry can never match again. */
static am_status merge_large(const am_encoding *enc, const uint8_t *p,
                             size_t n, sink *k)
{
    const am_allocator *a = enc->alloc;
    am_status st = AM_OK;
    uint32_t *next = NULL, *prev = NULL, *cur = NULL;
    heap h = { NULL, 0 };

    if (n >= UINT32_MAX / 2)
        return AM_ENOMEM;
    next = am__alloc_array(a, n + 1, sizeof *next);
    prev = am__alloc_array(a, n + 1, sizeof *prev);
    cur = am__alloc_array(a, n + 1, sizeof *cur);
    /* At most n - 1 initial pairs plus two pushes per merge (n - 1). */
    h.v = am__alloc_array(a, 3 * n, sizeof *h.v);
    if (next == NULL || prev == NULL || cur == NULL || h.v == NULL) {
        st = AM_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i <= n; i++) {
        next[i] = (uint32_t)i + 1;
        prev[i] = i > 0 ? (uint32_t)i - 1 : 0;
        cur[i] = NO_RANK;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        cur[i] = rank_of(enc, p + i, 2);
        if (cur[i] != NO_RANK)
            heap_push(&h, ((uint64_t)cur[i] << 32) | i);
    }
    while (h.n > 0) {
        uint64_t top = heap_pop(&h);
        uint32_t s = (uint32_t)top, m, e, q;

        if (cur[s] != (uint32_t)(top >> 32))
            continue; /* outdated entry */
        /* Join s and m = next[s]: s now spans [s, e). */
        m = next[s];
        e = next[m];
        next[s] = e;
        cur[m] = NO_RANK;
        if (e < n)
            prev[e] = s;
        cur[s] = e < n ? rank_of(enc, p + s, next[e] - s) : NO_RANK;
        if (cur[s] != NO_RANK)
            heap_push(&h, ((uint64_t)cur[s] << 32) | s);
        if (s > 0) {
            q = prev[s];
            cur[q] = rank_of(enc, p + q, e - q);
            if (cur[q] != NO_RANK)
                heap_push(&h, ((uint64_t)cur[q] << 32) | q);
        }
    }
    for (uint32_t s = 0; s < n; s = next[s]) {
        if (k->toks == NULL) {
            k->count++;
            continue;
        }
        st = emit(k, rank_of(enc, p + s, next[s] - s));
        if (st != AM_OK)
            goto out;
    }

out:
    am__free(a, next, (n + 1) * sizeof *next);
    am__free(a, prev, (n + 1) * sizeof *prev);
    am__free(a, cur, (n + 1) * sizeof *cur);
    am__free(a, h.v, 3 * n * sizeof *h.v);
    return st;
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
    if (n <= SMALL_PIECE)
        return merge_small(enc, p, n, k);
    return merge_large(enc, p, n, k);
}

/* ---- Piece cache ----
 *
 * Text repeats its words, so a call over a long text keeps a small
 * direct-mapped cache of the pieces it has already encoded: the piece (a
 * pointer into the caller's text, verified byte for byte on a hit, so a
 * hit is always exact), its token count, and where its ids start in the
 * output. It lives on the stack of one call, which keeps the encoding
 * immutable and the cache free of locks. */
#define PCACHE_SIZE 1024      /* entries on the stack */
#define PCACHE_MIN_TEXT 1024  /* shorter texts skip the cache */
#define PCACHE_BIG 16384      /* entries on the heap, for long texts */
#define PCACHE_BIG_TEXT (256 * 1024)
#define PCACHE_MAX_PIECE 64

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
 * when a call encodes. */
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
};

am_status am_token_cache_create(const am_encoding *enc, size_t entries,
                                const am_allocator *alloc,
                                am_token_cache **out, am_error *err)
{
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
    am__free(c->alloc, c->e, (c->mask + 1) * sizeof *c->e);
    am__free(c->alloc, c, sizeof *c);
}

static am_status encode_with_cache(const am_encoding *enc,
                                   am_token_cache *c, const uint8_t *s,
                                   size_t len, sink *k)
{
    am__pat pat = enc->def->pat;
    size_t i = 0;
    am_status st = AM_OK;

    while (i < len) {
        size_t e = am__pretok_next(pat, s, len, i), n = e - i;
        const uint8_t *p = s + i;
        uint64_t h = hash_bytes(p, n);
        tc_entry *ce = &c->e[(h >> 40) & c->mask];
        size_t count0 = k->count;
        size_t at0 = k->toks != NULL ? k->toks->count : 0;
        size_t got;

        i = e;
        if (ce->len == n && same_bytes(ce->bytes, p, n) &&
            (k->toks == NULL || ce->has_ids)) {
            if (k->toks == NULL) {
                k->count += ce->count;
                continue;
            }
            for (size_t j = 0; j < ce->count && st == AM_OK; j++)
                st = emit(k, ce->ids[j]);
            if (st != AM_OK)
                return st;
            continue;
        }
        st = encode_piece(enc, p, n, h, k);
        if (st != AM_OK)
            return st;
        got = k->count - count0;
        if (n <= TC_BYTES && got <= TC_IDS) {
            memcpy(ce->bytes, p, n);
            ce->len = (uint8_t)n;
            ce->count = (uint8_t)got;
            ce->has_ids = k->toks != NULL;
            if (k->toks != NULL)
                memcpy(ce->ids, k->toks->ids + at0, got * sizeof(uint32_t));
        }
    }
    return AM_OK;
}

static am_status encode_ordinary(const am_encoding *enc, const uint8_t *s,
                                 size_t len, sink *k)
{
    am__pat pat = enc->def->pat;
    pcache_entry small[PCACHE_SIZE];
    pcache_entry *cache = small;
    size_t mask = PCACHE_SIZE - 1;
    /* Entries hold 32-bit offsets: a larger text, or a larger output,
     * goes without the cache. */
    bool cached = len >= PCACHE_MIN_TEXT && len < UINT32_MAX &&
                  (k->toks == NULL || k->toks->count < UINT32_MAX / 2);
    size_t i = 0;
    am_status st = AM_OK;

    if (k->cache != NULL)
        return encode_with_cache(enc, k->cache, s, len, k);
    /* A long text has more distinct words than the stack cache holds;
     * without memory for a bigger one it simply uses the small one. */
    if (len >= PCACHE_BIG_TEXT) {
        pcache_entry *big = am__calloc(enc->alloc, PCACHE_BIG, sizeof *big);
        if (big != NULL) {
            cache = big;
            mask = PCACHE_BIG - 1;
        }
    }
    if (cached && cache == small)
        memset(small, 0, sizeof small);
    while (i < len) {
        size_t e = am__pretok_next(pat, s, len, i), n = e - i;
        const uint8_t *p = s + i;
        uint64_t h = hash_bytes(p, n);
        pcache_entry *ce = &cache[(h >> 40) & mask];
        size_t count0 = k->count;
        size_t at0 = k->toks != NULL ? k->toks->count : 0;

        i = e;
        if (cached && ce->len == n && same_bytes(s + ce->at, p, n)) {
            st = replay(k, ce);
            if (st != AM_OK)
                break;
            continue;
        }
        st = encode_piece(enc, p, n, h, k);
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
        am__free(enc->alloc, cache, PCACHE_BIG * sizeof *cache);
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

am_status am_encoding_encode(const am_encoding *enc, am_str text,
                             const am_encode_opts *opts, am_tokens *out,
                             am_error *err)
{
    sink k;
    am_status st;

    if (enc == NULL || out == NULL)
        return am__fail(err, AM_EINVAL, "am_encoding_encode: NULL argument");
    k.toks = out;
    k.count = 0;
    k.base = out->count;
    k.cache = opts != NULL ? opts->cache : NULL;
    if (k.cache != NULL && k.cache->enc != enc)
        return am__fail(err, AM_EINVAL, "the token cache belongs to another "
                        "encoding");
    st = encode_text(enc, text, opts, &k, err);
    if (st != AM_OK) {
        out->count = k.base;
        if (st == AM_ENOMEM)
            am__fail(err, st, "out of memory encoding %zu bytes", text.len);
    }
    return st;
}

am_status am_encoding_count(const am_encoding *enc, am_str text,
                            const am_encode_opts *opts, size_t *count,
                            am_error *err)
{
    sink k = { NULL, 0, 0, NULL };
    am_status st;

    if (enc == NULL || count == NULL)
        return am__fail(err, AM_EINVAL, "am_encoding_count: NULL argument");
    k.cache = opts != NULL ? opts->cache : NULL;
    if (k.cache != NULL && k.cache->enc != enc)
        return am__fail(err, AM_EINVAL, "the token cache belongs to another "
                        "encoding");
    st = encode_text(enc, text, opts, &k, err);
    if (st == AM_ENOMEM)
        am__fail(err, st, "out of memory counting %zu bytes", text.len);
    *count = st == AM_OK ? k.count : 0;
    return st;
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
