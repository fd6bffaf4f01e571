/* memo.c -- the encoding's own piece memo (tokens_int.h: am__memo_*):
 * one am_token_cache per encoding for calls without a caller's cache,
 * taken with a try-lock, and the side tables a batch's threads fill while
 * they share the memo frozen.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "tokens/bpe_int.h"
#include "tokens/cache_int.h"
#include "tokens/tokens_int.h"

/* ---- The piece memo ----
 *
 * Agents count the same messages every turn, and a call without a
 * caller's cache would start cold every time. So the encoding keeps one
 * am_token_cache of its own for such calls. Its lock is taken with a
 * try-lock for the whole call: a thread that finds it taken runs cold,
 * exactly as without the memo, instead of waiting, so threads sharing one
 * encoding never serialize on it, and the tables stay immutable.
 *
 * The memo starts small and grows. A table is zeroed when it is made, and
 * on this VM a fresh page cost 16-23 us to touch under load: the full 6 MB
 * on the first call made that call 24 ms, where a ~40-byte count takes
 * 2 us. So the first call makes MEMO_FIRST entries (96 KB), and the memo
 * grows fourfold, up to memo_entries, at the end of a call once it has
 * stored as many pieces as it has entries (a working set that fits stops
 * storing, and the memo stops growing); a text of 256 KB or more first
 * grows it to the size of the per-call cache it would otherwise get. The
 * entries are carried over into the larger table. */
#define MEMO_FIRST 1024
#define MEMO_ENTRIES 65536
#define MEMO_ENTRIES_MAX ((size_t)1 << 20)
/* A batch on several threads holds the memo for the whole batch and
 * freezes it: every thread reads it, none writes it, so there is no race
 * and every thread is as warm as one thread would be. What a thread finds
 * nowhere goes into its side table (below), and the batch's end copies
 * what the sides stored into the memo, on the calling thread after the
 * others have stopped. (Before, the second thread had a table of its own,
 * a quarter of the memo, and a warm 2-thread batch of the benchmark's ~1
 * KB texts did 9.6% more instructions than one thread; see
 * docs/BENCHMARKS.md.) A side starts at MEMO_FIRST entries, or about
 * one per 32 bytes of a thread's share of a long batch, and grows
 * fourfold when a batch fills its log, up to max / MEMO_SIDE_SHARE
 * (8,192 entries, 800 KB with its log, by default): only what the memo
 * lacked lands there, which in a warm batch is little. Sides are kept for
 * the first AM__MEMO_SIDES threads: 1.6 MB at most, within the 20 MB an
 * encoding may hold with its tables and a full memo (docs/BENCHMARKS.md,
 * "The default batch path"). */
#define MEMO_SIDE_SHARE 8

typedef struct enc_memo {
    pthread_mutex_t lock;
    am_token_cache *cache; /* NULL until first use (or while it fails) */
    size_t max;            /* entries it may grow to (a power of two) */
    am_token_cache *side[AM__MEMO_SIDES]; /* NULL until a batch needs it */
    size_t side_max;       /* entries a side may grow to */
    bool used;             /* some call has stored a piece in it */
} enc_memo;

am_status am__memo_open(am_encoding *enc, const am_encoding_opts *o,
                        am_error *err)
{
    enc_memo *m;
    size_t max = o->memo_entries != 0 ? o->memo_entries : MEMO_ENTRIES;

    if (o->flags & AM_ENCODING_NO_MEMO)
        return AM_OK;
    if (o->memo_entries > MEMO_ENTRIES_MAX)
        return am__fail(err, AM_EINVAL, "memo_entries %zu is too big (at "
                        "most %zu)", o->memo_entries, MEMO_ENTRIES_MAX);
    m = am__calloc(enc->alloc, 1, sizeof *m);
    if (m == NULL)
        return am__fail(err, AM_ENOMEM, "out of memory for the piece memo");
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        am__free(enc->alloc, m, sizeof *m);
        return am__fail(err, AM_ENOMEM, "cannot create the piece memo's "
                        "lock");
    }
    m->max = MEMO_FIRST;
    while (m->max < max)
        m->max <<= 1;
    m->side_max = m->max / MEMO_SIDE_SHARE;
    if (m->side_max < MEMO_FIRST)
        m->side_max = MEMO_FIRST;
    enc->memo = m;
    return AM_OK;
}

void am__memo_close(am_encoding *enc)
{
    enc_memo *m = enc->memo;

    if (m == NULL)
        return;
    am_token_cache_free(m->cache);
    for (size_t i = 0; i < AM__MEMO_SIDES; i++)
        am_token_cache_free(m->side[i]);
    pthread_mutex_destroy(&m->lock);
    am__free(enc->alloc, m, sizeof *m);
    enc->memo = NULL;
}

