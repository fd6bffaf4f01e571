/* rank_table.c -- loading an encoding: rank files, tables, binary cache.
 *
 * An encoding's rank table maps token bytes to a rank (which is also the
 * id). It is read from a .tiktoken file (one "BASE64 RANK" per line) found
 * on the documented search path, laid out once in a blob indexed by rank,
 * and indexed by an open-addressing hash (bpe_int.h), a 2-byte direct
 * table and a bit filter. The finished tables are cached in
 * <rank file>.bin so that later opens skip the parse. Nothing changes
 * after loading, so an encoding is shared by all threads without locks.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentmem/data.h"
#include "tokens/bpe_int.h"

/* The encodings we know: pattern and special tokens (from tiktoken). */
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

/* ---- The slot table's memory ----
 *
 * Lookups hit the 8 MB slot table at random, so with 4 KB pages nearly
 * every probe also misses the TLB: am__huge_calloc (core/huge.c) puts it
 * on transparent huge pages where the kernel offers them on request. */

static am_status slots_alloc(am_encoding *enc, size_t nslots)
{
    struct slot *slots;

    if (nslots > SIZE_MAX / sizeof(struct slot) / 2)
        return AM_ENOMEM;
    slots = am__huge_calloc(enc->alloc, nslots * sizeof(struct slot));
    if (slots == NULL)
        return AM_ENOMEM;
    enc->slots = slots;
    enc->mask = nslots - 1;
    return AM_OK;
}

static void slots_free(am_encoding *enc)
{
    if (enc->slots != NULL)
        am__huge_free(enc->alloc, enc->slots,
                      (enc->mask + 1) * sizeof(struct slot));
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

/* Is `r` the id of one of the encoding's special tokens? Their ids may
 * sit inside the ordinary ranks, as a gap (p50k_base's <|endoftext|> is
 * 50256, between ordinary ranks). */
static bool is_special_id(const encoding_def *def, size_t r)
{
    for (size_t i = 0; i < def->nspecials; i++)
        if (def->specials[i].id == r)
            return true;
    return false;
}

static am_status gap_at(const char *path, size_t r, size_t n, am_error *err)
{
    return am__fail(err, AM_EFORMAT, "%s: rank %zu is missing (ranks must "
                    "run from 0 without gaps but for special tokens; %zu "
                    "lines)", path, r, n);
}

/* The ranks of `recs` leave a gap that no special token explains: name
 * the first missing rank (without sizing anything by the largest). */
static am_status missing_rank(const am_encoding *enc, const char *path,
                              const line_rec *recs, size_t n, am_error *err)
{
    size_t span = n + enc->def->nspecials;
    uint64_t *seen = am__calloc(enc->alloc, span / 64 + 1, sizeof *seen);
    size_t r = 0;

    if (seen == NULL)
        return am__fail(err, AM_ENOMEM, "out of memory loading '%s'", path);
    for (size_t k = 0; k < n; k++)
        if (recs[k].rank < span)
            seen[recs[k].rank / 64] |= 1ull << (recs[k].rank % 64);
    while (r < span && ((seen[r / 64] >> (r % 64) & 1) ||
                        is_special_id(enc->def, r)))
        r++;
    am__free(enc->alloc, seen, (span / 64 + 1) * sizeof *seen);
    return gap_at(path, r, n, err);
}

/* ---- Reading a rank file, in steps: lines, layout by rank, index ---- */

/* The lines of a rank file: each token's rank and where its decoded bytes
 * sit in `scratch` (sized len + 1: decoded bytes are never longer than
 * the text). */
typedef struct rank_lines {
    line_rec *recs;
    size_t n, cap;
    uint8_t *scratch;
    size_t scratch_len;
    uint32_t max_rank;
} rank_lines;

/* Read every "BASE64 RANK" line of `text` into `rl`, checking each. */
static am_status read_lines(const am_allocator *a, const char *path,
                            const uint8_t *text, size_t len, rank_lines *rl,
                            am_error *err)
{
    size_t line = 0, i = 0;

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
        if (sp == end || sp + 1 == end)
            return am__fail(err, AM_EFORMAT, "%s:%zu: expected 'BASE64 "
                            "RANK'", path, line);
        for (size_t k = sp + 1; k < end; k++) {
            if (text[k] < '0' || text[k] > '9' || rank > 0xFFFFFFF0ull)
                return am__fail(err, AM_EFORMAT, "%s:%zu: bad rank '%.*s'",
                                path, line, (int)(end - sp - 1 > 20 ? 20 :
                                                  end - sp - 1),
                                (const char *)text + sp + 1);
            rank = rank * 10 + (uint64_t)(text[k] - '0');
        }
        blen = b64_decode(text + start, sp - start,
                          rl->scratch + rl->scratch_len);
        if (blen <= 0)
            return am__fail(err, AM_EFORMAT, "%s:%zu: bad base64 token",
                            path, line);
        if (rank > 0x7FFFFFFF)
            return am__fail(err, AM_EFORMAT, "%s:%zu: rank %llu too large",
                            path, line, (unsigned long long)rank);
        if (rl->n == rl->cap) {
            am_status st = am__grow(a, (void **)&rl->recs, &rl->cap,
                                    rl->n + 1, sizeof *rl->recs);
            if (st != AM_OK)
                return am__fail(err, st, "out of memory loading '%s'", path);
        }
        rl->recs[rl->n].rank = (uint32_t)rank;
        rl->recs[rl->n].boff = (uint32_t)rl->scratch_len;
        rl->recs[rl->n].blen = (uint32_t)blen;
        rl->n++;
        rl->scratch_len += (size_t)blen;
        if (rank > rl->max_rank)
            rl->max_rank = (uint32_t)rank;
    }
    return AM_OK;
}

