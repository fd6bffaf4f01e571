/* batch.c -- count or encode many texts on several threads.
 *
 * A batch is fork-join. The calling thread and threads - 1 workers it
 * starts claim blocks of consecutive texts from one atomic cursor until
 * none are left, so a thread that drew slow text (multilingual, long
 * merges) simply claims fewer blocks, and nobody waits for a fixed share.
 * The encoding's tables are immutable and shared without locks; what a
 * thread owns is its token cache (when the caller passed one) and the
 * results of the texts it claimed. Without a caller's cache the batch
 * takes the encoding's piece memo for its whole length (when no other
 * call holds it): one thread writes it as one call at a time would;
 * several threads all read it frozen, each putting what it finds there
 * not in a side table of its own, and the calling thread copies the
 * sides into the memo after joining the others, so every thread runs as
 * warm as one would. A text is never split: a batch of one huge text runs
 * on one thread.
 *
 * A failure does not stop the others: every text is tried, and the lowest
 * failing index is reported, so the error does not depend on timing.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "tokens/bpe_int.h"

/* More threads than this is a caller bug, not a machine. */
#define BATCH_MAX_THREADS 256
/* A block is 1 / (BATCH_GUIDE * threads) of the texts nobody has claimed
 * yet, at least one and at most BATCH_MAX_BLOCK: large while much is left
 * (a block of small texts costs one atomic operation, not one per text),
 * a single text at the end. Fixed blocks of 1/16 of each thread's share
 * (before) left one thread idle for part of the last block: replaying the
 * measured cost of each text of the benchmark's batch (6,629 ~1 KB texts)
 * through both rules, 1.50 ms idle of a 43 ms batch with cl100k_base
 * (speed-up at most 1.97x on 2 cores), 0.00 ms with shrinking blocks. */
#define BATCH_GUIDE 4
#define BATCH_MAX_BLOCK 256
/* Each thread beyond the first gets at least this much text: starting and
 * joining a thread costs ~30 us here (best of 2,000 pthread_create and
 * pthread_join pairs, more under load), 64 KB of text 0.4-1.6 ms of
 * counting, so a short batch does not pay more for threads than they
 * save. */
#define BATCH_MIN_BYTES_PER_THREAD (64 * 1024)

typedef struct batch {
    const am_encoding *enc;
    const am_str *texts;
    size_t count;
    size_t threads;
    size_t *counts;     /* count mode */
    am_tokens *outs;    /* encode mode */
    /* The first text nobody has claimed, on a cache line of its own: every
     * claim writes it, and the fields above are read for every text. */
    _Alignas(64) atomic_size_t next;
    _Alignas(64) pthread_mutex_t lock;
    size_t fail_at;     /* lowest failing index (SIZE_MAX: none), lock */
    am_status fail_st;  /* its status, under lock */
    am_error fail_err;  /* its detail, under lock */
} batch;

typedef struct worker {
    batch *b;
    am_encode_opts opts;         /* the caller's */
    am_token_cache *cache;       /* this thread's cache, or NULL */
    const am_token_cache *frozen; /* the memo, read by every thread */
    am_token_cache *own;         /* a cache this worker made, or NULL */
} worker;

static void record_failure(batch *b, size_t i, am_status st,
                           const am_error *e)
{
    pthread_mutex_lock(&b->lock);
    if (i < b->fail_at) {
        b->fail_at = i;
        b->fail_st = st;
        b->fail_err = *e;
    }
    pthread_mutex_unlock(&b->lock);
}

size_t am__batch_claim(size_t left, size_t threads)
{
    size_t n = left / ((threads > 0 ? threads : 1) * BATCH_GUIDE);

    if (n < 1)
        n = 1;
    return n > BATCH_MAX_BLOCK ? BATCH_MAX_BLOCK : n;
}

size_t am__batch_threads(size_t threads, size_t count, size_t bytes)
{
    size_t by_bytes = 1 + bytes / BATCH_MIN_BYTES_PER_THREAD;

    if (threads > count)
        threads = count;
    if (threads > by_bytes)
        threads = by_bytes;
    return threads > 0 ? threads : 1;
}

static void *work(void *arg)
{
    worker *w = arg;
    batch *b = w->b;
    size_t at = atomic_load_explicit(&b->next, memory_order_relaxed);

    for (;;) {
        size_t end;

        if (at >= b->count)
            break;
        end = at + am__batch_claim(b->count - at, b->threads);
        /* On failure `at` is reloaded with the current cursor. */
        if (!atomic_compare_exchange_weak_explicit(&b->next, &at, end,
                                                   memory_order_relaxed,
                                                   memory_order_relaxed))
            continue;
        for (size_t i = at; i < end; i++) {
            am_error e = { AM_OK, "" }; /* filled by a failing call */
            am_status st = am__encoding_run(
                b->enc, b->texts[i], &w->opts, w->frozen, w->cache,
                b->outs != NULL ? &b->outs[i] : NULL,
                b->counts != NULL ? &b->counts[i] : NULL, &e);
            if (st != AM_OK)
                record_failure(b, i, st, &e);
        }
        at = atomic_load_explicit(&b->next, memory_order_relaxed);
    }
    return NULL;
}

static size_t online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (size_t)n : 1;
}