/* Replace the memo's table with one of `n` entries (at most max), keeping
 * what the old one held. Without memory for it the old table stays. */
static void memo_grow(const am_encoding *enc, enc_memo *m, size_t n)
{
    am_token_cache_opts co = am_token_cache_opts_default();
    am_token_cache *old = m->cache, *c = NULL;

    co.entries = n < m->max ? n : m->max;
    co.alloc = enc->alloc;
    if (am_token_cache_create(enc, &co, &c, NULL) != AM_OK)
        return;
    if (old != NULL) {
        for (size_t i = 0; i <= old->mask; i++) {
            const tc_entry *oe = &old->e[i];
            if (oe->len > 0)
                c->e[(hash_bytes(oe->bytes, oe->len) >> 40) & c->mask] = *oe;
        }
        am_token_cache_free(old);
    }
    m->cache = c;
}

am_token_cache *am__memo_take(const am_encoding *enc, size_t len)
{
    enc_memo *m = enc->memo;
    size_t want = MEMO_FIRST;

    if (m == NULL)
        return NULL;
    if (pthread_mutex_trylock(&m->lock) != 0)
        return NULL;
    /* A long text gets what the per-call cache would give it. */
    while (want < m->max && want < len / 32)
        want <<= 1;
    if (m->cache == NULL || m->cache->mask + 1 < want)
        memo_grow(enc, m, want);
    if (m->cache == NULL) {
        pthread_mutex_unlock(&m->lock);
        return NULL;
    }
    return m->cache;
}

void am__memo_release(const am_encoding *enc)
{
    enc_memo *m = enc->memo;
    am_token_cache *c = m->cache;

    /* Before growing, which starts the count of stores again. */
    if (c->stores > 0)
        m->used = true;
    if (c->stores > c->mask && c->mask + 1 < m->max)
        memo_grow(enc, m, 4 * (c->mask + 1));
    pthread_mutex_unlock(&m->lock);
}

bool am__memo_empty(const am_encoding *enc)
{
    return !enc->memo->used;
}

/* A side table of n entries with its log, or NULL without memory. */
static am_token_cache *side_create(const am_encoding *enc, size_t n)
{
    am_token_cache_opts co = am_token_cache_opts_default();
    am_token_cache *c = NULL;

    co.entries = n;
    co.alloc = enc->alloc;
    if (am_token_cache_create(enc, &co, &c, NULL) != AM_OK)
        return NULL;
    c->log = am__alloc_array(enc->alloc, c->mask + 1, sizeof *c->log);
    if (c->log == NULL) {
        am_token_cache_free(c);
        return NULL;
    }
    return c;
}

am_token_cache *am__memo_side(const am_encoding *enc, size_t k,
                              size_t len)
{
    enc_memo *m = enc->memo;
    size_t want = MEMO_FIRST;

    if (m == NULL || k >= AM__MEMO_SIDES)
        return NULL;
    /* As for the memo: a long share of text starts with a larger side. */
    while (want < m->side_max && want < len / 32)
        want <<= 1;
    if (m->side[k] == NULL || m->side[k]->mask + 1 < want) {
        am_token_cache *c = side_create(enc, want);
        if (c != NULL) {
            am_token_cache_free(m->side[k]);
            m->side[k] = c;
        }
    }
    return m->side[k];
}

void am__memo_merge_sides(const am_encoding *enc)
{
    enc_memo *m = enc->memo;
    am_token_cache *c = m->cache;

    for (size_t k = 0; k < AM__MEMO_SIDES; k++) {
        am_token_cache *sd = m->side[k];
        size_t n;
        if (sd == NULL)
            continue;
        for (size_t j = 0; j < sd->logged; j++) {
            /* A later piece of the batch may have taken the entry since:
             * its place in the memo comes from its own bytes. */
            const tc_entry *se = &sd->e[sd->log[j] & sd->mask];
            c->e[(hash_bytes(se->bytes, se->len) >> 40) & c->mask] = *se;
        }
        c->stores += sd->logged;
        /* A side whose log filled was too small for what this batch
         * lacked: the next one gets a larger, empty one (what it held
         * is in the memo now). */
        n = sd->mask + 1;
        if (sd->logged > sd->mask && n < m->side_max) {
            am_token_cache *big = side_create(enc, 4 * n < m->side_max
                                                       ? 4 * n
                                                       : m->side_max);
            if (big != NULL) {
                am_token_cache_free(sd);
                m->side[k] = sd = big;
            }
        }
        sd->logged = 0;
    }
}