/* Lay the tokens out by rank in enc->blob/off (a counting sort: lengths
 * first, then prefix sums), each rank once and none missing but for
 * special tokens; allocates the lookup slots too. */
static am_status layout_by_rank(am_encoding *enc, const char *path,
                                const rank_lines *rl, am_error *err)
{
    const am_allocator *a = enc->alloc;
    uint32_t *len_by_rank;

    enc->nranks = rl->max_rank + 1;
    enc->off = am__alloc_array(a, (size_t)enc->nranks + 1, sizeof(uint32_t));
    enc->blob = am__alloc(a, rl->scratch_len);
    enc->blob_len = enc->blob != NULL ? rl->scratch_len : 0;
    for (size_t s = 16; s < (size_t)rl->n * 2; s <<= 1)
        enc->mask = s * 2 - 1;
    if (enc->mask == 0)
        enc->mask = 31;
    if (slots_alloc(enc, enc->mask + 1) != AM_OK)
        enc->mask = 0;
    if (enc->off == NULL || enc->blob == NULL || enc->slots == NULL)
        return am__fail(err, AM_ENOMEM, "out of memory loading '%s'", path);
    len_by_rank = enc->off;
    memset(len_by_rank, 0, ((size_t)enc->nranks + 1) * sizeof(uint32_t));
    for (size_t k = 0; k < rl->n; k++) {
        if (len_by_rank[rl->recs[k].rank + 1] != 0)
            return am__fail(err, AM_EFORMAT, "%s: rank %u appears twice",
                            path, rl->recs[k].rank);
        len_by_rank[rl->recs[k].rank + 1] = rl->recs[k].blen;
    }
    for (size_t r = 0; r < enc->nranks; r++)
        if (len_by_rank[r + 1] == 0 && !is_special_id(enc->def, r))
            return gap_at(path, r, rl->n, err);
    for (size_t r = 1; r <= enc->nranks; r++)
        enc->off[r] += enc->off[r - 1];
    for (size_t k = 0; k < rl->n; k++)
        memcpy(enc->blob + enc->off[rl->recs[k].rank],
               rl->scratch + rl->recs[k].boff, rl->recs[k].blen);
    return AM_OK;
}

/* The lookup structures over the laid-out tokens: the open-addressing
 * slots (each token's bytes once), the rank of every single byte (all
 * 256 must have one), the Bloom filter and the two-byte table. */