/* Count (counts != NULL) or encode (outs != NULL) every text. */
static am_status run_batch(const am_encoding *enc, const am_str *texts,
                           size_t count, const am_encode_opts *opts,
                           size_t threads, size_t *counts, am_tokens *outs,
                           am_error *err)
{
    am_encode_opts o = { 0 };
    worker w[BATCH_MAX_THREADS];
    pthread_t tid[BATCH_MAX_THREADS];
    bool started[BATCH_MAX_THREADS];
    size_t *base = NULL; /* encode: each output's count on entry */
    size_t cache_entries = 0, bytes = 0;
    am_token_cache *memo = NULL;
    bool fill;
    batch b;
    am_status st = AM_OK;

    if (opts != NULL)
        o = *opts;
    if (threads == 0)
        threads = online_cpus();
    if (threads > BATCH_MAX_THREADS)
        return am__fail(err, AM_EINVAL, "%zu threads is too many (at most "
                        "%d)", threads, BATCH_MAX_THREADS);
    if (o.cache != NULL) {
        if (am__token_cache_encoding(o.cache) != enc)
            return am__fail(err, AM_EINVAL, "the token cache belongs to "
                            "another encoding");
        cache_entries = am__token_cache_entries(o.cache);
    }
    for (size_t i = 0; i < count; i++) {
        if (texts[i].ptr == NULL && texts[i].len > 0)
            return am__fail(err, AM_EINVAL, "texts[%zu].ptr is NULL", i);
        bytes += texts[i].len;
    }
    if (count == 0)
        return AM_OK;
    if (outs != NULL) {
        base = am__alloc_array(enc->alloc, count, sizeof *base);
        if (base == NULL)
            return am__fail(err, AM_ENOMEM, "out of memory for a batch of "
                            "%zu texts", count);
        for (size_t i = 0; i < count; i++)
            base[i] = outs[i].count;
    }

    memset(&b, 0, sizeof b);
    b.enc = enc;
    b.texts = texts;
    b.count = count;
    b.counts = counts;
    b.outs = outs;
    b.fail_at = SIZE_MAX;
    atomic_init(&b.next, 0);
    pthread_mutex_init(&b.lock, NULL);
    threads = am__batch_threads(threads, count, bytes);
    b.threads = threads;

    /* Held for the whole batch and given back on this thread, as a mutex
     * must be. */
    if (o.cache == NULL)
        memo = am__memo_take(enc, bytes);
    /* An empty memo has nothing to share: the calling thread fills it
     * (the others their sides) rather than all of them starting with
     * only a side. */
    fill = memo != NULL && am__memo_empty(enc);
    for (size_t k = 0; k < threads; k++) {
        w[k].b = &b;
        w[k].opts = o;
        w[k].cache = k == 0 ? o.cache : NULL;
        w[k].frozen = NULL;
        w[k].own = NULL;
        started[k] = false;
        if (memo != NULL && (threads == 1 || (k == 0 && fill))) {
            w[k].cache = memo;
        } else if (memo != NULL && fill) {
            w[k].cache = am__memo_side(enc, k, bytes / threads);
        } else if (memo != NULL) {
            /* Without memory for its side a thread reads the memo and
             * keeps nothing; the results are the same. */
            w[k].frozen = memo;
            w[k].cache = am__memo_side(enc, k, bytes / threads);
        } else if (k > 0 && cache_entries > 0) {
            /* Without memory for its own cache a worker counts without
             * one; the results are the same. */
            am_token_cache_opts co = am_token_cache_opts_default();
            co.entries = cache_entries;
            co.alloc = enc->alloc; /* thread-safe, as documented */
            if (am_token_cache_create(enc, &co, &w[k].own, NULL) != AM_OK)
                w[k].own = NULL;
            w[k].cache = w[k].own;
        }
    }
    /* A worker that cannot be started is not an error: the cursor hands
     * its share to the others. */
    for (size_t k = 1; k < threads; k++)
        started[k] = pthread_create(&tid[k], NULL, work, &w[k]) == 0;
    work(&w[0]);
    for (size_t k = 1; k < threads; k++) {
        if (started[k])
            pthread_join(tid[k], NULL);
        am_token_cache_free(w[k].own);
    }
    pthread_mutex_destroy(&b.lock);
    if (memo != NULL) {
        if (threads > 1)
            am__memo_merge_sides(enc);
        am__memo_release(enc);
    }

    if (b.fail_at != SIZE_MAX) {
        st = am__fail(err, b.fail_st, "texts[%zu]: %s", b.fail_at,
                      b.fail_err.msg);
        if (outs != NULL)
            for (size_t i = 0; i < count; i++)
                outs[i].count = base[i];
    }
    if (base != NULL)
        am__free(enc->alloc, base, count * sizeof *base);
    return st;
}

am_status am_encoding_count_batch(const am_encoding *enc,
                                  const am_str *texts, size_t count,
                                  const am_encode_opts *opts, size_t threads,
                                  size_t *counts, am_error *err)
{
    if (enc == NULL || counts == NULL || (texts == NULL && count > 0))
        return am__fail(err, AM_EINVAL, "am_encoding_count_batch: NULL "
                        "argument");
    return run_batch(enc, texts, count, opts, threads, counts, NULL, err);
}

am_status am_encoding_encode_batch(const am_encoding *enc,
                                   const am_str *texts, size_t count,
                                   const am_encode_opts *opts,
                                   size_t threads, am_tokens *outs,
                                   am_error *err)
{
    if (enc == NULL || outs == NULL || (texts == NULL && count > 0))
        return am__fail(err, AM_EINVAL, "am_encoding_encode_batch: NULL "
                        "argument");
    return run_batch(enc, texts, count, opts, threads, NULL, outs, err);
}