static am_status build_index(am_encoding *enc, const char *path,
                             const rank_lines *rl, am_error *err)
{
    const am_allocator *a = enc->alloc;

    for (size_t b = 0; b < 256; b++)
        enc->byte_rank[b] = NO_RANK;
    for (size_t k = 0; k < rl->n; k++) {
        uint32_t r = rl->recs[k].rank;
        const uint8_t *p = enc->blob + enc->off[r];
        uint64_t h = hash_bytes(p, rl->recs[k].blen);
        size_t at = (size_t)h & enc->mask;

        if (lookup(enc, p, rl->recs[k].blen) != NO_RANK)
            return am__fail(err, AM_EFORMAT, "%s: token of rank %u appears "
                            "twice", path, r);
        while (enc->slots[at].len != 0)
            at = (at + 1) & enc->mask;
        enc->slots[at].head = load_head(p, rl->recs[k].blen);
        enc->slots[at].rank = r;
        enc->slots[at].len = rl->recs[k].blen;
        if (rl->recs[k].blen == 1)
            enc->byte_rank[p[0]] = r;
    }
    for (size_t b = 0; b < 256; b++)
        if (enc->byte_rank[b] == NO_RANK)
            return am__fail(err, AM_EFORMAT, "%s: no token for byte 0x%02zx",
                            path, b);
    enc->filter = am__calloc(a, FILTER_BITS / 64, sizeof(uint64_t));
    if (enc->filter == NULL)
        return am__fail(err, AM_ENOMEM, "out of memory loading '%s'", path);
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
    if (enc->pair_rank == NULL)
        return am__fail(err, AM_ENOMEM, "out of memory loading '%s'", path);
    for (size_t w = 0; w < 65536; w++) {
        uint8_t two[2] = { (uint8_t)(w & 0xFF), (uint8_t)(w >> 8) };
        enc->pair_rank[w] = lookup(enc, two, 2);
    }
    return AM_OK;
}

static am_status parse_ranks(am_encoding *enc, const char *path,
                             const uint8_t *text, size_t len, am_error *err)
{
    const am_allocator *a = enc->alloc;
    rank_lines rl = { NULL, 0, 0, NULL, 0, 0 };
    am_status st;

    rl.scratch = am__alloc(a, len + 1);
    if (rl.scratch == NULL)
        return am__fail(err, AM_ENOMEM, "out of memory loading '%s'", path);
    st = read_lines(a, path, text, len, &rl, err);
    if (st == AM_OK && rl.n == 0)
        st = am__fail(err, AM_EFORMAT, "%s: no tokens", path);
    /* Ranks are token ids: they must be 0..n-1, each once. Checked before
     * anything is sized by the largest rank (one line of rank 2^31 - 1
     * asked for gigabytes). */
    if (st == AM_OK &&
        (size_t)rl.max_rank + 1 > rl.n + enc->def->nspecials)
        st = missing_rank(enc, path, rl.recs, rl.n, err);
    if (st == AM_OK)
        st = layout_by_rank(enc, path, &rl, err);
    if (st == AM_OK)
        st = build_index(enc, path, &rl, err);
    am__free(a, rl.recs, rl.cap * sizeof *rl.recs);
    am__free(a, rl.scratch, len + 1);
    return st;
}

am_encoding_opts am_encoding_opts_default(void)
{
    am_encoding_opts o;
    memset(&o, 0, sizeof o);
    return o;
}

/* Find <name>.tiktoken: the explicit file, else the one search order of
 * data files (data.h) with data_dir first. Writes the path to `out`. */
static am_status find_rank_file(const char *name, const am_encoding_opts *o,
                                char *out, size_t cap, am_error *err)
{
    char file[128];

    if (o->rank_file != NULL) {
        if (strlen(o->rank_file) + 1 > cap)
            return am__fail(err, AM_EINVAL, "rank file path too long");
        memcpy(out, o->rank_file, strlen(o->rank_file) + 1);
        return AM_OK;
    }
    if ((size_t)snprintf(file, sizeof file, "%s.tiktoken", name) >=
        sizeof file)
        return am__fail(err, AM_EINVAL, "encoding name too long");
    return am_data_find(o->data_dir, file, out, cap, err);
}


/* ---- Binary cache of the tables ----
 *
 * Parsing a rank file (base64, hashing 200,000 tokens, building the
 * filter) takes tens of milliseconds. After a parse, open writes the
 * finished tables next to the rank file as <rank file>.bin (if the
 * directory is writable; failure is silent), and later opens map that file
 * read-only and use the tables where they lie: no copy, and the pages are
 * the kernel's page cache, shared by every process that opens the
 * encoding. (Reading the 12.6 MB of o200k_base into fresh memory took
 * 3.8-4.4 ms of CPU time, best of 9 opens, at load average 19; mapping it
 * 2.4-3.6 ms in the same runs, see docs/BENCHMARKS.md. What is left is
 * the one pass over the mapped tables that checks them.) The cache records the rank file's size and
 * modification time, the layout constants, and a hash of its payload; any
 * mismatch or damage means "no cache": the rank file is parsed again and
 * the cache rewritten. The cache is only ever replaced by renaming a new
 * file over it, never written in place, so a mapping stays valid while
 * the encoding lives.
 *
 * Layout: the sections of sections_of() in that order from offset 0,
 * each at an offset that is a multiple of CACHE_ALIGN (zero bytes
 * between), so that every table is aligned for its type where it is
 * mapped, then the header. The slot table comes first, at offset 0 of a
 * mapping the kernel places at a 2 MB boundary: where the file's page
 * cache is held in 2 MB folios (ext4 on Linux 6.x), the 8 MB table the
 * merge loop probes at random is then mapped with huge pages, as the
 * parsed tables are (slots_alloc). */

#define RANK_FILE_MAX ((size_t)64 << 20)

#define CACHE_MAGIC "AMBPE\0\0\1"
#define CACHE_VERSION 2u
#define CACHE_ALIGN 64

enum { SEC_SLOTS, SEC_FILTER, SEC_PAIR, SEC_BLOB, SEC_BYTE, SEC_OFF,
       NSECTIONS };

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
    uint64_t payload_hash; /* sum_bytes chained over the sections */
} cache_hdr;

typedef struct section {
    void *ptr;
    size_t len;
} section;

static size_t align_up(size_t n)
{
    return (n + CACHE_ALIGN - 1) & ~(size_t)(CACHE_ALIGN - 1);
}

/* The sections' lengths for these table sizes and where each starts in
 * the file; returns where the header starts (the file is that plus the
 * header). The blob is not last: a probe may read up to a token's length
 * past its end (see cache_verify), and the byte and offset tables follow
 * it. */
static size_t cache_layout(size_t nranks, size_t blob_len, size_t mask,
                           size_t len[NSECTIONS], size_t at[NSECTIONS])
{
    size_t end = 0;

    len[SEC_SLOTS] = (mask + 1) * sizeof(slot);
    len[SEC_FILTER] = FILTER_BITS / 8;
    len[SEC_PAIR] = 65536 * sizeof(uint32_t);
    len[SEC_BLOB] = blob_len;
    len[SEC_BYTE] = 256 * sizeof(uint32_t);
    len[SEC_OFF] = (nranks + 1) * sizeof(uint32_t);
    for (size_t i = 0; i < NSECTIONS; i++) {
        at[i] = align_up(end);
        end = at[i] + len[i];
    }
    return align_up(end);
}

static void sections_of(am_encoding *enc, section sec[NSECTIONS])
{
    sec[SEC_SLOTS] = (section){ enc->slots, (enc->mask + 1) * sizeof(slot) };
    sec[SEC_FILTER] = (section){ enc->filter, FILTER_BITS / 8 };
    sec[SEC_PAIR] = (section){ enc->pair_rank, 65536 * 4 };
    sec[SEC_BLOB] = (section){ enc->blob, enc->blob_len };
    sec[SEC_BYTE] = (section){ enc->byte_rank, sizeof enc->byte_rank };
    sec[SEC_OFF] = (section){ enc->off, ((size_t)enc->nranks + 1) * 4 };
}

/* The payload check: four independent multiply-rotate lanes over 32-byte
 * blocks, so that the multiplies overlap instead of forming one chain (one
 * am__hash64 chain over the 11 MB of o200k_base was ~40% of the time an
 * open took). Each step is a bijection of a lane's state for a given word,
 * and of the word for a given state, so a single changed word always
 * changes the result. It catches accidents, not attacks: see
 * cache_consistent. */
static inline uint64_t rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static uint64_t sum_bytes(const uint8_t *p, size_t len, uint64_t seed)
{
    const uint64_t k = 0x9E3779B97F4A7C15ull;
    uint64_t l0 = seed, l1 = seed ^ 0x243F6A8885A308D3ull;
    uint64_t l2 = seed ^ 0x13198A2E03707344ull;
    uint64_t l3 = seed ^ 0xA4093822299F31D0ull;
    size_t i = 0;

    for (; i + 32 <= len; i += 32) {
        l0 = rotl64(l0 ^ load64(p + i), 29) * k;
        l1 = rotl64(l1 ^ load64(p + i + 8), 29) * k;
        l2 = rotl64(l2 ^ load64(p + i + 16), 29) * k;
        l3 = rotl64(l3 ^ load64(p + i + 24), 29) * k;
    }
    {
        uint64_t lanes[4] = { l0, l1, l2, l3 };
        return am__hash64(lanes, sizeof lanes,
                          am__hash64(p + i, len - i, seed ^ len));
    }
}

uint64_t am__tokens_cache_sum(const void *p, size_t len, uint64_t seed)
{
    return sum_bytes(p, len, seed);
}

static uint64_t sections_hash(const section *sec, size_t n)
{
    uint64_t h = AM__CACHE_SUM_SEED;
    for (size_t i = 0; i < n; i++)
        h = sum_bytes(sec[i].ptr, sec[i].len, h);
    return h;
}

static void cache_path(char *out, size_t cap, const char *rank_path)
{
    snprintf(out, cap, "%s.bin", rank_path);
}

/* The slots' share of sections_hash() (sum_bytes over them, two 16-byte
 * slots per 32-byte block), and in the same pass over the 8 MB (read
 * from memory once, not twice) the slots' part of cache_verify. */
static uint64_t sum_slots(const slot *sl, size_t n, uint64_t seed,
                          uint32_t nranks, uint32_t longest, size_t *used,
                          bool *bad)
{
    const uint64_t k = 0x9E3779B97F4A7C15ull;
    const uint8_t *p = (const uint8_t *)sl;
    uint64_t l0 = seed, l1 = seed ^ 0x243F6A8885A308D3ull;
    uint64_t l2 = seed ^ 0x13198A2E03707344ull;
    uint64_t l3 = seed ^ 0xA4093822299F31D0ull;
    size_t u = 0;
    bool b = false;

    assert(n % 2 == 0);
    for (size_t i = 0; i < n; i += 2, p += 32) {
        l0 = rotl64(l0 ^ load64(p), 29) * k;
        l1 = rotl64(l1 ^ load64(p + 8), 29) * k;
        l2 = rotl64(l2 ^ load64(p + 16), 29) * k;
        l3 = rotl64(l3 ^ load64(p + 24), 29) * k;
        /* Branch-free, so that the pass runs at memory speed. */
        u += (sl[i].len != 0) + (sl[i + 1].len != 0);
        b |= (sl[i].len != 0 && (sl[i].rank >= nranks ||
                                 sl[i].len > longest)) |
             (sl[i + 1].len != 0 && (sl[i + 1].rank >= nranks ||
                                     sl[i + 1].len > longest));
    }
    *used = u;
    *bad = b;
    {
        uint64_t lanes[4] = { l0, l1, l2, l3 };
        return am__hash64(lanes, sizeof lanes,
                          am__hash64(p, 0, seed ^ (n * sizeof(slot))));
    }
}

/* Are the tables mapped from a cache intact (the payload hash matches)
 * and safe to use: offsets rise (strictly but at special ids: ranks are
 * dense) and end at the blob's end, every occupied slot names a rank that
 * exists and is no longer than the longest token, which the mapping holds
 * beyond the blob's end (`slack` bytes), at least one slot is empty (a
 * probe stops), and the byte and pair tables name ranks that exist.
 *
 * A slot's length is not compared with its rank's: that read off[] at
 * random, a cache miss per token, and a probe stays inside the mapping
 * without it (it reads the slot's length of bytes from the rank's offset,
 * so at most the longest token past the blob's end). The payload hash
 * only catches accidents (anyone can recompute it): a tampered file with a
 * recomputed hash can give wrong ids, but never a read outside the
 * tables. */
static bool cache_verify(am_encoding *enc, size_t slack, uint64_t want)
{
    section sec[NSECTIONS];
    uint64_t h = AM__CACHE_SUM_SEED;
    size_t used = 0;
    uint32_t longest = 0;
    bool bad = false;

    sections_of(enc, sec);
    if (enc->off[0] != 0 || enc->off[enc->nranks] != enc->blob_len)
        return false;
    for (size_t r = 0; r < enc->nranks; r++) {
        uint32_t n = enc->off[r + 1] - enc->off[r];
        if (enc->off[r] > enc->off[r + 1] ||
            (n == 0 && !is_special_id(enc->def, r)))
            return false;
        longest = n > longest ? n : longest;
    }
    if (longest > slack)
        return false;
    for (size_t i = 0; i < NSECTIONS; i++)
        h = i == SEC_SLOTS ? sum_slots(enc->slots, enc->mask + 1, h, enc->nranks,
                               longest, &used, &bad)
                           : sum_bytes(sec[i].ptr, sec[i].len, h);
    if (h != want || bad || used > enc->mask)
        return false;
    for (size_t b = 0; b < 256; b++)
        if (enc->byte_rank[b] >= enc->nranks)
            return false;
    for (size_t w = 0; w < 65536; w++)
        if (enc->pair_rank[w] != NO_RANK && enc->pair_rank[w] >= enc->nranks)
            return false;
    return true;
}

/* Map the cache for `rank_path` into `enc` (which has alloc and def).
 * Returns AM_OK, or AM_ENOTFOUND for "no usable cache" (then `enc` holds
 * no tables). */
static am_status cache_read(am_encoding *enc, const char *rank_path,
                            const struct stat *src)
{
    char path[4200];
    cache_hdr h;
    size_t len[NSECTIONS], at[NSECTIONS], hdr_at;
    struct stat cst;
    uint8_t *map;
    int fd;

    cache_path(path, sizeof path, rank_path);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return AM_ENOTFOUND;
    if (fstat(fd, &cst) != 0 || !S_ISREG(cst.st_mode) ||
        (uint64_t)cst.st_size < sizeof h ||
        (uint64_t)cst.st_size > ((uint64_t)1 << 32)) {
        close(fd);
        return AM_ENOTFOUND;
    }
    /* MAP_POPULATE: the checks below read every page anyway; one call
     * maps them all instead of a fault per page. Shared or private makes
     * no difference to pages only read. */
    map = mmap(NULL, (size_t)cst.st_size, PROT_READ,
               MAP_SHARED | MAP_POPULATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return AM_ENOTFOUND;
    enc->map = map;
    enc->map_len = (size_t)cst.st_size;
    hdr_at = enc->map_len - sizeof h;
    memcpy(&h, map + hdr_at, sizeof h);
    if (memcmp(h.magic, CACHE_MAGIC, 8) != 0 ||
        h.version != CACHE_VERSION || h.endian != 0x01020304u ||
        strncmp(h.name, enc->def->name, sizeof h.name) != 0 ||
        h.src_size != (uint64_t)src->st_size ||
        h.src_mtime_ns != (int64_t)src->st_mtim.tv_sec * 1000000000 +
                              src->st_mtim.tv_nsec ||
        h.slot_size != sizeof(slot) || h.filter_bits != FILTER_BITS ||
        h.nranks == 0 || h.nranks > (1u << 24) ||
        h.blob_len > ((uint64_t)1 << 30) || h.mask > ((uint64_t)1 << 26) ||
        ((h.mask + 1) & h.mask) != 0 ||
        cache_layout(h.nranks, (size_t)h.blob_len, (size_t)h.mask, len,
                     at) != hdr_at)
        return AM_ENOTFOUND;
    enc->nranks = h.nranks;
    enc->slots = (slot *)(void *)(map + at[SEC_SLOTS]);
    enc->mask = (size_t)h.mask;
    enc->filter = (uint64_t *)(void *)(map + at[SEC_FILTER]);
    enc->pair_rank = (uint32_t *)(void *)(map + at[SEC_PAIR]);
    enc->blob = map + at[SEC_BLOB];
    enc->blob_len = (size_t)h.blob_len;
    memcpy(enc->byte_rank, map + at[SEC_BYTE], len[SEC_BYTE]);
    enc->off = (uint32_t *)(void *)(map + at[SEC_OFF]);
    if (!cache_verify(enc, hdr_at - at[SEC_BLOB] - len[SEC_BLOB],
                      h.payload_hash))
        return AM_ENOTFOUND;
    return AM_OK;
}

/* Write the cache; any failure just leaves no cache behind. */
static void cache_write(am_encoding *enc, const char *rank_path,
                        const struct stat *src)
{
    static const uint8_t zeros[CACHE_ALIGN];
    char path[4200], tmp[4300];
    cache_hdr h;
    section sec[NSECTIONS];
    size_t len[NSECTIONS], at[NSECTIONS], pos = 0, hdr_at;
    FILE *fp;
    bool ok = true;

    sections_of(enc, sec);
    hdr_at = cache_layout(enc->nranks, enc->blob_len, enc->mask, len, at);
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
    h.payload_hash = sections_hash(sec, NSECTIONS);

    cache_path(path, sizeof path, rank_path);
    /* Unique per process and per encoding being opened. */
    snprintf(tmp, sizeof tmp, "%s.%ld.%p.tmp", path, (long)getpid(),
             (void *)enc);
    fp = fopen(tmp, "wb");
    if (fp == NULL)
        return;
    for (size_t i = 0; i < NSECTIONS && ok; i++) {
        assert(sec[i].len == len[i] && at[i] >= pos &&
               at[i] - pos < CACHE_ALIGN);
        ok = fwrite(zeros, 1, at[i] - pos, fp) == at[i] - pos &&
             fwrite(sec[i].ptr, 1, sec[i].len, fp) == sec[i].len;
        pos = at[i] + len[i];
    }
    ok = ok && fwrite(zeros, 1, hdr_at - pos, fp) == hdr_at - pos &&
         fwrite(&h, sizeof h, 1, fp) == 1;
    ok = fclose(fp) == 0 && ok;
    if (!ok || rename(tmp, path) != 0)
        unlink(tmp);
}

/* Drop the tables: unmap the cache they were read from, or free them. */
static void drop_tables(am_encoding *enc)
{
    const am_allocator *a = enc->alloc;
    if (enc->map != NULL) {
        munmap(enc->map, enc->map_len);
        enc->map = NULL;
        enc->map_len = 0;
        enc->slots = NULL;
        enc->mask = 0;
    } else {
        if (enc->off != NULL)
            am__free(a, enc->off,
                     ((size_t)enc->nranks + 1) * sizeof(uint32_t));
        am__free(a, enc->blob, enc->blob_len);
        slots_free(enc);
        if (enc->pair_rank != NULL)
            am__free(a, enc->pair_rank, 65536 * sizeof(uint32_t));
        if (enc->filter != NULL)
            am__free(a, enc->filter, FILTER_BITS / 8);
    }
    enc->off = NULL;
    enc->blob = NULL;
    enc->blob_len = 0;
    enc->pair_rank = NULL;
    enc->filter = NULL;
    enc->nranks = 0;
}

am_status am_encoding_create(const char *name, const am_encoding_opts *opts,
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
        return am__fail(err, AM_EINVAL, "am_encoding_create: NULL argument");
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
    st = am__memo_open(enc, &o, err);
    if (st != AM_OK)
        goto fail;
    use_cache = !(o.flags & AM_ENCODING_NO_CACHE) && stat(path, &sb) == 0;
    if (use_cache) {
        st = cache_read(enc, path, &sb);
        if (st != AM_OK)
            drop_tables(enc);
    }
    if (!use_cache || st != AM_OK) {
        text.alloc = o.alloc;
        /* The largest rank file (o200k_base) is 3.6 MB: a limit keeps a
         * wrong path (/dev/zero, a disk image) from reading forever. */
        st = am__read_file_max(path, RANK_FILE_MAX, &text, err);
        if (st != AM_OK)
            goto fail;
        st = parse_ranks(enc, path, (const uint8_t *)text.ptr, text.len,
                         err);
        if (st != AM_OK)
            goto fail;
        if (use_cache)
            cache_write(enc, path, &sb);
    }
    enc->merge_avx2 = am__merge_avx2_usable();
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
    am__memo_close(enc);
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
    return am__tokens_estimate(text.len);
}
